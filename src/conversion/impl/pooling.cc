// Max/average pooling and adaptive average pooling.
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

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
