// Batch norm (inference, or with batch statistics), group and instance norm, layer norm, RMS norm, softmax and
// log-softmax.
#include <cmath>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {
namespace {

// [1, C, 1, ...] of the input's rank: per-channel parameters broadcast over dim 1.
Dims channelDims(int32_t rank, int64_t channels) {
  Dims dims;
  dims.nbDims = rank;
  for (int32_t i = 0; i < rank; ++i) dims.d[i] = i == 1 ? channels : 1;
  return dims;
}

StatusOr<std::vector<double>> hostValues(const Site& site, const ConverterArg& arg, int64_t channels, double fill,
                                         const char* what) {
  if (arg.isNone()) return std::vector<double>(static_cast<size_t>(channels), fill);
  const HostTensor& data = *arg.weights;
  if (data.count() != channels) {
    return site.error(std::string(what) + " has " + std::to_string(data.count()) + " values for " +
                      std::to_string(channels) + " channels");
  }
  std::vector<double> values(static_cast<size_t>(channels));
  for (int64_t i = 0; i < channels; ++i) values[static_cast<size_t>(i)] = data.floatAt(i);
  return values;
}

// A per-channel parameter tensor as [1, C, 1, ...] in `type`.
StatusOr<ITensor*> channelParam(ConversionCtx& ctx, const Site& site, const ConverterArg& arg, int32_t rank,
                                DataType type) {
  KILN_ASSIGN_OR_RETURN(ITensor * t, arg.asTensor());
  const Dims dims = t->getDimensions();
  if (dims.nbDims != 1) return site.error(arg.describe() + " must be 1-D, got " + dimsToString(dims));
  KILN_ASSIGN_OR_RETURN(ITensor * cast, castTo(ctx, site.sub("cast"), t, type));
  std::vector<ShapeItem> shape(static_cast<size_t>(rank), ShapeItem::number(1));
  KILN_ASSIGN_OR_RETURN(shape[1], dimOf(ctx, site.sub("c"), cast, 0));
  return reshape(ctx, site, cast, shape);
}

}  // namespace

StatusOr<ITensor*> batchNorm(ConversionCtx& ctx, const Site& site, ITensor* x, const BatchNormParams& params) {
  const Dims dims = x->getDimensions();
  const DataType type = x->getType();
  if (dims.nbDims < 2) return site.error("batch norm needs an input with a channel dim (rank >= 2)");
  if (categoryOf(type) != TypeCategory::kFLOAT) {
    return site.error(std::string("batch norm of ") + dataTypeName(type) + " tensors is not supported");
  }
  if (params.mean.isNone() || params.var.isNone()) {
    return site.error("inference batch norm needs running_mean and running_var");
  }
  const auto known = [](const ConverterArg& a) { return a.isNone() || a.weights != nullptr; };
  if (known(params.weight) && known(params.bias) && known(params.mean) && known(params.var)) {
    // Fold everything into y = x * scale + shift, computed in double on the host.
    const int64_t channels = params.mean.weights->count();
    if (dims.d[1] >= 0 && dims.d[1] != channels) {
      return site.error("the input has " + std::to_string(dims.d[1]) + " channels but running_mean has " +
                        std::to_string(channels));
    }
    KILN_ASSIGN_OR_RETURN(std::vector<double> w, hostValues(site, params.weight, channels, 1.0, "weight"));
    KILN_ASSIGN_OR_RETURN(std::vector<double> b, hostValues(site, params.bias, channels, 0.0, "bias"));
    KILN_ASSIGN_OR_RETURN(std::vector<double> mean, hostValues(site, params.mean, channels, 0.0, "running_mean"));
    KILN_ASSIGN_OR_RETURN(std::vector<double> var, hostValues(site, params.var, channels, 1.0, "running_var"));
    std::vector<double> scale(static_cast<size_t>(channels)), shift(static_cast<size_t>(channels));
    for (size_t c = 0; c < scale.size(); ++c) {
      scale[c] = w[c] / std::sqrt(var[c] + params.eps);
      shift[c] = b[c] - mean[c] * scale[c];
    }
    const Dims paramDims = channelDims(dims.nbDims, channels);
    KILN_ASSIGN_OR_RETURN(ITensor * s, constantOf(ctx, site.sub("scale"), type, paramDims, scale));
    KILN_ASSIGN_OR_RETURN(ITensor * t, constantOf(ctx, site.sub("shift"), type, paramDims, shift));
    KILN_ASSIGN_OR_RETURN(ITensor * scaled,
                          elementwiseSameType(ctx, site.sub("mul"), x, s, ElementWiseOperation::kPROD));
    return elementwiseSameType(ctx, site, scaled, t, ElementWiseOperation::kSUM);
  }
  // Parameters computed in the engine: (x - mean) * rsqrt(var + eps) * weight + bias.
  const int32_t rank = dims.nbDims;
  KILN_ASSIGN_OR_RETURN(ITensor * mean, channelParam(ctx, site.sub("mean"), params.mean, rank, type));
  KILN_ASSIGN_OR_RETURN(ITensor * var, channelParam(ctx, site.sub("var"), params.var, rank, type));
  ITensor* epsilon = ctx.addScalar(params.eps, type, rank, site.sub("eps").layerName("Constant"));
  if (epsilon == nullptr) return ctx.status().withContext(site.describe());
  KILN_ASSIGN_OR_RETURN(ITensor * varEps,
                        elementwiseSameType(ctx, site.sub("var_eps"), var, epsilon, ElementWiseOperation::kSUM));
  KILN_ASSIGN_OR_RETURN(ITensor * inv, rsqrt(ctx, site.sub("rsqrt"), varEps));
  KILN_ASSIGN_OR_RETURN(ITensor * centered,
                        elementwiseSameType(ctx, site.sub("center"), x, mean, ElementWiseOperation::kSUB));
  KILN_ASSIGN_OR_RETURN(ITensor * out,
                        elementwiseSameType(ctx, site.sub("normalize"), centered, inv, ElementWiseOperation::kPROD));
  if (!params.weight.isNone()) {
    KILN_ASSIGN_OR_RETURN(ITensor * w, channelParam(ctx, site.sub("weight"), params.weight, rank, type));
    KILN_ASSIGN_OR_RETURN(out, elementwiseSameType(ctx, site.sub("scale"), out, w, ElementWiseOperation::kPROD));
  }
  if (!params.bias.isNone()) {
    KILN_ASSIGN_OR_RETURN(ITensor * b, channelParam(ctx, site.sub("bias"), params.bias, rank, type));
    KILN_ASSIGN_OR_RETURN(out, elementwiseSameType(ctx, site.sub("shift"), out, b, ElementWiseOperation::kSUM));
  }
  return out;
}

StatusOr<ITensor*> channelNorm(ConversionCtx& ctx, const Site& site, ITensor* x, uint32_t axes, int64_t groups,
                               const ConverterArg& weight, const ConverterArg& bias, double eps) {
  const Dims dims = x->getDimensions();
  const DataType type = x->getType();
  if (dims.nbDims < 2) return site.error("normalization needs an input with a channel dim (rank >= 2)");
  if (categoryOf(type) != TypeCategory::kFLOAT) {
    return site.error(std::string("normalization of ") + dataTypeName(type) + " tensors is not supported");
  }
  const int64_t channels = dims.d[1];
  if (channels < 1 || groups < 1 || channels % groups != 0) {
    return site.error("the input " + dimsToString(dims) + " needs a static channel count divisible by the " +
                      std::to_string(groups) + " groups");
  }
  const Dims paramDims = channelDims(dims.nbDims, channels);
  ITensor* scale = nullptr;
  ITensor* shift = nullptr;
  if (weight.isNone()) {
    KILN_ASSIGN_OR_RETURN(scale, constantOf(ctx, site.sub("ones"), type, paramDims,
                                            std::vector<double>(static_cast<size_t>(channels), 1.0)));
  } else {
    KILN_ASSIGN_OR_RETURN(scale, channelParam(ctx, site.sub("weight"), weight, dims.nbDims, type));
  }
  if (bias.isNone()) {
    KILN_ASSIGN_OR_RETURN(shift, constantOf(ctx, site.sub("zeros"), type, paramDims,
                                            std::vector<double>(static_cast<size_t>(channels), 0.0)));
  } else {
    KILN_ASSIGN_OR_RETURN(shift, channelParam(ctx, site.sub("bias"), bias, dims.nbDims, type));
  }
  KILN_ASSIGN_OR_RETURN(INormalizationLayer * layer,
                        added(ctx, site, ctx.net->addNormalization(*x, *scale, *shift, axes)));
  layer->setEpsilon(static_cast<float>(eps));
  if (groups > 1) layer->setNbGroups(groups);
  return layer->getOutput(0);
}

StatusOr<ITensor*> rmsNorm(ConversionCtx& ctx, const Site& site, ITensor* x, int32_t normalizedRank, ITensor* weight,
                           std::optional<double> eps) {
  const Dims dims = x->getDimensions();
  const DataType type = x->getType();
  if (categoryOf(type) != TypeCategory::kFLOAT) {
    return site.error(std::string("RMS norm of ") + dataTypeName(type) + " tensors is not supported");
  }
  if (normalizedRank < 1 || normalizedRank > dims.nbDims) {
    return site.error("normalized_shape of " + std::to_string(normalizedRank) + " dims for an input of rank " +
                      std::to_string(dims.nbDims));
  }
  // PyTorch's default epsilon is the machine epsilon of the input type; half types compute in float32.
  const double epsilon = eps.has_value()           ? *eps
                         : type == DataType::kHALF ? 0.0009765625
                         : type == DataType::kBF16 ? 0.0078125
                                                   : 1.1920928955078125e-07;
  const DataType acc = type == DataType::kFLOAT ? type : DataType::kFLOAT;
  KILN_ASSIGN_OR_RETURN(ITensor * in, castTo(ctx, site.sub("acc"), x, acc));
  std::vector<int64_t> axes;
  for (int32_t i = dims.nbDims - normalizedRank; i < dims.nbDims; ++i) axes.push_back(i);
  KILN_ASSIGN_OR_RETURN(ITensor * square,
                        elementwiseSameType(ctx, site.sub("square"), in, in, ElementWiseOperation::kPROD));
  KILN_ASSIGN_OR_RETURN(ITensor * meanSquare, reduce(ctx, site.sub("mean"), square, ReduceOperation::kAVG, axes, true));
  ITensor* epsTensor = ctx.addScalar(epsilon, acc, dims.nbDims, site.sub("eps").layerName("Constant"));
  if (epsTensor == nullptr) return ctx.status().withContext(site.describe());
  KILN_ASSIGN_OR_RETURN(ITensor * shifted, elementwiseSameType(ctx, site.sub("add_eps"), meanSquare, epsTensor,
                                                               ElementWiseOperation::kSUM));
  KILN_ASSIGN_OR_RETURN(ITensor * inv, rsqrt(ctx, site.sub("rsqrt"), shifted));
  KILN_ASSIGN_OR_RETURN(ITensor * normalized,
                        elementwiseSameType(ctx, site.sub("normalize"), in, inv, ElementWiseOperation::kPROD));
  KILN_ASSIGN_OR_RETURN(ITensor * out, castTo(ctx, site.sub("out"), normalized, type));
  if (weight == nullptr) return out == x ? identity(ctx, site, x) : out;
  return elementwise(ctx, site, Operand::of(out), Operand::of(weight), ElementWiseOperation::kPROD);
}

StatusOr<ITensor*> layerNorm(ConversionCtx& ctx, const Site& site, ITensor* x, int32_t normalizedRank, ITensor* weight,
                             ITensor* bias, double eps) {
  const Dims dims = x->getDimensions();
  const DataType type = x->getType();
  if (categoryOf(type) != TypeCategory::kFLOAT) {
    return site.error(std::string("layer norm of ") + dataTypeName(type) + " tensors is not supported");
  }
  if (normalizedRank < 1 || normalizedRank > dims.nbDims) {
    return site.error("normalized_shape of " + std::to_string(normalizedRank) + " dims for an input of rank " +
                      std::to_string(dims.nbDims));
  }
  uint32_t axes = 0;
  for (int32_t i = dims.nbDims - normalizedRank; i < dims.nbDims; ++i) axes |= 1u << i;
  ITensor* scale = nullptr;
  ITensor* shift = nullptr;
  if (weight != nullptr) {
    KILN_ASSIGN_OR_RETURN(scale, castTo(ctx, site.sub("weight"), weight, type));
  } else {
    scale = ctx.addScalar(1.0, type, normalizedRank, site.sub("ones").layerName("Constant"));
  }
  if (bias != nullptr) {
    KILN_ASSIGN_OR_RETURN(shift, castTo(ctx, site.sub("bias"), bias, type));
  } else {
    shift = ctx.addScalar(0.0, type, normalizedRank, site.sub("zeros").layerName("Constant"));
  }
  if (scale == nullptr || shift == nullptr) return ctx.status().withContext(site.describe());
  KILN_ASSIGN_OR_RETURN(INormalizationLayer * layer,
                        added(ctx, site, ctx.net->addNormalization(*x, *scale, *shift, axes)));
  layer->setEpsilon(static_cast<float>(eps));
  return layer->getOutput(0);
}

StatusOr<ITensor*> softmax(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim) {
  const int32_t rank = x->getDimensions().nbDims;
  if (categoryOf(x->getType()) != TypeCategory::kFLOAT) {
    return site.error(std::string("softmax of ") + dataTypeName(x->getType()) + " tensors is not supported");
  }
  KILN_ASSIGN_OR_RETURN(int32_t d, normalizeDim(site, dim, rank));
  if (rank == 0) {  // softmax of one element is 1
    return fullLike(ctx, site, x, 1.0, x->getType());
  }
  KILN_ASSIGN_OR_RETURN(ISoftMaxLayer * layer, added(ctx, site, ctx.net->addSoftMax(*x)));
  layer->setAxes(1u << d);
  return layer->getOutput(0);
}

StatusOr<ITensor*> logSoftmax(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim) {
  const int32_t rank = x->getDimensions().nbDims;
  if (categoryOf(x->getType()) != TypeCategory::kFLOAT) {
    return site.error(std::string("log_softmax of ") + dataTypeName(x->getType()) + " tensors is not supported");
  }
  KILN_ASSIGN_OR_RETURN(int32_t d, normalizeDim(site, dim, rank));
  if (rank == 0) return fullLike(ctx, site, x, 0.0, x->getType());
  // x - max - log(sum(exp(x - max))): stable for large logits.
  KILN_ASSIGN_OR_RETURN(ITensor * max, reduce(ctx, site.sub("max"), x, ReduceOperation::kMAX, {d}, true));
  KILN_ASSIGN_OR_RETURN(ITensor * shifted,
                        elementwiseSameType(ctx, site.sub("shift"), x, max, ElementWiseOperation::kSUB));
  KILN_ASSIGN_OR_RETURN(ITensor * e, outputOf(ctx, site.sub("exp"), ctx.net->addUnary(*shifted, UnaryOperation::kEXP)));
  KILN_ASSIGN_OR_RETURN(ITensor * sum, reduce(ctx, site.sub("sum"), e, ReduceOperation::kSUM, {d}, true));
  KILN_ASSIGN_OR_RETURN(ITensor * logSum,
                        outputOf(ctx, site.sub("log"), ctx.net->addUnary(*sum, UnaryOperation::kLOG)));
  return elementwiseSameType(ctx, site, shifted, logSum, ElementWiseOperation::kSUB);
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
