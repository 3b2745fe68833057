// eliminate_dead_code: erases calls and weights whose outputs nobody reads. Placeholders (the graph's
// signature), the output node, in-place ops (their effect is the mutation, not the result) and ops without
// outputs (asserts) always stay.
#include <memory>
#include <string>
#include <vector>

#include "lowering/pass_manager.h"

namespace kiln {
namespace lowering {
namespace {

bool isDead(const ir::Node& node) {
  switch (node.op()) {
    case ir::NodeOp::kPLACEHOLDER:
    case ir::NodeOp::kOUTPUT:
      return false;
    case ir::NodeOp::kGET_ATTR:
      break;
    case ir::NodeOp::kCALL_FUNCTION:
      if (node.outputs().empty()) return false;
      if (node.schema() != nullptr && node.schema()->isInPlace()) return false;
      break;
  }
  for (const ir::Value* value : node.outputs()) {
    if (!value->users().empty()) return false;
  }
  return true;
}

}  // namespace

StatusOr<bool> eliminateDeadCode(ir::Graph& graph) {
  bool changed = false;
  bool erasedAny = true;
  while (erasedAny) {
    erasedAny = false;
    std::vector<ir::Node*> order;
    for (const std::unique_ptr<ir::Node>& node : graph.nodes()) order.push_back(node.get());
    // Back to front: erasing a reader frees its producers within the same sweep.
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      if (!isDead(**it)) continue;
      const std::string name = (*it)->name();
      Status erased = graph.erase(*it);
      if (!erased.isOk()) return erased.withContext("eliminate_dead_code: erasing %" + name);
      erasedAny = changed = true;
    }
  }
  return changed;
}

}  // namespace lowering
}  // namespace kiln
