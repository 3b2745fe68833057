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

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
