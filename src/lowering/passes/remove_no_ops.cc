// remove_no_ops: drops ops that do nothing to values in an inference graph (clone, alias, detach, contiguous,
// lift_fresh_copy, dropout in eval mode): every use of the output reads the input instead.
#include <memory>
#include <string>
#include <vector>

#include "lowering/pass_manager.h"
#include "lowering/pass_util.h"

namespace kiln {
namespace lowering {
namespace {

enum class NoOpKind {
  kNOT_A_NO_OP,
  kALIAS,  // the output is the input itself: dropping it never changes what any op reads
  kCOPY,   // the output may be a fresh copy: dropping it is only safe when neither side is ever mutated
};

NoOpKind classify(const ir::Node& node) {
  const std::string& target = node.target();
  if (target == "aten::alias.default" || target == "aten::detach.default") return NoOpKind::kALIAS;
  if (target == "aten::clone.default" || target == "aten::lift_fresh_copy.default") return NoOpKind::kCOPY;
  // contiguous copies when its input is not contiguous.
  if (opName(node) == "aten::contiguous") return NoOpKind::kCOPY;
  if (target == "aten::dropout.default") {
    // dropout(input, p, train): only eval mode is the identity; training-mode dropout stays.
    if (node.args().size() < 3 || !node.args()[2].isConstant()) return NoOpKind::kNOT_A_NO_OP;
    StatusOr<bool> train = node.args()[2].constant.toBool();
    return train.isOk() && !train.value() ? NoOpKind::kALIAS : NoOpKind::kNOT_A_NO_OP;
  }
  return NoOpKind::kNOT_A_NO_OP;
}

}  // namespace

StatusOr<bool> removeNoOps(ir::Graph& graph) {
  // Dropping a node only merges storage classes that are never mutated, so one analysis serves the whole pass.
  AliasClasses aliases(graph);
  std::vector<ir::Node*> candidates;
  for (const std::unique_ptr<ir::Node>& node : graph.nodes()) {
    if (node->op() == ir::NodeOp::kCALL_FUNCTION && classify(*node) != NoOpKind::kNOT_A_NO_OP) {
      candidates.push_back(node.get());
    }
  }
  bool changed = false;
  for (ir::Node* node : candidates) {
    if (node->args().empty() || !node->args()[0].isValue() || node->outputs().size() != 1) continue;
    ir::Value* input = node->args()[0].value;
    ir::Value* output = node->output(0);
    if (classify(*node) == NoOpKind::kCOPY && (aliases.isMutated(input) || aliases.isMutated(output))) continue;
    const std::string name = node->name();
    graph.replaceAllUsesWith(output, input);
    Status erased = graph.erase(node);
    if (!erased.isOk()) return erased.withContext("remove_no_ops: erasing %" + name);
    changed = true;
  }
  return changed;
}

}  // namespace lowering
}  // namespace kiln
