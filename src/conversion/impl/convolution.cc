// Convolution and transposed convolution (aten::convolution) in 1-3 spatial dims.
#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {
namespace {

// A per-spatial-dim parameter: one value for all dims, or one per dim.
StatusOr<Dims> spatial(const Site& site, const std::vector<int64_t>& values, int32_t nbSpatial, int64_t fill,
                       const char* what) {
  Dims dims;
  dims.nbDims = nbSpatial;
  if (values.empty()) {
    for (int32_t i = 0; i < nbSpatial; ++i) dims.d[i] = fill;
    return dims;
  }
  if (values.size() != 1 && values.size() != static_cast<size_t>(nbSpatial)) {
    return site.error(std::string(what) + " has " + std::to_string(values.size()) + " values for " +
                      std::to_string(nbSpatial) + " spatial dims");
  }
  for (int32_t i = 0; i < nbSpatial; ++i) dims.d[i] = values[values.size() == 1 ? 0 : static_cast<size_t>(i)];
  return dims;
}

Weights weightsOf(const std::shared_ptr<const HostTensor>& data) {
  if (data == nullptr) return Weights{DataType::kFLOAT, nullptr, 0};
  return Weights{data->type, data->data(), data->count()};
}

}  // namespace

StatusOr<ITensor*> convolution(ConversionCtx& ctx, const Site& site, ITensor* x, ITensor* weight,
                               const std::shared_ptr<const HostTensor>& weightData, ITensor* bias,
                               const std::shared_ptr<const HostTensor>& biasData, const ConvolutionParams& params) {
  const Dims w = weight->getDimensions();
  const int32_t nbSpatial = w.nbDims - 2;
  if (nbSpatial < 1 || nbSpatial > 3) {
    return site.error("the weight " + dimsToString(w) + " must have 1 to 3 spatial dims (rank 3 to 5)");
  }
  for (int32_t i = 0; i < w.nbDims; ++i) {
    if (w.d[i] < 1) return site.error("the weight " + dimsToString(w) + " needs static positive extents");
  }
  if (params.groups < 1) return site.error("groups must be >= 1, got " + std::to_string(params.groups));
  const int32_t rank = x->getDimensions().nbDims;
  ITensor* input = x;
  const bool unbatched = rank == nbSpatial + 1;
  if (unbatched) {
    KILN_ASSIGN_OR_RETURN(input, unsqueeze(ctx, site.sub("batch"), x, 0));
  } else if (rank != nbSpatial + 2) {
    return site.error("the input of rank " + std::to_string(rank) + " does not match the weight " + dimsToString(w));
  }
  for (const auto& data : {weightData, biasData}) {
    if (data != nullptr && categoryOf(data->type) != TypeCategory::kFLOAT) {
      return site.error(std::string("convolution weights must be a float type, got ") + dataTypeName(data->type));
    }
  }
  KILN_ASSIGN_OR_RETURN(Dims stride, spatial(site, params.stride, nbSpatial, 1, "stride"));
  KILN_ASSIGN_OR_RETURN(Dims padding, spatial(site, params.padding, nbSpatial, 0, "padding"));
  KILN_ASSIGN_OR_RETURN(Dims dilation, spatial(site, params.dilation, nbSpatial, 1, "dilation"));
  Dims kernel;
  kernel.nbDims = nbSpatial;
  for (int32_t i = 0; i < nbSpatial; ++i) kernel.d[i] = w.d[2 + i];

  const Weights kernelWeights = weightsOf(weightData);
  const Weights biasWeights = weightsOf(biasData);
  IConvolutionLayer* layer = nullptr;
  if (params.transposed) {
    KILN_ASSIGN_OR_RETURN(Dims outputPadding, spatial(site, params.outputPadding, nbSpatial, 0, "output_padding"));
    const int64_t outMaps = w.d[1] * params.groups;  // weight [C, K/groups, k...]
    KILN_ASSIGN_OR_RETURN(
        layer, added(ctx, site, ctx.net->addDeconvolutionNd(*input, outMaps, kernel, kernelWeights, biasWeights)));
    Dims post = padding;
    for (int32_t i = 0; i < nbSpatial; ++i) post.d[i] = padding.d[i] - outputPadding.d[i];
    layer->setPrePadding(padding);
    layer->setPostPadding(post);
  } else {
    if (!params.outputPadding.empty()) {
      for (int64_t p : params.outputPadding) {
        if (p != 0) return site.error("output_padding applies to transposed convolutions only");
      }
    }
    Dims extent = kernel;  // what the eager shape check needs before the padding is set
    for (int32_t i = 0; i < nbSpatial; ++i) extent.d[i] = dilation.d[i] * (kernel.d[i] - 1) + 1;
    KILN_ASSIGN_OR_RETURN(ITensor * addOn, spatialProxy(ctx, site, input, w.d[1] * params.groups, extent));
    KILN_ASSIGN_OR_RETURN(
        layer, added(ctx, site, ctx.net->addConvolutionNd(*addOn, w.d[0], kernel, kernelWeights, biasWeights)));
    layer->setPrePadding(padding);
    layer->setPostPadding(padding);
    if (addOn != input) layer->setInput(0, *input);
  }
  layer->setStrideNd(stride);
  layer->setDilationNd(dilation);
  layer->setNbGroups(params.groups);
  if (weightData == nullptr) layer->setInput(1, *weight);
  if (biasData == nullptr && bias != nullptr) layer->setInput(2, *bias);
  ITensor* out = layer->getOutput(0);
  if (unbatched) return squeeze(ctx, site.sub("unbatch"), out, {0});
  return out;
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
