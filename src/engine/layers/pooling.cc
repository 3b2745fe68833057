// Pooling layers (max, average) over the innermost 1-3 dims: add method, accessors, shape inference.
//
// Attributes: "pooling_type" (PoolingType), "window_size", "stride", "pre_padding", "post_padding" (dims of the
// spatial rank), "padding_mode" (PaddingMode), "exclusive" (1: average excludes padding, TensorRT's default),
// "channels_last" (1 on rank-4 2-D pooling: NHWC I/O, set by the builder's layout pass).
#include "engine/channels_last.h"
#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

// Bounds the geometry so that extent arithmetic cannot overflow even for a corrupt plan.
constexpr int64_t kMaxParam = int64_t{1} << 31;

Status readSpatialDims(const Attributes& attrs, const char* key, int32_t nbSpatial, int64_t lo, Dims& out) {
  out = attrs.getDims(key);
  KILN_RETURN_IF_ERROR(checkDimsAttr(out, key));
  if (out.nbDims != nbSpatial) {
    return invalidArgument(std::string(key) + " " + dimsToString(out) + " must have " + std::to_string(nbSpatial) +
                           " values, one per spatial dim of the window");
  }
  for (int32_t i = 0; i < nbSpatial; ++i) {
    if (out.d[i] < lo || out.d[i] > kMaxParam) {
      return invalidArgument(std::string(key) + " " + dimsToString(out) + " has a value outside [" +
                             std::to_string(lo) + ", 2^31]");
    }
  }
  return Status::ok();
}

int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }

Status inferPoolingNchw(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                        std::vector<ShapeOutput>& outputs) {
  const Attributes& attrs = layer.attrs;
  const int64_t type = attrs.getInt("pooling_type", -1);
  if (type < 0 || type > static_cast<int64_t>(PoolingType::kAVERAGE)) {
    return invalidArgument("unknown pooling type " + std::to_string(type));
  }
  Dims window = attrs.getDims("window_size");
  KILN_RETURN_IF_ERROR(checkDimsAttr(window, "window_size"));
  const int32_t nbSpatial = window.nbDims;
  if (nbSpatial < 1 || nbSpatial > 3) {
    return invalidArgument("window size " + dimsToString(window) + " must have 1 to 3 spatial dims");
  }
  Dims stride, pre, post;
  KILN_RETURN_IF_ERROR(readSpatialDims(attrs, "window_size", nbSpatial, 1, window));
  KILN_RETURN_IF_ERROR(readSpatialDims(attrs, "stride", nbSpatial, 1, stride));
  KILN_RETURN_IF_ERROR(readSpatialDims(attrs, "pre_padding", nbSpatial, 0, pre));
  KILN_RETURN_IF_ERROR(readSpatialDims(attrs, "post_padding", nbSpatial, 0, post));
  const int64_t modeValue = attrs.getInt("padding_mode", 0);
  if (modeValue < 0 || modeValue > static_cast<int64_t>(PaddingMode::kSAME_LOWER)) {
    return invalidArgument("unknown padding mode " + std::to_string(modeValue));
  }
  const auto mode = static_cast<PaddingMode>(modeValue);
  const bool explicitPadding = mode == PaddingMode::kEXPLICIT_ROUND_DOWN || mode == PaddingMode::kEXPLICIT_ROUND_UP;
  if (explicitPadding) {
    // A window lying wholly in padding would have no elements to take the max or the average of.
    for (int32_t i = 0; i < nbSpatial; ++i) {
      if (pre.d[i] >= window.d[i] || post.d[i] >= window.d[i]) {
        return invalidArgument("padding " + dimsToString(pre) + "/" + dimsToString(post) +
                               " must be smaller than the window " + dimsToString(window));
      }
    }
  }

  const ShapeInput& x = inputs[0];
  if (!isFloatType(x.type)) {
    return invalidArgument(std::string("pooling takes float32/float16/bfloat16 inputs, got ") + dataTypeName(x.type));
  }
  // Dims before the spatial ones are independent planes ([N, C] usually, [C] for unbatched inputs).
  if (x.dims.nbDims < nbSpatial + 1) {
    return invalidArgument("input " + dimsToString(x.dims) + " needs at least " + std::to_string(nbSpatial + 1) +
                           " dims for a " + std::to_string(nbSpatial) + "D window");
  }
  Dims out = x.dims;
  const int32_t first = x.dims.nbDims - nbSpatial;
  for (int32_t i = 0; i < nbSpatial; ++i) {
    const int64_t in = x.dims.d[first + i];
    if (in == -1) {
      out.d[first + i] = -1;
      continue;
    }
    if (in < 1 || in > (int64_t{1} << 40)) {
      return invalidArgument("pooling input " + dimsToString(x.dims) + " has a bad spatial extent");
    }
    const int64_t s = stride.d[i];
    const int64_t k = window.d[i];
    switch (mode) {
      case PaddingMode::kEXPLICIT_ROUND_DOWN:
      case PaddingMode::kEXPLICIT_ROUND_UP: {
        const int64_t padded = in + pre.d[i] + post.d[i];
        if (padded < k) {
          // OUT_OF_RANGE: padding set after addPoolingNd may still make it fit (see commitLayer).
          return outOfRange("window " + dimsToString(window) + " exceeds the padded input in spatial dim " +
                                 std::to_string(i) + " (" + std::to_string(padded) + ")");
        }
        int64_t extent = floorDiv(padded - k, s) + 1;
        if (mode == PaddingMode::kEXPLICIT_ROUND_UP) {
          extent = ceilDiv(padded - k, s) + 1;
          // PyTorch's ceil_mode rule: the last window must start inside the input or the left padding.
          if ((extent - 1) * s >= in + pre.d[i]) --extent;
        }
        out.d[first + i] = extent;
        break;
      }
      case PaddingMode::kSAME_UPPER:
      case PaddingMode::kSAME_LOWER:
        out.d[first + i] = ceilDiv(in, s);
        break;
    }
  }
  outputs[0] = {out, x.type};
  return Status::ok();
}

}  // namespace

Status inferPoolingShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                          std::vector<ShapeOutput>& outputs) {
  const int64_t channelsLast = layer.attrs.getInt("channels_last", 0);
  if (channelsLast == 0) return inferPoolingNchw(layer, inputs, outputs);
  if (channelsLast != 1) return invalidArgument("channels_last must be 0 or 1, got " + std::to_string(channelsLast));
  // NHWC in and out: pool the spatial dims H, W as if the channel dim came first.
  const Dims window = layer.attrs.getDims("window_size");
  if (window.nbDims != 2 || inputs[0].dims.nbDims != 4) {
    return invalidArgument("channels_last needs a 2-D window and a rank-4 [N, H, W, C] input, got window " +
                           dimsToString(window) + " and input " + dimsToString(inputs[0].dims));
  }
  std::vector<ShapeInput> nchw = inputs;
  nchw[0].dims = channelsLastToFirst(inputs[0].dims);
  KILN_RETURN_IF_ERROR(inferPoolingNchw(layer, nchw, outputs));
  outputs[0].dims = channelsFirstToLast(outputs[0].dims);
  return Status::ok();
}

IPoolingLayer* NetworkDefinition::addPoolingNd(ITensor& input, PoolingType type, const Dims& windowSize) {
  if (!impl_->ownsTensor(&input, "addPoolingNd input")) return nullptr;
  const int32_t n = windowSize.nbDims;
  bool ok = n >= 1 && n <= 3;
  for (int32_t i = 0; ok && i < n; ++i) ok = windowSize.d[i] >= 1;
  if (!ok) {
    impl_->recordError(invalidArgument("addPoolingNd: window size " + dimsToString(windowSize) +
                                       " must have 1 to 3 positive extents"));
    return nullptr;
  }
  Attributes attrs;
  attrs.setInt("pooling_type", static_cast<int64_t>(type));
  attrs.setDims("window_size", windowSize);
  attrs.setDims("stride", makeDims(n, 1));
  attrs.setDims("pre_padding", makeDims(n, 0));
  attrs.setDims("post_padding", makeDims(n, 0));
  attrs.setInt("padding_mode", static_cast<int64_t>(PaddingMode::kEXPLICIT_ROUND_DOWN));
  attrs.setInt("exclusive", 1);
  return impl_->addLayer<IPoolingLayer>(LayerType::kPOOLING, {&input}, std::move(attrs));
}

void IPoolingLayer::setPoolingType(PoolingType type) {
  attrsOf(this).setInt("pooling_type", static_cast<int64_t>(type));
  touch(this);
}
PoolingType IPoolingLayer::getPoolingType() const {
  return static_cast<PoolingType>(attrsOf(this).getInt("pooling_type"));
}
Dims IPoolingLayer::getWindowSizeNd() const { return attrsOf(this).getDims("window_size"); }
void IPoolingLayer::setWindowSizeNd(const Dims& window) {
  attrsOf(this).setDims("window_size", window);
  touch(this);
}
void IPoolingLayer::setStrideNd(const Dims& stride) {
  attrsOf(this).setDims("stride", stride);
  touch(this);
}
Dims IPoolingLayer::getStrideNd() const { return attrsOf(this).getDims("stride"); }
void IPoolingLayer::setPaddingNd(const Dims& padding) {
  attrsOf(this).setDims("pre_padding", padding);
  attrsOf(this).setDims("post_padding", padding);
  touch(this);
}
Dims IPoolingLayer::getPaddingNd() const { return attrsOf(this).getDims("pre_padding"); }
void IPoolingLayer::setPrePadding(const Dims& padding) {
  attrsOf(this).setDims("pre_padding", padding);
  touch(this);
}
Dims IPoolingLayer::getPrePadding() const { return attrsOf(this).getDims("pre_padding"); }
void IPoolingLayer::setPostPadding(const Dims& padding) {
  attrsOf(this).setDims("post_padding", padding);
  touch(this);
}
Dims IPoolingLayer::getPostPadding() const { return attrsOf(this).getDims("post_padding"); }
void IPoolingLayer::setPaddingMode(PaddingMode mode) {
  attrsOf(this).setInt("padding_mode", static_cast<int64_t>(mode));
  touch(this);
}
PaddingMode IPoolingLayer::getPaddingMode() const {
  return static_cast<PaddingMode>(attrsOf(this).getInt("padding_mode"));
}
void IPoolingLayer::setAverageCountExcludesPadding(bool exclusive) {
  attrsOf(this).setInt("exclusive", exclusive ? 1 : 0);
  touch(this);
}
bool IPoolingLayer::getAverageCountExcludesPadding() const { return attrsOf(this).getInt("exclusive", 1) != 0; }

}  // namespace kiln
