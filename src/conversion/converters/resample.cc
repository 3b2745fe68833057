// ATen resampling: upsample_nearest{1,2,3}d, _upsample_nearest_exact{1,2,3}d, upsample_linear1d,
// upsample_bilinear2d, upsample_bicubic2d, upsample_trilinear3d, each as .default (output_size and optional
// scales) and .vec (output_size or scale_factors). One resize layer: the engine's coordinate rules are
// PyTorch's (nearest = asymmetric + floor, nearest-exact = half-pixel, linear/cubic = half-pixel or align
// corners, cubic A = -0.75). Given scales decide the source coordinates as in ATen (1 / scale), so they are
// passed as scales; otherwise the output extents are given and coordinates map through in / out.
#include "conversion/converters/arg_checks.h"
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;
using impl::ShapeItem;

enum class Kind { kNEAREST, kNEAREST_EXACT, kLINEAR, kCUBIC };

struct Resample {
  Kind kind;
  int32_t spatial;
  bool vec;  // (input, output_size?, [align_corners,] scale_factors?) instead of (self, output_size, [ac,] scales...)
};

bool hasAlignCorners(Kind kind) { return kind == Kind::kLINEAR || kind == Kind::kCUBIC; }

StatusOr<std::optional<std::vector<double>>> optionalDoubles(const ConverterArg& arg) {
  if (arg.isNone()) return std::optional<std::vector<double>>();
  KILN_ASSIGN_OR_RETURN(std::vector<double> values, arg.constant.toDoubles());
  return std::optional<std::vector<double>>(values);
}

Status resample(ConversionCtx& ctx, const ir::Node& node, Args& args, const Resample& r) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  const impl::Site site(node);
  const int32_t rank = x->getDimensions().nbDims;
  if (rank != r.spatial + 2) {
    return site.error("resampling " + std::to_string(r.spatial) + " spatial dims needs a rank-" +
                      std::to_string(r.spatial + 2) + " input, got rank " + std::to_string(rank));
  }
  bool alignCorners = false;
  size_t next = 2;
  if (hasAlignCorners(r.kind)) {
    KILN_ASSIGN_OR_RETURN(alignCorners, args[2].asBool());
    next = 3;
  }
  std::optional<std::vector<int64_t>> outputSize;
  if (!args[1].isNone()) {
    KILN_ASSIGN_OR_RETURN(std::vector<int64_t> size, args[1].asInts());
    outputSize = size;
  }
  std::vector<std::optional<double>> scales(static_cast<size_t>(r.spatial));
  if (r.vec) {
    KILN_ASSIGN_OR_RETURN(std::optional<std::vector<double>> factors, optionalDoubles(args[next]));
    if (factors) {
      if (factors->size() != static_cast<size_t>(r.spatial)) return site.error("one scale factor per spatial dim");
      for (size_t i = 0; i < factors->size(); ++i) scales[i] = (*factors)[i];
    }
  } else {
    for (int32_t i = 0; i < r.spatial; ++i) {
      if (args[next + i].isNone()) continue;
      KILN_ASSIGN_OR_RETURN(double s, args[next + i].asDouble());
      scales[static_cast<size_t>(i)] = s;
    }
  }
  bool allScales = true, anyScale = false;
  for (const std::optional<double>& s : scales) {
    allScales = allScales && s.has_value() && *s > 0.0;
    anyScale = anyScale || s.has_value();
  }
  if (outputSize && outputSize->size() != static_cast<size_t>(r.spatial)) {
    return site.error("output_size needs " + std::to_string(r.spatial) + " extents");
  }
  if (!outputSize && !allScales) return site.error("resampling needs an output size or a scale per spatial dim");

  KILN_ASSIGN_OR_RETURN(IResizeLayer * layer, impl::added(ctx, site, ctx.net->addResize(*x)));
  switch (r.kind) {
    case Kind::kNEAREST:
      layer->setResizeMode(InterpolationMode::kNEAREST);
      layer->setCoordinateTransformation(ResizeCoordinateTransformation::kASYMMETRIC);
      layer->setNearestRounding(ResizeRoundMode::kFLOOR);
      break;
    case Kind::kNEAREST_EXACT:
      layer->setResizeMode(InterpolationMode::kNEAREST);
      layer->setCoordinateTransformation(ResizeCoordinateTransformation::kHALF_PIXEL);
      layer->setNearestRounding(ResizeRoundMode::kHALF_UP);
      break;
    case Kind::kLINEAR:
    case Kind::kCUBIC:
      layer->setResizeMode(r.kind == Kind::kLINEAR ? InterpolationMode::kLINEAR : InterpolationMode::kCUBIC);
      layer->setCoordinateTransformation(alignCorners ? ResizeCoordinateTransformation::kALIGN_CORNERS
                                                      : ResizeCoordinateTransformation::kHALF_PIXEL);
      layer->setCubicCoeff(-0.75f);
      layer->setExcludeOutside(false);
      break;
  }
  // Scales given for every dim decide both the coordinates and (floor(in * scale)) the extents, as ATen
  // computes output_size from them. An output size with only some scales (rare) keeps in / out coordinates.
  if (allScales && (!outputSize || anyScale)) {
    std::vector<float> all(static_cast<size_t>(rank), 1.f);
    for (int32_t i = 0; i < r.spatial; ++i) all[static_cast<size_t>(i + 2)] = static_cast<float>(*scales[i]);
    layer->setScales(all.data(), rank);
    return impl::setOutput(ctx, node, 0, layer->getOutput(0), args);
  }
  KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> dims, impl::dimsOf(ctx, site.sub("in"), x));
  std::vector<ShapeItem> out(dims.begin(), dims.begin() + 2);
  for (int64_t extent : *outputSize) {
    if (extent <= 0) return site.error("output_size extents must be positive");
    out.push_back(ShapeItem::number(extent));
  }
  if (out[0].isStatic() && out[1].isStatic()) {
    Dims d;
    d.nbDims = rank;
    for (int32_t i = 0; i < rank; ++i) d.d[i] = out[static_cast<size_t>(i)].value;
    layer->setOutputDimensions(d);
    return impl::setOutput(ctx, node, 0, layer->getOutput(0), args);
  }
  KILN_ASSIGN_OR_RETURN(ITensor * shape, impl::shapeTensor(ctx, site.sub("size"), out));
  layer->setInput(1, *shape);
  Dims known;
  known.nbDims = rank;
  for (int32_t i = 0; i < rank; ++i) {
    known.d[i] = out[static_cast<size_t>(i)].isStatic() ? out[static_cast<size_t>(i)].value : -1;
  }
  KILN_ASSIGN_OR_RETURN(ITensor * result, impl::withKnownDims(ctx, site, layer->getOutput(0), known));
  return impl::setOutput(ctx, node, 0, result, args);
}

template <Kind kKind, int32_t kSpatial, bool kVec>
Status resampleOf(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  return resample(ctx, node, args, Resample{kKind, kSpatial, kVec});
}

// Constant sizes and scales; interpolating modes need float data (nearest copies any type); batch and
// channels may be dynamic, the spatial dims too when scales or a fixed output size decide the output.
template <Kind kKind, int32_t kSpatial, bool kVec>
bool resampleSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  if (meta == nullptr || meta->shape.size() != static_cast<size_t>(kSpatial + 2)) return false;
  if (kKind != Kind::kNEAREST && kKind != Kind::kNEAREST_EXACT && !checks::isFloat(meta->dtype)) return false;
  for (size_t i = 1; i < node.args().size(); ++i) {
    const ir::Constant* c = impl::constantArg(node, i);
    if (c == nullptr) return false;
  }
  const ir::Constant* size = impl::constantArg(node, 1);
  const size_t scalesAt = hasAlignCorners(kKind) ? 3 : 2;
  if (kVec) {
    const ir::Constant* factors = impl::constantArg(node, scalesAt);
    if (!size->isNone()) return factors->isNone() && checks::intsArg(node, 1).has_value();
    StatusOr<std::vector<double>> values = factors->toDoubles();
    if (!values.isOk() || values.value().size() != static_cast<size_t>(kSpatial)) return false;
    for (double v : values.value()) {
      if (!(v > 0.0)) return false;
    }
    return true;
  }
  if (!checks::intsArg(node, 1)) return false;
  for (size_t i = scalesAt; i < scalesAt + kSpatial; ++i) {
    const ir::Constant* s = impl::constantArg(node, i);
    if (!s->isNone() && !(s->isNumber() && s->toDouble().value() > 0.0)) return false;
  }
  return true;
}

#define KILN_RESAMPLE(kind, spatial, vec, schema) \
  .pattern({schema, resampleOf<kind, spatial, vec>}, {.validator = resampleSupported<kind, spatial, vec>})

constexpr Kind kN = Kind::kNEAREST, kNE = Kind::kNEAREST_EXACT, kL = Kind::kLINEAR, kC = Kind::kCUBIC;

const auto registered =
    RegisterConverters()
        KILN_RESAMPLE(kN, 1, false, "aten::upsample_nearest1d(Tensor self, SymInt[1] output_size, float? scales=None) -> Tensor")
        KILN_RESAMPLE(kN, 2, false, "aten::upsample_nearest2d(Tensor self, SymInt[2] output_size, float? scales_h=None, float? scales_w=None) -> Tensor")
        KILN_RESAMPLE(kN, 3, false, "aten::upsample_nearest3d(Tensor self, SymInt[3] output_size, float? scales_d=None, float? scales_h=None, float? scales_w=None) -> Tensor")
        KILN_RESAMPLE(kN, 1, true, "aten::upsample_nearest1d.vec(Tensor input, SymInt[]? output_size, float[]? scale_factors) -> Tensor")
        KILN_RESAMPLE(kN, 2, true, "aten::upsample_nearest2d.vec(Tensor input, SymInt[]? output_size, float[]? scale_factors) -> Tensor")
        KILN_RESAMPLE(kN, 3, true, "aten::upsample_nearest3d.vec(Tensor input, SymInt[]? output_size, float[]? scale_factors) -> Tensor")
        KILN_RESAMPLE(kNE, 1, false, "aten::_upsample_nearest_exact1d(Tensor self, SymInt[1] output_size, float? scales=None) -> Tensor")
        KILN_RESAMPLE(kNE, 2, false, "aten::_upsample_nearest_exact2d(Tensor self, SymInt[2] output_size, float? scales_h=None, float? scales_w=None) -> Tensor")
        KILN_RESAMPLE(kNE, 3, false, "aten::_upsample_nearest_exact3d(Tensor self, SymInt[3] output_size, float? scales_d=None, float? scales_h=None, float? scales_w=None) -> Tensor")
        KILN_RESAMPLE(kNE, 1, true, "aten::_upsample_nearest_exact1d.vec(Tensor input, SymInt[]? output_size, float[]? scale_factors) -> Tensor")
        KILN_RESAMPLE(kNE, 2, true, "aten::_upsample_nearest_exact2d.vec(Tensor input, SymInt[]? output_size, float[]? scale_factors) -> Tensor")
        KILN_RESAMPLE(kNE, 3, true, "aten::_upsample_nearest_exact3d.vec(Tensor input, SymInt[]? output_size, float[]? scale_factors) -> Tensor")
        KILN_RESAMPLE(kL, 1, false, "aten::upsample_linear1d(Tensor self, SymInt[1] output_size, bool align_corners, float? scales=None) -> Tensor")
        KILN_RESAMPLE(kL, 2, false, "aten::upsample_bilinear2d(Tensor self, SymInt[2] output_size, bool align_corners, float? scales_h=None, float? scales_w=None) -> Tensor")
        KILN_RESAMPLE(kL, 3, false, "aten::upsample_trilinear3d(Tensor self, SymInt[3] output_size, bool align_corners, float? scales_d=None, float? scales_h=None, float? scales_w=None) -> Tensor")
        KILN_RESAMPLE(kC, 2, false, "aten::upsample_bicubic2d(Tensor self, SymInt[2] output_size, bool align_corners, float? scales_h=None, float? scales_w=None) -> Tensor")
        KILN_RESAMPLE(kL, 1, true, "aten::upsample_linear1d.vec(Tensor input, SymInt[]? output_size, bool align_corners, float[]? scale_factors) -> Tensor")
        KILN_RESAMPLE(kL, 2, true, "aten::upsample_bilinear2d.vec(Tensor input, SymInt[]? output_size, bool align_corners, float[]? scale_factors) -> Tensor")
        KILN_RESAMPLE(kL, 3, true, "aten::upsample_trilinear3d.vec(Tensor input, SymInt[]? output_size, bool align_corners, float[]? scale_factors) -> Tensor")
        KILN_RESAMPLE(kC, 2, true, "aten::upsample_bicubic2d.vec(Tensor input, SymInt[]? output_size, bool align_corners, float[]? scale_factors) -> Tensor");

#undef KILN_RESAMPLE

}  // namespace
}  // namespace conversion
}  // namespace kiln
