#include "conversion/registry.h"

#include <cstdio>
#include <utility>

#include "ir/schema.h"

namespace kiln {
namespace conversion {

const char* unsupportedReason(Unsupported why) {
  switch (why) {
    case Unsupported::kNONE:
      return "supported";
    case Unsupported::kNO_CONVERTER:
      return "no converter is registered for this op";
    case Unsupported::kVALIDATOR_REFUSED:
      return "every converter's capability validator refused this node (its arguments or settings)";
    case Unsupported::kDYNAMIC_SHAPES:
      return "the node has dynamic shapes and no converter that accepts it supports dynamic shapes";
    case Unsupported::kDISABLED:
      return "every converter registered for this op is disabled";
    case Unsupported::kFORCED_TO_TORCH:
      return "forced to PyTorch by torch_executed_ops";
    case Unsupported::kBELOW_MIN_BLOCK_SIZE:
      return "convertible, but its engine segment is smaller than min_block_size";
    case Unsupported::kNON_TENSOR_BOUNDARY:
      return "convertible, but it reads or produces an int or list that would cross an engine boundary "
             "(engines take and return tensors only)";
  }
  return "unknown reason";
}

ConverterRegistry& ConverterRegistry::global() {
  // Constructed on first use: converters register from static initializers of other translation units.
  static ConverterRegistry* registry = new ConverterRegistry();  // never destroyed: static destructors may
  return *registry;                                              // still look converters up
}

void ConverterRegistry::publish(const std::string& key, std::unique_ptr<CandidateList> list) {
  if (list->empty()) {
    byKey_.erase(key);
    return;
  }
  byKey_[key] = list.get();
  lists_.push_back(std::move(list));
}

void ConverterRegistry::add(const std::string& key, ConverterCandidate candidate) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto list = std::make_unique<CandidateList>();
  auto it = byKey_.find(key);
  if (it != byKey_.end()) *list = *it->second;
  switch (candidate.priority) {
    case ConverterPriority::kHIGH:
      list->insert(list->begin(), std::move(candidate));
      break;
    case ConverterPriority::kSTANDARD:
      list->push_back(std::move(candidate));
      break;
  }
  publish(key, std::move(list));
}

void ConverterRegistry::removeFrom(const std::string& key, const std::string& origin) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = byKey_.find(key);
  if (it == byKey_.end()) return;
  auto list = std::make_unique<CandidateList>();
  for (const ConverterCandidate& c : *it->second) {
    if (c.origin != origin) list->push_back(c);
  }
  if (list->size() == it->second->size()) return;
  publish(key, std::move(list));
}

const std::vector<ConverterCandidate>* ConverterRegistry::candidates(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = byKey_.find(key);
  return it == byKey_.end() ? nullptr : it->second;
}

std::vector<std::string> ConverterRegistry::keys() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> result;
  result.reserve(byKey_.size());
  for (const auto& entry : byKey_) result.push_back(entry.first);
  return result;
}

const ConverterCandidate* ConverterRegistry::lookup(const ir::Node& node, const CompilationSettings& settings,
                                                    Unsupported* why) const {
  Unsupported unused;
  Unsupported& reason = why != nullptr ? *why : unused;
  reason = Unsupported::kNO_CONVERTER;
  if (node.op() != ir::NodeOp::kCALL_FUNCTION) return nullptr;
  const CandidateList* list = candidates(node.target());
  if (list == nullptr && node.schema() != nullptr) list = candidates(node.schema()->key());
  if (list == nullptr) return nullptr;

  // Computed once, and only when some candidate needs it.
  int dynamic = -1;
  bool anyEnabled = false;
  bool blockedByDynamicShapes = false;
  for (const ConverterCandidate& c : *list) {
    if (!c.enabled) continue;
    anyEnabled = true;
    if (c.validator && !c.validator(node, settings)) continue;
    if (!c.supportsDynamicShapes && !settings.assumeDynamicShapesAllowed) {
      if (dynamic < 0) dynamic = nodeHasDynamicShapes(node) ? 1 : 0;
      if (dynamic == 1) {
        blockedByDynamicShapes = true;
        continue;
      }
    }
    reason = Unsupported::kNONE;
    return &c;
  }
  if (blockedByDynamicShapes) {
    reason = Unsupported::kDYNAMIC_SHAPES;
  } else if (anyEnabled) {
    reason = Unsupported::kVALIDATOR_REFUSED;
  } else {
    reason = Unsupported::kDISABLED;
  }
  return nullptr;
}

namespace {

bool isDynamic(const ir::Value* value) {
  return value != nullptr && value->meta().has_value() && !value->meta()->isStatic();
}

bool argHasDynamicShapes(const ir::Arg& arg) {
  switch (arg.kind) {
    case ir::Arg::Kind::kVALUE:
      return isDynamic(arg.value);
    case ir::Arg::Kind::kCONSTANT:
      return false;
    case ir::Arg::Kind::kLIST:
      for (const ir::Arg& item : arg.list) {
        if (argHasDynamicShapes(item)) return true;
      }
      return false;
  }
  return false;
}

}  // namespace

bool nodeHasDynamicShapes(const ir::Node& node) {
  for (const ir::Arg& arg : node.args()) {
    if (argHasDynamicShapes(arg)) return true;
  }
  for (const ir::Value* out : node.outputs()) {
    if (isDynamic(out)) return true;
  }
  return false;
}

RegisterConverters& RegisterConverters::pattern(ConversionPattern pattern, ConverterOptions options) {
  return add(std::move(pattern), options, /*isEvaluator=*/false);
}

RegisterConverters& RegisterConverters::evaluator(ConversionPattern pattern, ConverterOptions options) {
  return add(std::move(pattern), options, /*isEvaluator=*/true);
}

RegisterConverters& RegisterConverters::add(ConversionPattern pattern, const ConverterOptions& options,
                                            bool isEvaluator) {
  StatusOr<ir::FunctionSchema> schema = ir::parseSchema(pattern.schema);
  if (!schema.isOk()) {
    // Static-initialization time: no caller to return to. The op then has no converter and runs in PyTorch,
    // and `kiln ops` does not list it, which points the author here.
    std::fprintf(stderr, "kiln: skipping converter registration, schema does not parse: %s\n  %s\n",
                 pattern.schema.c_str(), schema.status().message().c_str());
    return *this;
  }
  if (!pattern.converter) {
    std::fprintf(stderr, "kiln: skipping converter registration for %s: the converter function is empty\n",
                 pattern.schema.c_str());
    return *this;
  }
  ConverterCandidate candidate;
  candidate.converter = std::move(pattern.converter);
  candidate.validator = options.validator;
  candidate.priority = options.priority;
  candidate.supportsDynamicShapes = options.supportsDynamicShapes;
  candidate.requiresOutputAllocator = options.requiresOutputAllocator;
  candidate.enabled = options.enabled;
  candidate.isEvaluator = isEvaluator;
  candidate.origin = "C++";
  candidate.schema = std::move(pattern.schema);
  registry_->add(schema->key(), std::move(candidate));
  return *this;
}

}  // namespace conversion
}  // namespace kiln
