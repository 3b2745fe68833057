// ATen unary math and logical_not.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

template <UnaryOperation kOp>
Status unaryOp(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::unary(ctx, node, x, kOp));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status rsqrt(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::rsqrt(ctx, node, x));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status square(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out,
                        impl::power(ctx, node, impl::Operand::of(x), impl::Operand::of(ir::Constant::fromInt(2))));
  return impl::setOutput(ctx, node, 0, out, args);
}

// abs/neg of bool tensors: PyTorch refuses them, so they stay there to raise its own error.
bool notBool(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && meta->dtype != DataType::kBOOL;
}

const ConverterOptions kNotBool{.validator = notBool};

const auto registered = RegisterConverters()
                            .pattern({"aten::logical_not(Tensor self) -> Tensor", unaryOp<UnaryOperation::kNOT>})
                            .pattern({"aten::exp(Tensor self) -> Tensor", unaryOp<UnaryOperation::kEXP>})
                            .pattern({"aten::log(Tensor self) -> Tensor", unaryOp<UnaryOperation::kLOG>})
                            .pattern({"aten::sqrt(Tensor self) -> Tensor", unaryOp<UnaryOperation::kSQRT>})
                            .pattern({"aten::rsqrt(Tensor self) -> Tensor", rsqrt})
                            .pattern({"aten::reciprocal(Tensor self) -> Tensor", unaryOp<UnaryOperation::kRECIP>})
                            .pattern({"aten::erf(Tensor self) -> Tensor", unaryOp<UnaryOperation::kERF>})
                            .pattern({"aten::sin(Tensor self) -> Tensor", unaryOp<UnaryOperation::kSIN>})
                            .pattern({"aten::cos(Tensor self) -> Tensor", unaryOp<UnaryOperation::kCOS>})
                            .pattern({"aten::floor(Tensor self) -> Tensor", unaryOp<UnaryOperation::kFLOOR>}, kNotBool)
                            .pattern({"aten::ceil(Tensor self) -> Tensor", unaryOp<UnaryOperation::kCEIL>}, kNotBool)
                            .pattern({"aten::abs(Tensor self) -> Tensor", unaryOp<UnaryOperation::kABS>}, kNotBool)
                            .pattern({"aten::neg(Tensor self) -> Tensor", unaryOp<UnaryOperation::kNEG>}, kNotBool)
                            .pattern({"aten::square(Tensor self) -> Tensor", square}, kNotBool);

}  // namespace
}  // namespace conversion
}  // namespace kiln
