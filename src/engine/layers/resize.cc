// Resize layers: nearest / linear / cubic interpolation of the trailing dims whose extent changes.
//
// The output size comes from (in order of precedence) input 1, a 1-D int32/int64 shape tensor with every
// output extent; the scales (out = floor(in * scale)); the explicit output dimensions; otherwise the input's.
#include <cmath>

#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

// How the output size is given when input 1 is absent. Stored as "size_mode"; part of the plan format.
constexpr int64_t kSIZE_FROM_INPUT = 0;
constexpr int64_t kSIZE_FROM_DIMS = 1;
constexpr int64_t kSIZE_FROM_SCALES = 2;

// Bounds an output extent so that floor(in * scale) always fits in int64 and volume checks stay meaningful.
constexpr double kMAX_EXTENT = 4611686018427387904.0;  // 2^62

void recordLayerError(ILayer* layer, const std::string& message) {
  layer->data().network->impl().recordError(
      invalidArgument(std::string("resize layer '") + layer->getName() + "': " + message));
}

// Output extents from the shape-tensor input 1 (all -1 when its values are unknown at build time).
StatusOr<Dims> sizeFromShapeInput(const ShapeInput& shape, int32_t rank) {
  if (shape.type != DataType::kINT32 && shape.type != DataType::kINT64) {
    return invalidArgument(std::string("the output-size input must be int32 or int64, got ") +
                           dataTypeName(shape.type));
  }
  if (shape.dims.nbDims != 1 || !extentsCompatible(shape.dims.d[0], rank)) {
    return invalidArgument("the output-size input must be 1-D with " + std::to_string(rank) +
                           " values (one per input dim), got shape " + dimsToString(shape.dims));
  }
  Dims out = makeDims(rank, -1);
  if (shape.value == nullptr) return out;
  const HostTensor& value = *shape.value;
  if (value.dims.nbDims != 1 || value.count() != rank ||
      static_cast<int64_t>(value.bytes.size()) < rank * dataTypeSize(value.type)) {
    return invalidArgument("the output-size input holds " + std::to_string(value.count()) + " values for rank " +
                           std::to_string(rank));
  }
  for (int32_t i = 0; i < rank; ++i) {
    const int64_t extent = value.intAt(i);
    if (extent < 0) return invalidArgument("output extent " + std::to_string(extent) + " is negative");
    out.d[i] = extent;
  }
  return out;
}

StatusOr<Dims> sizeFromScales(const std::vector<double>& scales, const Dims& in) {
  if (static_cast<int32_t>(scales.size()) != in.nbDims) {
    return invalidArgument(std::to_string(scales.size()) + " scales for an input of rank " + std::to_string(in.nbDims) +
                           " (one scale per dim is needed)");
  }
  Dims out = makeDims(in.nbDims, -1);
  for (int32_t i = 0; i < in.nbDims; ++i) {
    const double scale = scales[static_cast<size_t>(i)];
    if (!(scale > 0.0) || !std::isfinite(scale)) {
      return invalidArgument("scale " + std::to_string(scale) + " of dim " + std::to_string(i) +
                             " must be positive and finite");
    }
    if (in.d[i] < 0) continue;
    const double extent = std::floor(static_cast<double>(in.d[i]) * scale);
    if (extent >= kMAX_EXTENT) return invalidArgument("scale " + std::to_string(scale) + " gives too large an extent");
    out.d[i] = static_cast<int64_t>(extent);
  }
  return out;
}

}  // namespace

Status inferResizeShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                         std::vector<ShapeOutput>& outputs) {
  const Attributes& attrs = layer.attrs;
  const int64_t mode = attrs.getInt("mode", -1);
  if (mode < 0 || mode > static_cast<int64_t>(InterpolationMode::kCUBIC)) {
    return invalidArgument("unknown interpolation mode " + std::to_string(mode));
  }
  const int64_t transform = attrs.getInt("coordinate_transform", -1);
  if (transform < 0 || transform > static_cast<int64_t>(ResizeCoordinateTransformation::kHALF_PIXEL)) {
    return invalidArgument("unknown coordinate transformation " + std::to_string(transform));
  }
  const int64_t rounding = attrs.getInt("nearest_rounding", -1);
  if (rounding < 0 || rounding > static_cast<int64_t>(ResizeRoundMode::kCEIL)) {
    return invalidArgument("unknown nearest rounding mode " + std::to_string(rounding));
  }
  if (!std::isfinite(attrs.getFloat("cubic_coeff", -0.75)))
    return invalidArgument("the cubic coefficient is not finite");

  const ShapeInput& input = inputs[0];
  const auto interpolation = static_cast<InterpolationMode>(mode);
  if (interpolation != InterpolationMode::kNEAREST && !isFloatType(input.type)) {
    return invalidArgument(std::string("linear and cubic resize take float32/float16/bfloat16 inputs, got ") +
                           dataTypeName(input.type) + " (nearest takes every type)");
  }
  const int32_t rank = input.dims.nbDims;

  Dims out;
  if (inputs.size() > 1 && inputs[1].present) {
    KILN_ASSIGN_OR_RETURN(out, sizeFromShapeInput(inputs[1], rank));
  } else {
    const int64_t sizeMode = attrs.getInt("size_mode", kSIZE_FROM_INPUT);
    if (sizeMode == kSIZE_FROM_INPUT) {
      out = input.dims;
    } else if (sizeMode == kSIZE_FROM_DIMS) {
      out = attrs.getDims("output_dims");
      KILN_RETURN_IF_ERROR(checkDimsAttr(out, "the output dimensions"));
      if (out.nbDims != rank) {
        return invalidArgument("output dimensions " + dimsToString(out) + " do not have the input's rank " +
                               std::to_string(rank));
      }
      for (int32_t i = 0; i < rank; ++i) {
        if (out.d[i] < 0) return invalidArgument("output dimensions " + dimsToString(out) + " are negative");
      }
    } else if (sizeMode == kSIZE_FROM_SCALES) {
      KILN_ASSIGN_OR_RETURN(out, sizeFromScales(attrs.getFloats("scales"), input.dims));
    } else {
      return invalidArgument("unknown output size mode " + std::to_string(sizeMode));
    }
  }

  // Which dims may be interpolated: linear up to the 3 innermost, cubic the 2 innermost, nearest any.
  // Only checked where both extents are known (at run time they always are).
  int32_t innermost = rank;
  switch (interpolation) {
    case InterpolationMode::kNEAREST:
      innermost = rank;
      break;
    case InterpolationMode::kLINEAR:
      innermost = 3;
      break;
    case InterpolationMode::kCUBIC:
      innermost = 2;
      break;
  }
  for (int32_t i = 0; i < rank; ++i) {
    if (input.dims.d[i] < 0 || out.d[i] < 0 || input.dims.d[i] == out.d[i]) continue;
    if (input.dims.d[i] == 0) {
      return invalidArgument("dim " + std::to_string(i) + " is empty and cannot be resized to " +
                             std::to_string(out.d[i]));
    }
    if (i < rank - innermost) {
      return invalidArgument(std::string(interpolation == InterpolationMode::kLINEAR ? "linear" : "cubic") +
                             " resize changes dim " + std::to_string(i) + " of " + dimsToString(input.dims) + " -> " +
                             dimsToString(out) + "; only the " + std::to_string(innermost) +
                             " innermost dims can be interpolated");
    }
  }
  KILN_RETURN_IF_ERROR(checkedVolume(out).status());
  outputs[0] = {out, input.type};
  return Status::ok();
}

IResizeLayer* NetworkDefinition::addResize(ITensor& input) {
  if (!impl_->ownsTensor(&input, "addResize input")) return nullptr;
  // Defaults follow TensorRT and PyTorch's F.interpolate default: nearest, asymmetric, floor.
  Attributes attrs;
  attrs.setInt("mode", static_cast<int64_t>(InterpolationMode::kNEAREST));
  attrs.setInt("coordinate_transform", static_cast<int64_t>(ResizeCoordinateTransformation::kASYMMETRIC));
  attrs.setInt("nearest_rounding", static_cast<int64_t>(ResizeRoundMode::kFLOOR));
  attrs.setFloat("cubic_coeff", -0.75);  // PyTorch's bicubic A
  attrs.setInt("exclude_outside", 0);
  attrs.setInt("size_mode", kSIZE_FROM_INPUT);
  return impl_->addLayer<IResizeLayer>(LayerType::kRESIZE, {&input}, std::move(attrs));
}

void IResizeLayer::setOutputDimensions(const Dims& dimensions) {
  if (dimensions.nbDims < 0 || dimensions.nbDims > Dims::kMAX_DIMS) {
    recordLayerError(this, "setOutputDimensions: invalid rank " + std::to_string(dimensions.nbDims));
    return;
  }
  for (int32_t i = 0; i < dimensions.nbDims; ++i) {
    if (dimensions.d[i] < 0) {
      recordLayerError(this, "setOutputDimensions: extents must be non-negative, got " + dimsToString(dimensions));
      return;
    }
  }
  Attributes& attrs = attrsOf(this);
  attrs.setDims("output_dims", dimensions);
  attrs.setInt("size_mode", kSIZE_FROM_DIMS);
  attrs.erase("scales");
  touch(this);
}

Dims IResizeLayer::getOutputDimensions() const {
  const Attributes& attrs = attrsOf(this);
  if (attrs.getInt("size_mode", kSIZE_FROM_INPUT) != kSIZE_FROM_DIMS) return Dims{};
  Dims dims = attrs.getDims("output_dims");
  return dims.nbDims < 0 ? Dims{} : dims;
}

void IResizeLayer::setScales(const float* scales, int32_t nbScales) {
  if (scales == nullptr || nbScales <= 0 || nbScales > Dims::kMAX_DIMS) {
    recordLayerError(
        this, "setScales: needs 1 to " + std::to_string(Dims::kMAX_DIMS) + " scales, got " + std::to_string(nbScales));
    return;
  }
  std::vector<double> values;
  for (int32_t i = 0; i < nbScales; ++i) {
    if (!(scales[i] > 0.f) || !std::isfinite(scales[i])) {
      recordLayerError(this, "setScales: scale " + std::to_string(scales[i]) + " must be positive and finite");
      return;
    }
    values.push_back(scales[i]);
  }
  Attributes& attrs = attrsOf(this);
  attrs.setFloats("scales", std::move(values));
  attrs.setInt("size_mode", kSIZE_FROM_SCALES);
  attrs.erase("output_dims");
  touch(this);
}

// Like TensorRT: the number of scales set (-1 when the size is given otherwise); copies only when size matches.
int32_t IResizeLayer::getScales(int32_t size, float* scales) const {
  const Attributes& attrs = attrsOf(this);
  if (attrs.getInt("size_mode", kSIZE_FROM_INPUT) != kSIZE_FROM_SCALES) return -1;
  const std::vector<double> values = attrs.getFloats("scales");
  const auto count = static_cast<int32_t>(values.size());
  if (scales != nullptr && size == count) {
    for (int32_t i = 0; i < count; ++i) scales[i] = static_cast<float>(values[static_cast<size_t>(i)]);
  }
  return count;
}

void IResizeLayer::setResizeMode(InterpolationMode mode) {
  attrsOf(this).setInt("mode", static_cast<int64_t>(mode));
  touch(this);
}
InterpolationMode IResizeLayer::getResizeMode() const {
  return static_cast<InterpolationMode>(attrsOf(this).getInt("mode"));
}
void IResizeLayer::setCoordinateTransformation(ResizeCoordinateTransformation transform) {
  attrsOf(this).setInt("coordinate_transform", static_cast<int64_t>(transform));
  touch(this);
}
ResizeCoordinateTransformation IResizeLayer::getCoordinateTransformation() const {
  return static_cast<ResizeCoordinateTransformation>(attrsOf(this).getInt("coordinate_transform"));
}
void IResizeLayer::setNearestRounding(ResizeRoundMode mode) {
  attrsOf(this).setInt("nearest_rounding", static_cast<int64_t>(mode));
  touch(this);
}
ResizeRoundMode IResizeLayer::getNearestRounding() const {
  return static_cast<ResizeRoundMode>(attrsOf(this).getInt("nearest_rounding"));
}
void IResizeLayer::setCubicCoeff(float a) {
  attrsOf(this).setFloat("cubic_coeff", a);
  touch(this);
}
float IResizeLayer::getCubicCoeff() const { return static_cast<float>(attrsOf(this).getFloat("cubic_coeff", -0.75)); }
void IResizeLayer::setExcludeOutside(bool exclude) {
  attrsOf(this).setInt("exclude_outside", exclude ? 1 : 0);
  touch(this);
}
bool IResizeLayer::getExcludeOutside() const { return attrsOf(this).getInt("exclude_outside") != 0; }

}  // namespace kiln
