#include "lowering/pass_manager.h"

#include <utility>

namespace kiln {
namespace lowering {

PassManager& PassManager::add(LoweringPass pass) {
  passes_.push_back(std::move(pass));
  return *this;
}

Status PassManager::run(ir::Graph& graph, bool verifyAfterEachPass) const {
  lastChanged_.clear();
  if (verifyAfterEachPass) {
    // A broken input graph would otherwise be blamed on the first pass.
    Status before = graph.verify();
    if (!before.isOk()) return before.withContext("lowering: the graph is invalid before any pass ran");
  }
  for (const LoweringPass& pass : passes_) {
    if (!pass.run) return internalError("lowering pass '" + pass.name + "' has no function to run");
    StatusOr<bool> changed = pass.run(graph);
    if (!changed.isOk()) return changed.status().withContext("lowering pass '" + pass.name + "' failed");
    if (changed.value()) lastChanged_.push_back(pass.name);
    if (verifyAfterEachPass) {
      Status verified = graph.verify();
      if (!verified.isOk()) {
        return internalError("lowering pass '" + pass.name +
                             "' left an invalid graph (a bug in the pass): " + verified.message());
      }
    }
  }
  return Status::ok();
}

std::vector<std::string> PassManager::passNames() const {
  std::vector<std::string> names;
  names.reserve(passes_.size());
  for (const LoweringPass& pass : passes_) names.push_back(pass.name);
  return names;
}

PassManager defaultLoweringPasses() {
  PassManager manager;
  manager.add({"remove_no_ops", removeNoOps})
      .add({"functionalize_inplace", functionalizeInPlaceOps})
      .add({"decompose_addmm", decomposeAddmm})
      .add({"fold_constants", foldConstants})
      .add({"eliminate_dead_code", eliminateDeadCode});
  return manager;
}

}  // namespace lowering
}  // namespace kiln
