// Unary builders with PyTorch's dtype rules: float-only math promotes integers to float32.
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

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
