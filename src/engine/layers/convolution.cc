// Convolution and transposed convolution (deconvolution) layers: add methods, accessors, shape inference.
//
// Attributes (shared by both kinds): "nb_output_maps", "kernel_size", "stride", "dilation", "pre_padding",
// "post_padding" (dims of the spatial rank), "padding_mode" (PaddingMode), "groups", and the weights
// "kernel" and "bias" (possibly empty: then inputs 1 / 2 supply them at execution). Convolutions of rank 4 may
// carry "channels_last" = 1 (set by the builder's layout pass; see engine/channels_last.h).
#include <limits>

#include "engine/channels_last.h"
#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

// Bounds every geometry parameter so that the extent arithmetic below cannot overflow int64 even for a
// corrupt plan.
constexpr int64_t kMaxParam = int64_t{1} << 31;

struct ConvParams {
  int32_t nbSpatial = 0;
  Dims kernel, stride, dilation, pre, post;
  PaddingMode mode = PaddingMode::kEXPLICIT_ROUND_DOWN;
  int64_t groups = 1;
  int64_t outMaps = 0;
};

Status readSpatialDims(const Attributes& attrs, const char* key, int32_t nbSpatial, int64_t lo, Dims& out) {
  out = attrs.getDims(key);
  KILN_RETURN_IF_ERROR(checkDimsAttr(out, key));
  if (out.nbDims != nbSpatial) {
    return invalidArgument(std::string(key) + " " + dimsToString(out) + " must have " + std::to_string(nbSpatial) +
                           " values, one per spatial dim of the kernel");
  }
  for (int32_t i = 0; i < nbSpatial; ++i) {
    if (out.d[i] < lo || out.d[i] > kMaxParam) {
      return invalidArgument(std::string(key) + " " + dimsToString(out) + " has a value outside [" +
                             std::to_string(lo) + ", 2^31]");
    }
  }
  return Status::ok();
}

StatusOr<ConvParams> readConvParams(const Attributes& attrs, bool deconv) {
  ConvParams p;
  p.kernel = attrs.getDims("kernel_size");
  KILN_RETURN_IF_ERROR(checkDimsAttr(p.kernel, "kernel_size"));
  if (p.kernel.nbDims < 1 || p.kernel.nbDims > 3) {
    return invalidArgument("kernel size " + dimsToString(p.kernel) + " must have 1 to 3 spatial dims");
  }
  p.nbSpatial = p.kernel.nbDims;
  KILN_RETURN_IF_ERROR(readSpatialDims(attrs, "kernel_size", p.nbSpatial, 1, p.kernel));
  KILN_RETURN_IF_ERROR(readSpatialDims(attrs, "stride", p.nbSpatial, 1, p.stride));
  KILN_RETURN_IF_ERROR(readSpatialDims(attrs, "dilation", p.nbSpatial, 1, p.dilation));
  // Deconvolution padding crops the full output; negative values extend it instead.
  const int64_t minPad = deconv ? -kMaxParam : 0;
  KILN_RETURN_IF_ERROR(readSpatialDims(attrs, "pre_padding", p.nbSpatial, minPad, p.pre));
  KILN_RETURN_IF_ERROR(readSpatialDims(attrs, "post_padding", p.nbSpatial, minPad, p.post));
  const int64_t mode = attrs.getInt("padding_mode", 0);
  if (mode < 0 || mode > static_cast<int64_t>(PaddingMode::kSAME_LOWER)) {
    return invalidArgument("unknown padding mode " + std::to_string(mode));
  }
  p.mode = static_cast<PaddingMode>(mode);
  p.groups = attrs.getInt("groups", 1);
  if (p.groups < 1 || p.groups > kMaxParam) return invalidArgument("number of groups must be >= 1");
  p.outMaps = attrs.getInt("nb_output_maps", 0);
  if (p.outMaps < 1 || p.outMaps > kMaxParam) return invalidArgument("number of output maps must be >= 1");
  if (p.outMaps % p.groups != 0) {
    return invalidArgument(std::to_string(p.groups) + " groups do not divide " + std::to_string(p.outMaps) +
                           " output maps");
  }
  return p;
}

// Checks that a stored weights blob is a float buffer whose bytes cover its count (plans are untrusted).
Status checkBlob(const WeightsBlob& blob, const char* what) {
  if (!isValidDataType(static_cast<int32_t>(blob.type)) || !isFloatType(blob.type)) {
    return invalidArgument(std::string(what) + " weights must be float32, float16 or bfloat16");
  }
  if (blob.count < 0 || blob.count > std::numeric_limits<int64_t>::max() / 8 ||
      blob.byteSize() < blob.count * dataTypeSize(blob.type)) {
    return invalidArgument(std::string(what) + " weights hold fewer bytes than their count says");
  }
  return Status::ok();
}

bool multiplyChecked(int64_t a, int64_t b, int64_t& out) {
  if (a != 0 && b > std::numeric_limits<int64_t>::max() / a) return false;
  out = a * b;
  return true;
}

int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }

Status inferConvLike(const LayerParams& layer, const std::vector<ShapeInput>& inputs, std::vector<ShapeOutput>& outputs,
                     bool deconv) {
  KILN_ASSIGN_OR_RETURN(const ConvParams p, readConvParams(layer.attrs, deconv));
  const ShapeInput& x = inputs[0];
  if (!isFloatType(x.type)) {
    return invalidArgument(std::string("input must be float32, float16 or bfloat16, got ") + dataTypeName(x.type));
  }
  const int32_t rank = p.nbSpatial + 2;
  if (x.dims.nbDims != rank) {
    return invalidArgument("input " + dimsToString(x.dims) + " must have rank " + std::to_string(rank) +
                           " ([N, C] and " + std::to_string(p.nbSpatial) + " spatial dims of the kernel)");
  }
  const int64_t channels = x.dims.d[1];
  if (channels != -1 && channels % p.groups != 0) {
    return invalidArgument(std::to_string(p.groups) + " groups do not divide " + std::to_string(channels) +
                           " input channels");
  }
  int64_t kernelVolume = 1;
  for (int32_t i = 0; i < p.nbSpatial; ++i) kernelVolume *= p.kernel.d[i];  // each <= 2^31, rank <= 3: no overflow

  // Kernel weights: conv [K, C/g, k...], deconv [C, K/g, k...]. The per-"row" part is known without C.
  const int64_t perChannel = deconv ? p.outMaps / p.groups : p.outMaps;
  const int64_t channelsPerRow = deconv ? channels : (channels == -1 ? -1 : channels / p.groups);
  int64_t knownPart = 0;
  if (!multiplyChecked(perChannel, kernelVolume, knownPart)) return invalidArgument("kernel is too large");
  const bool kernelFromInput = inputs.size() > 1 && inputs[1].present;
  if (kernelFromInput) {
    const ShapeInput& w = inputs[1];
    if (!isFloatType(w.type)) return invalidArgument("kernel weights input must be a float tensor");
    Dims expected = makeDims(rank, -1);
    expected.d[0] = deconv ? channels : p.outMaps;
    expected.d[1] = deconv ? p.outMaps / p.groups : channelsPerRow;
    for (int32_t i = 0; i < p.nbSpatial; ++i) expected.d[2 + i] = p.kernel.d[i];
    bool ok = w.dims.nbDims == rank;
    for (int32_t i = 0; ok && i < rank; ++i) ok = extentsCompatible(w.dims.d[i], expected.d[i]);
    if (!ok) {
      return invalidArgument("kernel weights input " + dimsToString(w.dims) + " does not match the expected " +
                             dimsToString(expected));
    }
  } else if (const WeightsBlob* kernel = layer.attrs.getWeights("kernel"); kernel != nullptr && kernel->count > 0) {
    KILN_RETURN_IF_ERROR(checkBlob(*kernel, "kernel"));
    if (channelsPerRow != -1) {
      int64_t expected = 0;
      if (!multiplyChecked(knownPart, channelsPerRow, expected) || expected != kernel->count) {
        return invalidArgument("kernel has " + std::to_string(kernel->count) + " weights, expected " +
                               std::to_string(channelsPerRow) + " x " + std::to_string(knownPart) + " for " +
                               std::to_string(channels) + " input channels, " + std::to_string(p.outMaps) +
                               " output maps, " + std::to_string(p.groups) + " groups and kernel " +
                               dimsToString(p.kernel));
      }
    } else if (kernel->count % knownPart != 0) {
      return invalidArgument("kernel has " + std::to_string(kernel->count) + " weights, not a multiple of " +
                             std::to_string(knownPart) + " (output maps x kernel volume)");
    }
  }
  // A layer created with empty kernel weights waits for setInput(1, ...); the kernel reports the omission at
  // execution when it never came (inference cannot tell "not yet" from "never").

  const bool biasFromInput = inputs.size() > 2 && inputs[2].present;
  if (biasFromInput) {
    const ShapeInput& b = inputs[2];
    if (!isFloatType(b.type)) return invalidArgument("bias input must be a float tensor");
    if (b.dims.nbDims != 1 || !extentsCompatible(b.dims.d[0], p.outMaps)) {
      return invalidArgument("bias input " + dimsToString(b.dims) + " must be [" + std::to_string(p.outMaps) + "]");
    }
  } else if (const WeightsBlob* bias = layer.attrs.getWeights("bias"); bias != nullptr && bias->count > 0) {
    KILN_RETURN_IF_ERROR(checkBlob(*bias, "bias"));
    if (bias->count != p.outMaps) {
      return invalidArgument("bias has " + std::to_string(bias->count) + " values, expected " +
                             std::to_string(p.outMaps) + " (one per output map)");
    }
  }

  Dims out = x.dims;
  out.d[1] = p.outMaps;
  for (int32_t i = 0; i < p.nbSpatial; ++i) {
    const int64_t in = x.dims.d[2 + i];
    if (in == -1) {
      out.d[2 + i] = -1;
      continue;
    }
    if (in < 0 || in > (int64_t{1} << 40)) return invalidArgument("bad spatial extent in " + dimsToString(x.dims));
    const int64_t s = p.stride.d[i];
    const int64_t effective = p.dilation.d[i] * (p.kernel.d[i] - 1) + 1;
    const std::string where = " in spatial dim " + std::to_string(i);
    if (deconv) {
      if (in == 0) return invalidArgument("empty input" + where);
      const int64_t full = (in - 1) * s + effective;
      int64_t extent = 0;
      switch (p.mode) {
        case PaddingMode::kEXPLICIT_ROUND_DOWN:
        case PaddingMode::kEXPLICIT_ROUND_UP:
          extent = full - p.pre.d[i] - p.post.d[i];
          break;
        case PaddingMode::kSAME_UPPER:
        case PaddingMode::kSAME_LOWER:
          extent = in * s;
          break;
      }
      if (extent < 1) {
        return invalidArgument("padding " + dimsToString(p.pre) + "/" + dimsToString(p.post) +
                               " crops the whole output" + where);
      }
      out.d[2 + i] = extent;
    } else {
      switch (p.mode) {
        case PaddingMode::kEXPLICIT_ROUND_DOWN:
        case PaddingMode::kEXPLICIT_ROUND_UP: {
          const int64_t padded = in + p.pre.d[i] + p.post.d[i];
          if (padded < effective) {
            // OUT_OF_RANGE: padding set after addConvolutionNd may still make it fit (see commitLayer).
            return outOfRange("kernel extent " + std::to_string(effective) +
                                   " (with dilation) exceeds the padded input " + std::to_string(padded) + where);
          }
          const bool up = p.mode == PaddingMode::kEXPLICIT_ROUND_UP;
          out.d[2 + i] = (up ? ceilDiv(padded - effective, s) : floorDiv(padded - effective, s)) + 1;
          break;
        }
        case PaddingMode::kSAME_UPPER:
        case PaddingMode::kSAME_LOWER:
          out.d[2 + i] = ceilDiv(in, s);
          break;
      }
    }
  }
  outputs[0] = {out, x.type};
  return Status::ok();
}

Status checkAddArgs(int64_t nbOutputMaps, const Dims& kernelSize, const Weights& kernelWeights,
                    const Weights& biasWeights, const char* what) {
  if (kernelSize.nbDims < 1 || kernelSize.nbDims > 3) {
    return invalidArgument(std::string(what) + ": kernel size " + dimsToString(kernelSize) +
                           " must have 1 to 3 spatial dims");
  }
  for (int32_t i = 0; i < kernelSize.nbDims; ++i) {
    if (kernelSize.d[i] < 1)
      return invalidArgument(std::string(what) + ": kernel size " + dimsToString(kernelSize) + " must be positive");
  }
  if (nbOutputMaps < 1) return invalidArgument(std::string(what) + ": number of output maps must be >= 1");
  for (const Weights* w : {&kernelWeights, &biasWeights}) {
    if (w->count < 0 || (w->count > 0 && w->values == nullptr)) {
      return invalidArgument(std::string(what) + ": weights with a count need values");
    }
    if (w->count > 0 && (!isValidDataType(static_cast<int32_t>(w->type)) || !isFloatType(w->type))) {
      return invalidArgument(std::string(what) + ": weights must be float32, float16 or bfloat16");
    }
  }
  return Status::ok();
}

// The group count the kernel weights imply, or 1. The layer is shape-checked as soon as it is added, before a
// converter can call setNbGroups (TensorRT checks only at build time), so a grouped kernel would fail against
// the default of one group; starting from the implied count lets the usual add-then-setNbGroups sequence work.
// Both kinds hold channels x output maps / groups x kernel volume weights.
int64_t impliedGroups(const ITensor& input, int64_t nbOutputMaps, const Dims& kernelSize, const Weights& kernel) {
  const Dims dims = input.getDimensions();
  if (kernel.count <= 0 || dims.nbDims < 2 || dims.d[1] <= 0) return 1;
  const int64_t channels = dims.d[1];
  int64_t all = 0;
  if (!multiplyChecked(channels, nbOutputMaps, all)) return 1;
  for (int32_t i = 0; i < kernelSize.nbDims; ++i) {
    if (!multiplyChecked(all, kernelSize.d[i], all)) return 1;
  }
  if (all % kernel.count != 0) return 1;
  const int64_t groups = all / kernel.count;
  if (groups < 1 || channels % groups != 0 || nbOutputMaps % groups != 0) return 1;
  return groups;
}

Attributes convAttrs(int64_t nbOutputMaps, const Dims& kernelSize, const Weights& kernelWeights,
                     const Weights& biasWeights, int64_t groups) {
  Attributes attrs;
  const int32_t n = kernelSize.nbDims;
  attrs.setInt("nb_output_maps", nbOutputMaps);
  attrs.setDims("kernel_size", kernelSize);
  attrs.setDims("stride", makeDims(n, 1));
  attrs.setDims("dilation", makeDims(n, 1));
  attrs.setDims("pre_padding", makeDims(n, 0));
  attrs.setDims("post_padding", makeDims(n, 0));
  attrs.setInt("padding_mode", static_cast<int64_t>(PaddingMode::kEXPLICIT_ROUND_DOWN));
  attrs.setInt("groups", groups);
  attrs.setWeights("kernel", WeightsBlob::copyOf(kernelWeights));
  attrs.setWeights("bias", WeightsBlob::copyOf(biasWeights));
  return attrs;
}

}  // namespace

Status inferConvolutionShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                              std::vector<ShapeOutput>& outputs) {
  const int64_t channelsLast = layer.attrs.getInt("channels_last", 0);
  if (channelsLast == 0) return inferConvLike(layer, inputs, outputs, /*deconv=*/false);
  if (channelsLast != 1) return invalidArgument("channels_last must be 0 or 1, got " + std::to_string(channelsLast));
  // NHWC in and out; the geometry is the NCHW one with the channel dim moved last.
  const Dims kernel = layer.attrs.getDims("kernel_size");
  if (kernel.nbDims != 2 || inputs[0].dims.nbDims != 4) {
    return invalidArgument("channels_last needs a 2-D kernel and a rank-4 [N, H, W, C] input, got kernel " +
                           dimsToString(kernel) + " and input " + dimsToString(inputs[0].dims));
  }
  std::vector<ShapeInput> nchw = inputs;
  nchw[0].dims = channelsLastToFirst(inputs[0].dims);
  KILN_RETURN_IF_ERROR(inferConvLike(layer, nchw, outputs, /*deconv=*/false));
  outputs[0].dims = channelsFirstToLast(outputs[0].dims);
  return Status::ok();
}

Status inferDeconvolutionShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                                std::vector<ShapeOutput>& outputs) {
  if (layer.attrs.getInt("channels_last", 0) != 0) {
    return invalidArgument("channels_last applies to convolutions only, not deconvolutions");
  }
  return inferConvLike(layer, inputs, outputs, /*deconv=*/true);
}

IConvolutionLayer* NetworkDefinition::addConvolutionNd(ITensor& input, int64_t nbOutputMaps, const Dims& kernelSize,
                                                       Weights kernelWeights, Weights biasWeights) {
  if (!impl_->ownsTensor(&input, "addConvolutionNd input")) return nullptr;
  const Status args = checkAddArgs(nbOutputMaps, kernelSize, kernelWeights, biasWeights, "addConvolutionNd");
  if (!args.isOk()) {
    impl_->recordError(args);
    return nullptr;
  }
  return impl_->addLayer<IConvolutionLayer>(LayerType::kCONVOLUTION, {&input},
                                            convAttrs(nbOutputMaps, kernelSize, kernelWeights, biasWeights,
                                                      impliedGroups(input, nbOutputMaps, kernelSize, kernelWeights)));
}

IDeconvolutionLayer* NetworkDefinition::addDeconvolutionNd(ITensor& input, int64_t nbOutputMaps, const Dims& kernelSize,
                                                           Weights kernelWeights, Weights biasWeights) {
  if (!impl_->ownsTensor(&input, "addDeconvolutionNd input")) return nullptr;
  const Status args = checkAddArgs(nbOutputMaps, kernelSize, kernelWeights, biasWeights, "addDeconvolutionNd");
  if (!args.isOk()) {
    impl_->recordError(args);
    return nullptr;
  }
  return impl_->addLayer<IDeconvolutionLayer>(LayerType::kDECONVOLUTION, {&input},
                                              convAttrs(nbOutputMaps, kernelSize, kernelWeights, biasWeights,
                                                        impliedGroups(input, nbOutputMaps, kernelSize, kernelWeights)));
}

// Accessors (IDeconvolutionLayer inherits them; the attributes mean the same for both kinds).
void IConvolutionLayer::setStrideNd(const Dims& stride) {
  attrsOf(this).setDims("stride", stride);
  touch(this);
}
Dims IConvolutionLayer::getStrideNd() const { return attrsOf(this).getDims("stride"); }
void IConvolutionLayer::setPaddingNd(const Dims& padding) {
  attrsOf(this).setDims("pre_padding", padding);
  attrsOf(this).setDims("post_padding", padding);
  touch(this);
}
Dims IConvolutionLayer::getPaddingNd() const { return attrsOf(this).getDims("pre_padding"); }
void IConvolutionLayer::setPrePadding(const Dims& padding) {
  attrsOf(this).setDims("pre_padding", padding);
  touch(this);
}
Dims IConvolutionLayer::getPrePadding() const { return attrsOf(this).getDims("pre_padding"); }
void IConvolutionLayer::setPostPadding(const Dims& padding) {
  attrsOf(this).setDims("post_padding", padding);
  touch(this);
}
Dims IConvolutionLayer::getPostPadding() const { return attrsOf(this).getDims("post_padding"); }
void IConvolutionLayer::setDilationNd(const Dims& dilation) {
  attrsOf(this).setDims("dilation", dilation);
  touch(this);
}
Dims IConvolutionLayer::getDilationNd() const { return attrsOf(this).getDims("dilation"); }
void IConvolutionLayer::setPaddingMode(PaddingMode mode) {
  attrsOf(this).setInt("padding_mode", static_cast<int64_t>(mode));
  touch(this);
}
PaddingMode IConvolutionLayer::getPaddingMode() const {
  return static_cast<PaddingMode>(attrsOf(this).getInt("padding_mode"));
}
void IConvolutionLayer::setNbGroups(int64_t groups) {
  attrsOf(this).setInt("groups", groups);
  touch(this);
}
int64_t IConvolutionLayer::getNbGroups() const { return attrsOf(this).getInt("groups", 1); }
void IConvolutionLayer::setNbOutputMaps(int64_t nbOutputMaps) {
  attrsOf(this).setInt("nb_output_maps", nbOutputMaps);
  touch(this);
}
int64_t IConvolutionLayer::getNbOutputMaps() const { return attrsOf(this).getInt("nb_output_maps"); }
Dims IConvolutionLayer::getKernelSizeNd() const { return attrsOf(this).getDims("kernel_size"); }
void IConvolutionLayer::setKernelWeights(Weights weights) {
  // Null values with a count mean "no weights" (TensorRT's convention), not a zero-filled kernel.
  if (weights.values == nullptr) weights.count = 0;
  attrsOf(this).setWeights("kernel", WeightsBlob::copyOf(weights));
  touch(this);
}
void IConvolutionLayer::setBiasWeights(Weights weights) {
  if (weights.values == nullptr) weights.count = 0;
  attrsOf(this).setWeights("bias", WeightsBlob::copyOf(weights));
  touch(this);
}

}  // namespace kiln
