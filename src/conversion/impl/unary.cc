// Unary builders with PyTorch's dtype rules: float-only math promotes integers to float32.
#include <cmath>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {

StatusOr<ITensor*> unary(ConversionCtx& ctx, const Site& site, ITensor* x, UnaryOperation op) {
  const TypeCategory category = categoryOf(x->getType());
  switch (op) {
    case UnaryOperation::kNOT:
      return logicalNot(ctx, site, x);
    case UnaryOperation::kABS:
    case UnaryOperation::kNEG:
    case UnaryOperation::kSIGN:
      if (category == TypeCategory::kBOOL) {
        return site.error("abs/neg/sign of a bool tensor is not defined (PyTorch refuses it too)");
      }
      return outputOf(ctx, site, ctx.net->addUnary(*x, op));
    case UnaryOperation::kCEIL:
    case UnaryOperation::kFLOOR:
    case UnaryOperation::kROUND:
      // Rounding an integer tensor is the tensor itself (PyTorch returns a copy of the same dtype).
      if (category != TypeCategory::kFLOAT) return identity(ctx, site, x);
      return outputOf(ctx, site, ctx.net->addUnary(*x, op));
    case UnaryOperation::kEXP:
    case UnaryOperation::kLOG:
    case UnaryOperation::kSQRT:
    case UnaryOperation::kRECIP:
    case UnaryOperation::kSIN:
    case UnaryOperation::kCOS:
    case UnaryOperation::kTAN:
    case UnaryOperation::kSINH:
    case UnaryOperation::kCOSH:
    case UnaryOperation::kASIN:
    case UnaryOperation::kACOS:
    case UnaryOperation::kATAN:
    case UnaryOperation::kASINH:
    case UnaryOperation::kACOSH:
    case UnaryOperation::kATANH:
    case UnaryOperation::kERF:
    case UnaryOperation::kISINF:
    case UnaryOperation::kISNAN: {
      KILN_ASSIGN_OR_RETURN(ITensor * in, toFloatIfIntegral(ctx, site.sub("float"), x));
      return outputOf(ctx, site, ctx.net->addUnary(*in, op));
    }
  }
  return internalError(site.describe() + ": unknown unary operation");
}

StatusOr<ITensor*> rsqrt(ConversionCtx& ctx, const Site& site, ITensor* x) {
  KILN_ASSIGN_OR_RETURN(ITensor * root, unary(ctx, site.sub("sqrt"), x, UnaryOperation::kSQRT));
  return outputOf(ctx, site, ctx.net->addUnary(*root, UnaryOperation::kRECIP));
}

StatusOr<ITensor*> logicalNot(ConversionCtx& ctx, const Site& site, ITensor* x) {
  KILN_ASSIGN_OR_RETURN(ITensor * b, castTo(ctx, site.sub("bool"), x, DataType::kBOOL));
  return outputOf(ctx, site, ctx.net->addUnary(*b, UnaryOperation::kNOT));
}

namespace {

StatusOr<ITensor*> unaryLayer(ConversionCtx& ctx, const Site& site, ITensor* x, UnaryOperation op) {
  return outputOf(ctx, site, ctx.net->addUnary(*x, op));
}

StatusOr<ITensor*> scalarLike(ConversionCtx& ctx, const Site& site, ITensor* like, double value) {
  ITensor* t = ctx.addScalar(value, like->getType(), like->getDimensions().nbDims, site.layerName("Constant"));
  if (t == nullptr) return ctx.status().withContext(site.describe());
  return t;
}

StatusOr<ITensor*> withScalar(ConversionCtx& ctx, const Site& site, ITensor* x, double value,
                              ElementWiseOperation op) {
  KILN_ASSIGN_OR_RETURN(ITensor * c, scalarLike(ctx, site.sub("constant"), x, value));
  return elementwiseSameType(ctx, site, x, c, op);
}

StatusOr<ITensor*> select(ConversionCtx& ctx, const Site& site, ITensor* condition, ITensor* a, ITensor* b) {
  return outputOf(ctx, site, ctx.net->addSelect(*condition, *a, *b));
}

}  // namespace

DataType floatResultType(DataType type) {
  return categoryOf(type) == TypeCategory::kFLOAT ? type : DataType::kFLOAT;
}

StatusOr<ITensor*> inFloat32(ConversionCtx& ctx, const Site& site, ITensor* x, const FloatMath& body) {
  const DataType resultType = floatResultType(x->getType());
  KILN_ASSIGN_OR_RETURN(ITensor * in, castTo(ctx, site.sub("to_float32"), x, DataType::kFLOAT));
  KILN_ASSIGN_OR_RETURN(ITensor * out, body(in));
  return castTo(ctx, site.sub("result"), out, resultType);
}

StatusOr<ITensor*> trunc(ConversionCtx& ctx, const Site& site, ITensor* x) {
  if (categoryOf(x->getType()) != TypeCategory::kFLOAT) return identity(ctx, site, x);
  // ceil below zero, floor elsewhere: keeps -0.0, infinities and NaN as they are.
  KILN_ASSIGN_OR_RETURN(ITensor * negative, withScalar(ctx, site.sub("negative"), x, 0.0, ElementWiseOperation::kLESS));
  KILN_ASSIGN_OR_RETURN(ITensor * up, unaryLayer(ctx, site.sub("ceil"), x, UnaryOperation::kCEIL));
  KILN_ASSIGN_OR_RETURN(ITensor * down, unaryLayer(ctx, site.sub("floor"), x, UnaryOperation::kFLOOR));
  return select(ctx, site, negative, up, down);
}

StatusOr<ITensor*> frac(ConversionCtx& ctx, const Site& site, ITensor* x) {
  if (categoryOf(x->getType()) != TypeCategory::kFLOAT) {
    return site.error("frac of an integer or bool tensor is not defined (PyTorch refuses it too)");
  }
  KILN_ASSIGN_OR_RETURN(ITensor * whole, trunc(ctx, site.sub("trunc"), x));
  return elementwiseSameType(ctx, site, x, whole, ElementWiseOperation::kSUB);
}

StatusOr<ITensor*> roundDecimals(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t decimals) {
  if (decimals == 0 || categoryOf(x->getType()) != TypeCategory::kFLOAT) {
    return unary(ctx, site, x, UnaryOperation::kROUND);
  }
  // PyTorch scales by 10^|decimals| (multiplying for positive decimals, dividing for negative ones), rounds half
  // to even and scales back the other way; the power is a float of the tensor's compute type.
  const auto tenPow = static_cast<float>(std::pow(10.0, static_cast<double>(decimals > 0 ? decimals : -decimals)));
  const ElementWiseOperation in = decimals > 0 ? ElementWiseOperation::kPROD : ElementWiseOperation::kDIV;
  const ElementWiseOperation out = decimals > 0 ? ElementWiseOperation::kDIV : ElementWiseOperation::kPROD;
  return inFloat32(ctx, site, x, [&](ITensor* f) -> StatusOr<ITensor*> {
    KILN_ASSIGN_OR_RETURN(ITensor * scaled, withScalar(ctx, site.sub("scale"), f, tenPow, in));
    KILN_ASSIGN_OR_RETURN(ITensor * rounded, unaryLayer(ctx, site.sub("round"), scaled, UnaryOperation::kROUND));
    return withScalar(ctx, site.sub("unscale"), rounded, tenPow, out);
  });
}

StatusOr<ITensor*> expm1(ConversionCtx& ctx, const Site& site, ITensor* x) {
  // exp(x) - 1 loses every digit for small x. The activation kELU with alpha 1 is expm1 below zero; above it,
  // expm1(x) = exp(x) * -expm1(-x), which keeps the relative accuracy (kELU with alpha -1 gives -expm1(-x)).
  return inFloat32(ctx, site, x, [&](ITensor* f) -> StatusOr<ITensor*> {
    KILN_ASSIGN_OR_RETURN(ITensor * below, activation(ctx, site.sub("below"), f, ActivationType::kELU, 1.f));
    KILN_ASSIGN_OR_RETURN(ITensor * negated, unaryLayer(ctx, site.sub("neg"), f, UnaryOperation::kNEG));
    KILN_ASSIGN_OR_RETURN(ITensor * mirrored,
                          activation(ctx, site.sub("mirrored"), negated, ActivationType::kELU, -1.f));
    KILN_ASSIGN_OR_RETURN(ITensor * e, unaryLayer(ctx, site.sub("exp"), f, UnaryOperation::kEXP));
    KILN_ASSIGN_OR_RETURN(ITensor * above, elementwiseSameType(ctx, site.sub("above"), e, mirrored,
                                                               ElementWiseOperation::kPROD));
    KILN_ASSIGN_OR_RETURN(ITensor * negative,
                          withScalar(ctx, site.sub("negative"), f, 0.0, ElementWiseOperation::kLESS));
    return select(ctx, site.sub("select"), negative, below, above);
  });
}

StatusOr<ITensor*> log1p(ConversionCtx& ctx, const Site& site, ITensor* x) {
  // Kahan's log1p: with u = 1 + x rounded, log(u) * x / (u - 1) cancels the rounding of u; u == 1 means x is
  // below the rounding and log1p(x) == x. x = +inf would give inf / inf, so it passes through.
  return inFloat32(ctx, site, x, [&](ITensor* f) -> StatusOr<ITensor*> {
    KILN_ASSIGN_OR_RETURN(ITensor * u, withScalar(ctx, site.sub("u"), f, 1.0, ElementWiseOperation::kSUM));
    KILN_ASSIGN_OR_RETURN(ITensor * um1, withScalar(ctx, site.sub("u_minus_1"), u, 1.0, ElementWiseOperation::kSUB));
    KILN_ASSIGN_OR_RETURN(ITensor * logU, unaryLayer(ctx, site.sub("log"), u, UnaryOperation::kLOG));
    KILN_ASSIGN_OR_RETURN(ITensor * ratio,
                          elementwiseSameType(ctx, site.sub("ratio"), f, um1, ElementWiseOperation::kDIV));
    KILN_ASSIGN_OR_RETURN(ITensor * corrected,
                          elementwiseSameType(ctx, site.sub("corrected"), logU, ratio, ElementWiseOperation::kPROD));
    KILN_ASSIGN_OR_RETURN(ITensor * tiny, withScalar(ctx, site.sub("tiny"), u, 1.0, ElementWiseOperation::kEQUAL));
    KILN_ASSIGN_OR_RETURN(ITensor * small, select(ctx, site.sub("small"), tiny, f, corrected));
    KILN_ASSIGN_OR_RETURN(ITensor * infinite,
                          withScalar(ctx, site.sub("infinite"), f, HUGE_VAL, ElementWiseOperation::kEQUAL));
    return select(ctx, site.sub("select"), infinite, f, small);
  });
}

StatusOr<ITensor*> exp2(ConversionCtx& ctx, const Site& site, ITensor* x) {
  return inFloat32(ctx, site, x, [&](ITensor* f) -> StatusOr<ITensor*> {
    KILN_ASSIGN_OR_RETURN(ITensor * two, scalarLike(ctx, site.sub("two"), f, 2.0));
    return elementwiseSameType(ctx, site.sub("pow"), two, f, ElementWiseOperation::kPOW);
  });
}

StatusOr<ITensor*> logBase(ConversionCtx& ctx, const Site& site, ITensor* x, double base) {
  return inFloat32(ctx, site, x, [&](ITensor* f) -> StatusOr<ITensor*> {
    KILN_ASSIGN_OR_RETURN(ITensor * ln, unaryLayer(ctx, site.sub("log"), f, UnaryOperation::kLOG));
    return withScalar(ctx, site.sub("scale"), ln, 1.0 / std::log(base), ElementWiseOperation::kPROD);
  });
}

StatusOr<ITensor*> scaleToFloat(ConversionCtx& ctx, const Site& site, ITensor* x, double factor) {
  KILN_ASSIGN_OR_RETURN(ITensor * in, toFloatIfIntegral(ctx, site.sub("float"), x));
  return withScalar(ctx, site, in, factor, ElementWiseOperation::kPROD);
}

StatusOr<ITensor*> isFinite(ConversionCtx& ctx, const Site& site, ITensor* x) {
  if (categoryOf(x->getType()) != TypeCategory::kFLOAT) {
    return compare(ctx, site, Operand::of(x), Operand::of(x), Comparison::kEQ);  // integers are always finite
  }
  // |x| < inf is false for both infinities and for NaN.
  KILN_ASSIGN_OR_RETURN(ITensor * magnitude, unaryLayer(ctx, site.sub("abs"), x, UnaryOperation::kABS));
  return withScalar(ctx, site, magnitude, HUGE_VAL, ElementWiseOperation::kLESS);
}

StatusOr<ITensor*> isInfinity(ConversionCtx& ctx, const Site& site, ITensor* x, bool positive) {
  return compare(ctx, site, Operand::of(x), Operand::of(ir::Constant::fromDouble(positive ? HUGE_VAL : -HUGE_VAL)),
                 Comparison::kEQ);
}

StatusOr<ITensor*> nanToNum(ConversionCtx& ctx, const Site& site, ITensor* x, std::optional<double> nan,
                            std::optional<double> posinf, std::optional<double> neginf) {
  const DataType type = x->getType();
  if (categoryOf(type) != TypeCategory::kFLOAT) return identity(ctx, site, x);
  // The defaults are the type's largest finite values, as in PyTorch.
  double largest = 3.4028234663852886e38;
  if (type == DataType::kHALF) largest = 65504.0;
  if (type == DataType::kBF16) largest = 3.3895313892515355e38;
  KILN_ASSIGN_OR_RETURN(ITensor * isNan, unaryLayer(ctx, site.sub("isnan"), x, UnaryOperation::kISNAN));
  KILN_ASSIGN_OR_RETURN(ITensor * nanValue, scalarLike(ctx, site.sub("nan"), x, nan.value_or(0.0)));
  KILN_ASSIGN_OR_RETURN(ITensor * out, select(ctx, site.sub("nan.select"), isNan, nanValue, x));
  KILN_ASSIGN_OR_RETURN(ITensor * isPos, withScalar(ctx, site.sub("isposinf"), x, HUGE_VAL, ElementWiseOperation::kEQUAL));
  KILN_ASSIGN_OR_RETURN(ITensor * posValue, scalarLike(ctx, site.sub("posinf"), x, posinf.value_or(largest)));
  KILN_ASSIGN_OR_RETURN(out, select(ctx, site.sub("posinf.select"), isPos, posValue, out));
  KILN_ASSIGN_OR_RETURN(ITensor * isNeg,
                        withScalar(ctx, site.sub("isneginf"), x, -HUGE_VAL, ElementWiseOperation::kEQUAL));
  KILN_ASSIGN_OR_RETURN(ITensor * negValue, scalarLike(ctx, site.sub("neginf"), x, neginf.value_or(-largest)));
  return select(ctx, site, isNeg, negValue, out);
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
