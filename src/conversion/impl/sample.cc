// Slices with computed windows and out-of-bounds sampling: the building block of flip (negative strides),
// roll and repeat (wrap-around), and the padding modes (fill, reflect, clamp, wrap).
#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {

StatusOr<ITensor*> sampledSlice(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<ShapeItem>& start,
                                const std::vector<ShapeItem>& size, const std::vector<int64_t>& stride,
                                SampleMode mode, ITensor* fill) {
  const int32_t rank = x->getDimensions().nbDims;
  if (static_cast<int32_t>(start.size()) != rank || static_cast<int32_t>(size.size()) != rank ||
      static_cast<int32_t>(stride.size()) != rank) {
    return internalError(site.describe() + ": slice parameters do not match the rank " + std::to_string(rank));
  }
  Dims startDims, sizeDims, strideDims, known;
  startDims.nbDims = sizeDims.nbDims = strideDims.nbDims = known.nbDims = rank;
  bool startStatic = true, sizeStatic = true;
  for (int32_t i = 0; i < rank; ++i) {
    const auto k = static_cast<size_t>(i);
    startStatic = startStatic && start[k].isStatic();
    sizeStatic = sizeStatic && size[k].isStatic();
    startDims.d[i] = start[k].isStatic() ? start[k].value : 0;
    sizeDims.d[i] = size[k].isStatic() ? size[k].value : 0;
    known.d[i] = size[k].isStatic() ? size[k].value : -1;
    strideDims.d[i] = stride[k];
    if (size[k].isStatic() && size[k].value < 0) {
      return site.error("slice size " + std::to_string(size[k].value) + " of dim " + std::to_string(i) +
                        " is negative");
    }
  }
  ITensor* data = x;
  if (!startStatic || !sizeStatic) {
    KILN_ASSIGN_OR_RETURN(data, dataInput(ctx, site, x));
  }
  KILN_ASSIGN_OR_RETURN(ISliceLayer * layer,
                        added(ctx, site, ctx.net->addSlice(*data, startDims, sizeDims, strideDims)));
  layer->setMode(mode);
  if (!startStatic) {
    KILN_ASSIGN_OR_RETURN(ITensor * startTensor, shapeTensor(ctx, site.sub("starts"), start));
    layer->setInput(1, *startTensor);
  }
  if (!sizeStatic) {
    KILN_ASSIGN_OR_RETURN(ITensor * sizeTensor, shapeTensor(ctx, site.sub("sizes"), size));
    layer->setInput(2, *sizeTensor);
  }
  if (fill != nullptr) {
    if (mode != SampleMode::kFILL) return internalError(site.describe() + ": a fill value needs kFILL");
    layer->setInput(4, *fill);
  }
  if (!sizeStatic) return withKnownDims(ctx, site, layer->getOutput(0), known);
  return layer->getOutput(0);
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
