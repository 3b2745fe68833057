// ATen where (and masked_fill, its common spelling): a select with type promotion of the two branches.
#include <algorithm>

#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

// where.self / where.ScalarSelf / where.ScalarOther(condition, self, other)
Status where(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * condition, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(impl::Operand a, impl::operandOf(args[1]));
  KILN_ASSIGN_OR_RETURN(impl::Operand b, impl::operandOf(args[2]));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::where(ctx, node, condition, a, b));
  return impl::setOutput(ctx, node, 0, out, args);
}

// masked_fill.Scalar(self, mask, value): self's dtype is kept (the value is cast to it).
Status maskedFill(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * mask, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(double value, args[2].asDouble());
  const int32_t rank = std::max(x->getDimensions().nbDims, mask->getDimensions().nbDims);
  ITensor* fill = ctx.addScalar(value, x->getType(), rank, ConversionCtx::layerName("Constant", node, "value"));
  if (fill == nullptr) return ctx.status();
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::where(ctx, node, mask, impl::Operand::of(fill), impl::Operand::of(x)));
  return impl::setOutput(ctx, node, 0, out, args);
}

bool branchesSupported(const ir::Node& node, const CompilationSettings&) {
  if (node.args().size() < 3 || impl::tensorMetaArg(node, 0) == nullptr) return false;
  for (size_t i : {size_t{1}, size_t{2}}) {
    const ir::Arg& arg = node.args()[i];
    const bool ok =
        arg.isConstant() ? arg.constant.isNumber() : (arg.isValue() && arg.value != nullptr && arg.value->isTensor());
    if (!ok) return false;
  }
  return true;
}

bool maskedFillSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::Constant* value = impl::constantArg(node, 2);
  return impl::tensorMetaArg(node, 0) != nullptr && impl::tensorMetaArg(node, 1) != nullptr && value != nullptr &&
         value->isNumber();
}

const ConverterOptions kBranches{.validator = branchesSupported};

const auto registered =
    RegisterConverters()
        .pattern({"aten::where.self(Tensor condition, Tensor self, Tensor other) -> Tensor", where}, kBranches)
        .pattern({"aten::where.ScalarSelf(Tensor condition, Scalar self, Tensor other) -> Tensor", where}, kBranches)
        .pattern({"aten::where.ScalarOther(Tensor condition, Tensor self, Scalar other) -> Tensor", where}, kBranches)
        .pattern({"aten::where.Scalar(Tensor condition, Scalar self, Scalar other) -> Tensor", where}, kBranches)
        .pattern({"aten::masked_fill.Scalar(Tensor self, Tensor mask, Scalar value) -> Tensor", maskedFill},
                 {.validator = maskedFillSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
