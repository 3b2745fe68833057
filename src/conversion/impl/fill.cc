// Tensors filled with one value: full, full_like, zeros_like, ones_like, scalar_tensor.
//
// Dynamic shapes avoid a fill layer fed by a shape tensor: the engine treats the output of host-evaluable
// layers whose inputs are all shape tensors or constants as a shape tensor computed on the host, which is
// meant for small int vectors, not activations. full_like therefore broadcasts through a select against the
// `like` tensor, and full expands a one-element fill with a stride-0 slice.
#include <algorithm>
#include <cmath>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {

DataType defaultTypeOf(const ir::Constant& value) {
  if (value.isBool()) return DataType::kBOOL;
  if (value.isInt()) return DataType::kINT64;
  return DataType::kFLOAT;
}

namespace {

StatusOr<ITensor*> staticFill(ConversionCtx& ctx, const Site& site, const Dims& dims, double value, DataType type) {
  KILN_ASSIGN_OR_RETURN(IFillLayer * layer, added(ctx, site, ctx.net->addFill(dims, FillOperation::kCONSTANT, type)));
  layer->setAlpha(value);
  return layer->getOutput(0);
}

}  // namespace

StatusOr<ITensor*> fullLike(ConversionCtx& ctx, const Site& site, ITensor* like, double value, DataType type) {
  const Dims dims = like->getDimensions();
  if (!hasDynamicExtent(dims)) return staticFill(ctx, site, dims, value, type);
  // select(like == like, v, v): every element is v whatever `like` holds (NaN included), in like's shape.
  KILN_ASSIGN_OR_RETURN(ITensor * mask,
                        elementwiseSameType(ctx, site.sub("mask"), like, like, ElementWiseOperation::kEQUAL));
  ITensor* v = ctx.addScalar(value, type, dims.nbDims, site.layerName("Constant"));
  if (v == nullptr) return ctx.status().withContext(site.describe());
  return outputOf(ctx, site, ctx.net->addSelect(*mask, *v, *v));
}

StatusOr<ITensor*> full(ConversionCtx& ctx, const Site& site, const std::vector<ShapeItem>& size, double value,
                        DataType type) {
  if (size.size() > static_cast<size_t>(Dims::kMAX_DIMS)) {
    return site.error("full with " + std::to_string(size.size()) + " dims: at most " + std::to_string(Dims::kMAX_DIMS));
  }
  const bool allStatic = std::all_of(size.begin(), size.end(), [](const ShapeItem& s) { return s.isStatic(); });
  Dims dims;
  dims.nbDims = static_cast<int32_t>(size.size());
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    const ShapeItem& s = size[static_cast<size_t>(i)];
    if (s.isStatic() && s.value < 0) return site.error("full size " + std::to_string(s.value) + " is negative");
    dims.d[i] = allStatic ? s.value : 1;
  }
  KILN_ASSIGN_OR_RETURN(ITensor * filled, staticFill(ctx, site.sub("one"), dims, value, type));
  if (allStatic) return filled;
  return expand(ctx, site, filled, size);
}

StatusOr<ITensor*> arange(ConversionCtx& ctx, const Site& site, double start, double end, double step, DataType type) {
  if (step == 0.0 || !std::isfinite(start) || !std::isfinite(end) || !std::isfinite(step)) {
    return site.error("arange needs finite bounds and a nonzero step");
  }
  const double count = std::ceil((end - start) / step);
  if ((end - start) * step < 0 || count > static_cast<double>(int64_t{1} << 40)) {
    return site.error("arange(" + std::to_string(start) + ", " + std::to_string(end) + ", " + std::to_string(step) +
                      ") has an impossible or too large size");
  }
  KILN_ASSIGN_OR_RETURN(
      IFillLayer * layer,
      added(ctx, site, ctx.net->addFill(Dims{static_cast<int64_t>(count)}, FillOperation::kLINSPACE, type)));
  layer->setAlpha(start);
  layer->setBeta(step);
  return layer->getOutput(0);
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
