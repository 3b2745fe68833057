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

namespace {

StatusOr<ITensor*> scalarOf(ConversionCtx& ctx, const Site& site, ITensor* like, double value) {
  ITensor* t = ctx.addScalar(value, like->getType(), like->getDimensions().nbDims, site.layerName("Constant"));
  if (t == nullptr) return ctx.status().withContext(site.describe());
  return t;
}

StatusOr<ITensor*> withScalar(ConversionCtx& ctx, const Site& site, ITensor* x, double value,
                              ElementWiseOperation op) {
  KILN_ASSIGN_OR_RETURN(ITensor * c, scalarOf(ctx, site.sub("constant"), x, value));
  return elementwiseSameType(ctx, site, x, c, op);
}

StatusOr<ITensor*> select(ConversionCtx& ctx, const Site& site, ITensor* condition, ITensor* a, ITensor* b) {
  return outputOf(ctx, site, ctx.net->addSelect(*condition, *a, *b));
}

}  // namespace

StatusOr<ITensor*> elu(ConversionCtx& ctx, const Site& site, ITensor* x, double alpha, double scale,
                       double inputScale) {
  if (scale == 1.0 && inputScale == 1.0) return activation(ctx, site, x, ActivationType::kELU, static_cast<float>(alpha));
  if (!(inputScale > 0.0)) return site.error("elu with input_scale <= 0 is not supported");
  // x > 0 ? scale * x : scale * alpha * expm1(input_scale * x); kELU is that expm1 term below zero, and a
  // positive input_scale keeps the sign of x.
  return inFloat32(ctx, site, x, [&](ITensor* f) -> StatusOr<ITensor*> {
    KILN_ASSIGN_OR_RETURN(ITensor * scaledIn, withScalar(ctx, site.sub("input_scale"), f, inputScale,
                                                         ElementWiseOperation::kPROD));
    KILN_ASSIGN_OR_RETURN(ITensor * negative, activation(ctx, site.sub("negative"), scaledIn, ActivationType::kELU,
                                                         static_cast<float>(alpha * scale)));
    KILN_ASSIGN_OR_RETURN(ITensor * positive,
                          withScalar(ctx, site.sub("scale"), f, scale, ElementWiseOperation::kPROD));
    KILN_ASSIGN_OR_RETURN(ITensor * above, withScalar(ctx, site.sub("above"), f, 0.0, ElementWiseOperation::kGREATER));
    return select(ctx, site.sub("select"), above, positive, negative);
  });
}

StatusOr<ITensor*> softplus(ConversionCtx& ctx, const Site& site, ITensor* x, double beta, double threshold) {
  if (beta == 0.0) return site.error("softplus with beta 0 is not defined");
  // kSOFTPLUS is alpha * log1p(exp(beta x)), passing beta x through above 20 where the two agree in float;
  // PyTorch returns x itself once beta x exceeds `threshold`, which matters only for thresholds below 20.
  KILN_ASSIGN_OR_RETURN(ITensor * smooth, activation(ctx, site.sub("smooth"), x, ActivationType::kSOFTPLUS,
                                                     static_cast<float>(1.0 / beta), static_cast<float>(beta)));
  if (threshold >= 20.0) return smooth;
  return inFloat32(ctx, site, x, [&](ITensor* f) -> StatusOr<ITensor*> {
    KILN_ASSIGN_OR_RETURN(ITensor * smoothF, castTo(ctx, site.sub("smooth.float"), smooth, DataType::kFLOAT));
    KILN_ASSIGN_OR_RETURN(ITensor * z, withScalar(ctx, site.sub("beta"), f, beta, ElementWiseOperation::kPROD));
    KILN_ASSIGN_OR_RETURN(ITensor * linear,
                          withScalar(ctx, site.sub("linear"), z, threshold, ElementWiseOperation::kGREATER));
    return select(ctx, site.sub("select"), linear, f, smoothF);
  });
}

StatusOr<ITensor*> mish(ConversionCtx& ctx, const Site& site, ITensor* x) {
  return inFloat32(ctx, site, x, [&](ITensor* f) -> StatusOr<ITensor*> {
    KILN_ASSIGN_OR_RETURN(ITensor * sp, activation(ctx, site.sub("softplus"), f, ActivationType::kSOFTPLUS, 1.f, 1.f));
    KILN_ASSIGN_OR_RETURN(ITensor * t, activation(ctx, site.sub("tanh"), sp, ActivationType::kTANH));
    return elementwiseSameType(ctx, site.sub("mul"), f, t, ElementWiseOperation::kPROD);
  });
}

StatusOr<ITensor*> logSigmoid(ConversionCtx& ctx, const Site& site, ITensor* x) {
  // log(sigmoid(x)) = -softplus(-x): kSOFTPLUS with alpha = beta = -1, stable for both signs.
  return activation(ctx, site, x, ActivationType::kSOFTPLUS, -1.f, -1.f);
}

StatusOr<ITensor*> shrink(ConversionCtx& ctx, const Site& site, ITensor* x, double lambda, bool soft) {
  // Comparisons with NaN are false, so NaN falls through to the "outside" branches and stays NaN.
  KILN_ASSIGN_OR_RETURN(ITensor * above, withScalar(ctx, site.sub("above"), x, lambda, ElementWiseOperation::kGREATER));
  KILN_ASSIGN_OR_RETURN(ITensor * below, withScalar(ctx, site.sub("below"), x, -lambda, ElementWiseOperation::kLESS));
  KILN_ASSIGN_OR_RETURN(ITensor * zero, scalarOf(ctx, site.sub("zero"), x, 0.0));
  if (!soft) {
    KILN_ASSIGN_OR_RETURN(ITensor * outside,
                          elementwiseSameType(ctx, site.sub("outside"), above, below, ElementWiseOperation::kOR));
    KILN_ASSIGN_OR_RETURN(ITensor * isNan, outputOf(ctx, site.sub("isnan"), ctx.net->addUnary(*x, UnaryOperation::kISNAN)));
    KILN_ASSIGN_OR_RETURN(ITensor * keep,
                          elementwiseSameType(ctx, site.sub("keep"), outside, isNan, ElementWiseOperation::kOR));
    return select(ctx, site, keep, x, zero);
  }
  KILN_ASSIGN_OR_RETURN(ITensor * down, withScalar(ctx, site.sub("down"), x, lambda, ElementWiseOperation::kSUB));
  KILN_ASSIGN_OR_RETURN(ITensor * up, withScalar(ctx, site.sub("up"), x, lambda, ElementWiseOperation::kSUM));
  KILN_ASSIGN_OR_RETURN(ITensor * lower, select(ctx, site.sub("lower"), below, up, zero));
  KILN_ASSIGN_OR_RETURN(ITensor * isNan, outputOf(ctx, site.sub("isnan"), ctx.net->addUnary(*x, UnaryOperation::kISNAN)));
  KILN_ASSIGN_OR_RETURN(ITensor * upper, select(ctx, site.sub("upper"), above, down, lower));
  return select(ctx, site, isNan, x, upper);
}

StatusOr<ITensor*> threshold(ConversionCtx& ctx, const Site& site, ITensor* x, double threshold, double value) {
  if (x->getType() == DataType::kBOOL) return site.error("threshold of a bool tensor is not defined");
  // PyTorch converts both numbers to x's type first (an int tensor truncates them), then x <= threshold.
  KILN_ASSIGN_OR_RETURN(ITensor * t, scalarOf(ctx, site.sub("threshold"), x, threshold));
  KILN_ASSIGN_OR_RETURN(ITensor * below, elementwiseSameType(ctx, site.sub("below"), x, t, ElementWiseOperation::kLESS));
  KILN_ASSIGN_OR_RETURN(ITensor * equal, elementwiseSameType(ctx, site.sub("equal"), x, t, ElementWiseOperation::kEQUAL));
  KILN_ASSIGN_OR_RETURN(ITensor * replace,
                        elementwiseSameType(ctx, site.sub("replace"), below, equal, ElementWiseOperation::kOR));
  KILN_ASSIGN_OR_RETURN(ITensor * v, scalarOf(ctx, site.sub("value"), x, value));
  return select(ctx, site, replace, v, x);
}

StatusOr<ITensor*> prelu(ConversionCtx& ctx, const Site& site, ITensor* x, ITensor* weight) {
  KILN_ASSIGN_OR_RETURN(ITensor * w, castTo(ctx, site.sub("weight"), weight, x->getType()));
  KILN_ASSIGN_OR_RETURN(ITensor * scaled, elementwiseSameType(ctx, site.sub("scaled"), x, w, ElementWiseOperation::kPROD));
  KILN_ASSIGN_OR_RETURN(ITensor * above, withScalar(ctx, site.sub("above"), x, 0.0, ElementWiseOperation::kGREATER));
  // x > 0 ? x : w * x, broadcast to the shape of both (select broadcasts its branches).
  return select(ctx, site, above, x, scaled);
}

StatusOr<ITensor*> glu(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim) {
  const Dims dims = x->getDimensions();
  KILN_ASSIGN_OR_RETURN(int32_t d, normalizeDim(site, dim, dims.nbDims));
  const int64_t extent = dims.d[d];
  if (extent < 0 || extent % 2 != 0) {
    return site.error("glu needs a static, even extent along dim " + std::to_string(dim) + ", got " +
                      std::to_string(extent));
  }
  const int64_t half = extent / 2;
  KILN_ASSIGN_OR_RETURN(ITensor * a, slice(ctx, site.sub("a"), x, d, ShapeItem::number(0), ShapeItem::number(half), 1));
  KILN_ASSIGN_OR_RETURN(ITensor * b,
                        slice(ctx, site.sub("b"), x, d, ShapeItem::number(half), ShapeItem::number(extent), 1));
  KILN_ASSIGN_OR_RETURN(ITensor * gate, activation(ctx, site.sub("gate"), b, ActivationType::kSIGMOID));
  return elementwiseSameType(ctx, site, a, gate, ElementWiseOperation::kPROD);
}

StatusOr<ITensor*> logit(ConversionCtx& ctx, const Site& site, ITensor* x, std::optional<double> eps) {
  return inFloat32(ctx, site, x, [&](ITensor* f) -> StatusOr<ITensor*> {
    ITensor* z = f;
    if (eps) {
      // clamp(x, eps, 1 - eps) keeping NaN, as kCLIP does.
      KILN_ASSIGN_OR_RETURN(z, activation(ctx, site.sub("clamp"), f, ActivationType::kCLIP, static_cast<float>(*eps),
                                          static_cast<float>(1.0 - *eps)));
    }
    KILN_ASSIGN_OR_RETURN(ITensor * one, scalarOf(ctx, site.sub("one"), z, 1.0));
    KILN_ASSIGN_OR_RETURN(ITensor * rest, elementwiseSameType(ctx, site.sub("rest"), one, z, ElementWiseOperation::kSUB));
    KILN_ASSIGN_OR_RETURN(ITensor * odds, elementwiseSameType(ctx, site.sub("odds"), z, rest, ElementWiseOperation::kDIV));
    return outputOf(ctx, site.sub("log"), ctx.net->addUnary(*odds, UnaryOperation::kLOG));
  });
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
