// decompose_addmm: the seed's decomposition,
//   addmm(input, mat1, mat2, beta, alpha) -> add(mul(input, beta), mul(mm(mat1, mat2), alpha)),
// so that mm, mul and add converters cover it (and the builder can fuse the pieces back).
// Multiplications by 1 are skipped; beta == 0 drops the input term entirely, as torch ignores the input then
// (NaN or inf in it must not leak into the result).
#include <memory>
#include <string>
#include <vector>

#include "lowering/pass_manager.h"
#include "lowering/pass_util.h"

namespace kiln {
namespace lowering {
namespace {

constexpr const char* kMM = "aten::mm(Tensor self, Tensor mat2) -> Tensor";
constexpr const char* kMUL_SCALAR = "aten::mul.Scalar(Tensor self, Scalar other) -> Tensor";
constexpr const char* kADD_TENSOR = "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";

// The value of a Scalar argument when it is a compile-time number.
std::optional<double> constantScalar(const ir::Arg& arg) {
  if (!arg.isConstant() || !arg.constant.isNumber()) return std::nullopt;
  StatusOr<double> value = arg.constant.toDouble();
  if (!value.isOk()) return std::nullopt;
  return value.value();
}

Status decompose(ir::Graph& graph, ir::Node& addmm, double beta, double alpha) {
  const std::vector<ir::Arg>& args = addmm.args();
  std::optional<ir::TensorMeta> outMeta = addmm.output(0)->meta();
  const std::string& base = addmm.name();
  KILN_ASSIGN_OR_RETURN(ir::Node * mm,
                        addCallBefore(graph, kMM, base + "_mm", {args[1], args[2]}, outMeta, addmm, &addmm));
  ir::Value* product = mm->output(0);
  if (alpha != 1.0) {
    KILN_ASSIGN_OR_RETURN(ir::Node * scaled, addCallBefore(graph, kMUL_SCALAR, base + "_alpha",
                                                           {ir::Arg::of(product), args[4]}, outMeta, addmm, &addmm));
    product = scaled->output(0);
  }
  ir::Value* result = product;
  if (beta != 0.0) {
    ir::Value* bias = args[0].value;
    if (beta != 1.0) {
      KILN_ASSIGN_OR_RETURN(
          ir::Node * scaled,
          addCallBefore(graph, kMUL_SCALAR, base + "_beta", {ir::Arg::of(bias), args[3]}, bias->meta(), addmm, &addmm));
      bias = scaled->output(0);
    }
    KILN_ASSIGN_OR_RETURN(ir::Node * sum,
                          addCallBefore(graph, kADD_TENSOR, base + "_add", {ir::Arg::of(bias), ir::Arg::of(product)},
                                        outMeta, addmm, &addmm));
    result = sum->output(0);
  }
  graph.replaceAllUsesWith(addmm.output(0), result);
  return graph.erase(&addmm);
}

}  // namespace

StatusOr<bool> decomposeAddmm(ir::Graph& graph) {
  std::vector<ir::Node*> addmms;
  for (const std::unique_ptr<ir::Node>& node : graph.nodes()) {
    if (node->op() == ir::NodeOp::kCALL_FUNCTION && node->target() == "aten::addmm.default") {
      addmms.push_back(node.get());
    }
  }
  bool changed = false;
  for (ir::Node* node : addmms) {
    // addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1)
    const std::vector<ir::Arg>& args = node->args();
    if (args.size() != 5 || !args[0].isValue() || node->outputs().size() != 1) continue;
    std::optional<double> beta = constantScalar(args[3]);
    std::optional<double> alpha = constantScalar(args[4]);
    if (!beta || !alpha) continue;  // a runtime scalar: the addmm converter (or PyTorch) keeps it
    const std::string name = node->name();
    Status done = decompose(graph, *node, *beta, *alpha);
    if (!done.isOk()) return done.withContext("decompose_addmm: rewriting %" + name + " (aten::addmm.default)");
    changed = true;
  }
  return changed;
}

}  // namespace lowering
}  // namespace kiln
