// Activation builders: relu, clamp/hardtanh, gelu, sigmoid-based activations.
#include <cmath>
#include <limits>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {

StatusOr<ITensor*> activation(ConversionCtx& ctx, const Site& site, ITensor* x, ActivationType type, float alpha,
                              float beta) {
  // The engine's activations take float types; PyTorch computes sigmoid/tanh/gelu of integers in float32.
  KILN_ASSIGN_OR_RETURN(ITensor * in, toFloatIfIntegral(ctx, site.sub("float"), x));
  KILN_ASSIGN_OR_RETURN(IActivationLayer * layer, added(ctx, site, ctx.net->addActivation(*in, type)));
  layer->setAlpha(alpha);
  layer->setBeta(beta);
  return layer->getOutput(0);
}

StatusOr<ITensor*> relu(ConversionCtx& ctx, const Site& site, ITensor* x) {
  switch (categoryOf(x->getType())) {
    case TypeCategory::kFLOAT:
      return activation(ctx, site, x, ActivationType::kRELU);
    case TypeCategory::kINTEGER:
      // Integer relu stays integer in PyTorch: max(x, 0) computed exactly.
      return elementwise(ctx, site, Operand::of(x), Operand::of(ir::Constant::fromInt(0)), ElementWiseOperation::kMAX);
    case TypeCategory::kBOOL:
      break;
  }
  return site.error("relu of a bool tensor is not defined (PyTorch refuses it too)");
}

StatusOr<ITensor*> clamp(ConversionCtx& ctx, const Site& site, ITensor* x, const ir::Constant& min,
                         const ir::Constant& max) {
  std::vector<Operand> operands = {Operand::of(x)};
  if (!min.isNone()) operands.push_back(Operand::of(min));
  if (!max.isNone()) operands.push_back(Operand::of(max));
  if (operands.size() == 1) return site.error("clamp needs at least one of min and max");
  KILN_ASSIGN_OR_RETURN(DataType type, resultType(operands));
  KILN_ASSIGN_OR_RETURN(ITensor * in, castTo(ctx, site.sub("cast"), x, type));
  if (categoryOf(type) == TypeCategory::kFLOAT) {
    double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
    if (!min.isNone()) {
      KILN_ASSIGN_OR_RETURN(lo, min.toDouble());
    }
    if (!max.isNone()) {
      KILN_ASSIGN_OR_RETURN(hi, max.toDouble());
    }
    // PyTorch computes min(max(x, lo), hi): with lo > hi every value becomes hi.
    if (lo > hi) lo = hi;
    return activation(ctx, site, in, ActivationType::kCLIP, static_cast<float>(lo), static_cast<float>(hi));
  }
  ITensor* out = in;
  if (!min.isNone()) {
    KILN_ASSIGN_OR_RETURN(
        out, elementwise(ctx, site.sub("min"), Operand::of(out), Operand::of(min), ElementWiseOperation::kMAX));
  }
  if (!max.isNone()) {
    KILN_ASSIGN_OR_RETURN(
        out, elementwise(ctx, site.sub("max"), Operand::of(out), Operand::of(max), ElementWiseOperation::kMIN));
  }
  return castTo(ctx, site.sub("result"), out, type);
}

StatusOr<ITensor*> gelu(ConversionCtx& ctx, const Site& site, ITensor* x, const std::string& approximate) {
  if (approximate == "none") return activation(ctx, site, x, ActivationType::kGELU_ERF);
  if (approximate == "tanh") return activation(ctx, site, x, ActivationType::kGELU_TANH);
  return site.error("gelu approximate='" + approximate + "' is not 'none' or 'tanh'");
}

StatusOr<ITensor*> silu(ConversionCtx& ctx, const Site& site, ITensor* x) {
  KILN_ASSIGN_OR_RETURN(ITensor * in, toFloatIfIntegral(ctx, site.sub("float"), x));
  KILN_ASSIGN_OR_RETURN(ITensor * s, activation(ctx, site.sub("sigmoid"), in, ActivationType::kSIGMOID));
  return elementwiseSameType(ctx, site, in, s, ElementWiseOperation::kPROD);
}

StatusOr<ITensor*> hardsigmoid(ConversionCtx& ctx, const Site& site, ITensor* x) {
  // relu6(x + 3) / 6 = max(0, min(1, x/6 + 1/2))
  return activation(ctx, site, x, ActivationType::kHARD_SIGMOID, 1.f / 6.f, 0.5f);
}

StatusOr<ITensor*> hardswish(ConversionCtx& ctx, const Site& site, ITensor* x) {
  KILN_ASSIGN_OR_RETURN(ITensor * in, toFloatIfIntegral(ctx, site.sub("float"), x));
  KILN_ASSIGN_OR_RETURN(ITensor * gate, hardsigmoid(ctx, site.sub("gate"), in));
  return elementwiseSameType(ctx, site, in, gate, ElementWiseOperation::kPROD);
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
