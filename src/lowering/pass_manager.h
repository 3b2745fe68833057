// Lowering: named graph passes run in order over the IR before partitioning. Each pass reports whether
// it changed the graph; in tests (and with debug) the verifier runs after every pass.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {
namespace lowering {

struct LoweringPass {
  std::string name;
  std::function<StatusOr<bool>(ir::Graph& graph)> run;  // true when it changed the graph
};

class PassManager {
 public:
  PassManager& add(LoweringPass pass);
  // Runs every pass once, in order. Errors name the pass (and the verifier's finding when verifying; the input
  // graph is verified first, so a broken input is not blamed on the first pass).
  Status run(ir::Graph& graph, bool verifyAfterEachPass) const;
  std::vector<std::string> passNames() const;
  // Names of the passes that changed the graph in the last run (for debug logs and tests).
  const std::vector<std::string>& lastChanged() const { return lastChanged_; }

 private:
  std::vector<LoweringPass> passes_;
  mutable std::vector<std::string> lastChanged_;
};

// The default pipeline, in order: remove_no_ops (clone, alias, detach, contiguous, lift_fresh_copy, dropout in
// eval; copies of tensors that some in-place op mutates stay), functionalize_inplace (aten::relu_ -> aten::relu
// ..., later reads of the mutated tensor read the new value; mutations of views whose other aliases are read
// later stay in place), decompose_addmm (the seed's addmm -> mul/add/mm), fold_constants (layout ops and
// float32/int64 mul/add/sub whose inputs are all get_attr weights, computed exactly as torch does),
// eliminate_dead_code (unused calls and weights; in-place ops and ops without outputs stay).
PassManager defaultLoweringPasses();

// The passes, one per file in lowering/passes/.
StatusOr<bool> removeNoOps(ir::Graph& graph);
StatusOr<bool> functionalizeInPlaceOps(ir::Graph& graph);
StatusOr<bool> decomposeAddmm(ir::Graph& graph);
StatusOr<bool> foldConstants(ir::Graph& graph);
StatusOr<bool> eliminateDeadCode(ir::Graph& graph);

}  // namespace lowering
}  // namespace kiln
