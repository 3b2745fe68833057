// ATen value tests: isinf, isnan, isfinite, isposinf, isneginf (bool results; integers are always finite).
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

template <UnaryOperation kOp>
Status test(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::unary(ctx, node, x, kOp));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status isFinite(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::isFinite(ctx, node, x));
  return impl::setOutput(ctx, node, 0, out, args);
}

template <bool kPositive>
Status isInfinity(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::isInfinity(ctx, node, x, kPositive));
  return impl::setOutput(ctx, node, 0, out, args);
}

const auto registered = RegisterConverters()
                            .pattern({"aten::isinf(Tensor self) -> Tensor", test<UnaryOperation::kISINF>})
                            .pattern({"aten::isnan(Tensor self) -> Tensor", test<UnaryOperation::kISNAN>})
                            .pattern({"aten::isfinite(Tensor self) -> Tensor", isFinite})
                            .pattern({"aten::isposinf(Tensor self) -> Tensor", isInfinity<true>})
                            .pattern({"aten::isneginf(Tensor self) -> Tensor", isInfinity<false>});

}  // namespace
}  // namespace conversion
}  // namespace kiln
