// Max/average pooling and adaptive average/max pooling.
#include <algorithm>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {
namespace {

Dims toDims(const std::vector<int64_t>& values) {
  Dims dims;
  dims.nbDims = static_cast<int32_t>(values.size());
  for (size_t i = 0; i < values.size(); ++i) dims.d[i] = values[i];
  return dims;
}

// int[2] arguments arrive expanded by the schema normalization; a single value still broadcasts here.
StatusOr<std::vector<int64_t>> perDim(const Site& site, const std::vector<int64_t>& values, size_t n,
                                      const std::vector<int64_t>& fallback, const char* what) {
  if (values.empty()) return fallback;
  if (values.size() == 1) return std::vector<int64_t>(n, values[0]);
  if (values.size() != n) {
    return site.error(std::string(what) + " has " + std::to_string(values.size()) + " values for " + std::to_string(n) +
                      " spatial dims");
  }
  return values;
}

}  // namespace

StatusOr<ITensor*> pooling(ConversionCtx& ctx, const Site& site, ITensor* x, PoolingType type,
                           const PoolingParams& params) {
  const size_t n = params.kernel.size();
  if (n < 1 || n > 3) return site.error("pooling needs 1 to 3 kernel extents, got " + std::to_string(n));
  if (x->getDimensions().nbDims < static_cast<int32_t>(n) + 1) {
    return site.error("the input " + dimsToString(x->getDimensions()) + " has fewer than " + std::to_string(n + 1) +
                      " dims");
  }
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> stride, perDim(site, params.stride, n, params.kernel, "stride"));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> padding,
                        perDim(site, params.padding, n, std::vector<int64_t>(n, 0), "padding"));
  if (categoryOf(x->getType()) != TypeCategory::kFLOAT) {
    return site.error(std::string("pooling of ") + dataTypeName(x->getType()) + " tensors is not supported");
  }
  const Dims window = toDims(params.kernel);
  KILN_ASSIGN_OR_RETURN(ITensor * addOn, spatialProxy(ctx, site, x, 1, window));
  KILN_ASSIGN_OR_RETURN(IPoolingLayer * layer, added(ctx, site, ctx.net->addPoolingNd(*addOn, type, window)));
  layer->setStrideNd(toDims(stride));
  layer->setPrePadding(toDims(padding));
  layer->setPostPadding(toDims(padding));
  layer->setPaddingMode(params.ceilMode ? PaddingMode::kEXPLICIT_ROUND_UP : PaddingMode::kEXPLICIT_ROUND_DOWN);
  if (type == PoolingType::kAVERAGE) layer->setAverageCountExcludesPadding(!params.countIncludePad);
  if (addOn != x) layer->setInput(0, *x);
  return layer->getOutput(0);
}

bool adaptivePoolSupported(const Dims& input, const std::vector<int64_t>& outputSize) {
  const auto n = static_cast<int32_t>(outputSize.size());
  if (n < 1 || n > 3 || input.nbDims < n + 1) return false;
  const bool global = std::all_of(outputSize.begin(), outputSize.end(), [](int64_t v) { return v == 1; });
  if (global) return true;
  for (int32_t i = 0; i < n; ++i) {
    const int64_t in = input.d[input.nbDims - n + i], out = outputSize[static_cast<size_t>(i)];
    if (in < 1 || out < 1 || in % out != 0) return false;
  }
  return true;
}

StatusOr<ITensor*> adaptiveAvgPool(ConversionCtx& ctx, const Site& site, ITensor* x,
                                   const std::vector<int64_t>& outputSize) {
  const Dims dims = x->getDimensions();
  if (!adaptivePoolSupported(dims, outputSize)) {
    return site.error("adaptive average pooling of " + dimsToString(dims) +
                      " needs static spatial extents divisible by the output size (or a 1x1 output)");
  }
  const auto n = static_cast<int32_t>(outputSize.size());
  const bool global = std::all_of(outputSize.begin(), outputSize.end(), [](int64_t v) { return v == 1; });
  if (global) {
    // A mean over the spatial dims works for any (also dynamic) spatial extent.
    std::vector<int64_t> axes;
    for (int32_t i = 0; i < n; ++i) axes.push_back(dims.nbDims - n + i);
    return reduce(ctx, site, x, ReduceOperation::kAVG, axes, /*keepDim=*/true);
  }
  PoolingParams params;
  for (int32_t i = 0; i < n; ++i) {
    params.kernel.push_back(dims.d[dims.nbDims - n + i] / outputSize[static_cast<size_t>(i)]);
  }
  params.stride = params.kernel;
  return pooling(ctx, site, x, PoolingType::kAVERAGE, params);
}

bool adaptivePoolSeparableSupported(const Dims& input, const std::vector<int64_t>& outputSize) {
  const auto n = static_cast<int32_t>(outputSize.size());
  if (n < 1 || n > 3 || input.nbDims < n + 1) return false;
  if (std::all_of(outputSize.begin(), outputSize.end(), [](int64_t v) { return v == 1; })) return true;
  for (int32_t i = 0; i < n; ++i) {
    const int64_t in = input.d[input.nbDims - n + i], out = outputSize[static_cast<size_t>(i)];
    if (in < 1 || out < 1 || out > kMAX_ADAPTIVE_WINDOWS) return false;
  }
  return true;
}

StatusOr<ITensor*> adaptivePool(ConversionCtx& ctx, const Site& site, ITensor* x,
                                const std::vector<int64_t>& outputSize, PoolingType type) {
  const Dims dims = x->getDimensions();
  if (!adaptivePoolSeparableSupported(dims, outputSize)) {
    return site.error("adaptive pooling of " + dimsToString(dims) + " to " + std::to_string(outputSize.size()) +
                      " output extents needs static spatial extents and at most " +
                      std::to_string(kMAX_ADAPTIVE_WINDOWS) + " windows per dim (or a global pool)");
  }
  if (categoryOf(x->getType()) != TypeCategory::kFLOAT) {
    return site.error(std::string("pooling of ") + dataTypeName(x->getType()) + " tensors is not supported");
  }
  const ReduceOperation reduceOp = type == PoolingType::kMAX ? ReduceOperation::kMAX : ReduceOperation::kAVG;
  const auto n = static_cast<int32_t>(outputSize.size());
  if (std::all_of(outputSize.begin(), outputSize.end(), [](int64_t v) { return v == 1; })) {
    std::vector<int64_t> axes;
    for (int32_t i = 0; i < n; ++i) axes.push_back(dims.nbDims - n + i);
    return reduce(ctx, site, x, reduceOp, axes, /*keepDim=*/true);
  }
  if (adaptivePoolSupported(dims, outputSize)) {  // even windows: one pooling layer
    PoolingParams params;
    for (int32_t i = 0; i < n; ++i) {
      params.kernel.push_back(dims.d[dims.nbDims - n + i] / outputSize[static_cast<size_t>(i)]);
    }
    params.stride = params.kernel;
    return pooling(ctx, site, x, type, params);
  }
  // Uneven windows [floor(i*in/out), ceil((i+1)*in/out)): max and mean over a box are separable, so each
  // spatial dim is pooled on its own, one reduction per window.
  ITensor* current = x;
  for (int32_t i = 0; i < n; ++i) {
    const int32_t axis = dims.nbDims - n + i;
    const int64_t in = dims.d[axis], out = outputSize[static_cast<size_t>(i)];
    if (in == out) continue;
    const Site dimSite = site.sub("d" + std::to_string(i));
    std::vector<ITensor*> windows;
    for (int64_t o = 0; o < out; ++o) {
      const int64_t start = (o * in) / out, end = ((o + 1) * in + out - 1) / out;
      const Site w = dimSite.sub(std::to_string(o));
      KILN_ASSIGN_OR_RETURN(ITensor * window, slice(ctx, w.sub("slice"), current, axis, ShapeItem::number(start),
                                                    ShapeItem::number(end), 1));
      KILN_ASSIGN_OR_RETURN(ITensor * pooled, reduce(ctx, w, window, reduceOp, {axis}, true));
      windows.push_back(pooled);
    }
    KILN_ASSIGN_OR_RETURN(current, concat(ctx, dimSite, windows, axis));
  }
  return current == x ? identity(ctx, site, x) : current;
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
