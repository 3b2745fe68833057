// Slice and padding layers: strided windows of a tensor, with out-of-bounds sampling modes (slice) or zero
// padding / cropping of the innermost dims (padding). Data movement: every dtype.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

constexpr const char* kStart = "start";
constexpr const char* kSize = "size";
constexpr const char* kStride = "stride";
constexpr const char* kMode = "mode";
constexpr const char* kPrePadding = "pre_padding";
constexpr const char* kPostPadding = "post_padding";

// Pads beyond this are certainly a corrupt plan; the bound keeps every index computation inside int64.
constexpr int64_t kMAX_PAD = int64_t{1} << 48;

// One slice parameter (start, size or stride) per dim; `known` is false when it comes from a shape tensor
// whose values are not known yet.
struct SliceParam {
  bool known = true;
  std::vector<int64_t> values;
};

StatusOr<SliceParam> readSliceParam(const LayerParams& layer, const std::vector<ShapeInput>& inputs, size_t index,
                                    const char* key, int32_t rank) {
  SliceParam param;
  if (inputs.size() > index && inputs[index].present) {
    const ShapeInput& in = inputs[index];
    if (in.type != DataType::kINT32 && in.type != DataType::kINT64) {
      return invalidArgument(std::string(key) + " input must be int32 or int64, got " + dataTypeName(in.type));
    }
    if (in.dims.nbDims != 1 || in.dims.d[0] != rank) {
      return invalidArgument(std::string(key) + " input must have shape [" + std::to_string(rank) +
                             "] (the data rank), got " + dimsToString(in.dims));
    }
    if (in.value == nullptr) {
      param.known = false;
      return param;
    }
    if (in.value->count() != rank) return invalidArgument(std::string(key) + " input value has the wrong size");
    param.values = in.value->toInts();
    return param;
  }
  const Dims dims = layer.attrs.getDims(key);
  KILN_RETURN_IF_ERROR(checkDimsAttr(dims, key));
  if (dims.nbDims != rank) {
    return invalidArgument(std::string(key) + " " + dimsToString(dims) + " must have one value per data dim (rank " +
                           std::to_string(rank) + ")");
  }
  param.values.assign(dims.d, dims.d + rank);
  return param;
}

bool validMode(int64_t mode) {
  return mode >= static_cast<int64_t>(SampleMode::kSTRICT_BOUNDS) && mode <= static_cast<int64_t>(SampleMode::kREFLECT);
}

// Checks one dim of a slice whose parameters and input extent are all known.
Status checkSliceDim(SampleMode mode, int32_t dim, int64_t extent, int64_t start, int64_t size, int64_t stride) {
  if (size < 0) return invalidArgument("size of dim " + std::to_string(dim) + " is negative");
  if (size == 0) return Status::ok();
  const __int128 last = static_cast<__int128>(start) + static_cast<__int128>(size - 1) * stride;
  if (last > INT64_MAX || last < INT64_MIN) {
    return invalidArgument("slice of dim " + std::to_string(dim) + " overflows its index range");
  }
  const std::string where = "dim " + std::to_string(dim) + " (start " + std::to_string(start) + ", size " +
                            std::to_string(size) + ", stride " + std::to_string(stride) + ", extent " +
                            std::to_string(extent) + ")";
  switch (mode) {
    case SampleMode::kSTRICT_BOUNDS:
      if (start < 0 || start >= extent || last < 0 || last >= extent) {
        return outOfRange("slice " + where + " reads outside the input in strict-bounds mode");
      }
      break;
    case SampleMode::kWRAP:
    case SampleMode::kCLAMP:
    case SampleMode::kREFLECT:
      if (extent == 0) return invalidArgument("slice " + where + " samples an empty dim");
      break;
    case SampleMode::kFILL:
      break;
  }
  return Status::ok();
}

void recordLayerError(ILayer* layer, const std::string& message) {
  layer->data().network->impl().recordError(
      invalidArgument(std::string(layerTypeName(layer->getType())) + " layer '" + layer->getName() + "': " + message));
}

bool validDimsArg(const Dims& dims) { return dims.nbDims >= 0 && dims.nbDims <= Dims::kMAX_DIMS; }

}  // namespace

Status inferSliceShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                        std::vector<ShapeOutput>& outputs) {
  const ShapeInput& data = inputs[0];
  const int32_t rank = data.dims.nbDims;
  const int64_t modeValue = layer.attrs.getInt(kMode, 0);
  if (!validMode(modeValue)) return invalidArgument("unknown slice mode " + std::to_string(modeValue));
  const auto mode = static_cast<SampleMode>(modeValue);
  KILN_ASSIGN_OR_RETURN(const SliceParam start, readSliceParam(layer, inputs, 1, kStart, rank));
  KILN_ASSIGN_OR_RETURN(const SliceParam size, readSliceParam(layer, inputs, 2, kSize, rank));
  KILN_ASSIGN_OR_RETURN(const SliceParam stride, readSliceParam(layer, inputs, 3, kStride, rank));
  if (inputs.size() > 4 && inputs[4].present) {
    const Dims& fill = inputs[4].dims;
    if (volume(fill) != 1 || fill.nbDims > 1) {
      return invalidArgument("fill value input must be 0-D (one element), got " + dimsToString(fill));
    }
  }

  Dims out = makeDims(rank, -1);
  for (int32_t i = 0; i < rank; ++i) {
    const auto k = static_cast<size_t>(i);
    if (size.known) {
      if (size.values[k] < 0) {
        return invalidArgument("slice size " + std::to_string(size.values[k]) + " of dim " + std::to_string(i) +
                               " is negative");
      }
      out.d[i] = size.values[k];
    }
    if (start.known && size.known && stride.known && data.dims.d[i] >= 0) {
      KILN_RETURN_IF_ERROR(checkSliceDim(mode, i, data.dims.d[i], start.values[k], size.values[k], stride.values[k]));
    }
  }
  KILN_RETURN_IF_ERROR(checkedVolume(out).status());
  outputs[0] = {out, data.type};
  return Status::ok();
}

ISliceLayer* NetworkDefinition::addSlice(ITensor& input, const Dims& start, const Dims& size, const Dims& stride) {
  if (!impl_->ownsTensor(&input, "addSlice input")) return nullptr;
  if (!validDimsArg(start) || !validDimsArg(size) || !validDimsArg(stride) || start.nbDims != size.nbDims ||
      start.nbDims != stride.nbDims) {
    impl_->recordError(invalidArgument("addSlice: start " + std::to_string(start.nbDims) + ", size " +
                                       std::to_string(size.nbDims) + " and stride " + std::to_string(stride.nbDims) +
                                       " must have the same rank (at most 8)"));
    return nullptr;
  }
  Attributes attrs;
  attrs.setDims(kStart, start);
  attrs.setDims(kSize, size);
  attrs.setDims(kStride, stride);
  // Created in kFILL mode, which accepts any start, then switched to the strict default: converters call
  // setMode after addSlice, so a window that is out of bounds only in strict mode must not fail the add.
  // A strict-bounds violation is still recorded, lazily, by the next shape inference.
  attrs.setInt(kMode, static_cast<int64_t>(SampleMode::kFILL));
  ISliceLayer* layer = impl_->addLayer<ISliceLayer>(LayerType::kSLICE, {&input}, std::move(attrs));
  if (layer != nullptr) layer->setMode(SampleMode::kSTRICT_BOUNDS);
  return layer;
}

void ISliceLayer::setStart(const Dims& start) {
  if (!validDimsArg(start)) return recordLayerError(this, "start has an invalid rank");
  attrsOf(this).setDims(kStart, start);
  touch(this);
}
Dims ISliceLayer::getStart() const { return attrsOf(this).getDims(kStart); }
void ISliceLayer::setSize(const Dims& size) {
  if (!validDimsArg(size)) return recordLayerError(this, "size has an invalid rank");
  attrsOf(this).setDims(kSize, size);
  touch(this);
}
Dims ISliceLayer::getSize() const { return attrsOf(this).getDims(kSize); }
void ISliceLayer::setStride(const Dims& stride) {
  if (!validDimsArg(stride)) return recordLayerError(this, "stride has an invalid rank");
  attrsOf(this).setDims(kStride, stride);
  touch(this);
}
Dims ISliceLayer::getStride() const { return attrsOf(this).getDims(kStride); }
void ISliceLayer::setMode(SampleMode mode) {
  attrsOf(this).setInt(kMode, static_cast<int64_t>(mode));
  touch(this);
}
SampleMode ISliceLayer::getMode() const { return static_cast<SampleMode>(attrsOf(this).getInt(kMode, 0)); }

// ---- padding --------------------------------------------------------------------------------------------

Status inferPaddingShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                          std::vector<ShapeOutput>& outputs) {
  const ShapeInput& data = inputs[0];
  const Dims pre = layer.attrs.getDims(kPrePadding);
  const Dims post = layer.attrs.getDims(kPostPadding);
  KILN_RETURN_IF_ERROR(checkDimsAttr(pre, "pre-padding"));
  KILN_RETURN_IF_ERROR(checkDimsAttr(post, "post-padding"));
  if (pre.nbDims != post.nbDims) {
    return invalidArgument("pre-padding " + dimsToString(pre) + " and post-padding " + dimsToString(post) +
                           " have different ranks");
  }
  if (pre.nbDims > data.dims.nbDims) {
    return invalidArgument("padding of " + std::to_string(pre.nbDims) + " dims exceeds the input rank " +
                           std::to_string(data.dims.nbDims));
  }
  Dims out = data.dims;
  const int32_t first = data.dims.nbDims - pre.nbDims;
  for (int32_t i = 0; i < pre.nbDims; ++i) {
    const int64_t a = pre.d[i], b = post.d[i];
    if (a > kMAX_PAD || a < -kMAX_PAD || b > kMAX_PAD || b < -kMAX_PAD) {
      return invalidArgument("padding " + std::to_string(a) + "/" + std::to_string(b) + " is out of range");
    }
    const int64_t extent = data.dims.d[first + i];
    if (extent < 0) continue;  // stays -1
    const int64_t padded = extent + a + b;
    if (padded < 0) {
      return invalidArgument("padding " + std::to_string(a) + "/" + std::to_string(b) + " crops dim " +
                             std::to_string(first + i) + " of extent " + std::to_string(extent) + " below zero");
    }
    out.d[first + i] = padded;
  }
  KILN_RETURN_IF_ERROR(checkedVolume(out).status());
  outputs[0] = {out, data.type};
  return Status::ok();
}

IPaddingLayer* NetworkDefinition::addPaddingNd(ITensor& input, const Dims& prePadding, const Dims& postPadding) {
  if (!impl_->ownsTensor(&input, "addPaddingNd input")) return nullptr;
  if (!validDimsArg(prePadding) || !validDimsArg(postPadding) || prePadding.nbDims != postPadding.nbDims) {
    impl_->recordError(invalidArgument("addPaddingNd: pre-padding (" + std::to_string(prePadding.nbDims) +
                                       " dims) and post-padding (" + std::to_string(postPadding.nbDims) +
                                       " dims) must have the same rank"));
    return nullptr;
  }
  Attributes attrs;
  attrs.setDims(kPrePadding, prePadding);
  attrs.setDims(kPostPadding, postPadding);
  return impl_->addLayer<IPaddingLayer>(LayerType::kPADDING, {&input}, std::move(attrs));
}

void IPaddingLayer::setPrePaddingNd(const Dims& padding) {
  if (!validDimsArg(padding)) return recordLayerError(this, "pre-padding has an invalid rank");
  attrsOf(this).setDims(kPrePadding, padding);
  touch(this);
}
Dims IPaddingLayer::getPrePaddingNd() const { return attrsOf(this).getDims(kPrePadding); }
void IPaddingLayer::setPostPaddingNd(const Dims& padding) {
  if (!validDimsArg(padding)) return recordLayerError(this, "post-padding has an invalid rank");
  attrsOf(this).setDims(kPostPadding, padding);
  touch(this);
}
Dims IPaddingLayer::getPostPaddingNd() const { return attrsOf(this).getDims(kPostPadding); }

}  // namespace kiln
