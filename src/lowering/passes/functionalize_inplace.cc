// functionalize_inplace: rewrites in-place ops (aten::relu_, aten::add_.Tensor ...) as their functional twins,
// so that converters exist once, for the functional op. In a functional graph a mutation is a new value: the
// twin's output replaces the in-place op's output, and every later read of the mutated tensor reads it too.
// Rewrites that alias analysis cannot prove exact (another view of the same storage is read afterwards)
// are left alone, as are in-place ops missing from the table; they stay in PyTorch.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lowering/pass_manager.h"
#include "lowering/pass_util.h"

namespace kiln {
namespace lowering {
namespace {

// In-place overload -> schema of its functional twin (same arguments, no mutation), as in torch's
// native_functions.yaml. Rules as data: supporting another in-place op is one line here.
const std::map<std::string, std::string>& functionalTwins() {
  static const std::map<std::string, std::string> twins = {
      {"aten::relu_.default", "aten::relu(Tensor self) -> Tensor"},
      {"aten::sigmoid_.default", "aten::sigmoid(Tensor self) -> Tensor"},
      {"aten::tanh_.default", "aten::tanh(Tensor self) -> Tensor"},
      {"aten::silu_.default", "aten::silu(Tensor self) -> Tensor"},
      {"aten::hardswish_.default", "aten::hardswish(Tensor self) -> Tensor"},
      {"aten::hardsigmoid_.default", "aten::hardsigmoid(Tensor self) -> Tensor"},
      {"aten::gelu_.default", "aten::gelu(Tensor self, *, str approximate='none') -> Tensor"},
      {"aten::hardtanh_.default", "aten::hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> Tensor"},
      {"aten::leaky_relu_.default", "aten::leaky_relu(Tensor self, Scalar negative_slope=0.01) -> Tensor"},
      {"aten::elu_.default", "aten::elu(Tensor self, Scalar alpha=1, Scalar scale=1, Scalar input_scale=1) -> Tensor"},
      {"aten::threshold_.default", "aten::threshold(Tensor self, Scalar threshold, Scalar value) -> Tensor"},
      {"aten::clamp_.default", "aten::clamp(Tensor self, Scalar? min=None, Scalar? max=None) -> Tensor"},
      {"aten::clamp_.Tensor", "aten::clamp.Tensor(Tensor self, Tensor? min=None, Tensor? max=None) -> Tensor"},
      {"aten::clamp_min_.default", "aten::clamp_min(Tensor self, Scalar min) -> Tensor"},
      {"aten::clamp_max_.default", "aten::clamp_max(Tensor self, Scalar max) -> Tensor"},
      {"aten::add_.Tensor", "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor"},
      {"aten::add_.Scalar", "aten::add.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor"},
      {"aten::sub_.Tensor", "aten::sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor"},
      {"aten::sub_.Scalar", "aten::sub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor"},
      {"aten::mul_.Tensor", "aten::mul.Tensor(Tensor self, Tensor other) -> Tensor"},
      {"aten::mul_.Scalar", "aten::mul.Scalar(Tensor self, Scalar other) -> Tensor"},
      {"aten::div_.Tensor", "aten::div.Tensor(Tensor self, Tensor other) -> Tensor"},
      {"aten::div_.Scalar", "aten::div.Scalar(Tensor self, Scalar other) -> Tensor"},
      {"aten::div_.Tensor_mode", "aten::div.Tensor_mode(Tensor self, Tensor other, *, str? rounding_mode) -> Tensor"},
      {"aten::pow_.Scalar", "aten::pow.Tensor_Scalar(Tensor self, Scalar exponent) -> Tensor"},
      {"aten::pow_.Tensor", "aten::pow.Tensor_Tensor(Tensor self, Tensor exponent) -> Tensor"},
      {"aten::neg_.default", "aten::neg(Tensor self) -> Tensor"},
      {"aten::abs_.default", "aten::abs(Tensor self) -> Tensor"},
      {"aten::exp_.default", "aten::exp(Tensor self) -> Tensor"},
      {"aten::log_.default", "aten::log(Tensor self) -> Tensor"},
      {"aten::sqrt_.default", "aten::sqrt(Tensor self) -> Tensor"},
      {"aten::rsqrt_.default", "aten::rsqrt(Tensor self) -> Tensor"},
      {"aten::reciprocal_.default", "aten::reciprocal(Tensor self) -> Tensor"},
      {"aten::floor_.default", "aten::floor(Tensor self) -> Tensor"},
      {"aten::ceil_.default", "aten::ceil(Tensor self) -> Tensor"},
      {"aten::round_.default", "aten::round(Tensor self) -> Tensor"},
      {"aten::sin_.default", "aten::sin(Tensor self) -> Tensor"},
      {"aten::cos_.default", "aten::cos(Tensor self) -> Tensor"},
      {"aten::erf_.default", "aten::erf(Tensor self) -> Tensor"},
      {"aten::zero_.default", "aten::zero(Tensor self) -> Tensor"},
      {"aten::fill_.Scalar", "aten::fill.Scalar(Tensor self, Scalar value) -> Tensor"},
      {"aten::fill_.Tensor", "aten::fill.Tensor(Tensor self, Tensor value) -> Tensor"},
      {"aten::masked_fill_.Scalar", "aten::masked_fill.Scalar(Tensor self, Tensor mask, Scalar value) -> Tensor"},
      {"aten::masked_fill_.Tensor", "aten::masked_fill.Tensor(Tensor self, Tensor mask, Tensor value) -> Tensor"},
      {"aten::index_put_.default",
       "aten::index_put(Tensor self, Tensor?[] indices, Tensor values, bool accumulate=False) -> Tensor"},
  };
  return twins;
}

// The twin must take exactly the in-place op's arguments: the node's normalized args are reused as they are.
bool sameArguments(const ir::FunctionSchema& inPlace, const ir::FunctionSchema& functional) {
  if (inPlace.arguments.size() != functional.arguments.size()) return false;
  for (size_t i = 0; i < inPlace.arguments.size(); ++i) {
    if (inPlace.arguments[i].name != functional.arguments[i].name) return false;
  }
  return true;
}

// The single value the op writes to, or null when it writes to none, several, or a list.
ir::Value* mutatedValue(const ir::Node& node) {
  const ir::FunctionSchema& schema = *node.schema();
  ir::Value* mutated = nullptr;
  for (size_t i = 0; i < schema.arguments.size() && i < node.args().size(); ++i) {
    if (!schema.arguments[i].mutates) continue;
    if (mutated != nullptr || !node.args()[i].isValue()) return nullptr;
    mutated = node.args()[i].value;
  }
  return mutated;
}

// Redirecting later reads of `mutated` is exact only when no other view of its storage that existed before the
// mutation is read after it: such a read would see the mutation in PyTorch but not in the rewritten graph.
bool otherViewReadLater(const ir::Graph& graph, const ir::Node& inPlace, const ir::Value* mutated) {
  AliasClasses aliases(graph);
  for (const std::unique_ptr<ir::Node>& node : graph.nodes()) {
    if (node->index() >= inPlace.index()) break;
    for (const ir::Value* value : node->outputs()) {
      if (value == mutated || !aliases.sameStorage(value, mutated)) continue;
      for (const ir::Node* user : value->users()) {
        if (user->index() > inPlace.index()) return true;
      }
    }
  }
  return false;
}

}  // namespace

StatusOr<bool> functionalizeInPlaceOps(ir::Graph& graph) {
  std::vector<ir::Node*> inPlaceNodes;
  for (const std::unique_ptr<ir::Node>& node : graph.nodes()) {
    if (node->op() == ir::NodeOp::kCALL_FUNCTION && node->schema() != nullptr && node->schema()->isInPlace()) {
      inPlaceNodes.push_back(node.get());
    }
  }
  bool changed = false;
  // In graph order, so that a chain of mutations of one tensor (x.relu_(); x.add_(y)) becomes a chain of values.
  for (ir::Node* node : inPlaceNodes) {
    auto twin = functionalTwins().find(node->schema()->key());
    if (twin == functionalTwins().end() || node->outputs().size() > 1) continue;
    ir::Value* mutated = mutatedValue(*node);
    if (mutated == nullptr || otherViewReadLater(graph, *node, mutated)) continue;
    KILN_ASSIGN_OR_RETURN(std::shared_ptr<const ir::FunctionSchema> schema, passSchema(twin->second));
    if (!sameArguments(*node->schema(), *schema)) continue;

    ir::Value* result = node->output(0);
    std::optional<ir::TensorMeta> meta = result != nullptr && result->meta() ? result->meta() : mutated->meta();
    const std::string hint = schema->name.substr(schema->name.find("::") + 2);
    StatusOr<ir::Node*> created = graph.addCall(schema, graph.uniqueName(hint), node->args(), {meta}, node);
    if (!created.isOk()) {
      return created.status().withContext("functionalize_inplace: rewriting %" + node->name() + " (" + node->target() +
                                          ") as " + schema->key());
    }
    ir::Node* functional = created.value();
    functional->meta() = node->meta();
    ir::Value* updated = functional->output(0);

    if (result != nullptr) graph.replaceAllUsesWith(result, updated);
    std::vector<ir::Node*> laterReaders;
    for (ir::Node* user : mutated->users()) {
      if (user->index() > node->index() &&
          std::find(laterReaders.begin(), laterReaders.end(), user) == laterReaders.end()) {
        laterReaders.push_back(user);
      }
    }
    for (ir::Node* reader : laterReaders) {
      for (size_t i = 0; i < reader->args().size(); ++i) {
        bool replaced = false;
        ir::Arg arg = substituteValue(reader->args()[i], mutated, updated, &replaced);
        if (replaced) reader->setArg(i, std::move(arg));
      }
    }
    const std::string name = node->name();
    Status erased = graph.erase(node);
    if (!erased.isOk()) return erased.withContext("functionalize_inplace: erasing %" + name);
    changed = true;
  }
  return changed;
}

}  // namespace lowering
}  // namespace kiln
