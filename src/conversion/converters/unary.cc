// ATen unary math and logical_not.
#include <optional>

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

// Converters of the form out = F(self) for the impl library's composite math.
template <StatusOr<ITensor*> (*F)(ConversionCtx&, const impl::Site&, ITensor*)>
Status composite(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, F(ctx, node, x));
  return impl::setOutput(ctx, node, 0, out, args);
}

// sign/sgn: the sign of a bool is the bool itself.
Status sign(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  if (x->getType() == DataType::kBOOL) return impl::setOutput(ctx, node, 0, x, args);
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::unary(ctx, node, x, UnaryOperation::kSIGN));
  if (impl::categoryOf(x->getType()) == impl::TypeCategory::kFLOAT) {
    // PyTorch's sign(NaN) is 0; the engine's kSIGN passes NaN through.
    KILN_ASSIGN_OR_RETURN(ITensor * isNan, impl::unary(ctx, impl::Site(node, "isnan"), x, UnaryOperation::kISNAN));
    KILN_ASSIGN_OR_RETURN(out, impl::where(ctx, impl::Site(node, "nan"), isNan,
                                           impl::Operand::of(ir::Constant::fromInt(0)), impl::Operand::of(out)));
  }
  return impl::setOutput(ctx, node, 0, out, args);
}

Status roundDecimals(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t decimals, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::roundDecimals(ctx, node, x, decimals));
  return impl::setOutput(ctx, node, 0, out, args);
}

template <int kBase>
StatusOr<ITensor*> logOfBase(ConversionCtx& ctx, const impl::Site& site, ITensor* x) {
  return impl::logBase(ctx, site, x, kBase);
}

template <bool kToRadians>
StatusOr<ITensor*> angle(ConversionCtx& ctx, const impl::Site& site, ITensor* x) {
  constexpr double kPi = 3.14159265358979323846;
  return impl::scaleToFloat(ctx, site, x, kToRadians ? kPi / 180.0 : 180.0 / kPi);
}

Status nanToNum(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  std::optional<double> replacement[3];
  for (size_t i = 0; i < 3; ++i) {
    if (!args[i + 1].isNone()) {
      KILN_ASSIGN_OR_RETURN(replacement[i], args[i + 1].asDouble());
    }
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::nanToNum(ctx, node, x, replacement[0], replacement[1], replacement[2]));
  return impl::setOutput(ctx, node, 0, out, args);
}

bool floatInput(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && impl::categoryOf(meta->dtype) == impl::TypeCategory::kFLOAT;
}

bool decimalsKnown(const ir::Node& node, const CompilationSettings& settings) {
  const ir::Constant* decimals = impl::constantArg(node, 1);
  return floatInput(node, settings) && decimals != nullptr && decimals->isInt();
}

bool replacementsAreNumbers(const ir::Node& node, const CompilationSettings&) {
  for (size_t i = 1; i <= 3; ++i) {
    const ir::Constant* c = impl::constantArg(node, i);
    if (c == nullptr || !(c->isNone() || c->isNumber())) return false;
  }
  return impl::tensorMetaArg(node, 0) != nullptr;
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
                            .pattern({"aten::square(Tensor self) -> Tensor", square}, kNotBool)
                            .pattern({"aten::tan(Tensor self) -> Tensor", unaryOp<UnaryOperation::kTAN>})
                            .pattern({"aten::asin(Tensor self) -> Tensor", unaryOp<UnaryOperation::kASIN>})
                            .pattern({"aten::acos(Tensor self) -> Tensor", unaryOp<UnaryOperation::kACOS>})
                            .pattern({"aten::atan(Tensor self) -> Tensor", unaryOp<UnaryOperation::kATAN>})
                            .pattern({"aten::sinh(Tensor self) -> Tensor", unaryOp<UnaryOperation::kSINH>})
                            .pattern({"aten::cosh(Tensor self) -> Tensor", unaryOp<UnaryOperation::kCOSH>})
                            .pattern({"aten::asinh(Tensor self) -> Tensor", unaryOp<UnaryOperation::kASINH>})
                            .pattern({"aten::acosh(Tensor self) -> Tensor", unaryOp<UnaryOperation::kACOSH>})
                            .pattern({"aten::atanh(Tensor self) -> Tensor", unaryOp<UnaryOperation::kATANH>})
                            .pattern({"aten::round(Tensor self) -> Tensor", unaryOp<UnaryOperation::kROUND>}, kNotBool)
                            .pattern({"aten::round.decimals(Tensor self, *, int decimals) -> Tensor", roundDecimals},
                                     {.validator = decimalsKnown})
                            .pattern({"aten::trunc(Tensor self) -> Tensor", composite<impl::trunc>}, kNotBool)
                            .pattern({"aten::fix(Tensor self) -> Tensor", composite<impl::trunc>}, kNotBool)
                            .pattern({"aten::frac(Tensor self) -> Tensor", composite<impl::frac>},
                                     {.validator = floatInput})
                            .pattern({"aten::sign(Tensor self) -> Tensor", sign})
                            .pattern({"aten::sgn(Tensor self) -> Tensor", sign})
                            .pattern({"aten::exp2(Tensor self) -> Tensor", composite<impl::exp2>})
                            .pattern({"aten::expm1(Tensor self) -> Tensor", composite<impl::expm1>})
                            .pattern({"aten::log1p(Tensor self) -> Tensor", composite<impl::log1p>})
                            .pattern({"aten::log2(Tensor self) -> Tensor", composite<logOfBase<2>>})
                            .pattern({"aten::log10(Tensor self) -> Tensor", composite<logOfBase<10>>})
                            .pattern({"aten::deg2rad(Tensor self) -> Tensor", composite<angle<true>>})
                            .pattern({"aten::rad2deg(Tensor self) -> Tensor", composite<angle<false>>})
                            .pattern({"aten::nan_to_num(Tensor self, float? nan=None, float? posinf=None, "
                                      "float? neginf=None) -> Tensor",
                                      nanToNum},
                                     {.validator = replacementsAreNumbers});

}  // namespace
}  // namespace conversion
}  // namespace kiln
