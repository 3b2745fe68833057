// The converter registry, with the seeds' semantics exactly:
//   - keyed by op overload ("aten::gelu.default");
//   - a list of candidates per key: HIGH priority candidates go in front, STANDARD ones are appended;
//   - lookup returns the first enabled candidate whose validator passes and which supports dynamic shapes
//     when the node has dynamic inputs or outputs; none means the node runs in PyTorch.
// C++ converters register with RegisterConverters().pattern(...); Python converters go into the same registry
// through the extension.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "conversion/settings.h"
#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {
namespace conversion {

class ConversionCtx;
struct ConverterArg;

enum class ConverterPriority { kSTANDARD = 0, kHIGH = 1 };

// Adds layers for one node and associates every node output with a tensor or a constant.
using ConverterFn = std::function<Status(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args)>;
// Whether this converter can take this node under these settings; null means always.
using CapabilityValidator = std::function<bool(const ir::Node& node, const CompilationSettings& settings)>;

struct ConverterCandidate {
  ConverterFn converter;
  CapabilityValidator validator;
  ConverterPriority priority = ConverterPriority::kSTANDARD;
  bool supportsDynamicShapes = false;
  bool requiresOutputAllocator = false;
  bool enabled = true;
  bool isEvaluator = false;  // produces constants, no layers (getitem, sym_size ...)
  std::string origin = "C++";  // "C++" or "Python"
  std::string schema;          // the schema text it was registered with
};

// Why a node has no converter (for explain() and the partition report).
// The last two are the partitioner's: the node is convertible, but its engine segment was too small, or it
// reads or produces a non-tensor value (an int, a list) that would cross an engine boundary.
enum class Unsupported {
  kNONE,
  kNO_CONVERTER,
  kVALIDATOR_REFUSED,
  kDYNAMIC_SHAPES,
  kDISABLED,
  kFORCED_TO_TORCH,
  kBELOW_MIN_BLOCK_SIZE,
  kNON_TENSOR_BOUNDARY,
};
const char* unsupportedReason(Unsupported why);

class ConverterRegistry {
 public:
  static ConverterRegistry& global();

  // HIGH priority candidates are put in front of the key's list (the latest HIGH first), STANDARD appended.
  void add(const std::string& key, ConverterCandidate candidate);
  // Removes every candidate registered from `origin` for key (Python re-registration, tests).
  void removeFrom(const std::string& key, const std::string& origin);

  // The chosen candidate, or null with `why` set. A node is looked up by its target, then by its schema's key.
  // When nothing matches, `why` says what stopped the most promising candidate: kDYNAMIC_SHAPES when some
  // enabled candidate accepted the node but not its dynamic shapes, else kVALIDATOR_REFUSED when some enabled
  // candidate exists, else kDISABLED, or kNO_CONVERTER when the key has no candidate at all.
  // (kFORCED_TO_TORCH is decided by the partitioner from torchExecutedOps, never here.)
  const ConverterCandidate* lookup(const ir::Node& node, const CompilationSettings& settings,
                                   Unsupported* why = nullptr) const;
  const std::vector<ConverterCandidate>* candidates(const std::string& key) const;
  std::vector<std::string> keys() const;

 private:
  // Thread safety: every change publishes a new immutable candidate list for its key and keeps the old one
  // alive with the registry, so the pointers lookup() and candidates() return never dangle, even while
  // another thread registers or removes converters. Validators run outside the lock (a Python validator may
  // itself query the registry).
  using CandidateList = std::vector<ConverterCandidate>;
  void publish(const std::string& key, std::unique_ptr<CandidateList> list);  // caller holds mutex_

  mutable std::mutex mutex_;
  std::map<std::string, const CandidateList*> byKey_;
  std::vector<std::unique_ptr<const CandidateList>> lists_;  // every list ever published
};

// True when any tensor input (values in lists included) or output of the node has a symbolic dim.
bool nodeHasDynamicShapes(const ir::Node& node);

struct ConverterOptions {
  ConverterPriority priority = ConverterPriority::kSTANDARD;
  CapabilityValidator validator;
  bool supportsDynamicShapes = true;
  bool requiresOutputAllocator = false;
  bool enabled = true;
};

struct ConversionPattern {
  std::string schema;  // "aten::hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> (Tensor)"
  ConverterFn converter;
};

// Chainable registration, as in the TorchScript seed:
//   static auto registered = RegisterConverters()
//       .pattern({"aten::relu(Tensor self) -> Tensor", relu})
//       .pattern({"aten::gelu(Tensor self, *, str approximate='none') -> Tensor", gelu}, {.validator = ...});
// A schema that does not parse is a programming error reported on stderr and skipped (registration runs
// at static-initialization time, where there is no caller to return a Status to).
class RegisterConverters {
 public:
  // Tests register into a local registry; converters of the library go into the global one.
  explicit RegisterConverters(ConverterRegistry& registry = ConverterRegistry::global()) : registry_(&registry) {}
  RegisterConverters& pattern(ConversionPattern pattern, ConverterOptions options = {});
  // An evaluator computes its outputs as constants at conversion time (no layers): sym_size of a static dim ...
  RegisterConverters& evaluator(ConversionPattern pattern, ConverterOptions options = {});

 private:
  RegisterConverters& add(ConversionPattern pattern, const ConverterOptions& options, bool isEvaluator);
  ConverterRegistry* registry_;
};

}  // namespace conversion
}  // namespace kiln
