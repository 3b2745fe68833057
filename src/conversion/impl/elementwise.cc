// Binary elementwise builders with PyTorch's type promotion and scalar operands.
#include <algorithm>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {
namespace {

bool isComparison(ElementWiseOperation op) {
  return op == ElementWiseOperation::kEQUAL || op == ElementWiseOperation::kGREATER ||
         op == ElementWiseOperation::kLESS;
}

bool isLogical(ElementWiseOperation op) {
  return op == ElementWiseOperation::kAND || op == ElementWiseOperation::kOR || op == ElementWiseOperation::kXOR;
}

int32_t rankOf(const Operand& a, const Operand& b) {
  int32_t rank = 0;
  if (a.isTensor()) rank = std::max(rank, a.tensor->getDimensions().nbDims);
  if (b.isTensor()) rank = std::max(rank, b.tensor->getDimensions().nbDims);
  return rank;
}

// Both operands as tensors of `type`.
StatusOr<std::pair<ITensor*, ITensor*>> bothAs(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b,
                                               DataType type) {
  const int32_t rank = rankOf(a, b);
  KILN_ASSIGN_OR_RETURN(ITensor * ta, materialize(ctx, site.sub("self"), a, type, rank));
  KILN_ASSIGN_OR_RETURN(ITensor * tb, materialize(ctx, site.sub("other"), b, type, rank));
  return std::make_pair(ta, tb);
}

bool isOne(const ir::Constant& c) {
  StatusOr<double> v = c.toDouble();
  return v.isOk() && v.value() == 1.0;
}

}  // namespace

StatusOr<ITensor*> elementwiseSameType(ConversionCtx& ctx, const Site& site, ITensor* a, ITensor* b,
                                       ElementWiseOperation op) {
  return outputOf(ctx, site, ctx.net->addElementWise(*a, *b, op));
}

StatusOr<ITensor*> elementwise(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b,
                               ElementWiseOperation op) {
  if (!a.isTensor() && !b.isTensor()) return site.error("an elementwise op needs at least one tensor operand");
  if (isLogical(op)) {
    KILN_ASSIGN_OR_RETURN(auto pair, bothAs(ctx, site, a, b, DataType::kBOOL));
    return elementwiseSameType(ctx, site, pair.first, pair.second, op);
  }
  KILN_ASSIGN_OR_RETURN(DataType type, resultType({a, b}));
  if (isComparison(op)) {
    KILN_ASSIGN_OR_RETURN(auto pair, bothAs(ctx, site, a, b, type));
    return elementwiseSameType(ctx, site, pair.first, pair.second, op);
  }
  if (op == ElementWiseOperation::kDIV) return divide(ctx, site, a, b, RoundingMode::kNONE);
  if (type == DataType::kBOOL) {
    // The engine has no bool arithmetic; PyTorch's bool + and * are or/and, which int32 then != 0 reproduces.
    KILN_ASSIGN_OR_RETURN(auto pair, bothAs(ctx, site, a, b, DataType::kINT32));
    KILN_ASSIGN_OR_RETURN(ITensor * r, elementwiseSameType(ctx, site, pair.first, pair.second, op));
    return castTo(ctx, site.sub("bool"), r, DataType::kBOOL);
  }
  KILN_ASSIGN_OR_RETURN(auto pair, bothAs(ctx, site, a, b, type));
  return elementwiseSameType(ctx, site, pair.first, pair.second, op);
}

StatusOr<ITensor*> addScaled(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b,
                             const ir::Constant& alpha, ElementWiseOperation op) {
  if (alpha.isNone() || isOne(alpha)) return elementwise(ctx, site, a, b, op);
  KILN_ASSIGN_OR_RETURN(double scale, alpha.toDouble());
  KILN_ASSIGN_OR_RETURN(DataType type, resultType({a, b}));
  if (categoryOf(type) != TypeCategory::kFLOAT && alpha.isDouble()) {
    return site.error("alpha " + alpha.repr() + " is a float but the result type is " + dataTypeName(type) +
                      " (PyTorch refuses this too)");
  }
  Operand scaled;
  if (b.isTensor()) {
    KILN_ASSIGN_OR_RETURN(ITensor * tb, materialize(ctx, site.sub("other"), b, type, rankOf(a, b)));
    KILN_ASSIGN_OR_RETURN(ITensor * s,
                          materialize(ctx, site.sub("alpha"), Operand::of(alpha), type, tb->getDimensions().nbDims));
    KILN_ASSIGN_OR_RETURN(ITensor * prod,
                          elementwiseSameType(ctx, site.sub("scale"), tb, s, ElementWiseOperation::kPROD));
    scaled = Operand::of(prod);
  } else {
    KILN_ASSIGN_OR_RETURN(double v, b.scalar.toDouble());
    const bool integral = !b.scalar.isDouble() && !alpha.isDouble();
    scaled = Operand::of(integral ? ir::Constant::fromInt(static_cast<int64_t>(v * scale))
                                  : ir::Constant::fromDouble(v * scale));
  }
  return elementwise(ctx, site, a, scaled, op);
}

StatusOr<RoundingMode> roundingModeFrom(const ir::Constant& mode) {
  if (mode.isNone()) return RoundingMode::kNONE;
  KILN_ASSIGN_OR_RETURN(std::string text, mode.toString());
  if (text == "trunc") return RoundingMode::kTRUNC;
  if (text == "floor") return RoundingMode::kFLOOR;
  return invalidArgument("rounding_mode '" + text + "' is not one of None, 'trunc', 'floor'");
}

StatusOr<ITensor*> divide(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b, RoundingMode mode) {
  KILN_ASSIGN_OR_RETURN(DataType type, resultType({a, b}));
  const bool floating = categoryOf(type) == TypeCategory::kFLOAT;
  switch (mode) {
    case RoundingMode::kNONE: {
      // True division: integers divide in the default float type.
      const DataType computeType = floating ? type : DataType::kFLOAT;
      KILN_ASSIGN_OR_RETURN(auto pair, bothAs(ctx, site, a, b, computeType));
      return elementwiseSameType(ctx, site, pair.first, pair.second, ElementWiseOperation::kDIV);
    }
    case RoundingMode::kFLOOR: {
      if (type == DataType::kBOOL) return site.error("floor division of bool tensors is not defined");
      KILN_ASSIGN_OR_RETURN(auto pair, bothAs(ctx, site, a, b, type));
      return elementwiseSameType(ctx, site, pair.first, pair.second, ElementWiseOperation::kFLOOR_DIV);
    }
    case RoundingMode::kTRUNC: {
      if (type == DataType::kBOOL) return site.error("truncating division of bool tensors is not defined");
      KILN_ASSIGN_OR_RETURN(auto pair, bothAs(ctx, site, a, b, type));
      // Integer division truncates toward zero in the engine, like PyTorch's trunc mode.
      KILN_ASSIGN_OR_RETURN(ITensor * q,
                            elementwiseSameType(ctx, site, pair.first, pair.second, ElementWiseOperation::kDIV));
      if (!floating) return q;
      // trunc(q) = sign(q) * floor(|q|): the engine has no trunc.
      KILN_ASSIGN_OR_RETURN(ITensor * magnitude,
                            outputOf(ctx, site.sub("abs"), ctx.net->addUnary(*q, UnaryOperation::kABS)));
      KILN_ASSIGN_OR_RETURN(ITensor * floored,
                            outputOf(ctx, site.sub("floor"), ctx.net->addUnary(*magnitude, UnaryOperation::kFLOOR)));
      KILN_ASSIGN_OR_RETURN(ITensor * sign,
                            outputOf(ctx, site.sub("sign"), ctx.net->addUnary(*q, UnaryOperation::kSIGN)));
      return elementwiseSameType(ctx, site.sub("trunc"), floored, sign, ElementWiseOperation::kPROD);
    }
  }
  return internalError(site.describe() + ": unknown rounding mode");
}

StatusOr<ITensor*> compare(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b, Comparison cmp) {
  switch (cmp) {
    case Comparison::kEQ:
      return elementwise(ctx, site, a, b, ElementWiseOperation::kEQUAL);
    case Comparison::kGT:
      return elementwise(ctx, site, a, b, ElementWiseOperation::kGREATER);
    case Comparison::kLT:
      return elementwise(ctx, site, a, b, ElementWiseOperation::kLESS);
    case Comparison::kNE: {
      KILN_ASSIGN_OR_RETURN(ITensor * eq, elementwise(ctx, site.sub("eq"), a, b, ElementWiseOperation::kEQUAL));
      return outputOf(ctx, site, ctx.net->addUnary(*eq, UnaryOperation::kNOT));
    }
    case Comparison::kGE:
    case Comparison::kLE: {
      // Not "not less": NaN compares false both ways, as in PyTorch.
      const ElementWiseOperation strict =
          cmp == Comparison::kGE ? ElementWiseOperation::kGREATER : ElementWiseOperation::kLESS;
      KILN_ASSIGN_OR_RETURN(ITensor * s, elementwise(ctx, site.sub("strict"), a, b, strict));
      KILN_ASSIGN_OR_RETURN(ITensor * eq, elementwise(ctx, site.sub("eq"), a, b, ElementWiseOperation::kEQUAL));
      return elementwiseSameType(ctx, site, s, eq, ElementWiseOperation::kOR);
    }
  }
  return internalError(site.describe() + ": unknown comparison");
}

StatusOr<ITensor*> power(ConversionCtx& ctx, const Site& site, const Operand& base, const Operand& exponent) {
  KILN_ASSIGN_OR_RETURN(DataType type, resultType({base, exponent}));
  if (type == DataType::kBOOL) type = DataType::kINT64;  // torch.pow(bool, bool) is int64
  if (base.isTensor() && !exponent.isTensor()) {
    KILN_ASSIGN_OR_RETURN(double e, exponent.scalar.toDouble());
    KILN_ASSIGN_OR_RETURN(ITensor * x, castTo(ctx, site.sub("self"), base.tensor, type));
    // Squares are common (variance, GELU-tanh decompositions): a product is exact and cheaper than pow.
    if (e == 2.0) return elementwiseSameType(ctx, site, x, x, ElementWiseOperation::kPROD);
    if (e == 1.0) return identity(ctx, site, x);
    if (e == 0.5 && categoryOf(type) == TypeCategory::kFLOAT) {
      return outputOf(ctx, site, ctx.net->addUnary(*x, UnaryOperation::kSQRT));
    }
  }
  KILN_ASSIGN_OR_RETURN(auto pair, bothAs(ctx, site, base, exponent, type));
  return elementwiseSameType(ctx, site, pair.first, pair.second, ElementWiseOperation::kPOW);
}

StatusOr<ITensor*> remainder(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b) {
  KILN_ASSIGN_OR_RETURN(DataType type, resultType({a, b}));
  if (type == DataType::kBOOL) return site.error("remainder of bool tensors is not defined");
  KILN_ASSIGN_OR_RETURN(auto pair, bothAs(ctx, site, a, b, type));
  // The engine's floor division rounds toward -inf for integers and floats alike.
  KILN_ASSIGN_OR_RETURN(ITensor * q, elementwiseSameType(ctx, site.sub("floor_div"), pair.first, pair.second,
                                                         ElementWiseOperation::kFLOOR_DIV));
  KILN_ASSIGN_OR_RETURN(ITensor * back,
                        elementwiseSameType(ctx, site.sub("times"), q, pair.second, ElementWiseOperation::kPROD));
  return elementwiseSameType(ctx, site, pair.first, back, ElementWiseOperation::kSUB);
}

StatusOr<ITensor*> logical(ConversionCtx& ctx, const Site& site, ITensor* a, ITensor* b, ElementWiseOperation op) {
  if (!isLogical(op)) return internalError(site.describe() + ": logical() takes and/or/xor");
  return elementwise(ctx, site, Operand::of(a), Operand::of(b), op);
}

namespace {

StatusOr<ITensor*> scalarOf(ConversionCtx& ctx, const Site& site, ITensor* like, double value) {
  ITensor* t = ctx.addScalar(value, like->getType(), like->getDimensions().nbDims, site.layerName("Constant"));
  if (t == nullptr) return ctx.status().withContext(site.describe());
  return t;
}

StatusOr<ITensor*> unaryOf(ConversionCtx& ctx, const Site& site, ITensor* x, UnaryOperation op) {
  return outputOf(ctx, site, ctx.net->addUnary(*x, op));
}

StatusOr<ITensor*> selectOf(ConversionCtx& ctx, const Site& site, ITensor* condition, ITensor* a, ITensor* b) {
  return outputOf(ctx, site, ctx.net->addSelect(*condition, *a, *b));
}

// Float32 operands for math composed of several layers; the caller rounds the result to its type once.
StatusOr<std::pair<ITensor*, ITensor*>> bothFloat32(ConversionCtx& ctx, const Site& site, const Operand& a,
                                                    const Operand& b) {
  return bothAs(ctx, site, a, b, DataType::kFLOAT);
}

// fmod of float32 tensors: a - trunc(a / b) * b. A finite dividend over an infinite divisor is the dividend
// itself (the formula would give 0 * inf).
StatusOr<ITensor*> fmodFloat(ConversionCtx& ctx, const Site& site, ITensor* a, ITensor* b) {
  KILN_ASSIGN_OR_RETURN(ITensor * q, elementwiseSameType(ctx, site.sub("quotient"), a, b, ElementWiseOperation::kDIV));
  KILN_ASSIGN_OR_RETURN(ITensor * t, trunc(ctx, site.sub("trunc"), q));
  KILN_ASSIGN_OR_RETURN(ITensor * back, elementwiseSameType(ctx, site.sub("back"), t, b, ElementWiseOperation::kPROD));
  KILN_ASSIGN_OR_RETURN(ITensor * r, elementwiseSameType(ctx, site.sub("rest"), a, back, ElementWiseOperation::kSUB));
  KILN_ASSIGN_OR_RETURN(ITensor * bInf, unaryOf(ctx, site.sub("divisor_inf"), b, UnaryOperation::kISINF));
  KILN_ASSIGN_OR_RETURN(ITensor * aInf, unaryOf(ctx, site.sub("dividend_inf"), a, UnaryOperation::kISINF));
  KILN_ASSIGN_OR_RETURN(ITensor * aFinite, unaryOf(ctx, site.sub("dividend_finite"), aInf, UnaryOperation::kNOT));
  KILN_ASSIGN_OR_RETURN(ITensor * keep,
                        elementwiseSameType(ctx, site.sub("keep"), bInf, aFinite, ElementWiseOperation::kAND));
  return selectOf(ctx, site.sub("select"), keep, a, r);
}

}  // namespace

StatusOr<ITensor*> fmod(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b) {
  KILN_ASSIGN_OR_RETURN(DataType type, resultType({a, b}));
  switch (categoryOf(type)) {
    case TypeCategory::kBOOL:
      return site.error("fmod of bool tensors is not defined (PyTorch refuses it too)");
    case TypeCategory::kINTEGER: {
      // The engine's integer division truncates toward zero, as C's % does.
      KILN_ASSIGN_OR_RETURN(auto pair, bothAs(ctx, site, a, b, type));
      KILN_ASSIGN_OR_RETURN(ITensor * q, elementwiseSameType(ctx, site.sub("quotient"), pair.first, pair.second,
                                                             ElementWiseOperation::kDIV));
      KILN_ASSIGN_OR_RETURN(ITensor * back,
                            elementwiseSameType(ctx, site.sub("back"), q, pair.second, ElementWiseOperation::kPROD));
      return elementwiseSameType(ctx, site, pair.first, back, ElementWiseOperation::kSUB);
    }
    case TypeCategory::kFLOAT:
      break;
  }
  KILN_ASSIGN_OR_RETURN(auto pair, bothFloat32(ctx, site, a, b));
  KILN_ASSIGN_OR_RETURN(ITensor * r, fmodFloat(ctx, site, pair.first, pair.second));
  return castTo(ctx, site.sub("result"), r, type);
}

StatusOr<ITensor*> fmaxFmin(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b, bool max) {
  const ElementWiseOperation op = max ? ElementWiseOperation::kMAX : ElementWiseOperation::kMIN;
  KILN_ASSIGN_OR_RETURN(DataType type, resultType({a, b}));
  if (categoryOf(type) != TypeCategory::kFLOAT) return elementwise(ctx, site, a, b, op);
  // The engine's max/min propagate NaN; fmax/fmin take the other operand instead.
  KILN_ASSIGN_OR_RETURN(auto pair, bothAs(ctx, site, a, b, type));
  KILN_ASSIGN_OR_RETURN(ITensor * m, elementwiseSameType(ctx, site.sub("both"), pair.first, pair.second, op));
  KILN_ASSIGN_OR_RETURN(ITensor * bNan, unaryOf(ctx, site.sub("other_nan"), pair.second, UnaryOperation::kISNAN));
  KILN_ASSIGN_OR_RETURN(ITensor * keepA, selectOf(ctx, site.sub("other_nan.select"), bNan, pair.first, m));
  KILN_ASSIGN_OR_RETURN(ITensor * aNan, unaryOf(ctx, site.sub("self_nan"), pair.first, UnaryOperation::kISNAN));
  return selectOf(ctx, site, aNan, pair.second, keepA);
}

StatusOr<ITensor*> clampTensor(ConversionCtx& ctx, const Site& site, ITensor* x, ITensor* min, ITensor* max) {
  std::vector<Operand> operands = {Operand::of(x)};
  if (min != nullptr) operands.push_back(Operand::of(min));
  if (max != nullptr) operands.push_back(Operand::of(max));
  if (operands.size() == 1) return site.error("clamp needs at least one of min and max");
  KILN_ASSIGN_OR_RETURN(DataType type, resultType(operands));
  if (type == DataType::kBOOL) return site.error("clamp of bool tensors is not supported");
  // min(max(x, lo), hi): the engine's max/min propagate NaN from x and from the bounds, as PyTorch does.
  KILN_ASSIGN_OR_RETURN(ITensor * out, castTo(ctx, site.sub("cast"), x, type));
  if (min != nullptr) {
    KILN_ASSIGN_OR_RETURN(ITensor * lo, castTo(ctx, site.sub("min.cast"), min, type));
    KILN_ASSIGN_OR_RETURN(out, elementwiseSameType(ctx, site.sub("min"), out, lo, ElementWiseOperation::kMAX));
  }
  if (max != nullptr) {
    KILN_ASSIGN_OR_RETURN(ITensor * hi, castTo(ctx, site.sub("max.cast"), max, type));
    KILN_ASSIGN_OR_RETURN(out, elementwiseSameType(ctx, site.sub("max"), out, hi, ElementWiseOperation::kMIN));
  }
  return out;
}

StatusOr<ITensor*> lerp(ConversionCtx& ctx, const Site& site, ITensor* start, ITensor* end, const Operand& weight) {
  const DataType type = start->getType();
  if (categoryOf(type) != TypeCategory::kFLOAT) return site.error("lerp takes float tensors");
  // PyTorch's two-sided formula: exact at weight 0 and at weight 1.
  KILN_ASSIGN_OR_RETURN(auto se, bothFloat32(ctx, site, Operand::of(start), Operand::of(end)));
  ITensor* s = se.first;
  ITensor* e = se.second;
  KILN_ASSIGN_OR_RETURN(ITensor * diff, elementwiseSameType(ctx, site.sub("diff"), e, s, ElementWiseOperation::kSUB));
  const int32_t rank = diff->getDimensions().nbDims;
  KILN_ASSIGN_OR_RETURN(ITensor * w, materialize(ctx, site.sub("weight"), weight, DataType::kFLOAT, rank));
  KILN_ASSIGN_OR_RETURN(ITensor * one, scalarOf(ctx, site.sub("one"), w, 1.0));
  KILN_ASSIGN_OR_RETURN(ITensor * rest, elementwiseSameType(ctx, site.sub("rest"), one, w, ElementWiseOperation::kSUB));
  KILN_ASSIGN_OR_RETURN(ITensor * lowStep,
                        elementwiseSameType(ctx, site.sub("low.step"), w, diff, ElementWiseOperation::kPROD));
  KILN_ASSIGN_OR_RETURN(ITensor * low, elementwiseSameType(ctx, site.sub("low"), s, lowStep, ElementWiseOperation::kSUM));
  KILN_ASSIGN_OR_RETURN(ITensor * highStep,
                        elementwiseSameType(ctx, site.sub("high.step"), diff, rest, ElementWiseOperation::kPROD));
  KILN_ASSIGN_OR_RETURN(ITensor * high,
                        elementwiseSameType(ctx, site.sub("high"), e, highStep, ElementWiseOperation::kSUB));
  KILN_ASSIGN_OR_RETURN(ITensor * magnitude, unaryOf(ctx, site.sub("weight.abs"), w, UnaryOperation::kABS));
  KILN_ASSIGN_OR_RETURN(ITensor * half, scalarOf(ctx, site.sub("half"), w, 0.5));
  KILN_ASSIGN_OR_RETURN(ITensor * small, elementwiseSameType(ctx, site.sub("small"), magnitude, half,
                                                             ElementWiseOperation::kLESS));
  KILN_ASSIGN_OR_RETURN(ITensor * r, selectOf(ctx, site.sub("select"), small, low, high));
  return castTo(ctx, site.sub("result"), r, type);
}

StatusOr<ITensor*> addcmulDiv(ConversionCtx& ctx, const Site& site, ITensor* self, ITensor* t1, ITensor* t2,
                              const ir::Constant& value, bool divide) {
  KILN_ASSIGN_OR_RETURN(DataType type, resultType({Operand::of(self), Operand::of(t1), Operand::of(t2)}));
  const bool floating = categoryOf(type) == TypeCategory::kFLOAT;
  if (divide && !floating) return site.error("addcdiv of integer tensors is not supported (PyTorch refuses it)");
  if (!floating && value.isDouble()) return site.error("a float value with integer tensors (PyTorch refuses it)");
  if (type == DataType::kBOOL) return site.error("addcmul of bool tensors is not supported");
  // Floats compute in float32 (PyTorch's opmath for half types) and round once.
  const DataType compute = floating ? DataType::kFLOAT : type;
  const int32_t rank = std::max({self->getDimensions().nbDims, t1->getDimensions().nbDims, t2->getDimensions().nbDims});
  KILN_ASSIGN_OR_RETURN(ITensor * s, castTo(ctx, site.sub("self"), self, compute));
  KILN_ASSIGN_OR_RETURN(ITensor * a, castTo(ctx, site.sub("tensor1"), t1, compute));
  KILN_ASSIGN_OR_RETURN(ITensor * b, castTo(ctx, site.sub("tensor2"), t2, compute));
  // value * t1 first, then * or / t2, in PyTorch's order.
  ITensor* scaled = a;
  if (!isOne(value)) {
    KILN_ASSIGN_OR_RETURN(ITensor * v, materialize(ctx, site.sub("value"), Operand::of(value), compute, rank));
    KILN_ASSIGN_OR_RETURN(scaled, elementwiseSameType(ctx, site.sub("scale"), v, a, ElementWiseOperation::kPROD));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * term, elementwiseSameType(ctx, site.sub("term"), scaled, b,
                                                            divide ? ElementWiseOperation::kDIV
                                                                   : ElementWiseOperation::kPROD));
  KILN_ASSIGN_OR_RETURN(ITensor * sum, elementwiseSameType(ctx, site.sub("sum"), s, term, ElementWiseOperation::kSUM));
  return castTo(ctx, site.sub("result"), sum, type);
}

StatusOr<ITensor*> atan2(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b) {
  KILN_ASSIGN_OR_RETURN(DataType promoted, resultType({a, b}));
  const DataType type = floatResultType(promoted);
  KILN_ASSIGN_OR_RETURN(auto pair, bothFloat32(ctx, site, a, b));
  ITensor* y = pair.first;
  ITensor* x = pair.second;
  constexpr double kPi = 3.14159265358979323846;
  // atan(y / x), with the two cases the quotient loses fixed up: both infinite (gives +-pi/4 from the signs) and
  // both zero (gives y itself, a signed zero); then +-pi on the negative side of x, the sign taken from y.
  // "Negative" includes -0.0, told apart by 1/v < 0, so atan2(+-0, -0) = +-pi like C's atan2.
  KILN_ASSIGN_OR_RETURN(ITensor * q, elementwiseSameType(ctx, site.sub("quotient"), y, x, ElementWiseOperation::kDIV));
  KILN_ASSIGN_OR_RETURN(ITensor * yInf, unaryOf(ctx, site.sub("y.inf"), y, UnaryOperation::kISINF));
  KILN_ASSIGN_OR_RETURN(ITensor * xInf, unaryOf(ctx, site.sub("x.inf"), x, UnaryOperation::kISINF));
  KILN_ASSIGN_OR_RETURN(ITensor * bothInf,
                        elementwiseSameType(ctx, site.sub("both_inf"), yInf, xInf, ElementWiseOperation::kAND));
  KILN_ASSIGN_OR_RETURN(ITensor * ySign, unaryOf(ctx, site.sub("y.sign"), y, UnaryOperation::kSIGN));
  KILN_ASSIGN_OR_RETURN(ITensor * xSign, unaryOf(ctx, site.sub("x.sign"), x, UnaryOperation::kSIGN));
  KILN_ASSIGN_OR_RETURN(ITensor * signs,
                        elementwiseSameType(ctx, site.sub("signs"), ySign, xSign, ElementWiseOperation::kPROD));
  KILN_ASSIGN_OR_RETURN(ITensor * q2, selectOf(ctx, site.sub("quotient.inf"), bothInf, signs, q));
  KILN_ASSIGN_OR_RETURN(ITensor * base, unaryOf(ctx, site.sub("atan"), q2, UnaryOperation::kATAN));
  KILN_ASSIGN_OR_RETURN(ITensor * zero, scalarOf(ctx, site.sub("zero"), x, 0.0));
  KILN_ASSIGN_OR_RETURN(ITensor * yZero, elementwiseSameType(ctx, site.sub("y.zero"), y, zero, ElementWiseOperation::kEQUAL));
  KILN_ASSIGN_OR_RETURN(ITensor * xZero, elementwiseSameType(ctx, site.sub("x.zero"), x, zero, ElementWiseOperation::kEQUAL));
  KILN_ASSIGN_OR_RETURN(ITensor * bothZero,
                        elementwiseSameType(ctx, site.sub("both_zero"), yZero, xZero, ElementWiseOperation::kAND));
  KILN_ASSIGN_OR_RETURN(base, selectOf(ctx, site.sub("base"), bothZero, y, base));
  auto negativeSide = [&](ITensor* v, const char* name) -> StatusOr<ITensor*> {
    const Site s = site.sub(name);
    KILN_ASSIGN_OR_RETURN(ITensor * below, elementwiseSameType(ctx, s.sub("below"), v, zero, ElementWiseOperation::kLESS));
    KILN_ASSIGN_OR_RETURN(ITensor * inverse, unaryOf(ctx, s.sub("recip"), v, UnaryOperation::kRECIP));
    KILN_ASSIGN_OR_RETURN(ITensor * negZero,
                          elementwiseSameType(ctx, s.sub("neg_zero"), inverse, zero, ElementWiseOperation::kLESS));
    return elementwiseSameType(ctx, s, below, negZero, ElementWiseOperation::kOR);
  };
  KILN_ASSIGN_OR_RETURN(ITensor * yNeg, negativeSide(y, "y.negative"));
  KILN_ASSIGN_OR_RETURN(ITensor * xNeg, negativeSide(x, "x.negative"));
  KILN_ASSIGN_OR_RETURN(ITensor * plusPi, scalarOf(ctx, site.sub("pi"), x, kPi));
  KILN_ASSIGN_OR_RETURN(ITensor * minusPi, scalarOf(ctx, site.sub("minus_pi"), x, -kPi));
  KILN_ASSIGN_OR_RETURN(ITensor * turn, selectOf(ctx, site.sub("turn"), yNeg, minusPi, plusPi));
  KILN_ASSIGN_OR_RETURN(ITensor * turned, elementwiseSameType(ctx, site.sub("turned"), base, turn, ElementWiseOperation::kSUM));
  KILN_ASSIGN_OR_RETURN(ITensor * r, selectOf(ctx, site.sub("select"), xNeg, turned, base));
  return castTo(ctx, site.sub("result"), r, type);
}

StatusOr<ITensor*> xlogy(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b) {
  KILN_ASSIGN_OR_RETURN(DataType promoted, resultType({a, b}));
  const DataType type = floatResultType(promoted);
  KILN_ASSIGN_OR_RETURN(auto pair, bothFloat32(ctx, site, a, b));
  // x == 0 gives 0 even where log(y) is infinite, unless y is NaN.
  KILN_ASSIGN_OR_RETURN(ITensor * logY, unaryOf(ctx, site.sub("log"), pair.second, UnaryOperation::kLOG));
  KILN_ASSIGN_OR_RETURN(ITensor * prod,
                        elementwiseSameType(ctx, site.sub("prod"), pair.first, logY, ElementWiseOperation::kPROD));
  KILN_ASSIGN_OR_RETURN(ITensor * zero, scalarOf(ctx, site.sub("zero"), pair.first, 0.0));
  KILN_ASSIGN_OR_RETURN(ITensor * xZero,
                        elementwiseSameType(ctx, site.sub("x.zero"), pair.first, zero, ElementWiseOperation::kEQUAL));
  KILN_ASSIGN_OR_RETURN(ITensor * r, selectOf(ctx, site.sub("zero.select"), xZero, zero, prod));
  KILN_ASSIGN_OR_RETURN(ITensor * yNan, unaryOf(ctx, site.sub("y.nan"), pair.second, UnaryOperation::kISNAN));
  KILN_ASSIGN_OR_RETURN(r, selectOf(ctx, site.sub("nan.select"), yNan, pair.second, r));
  return castTo(ctx, site.sub("result"), r, type);
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
