// OptimizationProfile, BuilderConfig and TimingCache.
#include "engine/plan_io.h"
#include "kiln/builder.h"

namespace kiln {

Status OptimizationProfile::setDimensions(const char* inputName, OptProfileSelector select, const Dims& dims) {
  if (inputName == nullptr || *inputName == '\0') return invalidArgument("setDimensions: the input name is empty");
  if (dims.nbDims < 0 || dims.nbDims > Dims::kMAX_DIMS) {
    return invalidArgument("setDimensions '" + std::string(inputName) + "': invalid rank");
  }
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < 0) {
      return invalidArgument("setDimensions '" + std::string(inputName) + "': profile extents must be >= 0, got " +
                             dimsToString(dims));
    }
  }
  Range& range = ranges_[inputName];
  switch (select) {
    case OptProfileSelector::kMIN: range.min = dims; range.hasMin = true; break;
    case OptProfileSelector::kOPT: range.opt = dims; range.hasOpt = true; break;
    case OptProfileSelector::kMAX: range.max = dims; range.hasMax = true; break;
  }
  return Status::ok();
}

Dims OptimizationProfile::getDimensions(const char* inputName, OptProfileSelector select) const {
  Dims none;
  none.nbDims = -1;
  auto it = ranges_.find(inputName ? inputName : "");
  if (it == ranges_.end()) return none;
  const Range& r = it->second;
  switch (select) {
    case OptProfileSelector::kMIN: return r.hasMin ? r.min : none;
    case OptProfileSelector::kOPT: return r.hasOpt ? r.opt : none;
    case OptProfileSelector::kMAX: return r.hasMax ? r.max : none;
  }
  return none;
}

bool OptimizationProfile::isValid() const {
  for (const auto& [name, r] : ranges_) {
    if (!r.hasMin || !r.hasOpt || !r.hasMax) return false;
    if (r.min.nbDims != r.opt.nbDims || r.opt.nbDims != r.max.nbDims) return false;
    for (int32_t i = 0; i < r.min.nbDims; ++i) {
      if (r.min.d[i] > r.opt.d[i] || r.opt.d[i] > r.max.d[i]) return false;
    }
  }
  return true;
}

void BuilderConfig::setMemoryPoolLimit(MemoryPoolType pool, size_t bytes) {
  switch (pool) {
    case MemoryPoolType::kWORKSPACE: workspaceLimit_ = bytes; break;
  }
}

size_t BuilderConfig::getMemoryPoolLimit(MemoryPoolType pool) const {
  switch (pool) {
    case MemoryPoolType::kWORKSPACE: return workspaceLimit_;
  }
  return 0;
}

int32_t BuilderConfig::addOptimizationProfile(const OptimizationProfile* profile) {
  if (profile == nullptr) return -1;
  profiles_.push_back(*profile);
  return static_cast<int32_t>(profiles_.size() - 1);
}

// ---- timing cache: "KILNTCACHE" u32 version, u64 count, entries (key, tactic, time), u64 checksum ----

namespace {
constexpr char kCACHE_MAGIC[10] = {'K', 'I', 'L', 'N', 'T', 'C', 'A', 'C', 'H', 'E'};
constexpr uint32_t kCACHE_VERSION = 1;
}  // namespace

std::vector<uint8_t> TimingCache::serialize() const {
  ByteWriter w;
  w.raw(kCACHE_MAGIC, sizeof(kCACHE_MAGIC));
  w.u32(kCACHE_VERSION);
  w.u64(entries_.size());
  for (const auto& [key, entry] : entries_) {
    w.str(key);
    w.str(entry.tactic);
    w.f64(entry.timeMs);
  }
  const uint64_t checksum = fnv1a64(w.bytes().data(), w.size());
  w.u64(checksum);
  return std::move(w.bytes());
}

StatusOr<std::unique_ptr<TimingCache>> TimingCache::deserialize(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (bytes == nullptr || size < sizeof(kCACHE_MAGIC) + 4 + 8 + 8 ||
      std::memcmp(bytes, kCACHE_MAGIC, sizeof(kCACHE_MAGIC)) != 0) {
    return invalidPlan("not a Kiln timing cache (bad magic bytes or too short)");
  }
  uint64_t stored = 0;
  std::memcpy(&stored, bytes + size - 8, 8);
  if (fnv1a64(bytes, size - 8) != stored) return invalidPlan("timing cache checksum mismatch: the file is corrupt");
  ByteReader r(bytes + sizeof(kCACHE_MAGIC), size - sizeof(kCACHE_MAGIC) - 8);
  const uint32_t version = r.u32();
  if (version != kCACHE_VERSION) {
    return invalidPlan("timing cache version " + std::to_string(version) + " is not supported; delete the file");
  }
  auto cache = std::make_unique<TimingCache>();
  const uint64_t n = r.count("timing cache entries", 24);
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    std::string key = r.str("timing cache key");
    Entry entry;
    entry.tactic = r.str("timing cache tactic", 256);
    entry.timeMs = r.f64();
    if (r.ok()) cache->put(key, std::move(entry));
  }
  if (!r.ok()) return invalidPlan("corrupt timing cache: " + r.error());
  return cache;
}

void TimingCache::combine(const TimingCache& other) {
  for (const auto& [key, entry] : other.entries_) entries_.emplace(key, entry);
}

const TimingCache::Entry* TimingCache::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace kiln
