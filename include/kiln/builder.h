// Builder: turns a NetworkDefinition into a serialized plan for one backend.
//
//   kiln::Builder builder;
//   auto network = builder.createNetworkV2(0);
//   ... add layers ...
//   auto config = builder.createBuilderConfig();
//   config->setBackend(kiln::BackendKind::kCPU);
//   kiln::StatusOr<std::unique_ptr<kiln::HostMemory>> plan = builder.buildSerializedNetwork(*network, *config);
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/network.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {

enum class OptProfileSelector : int32_t { kMIN = 0, kOPT = 1, kMAX = 2 };

// min/opt/max shapes for every dynamic input. Every dynamic input must be set in every profile.
class OptimizationProfile {
 public:
  Status setDimensions(const char* inputName, OptProfileSelector select, const Dims& dims);
  Dims getDimensions(const char* inputName, OptProfileSelector select) const;  // nbDims = -1 when unset
  bool isValid() const;  // min <= opt <= max for every input

  struct Range {
    Dims min, opt, max;
    bool hasMin = false, hasOpt = false, hasMax = false;
  };
  const std::map<std::string, Range>& ranges() const { return ranges_; }

 private:
  std::map<std::string, Range> ranges_;
};

// Per-layer tactic choices and their measured times, keyed by layer signature (kind, parameters, types,
// shapes, backend, device). Reusing one makes later builds of the same layers skip timing.
class TimingCache {
 public:
  TimingCache() = default;
  // Untrusted input: a corrupt or foreign blob gives an error, never a crash.
  static StatusOr<std::unique_ptr<TimingCache>> deserialize(const void* data, size_t size);
  std::vector<uint8_t> serialize() const;
  // Adds entries of `other` that this cache lacks.
  void combine(const TimingCache& other);
  void reset() { entries_.clear(); }
  size_t size() const { return entries_.size(); }

  struct Entry {
    std::string tactic;
    double timeMs = 0.0;
  };
  const Entry* find(const std::string& key) const;
  void put(const std::string& key, Entry entry) { entries_[key] = std::move(entry); }

 private:
  std::map<std::string, Entry> entries_;
};

enum class BuilderFlag : int32_t {
  kFP16 = 0,  // weakly typed networks: float32 layers may run in float16
  kBF16 = 1,  // ... or in bfloat16
  kTF32 = 2,  // float32 GEMM/convolution may use TF32 tensor cores (CUDA)
  kOBEY_PRECISION_CONSTRAINTS = 3,  // layer precisions set by setPrecision are obeyed, not hints
  kDISABLE_TIMING_CACHE = 4,
};

enum class MemoryPoolType : int32_t { kWORKSPACE = 0 };

class BuilderConfig {
 public:
  void setBackend(BackendKind backend) { backend_ = backend; }
  BackendKind getBackend() const { return backend_; }
  void setFlag(BuilderFlag flag) { flags_ |= 1u << static_cast<uint32_t>(flag); }
  void clearFlag(BuilderFlag flag) { flags_ &= ~(1u << static_cast<uint32_t>(flag)); }
  bool getFlag(BuilderFlag flag) const { return (flags_ >> static_cast<uint32_t>(flag)) & 1u; }
  void setMemoryPoolLimit(MemoryPoolType pool, size_t bytes);
  size_t getMemoryPoolLimit(MemoryPoolType pool) const;
  // 0..5 as in TensorRT: higher levels time more tactics. 0 takes each layer's first tactic untimed.
  void setBuilderOptimizationLevel(int32_t level) { optimizationLevel_ = level; }
  int32_t getBuilderOptimizationLevel() const { return optimizationLevel_; }
  // Returns the index of the profile.
  int32_t addOptimizationProfile(const OptimizationProfile* profile);
  int32_t getNbOptimizationProfiles() const { return static_cast<int32_t>(profiles_.size()); }
  const std::vector<OptimizationProfile>& profiles() const { return profiles_; }
  // The builder reads and extends this cache (not owned; must outlive the build).
  void setTimingCache(TimingCache* cache) { timingCache_ = cache; }
  TimingCache* getTimingCache() const { return timingCache_; }

 private:
  BackendKind backend_ = BackendKind::kCPU;
  uint32_t flags_ = 0;
  size_t workspaceLimit_ = size_t{1} << 30;
  int32_t optimizationLevel_ = 3;
  std::vector<OptimizationProfile> profiles_;
  TimingCache* timingCache_ = nullptr;
};

class HostMemory {
 public:
  explicit HostMemory(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  const void* data() const { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// What the last build did, for logs and benchmarks.
struct BuildReport {
  int32_t layersBefore = 0;
  int32_t layersAfter = 0;
  int32_t constantsFolded = 0;
  int32_t layersFused = 0;            // folded or fused into a neighbour (batch norm into convolution, epilogues)
  int32_t layersChannelsLast = 0;     // layers the layout pass moved to NHWC (channels-last) dims
  int32_t layoutTransposes = 0;       // transposes it inserted at the edges of those regions
  int32_t attentionMasksRemoved = 0;  // constant masks dropped or turned into the causal flag
  int32_t tacticsTimed = 0;
  int32_t timingCacheHits = 0;
  int64_t plannedActivationBytes = 0;  // arena size of the largest profile
  int64_t totalActivationBytes = 0;    // sum of all activations without reuse
  double buildSeconds = 0.0;
};

class Builder {
 public:
  Builder();
  ~Builder();
  std::unique_ptr<NetworkDefinition> createNetworkV2(uint32_t flags);
  std::unique_ptr<BuilderConfig> createBuilderConfig();
  std::unique_ptr<OptimizationProfile> createOptimizationProfile();
  std::unique_ptr<TimingCache> createTimingCache(const void* blob = nullptr, size_t size = 0);

  StatusOr<std::unique_ptr<HostMemory>> buildSerializedNetwork(NetworkDefinition& network, const BuilderConfig& config);
  const BuildReport& lastBuildReport() const { return report_; }

 private:
  BuildReport report_;
};

}  // namespace kiln
