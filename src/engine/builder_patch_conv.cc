#include "engine/builder_patch_conv.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/builder_passes.h"
#include "util/half.h"

namespace kiln {
namespace {

// Below this many output maps or patch elements the product is too thin for a GEMM to beat the convolution.
constexpr int64_t kMIN_GEMM_EXTENT = 64;
// A patch embedding cuts an image into big patches (ViT: 16x16). Inside a CNN, kernel == stride convolutions
// are 1x1 pointwise layers and 2x2 downsamplers (ConvNeXt) with many channels: rewritten, each would pay a
// transpose of its input and of its output, which their convolution kernels (NHWC under the layout pass,
// with fused epilogues) do not.
constexpr int64_t kMIN_PATCH_AREA = 16;

// A convolution the pass rewrites: input [n, c, h, w], kernel (and stride) [p, q], k output maps.
struct PatchConv {
  int64_t n = 0, c = 0, h = 0, w = 0, p = 0, q = 0, k = 0;
  DataType type = DataType::kFLOAT;  // of the input and the output
  const WeightsBlob* kernel = nullptr;
  const WeightsBlob* bias = nullptr;  // null without one
};

bool soundBlob(const WeightsBlob* blob, int64_t count) {
  return blob != nullptr && isFloatType(blob->type) && blob->count == count &&
         blob->byteSize() >= count * dataTypeSize(blob->type);
}

// Epilogues set by other passes (fused_residual, fused_activation, ...) would have to move to the GEMM.
bool hasFusedAttribute(const Attributes& attrs) {
  for (const auto& entry : attrs.all()) {
    if (entry.first.rfind("fused_", 0) == 0) return true;
  }
  return false;
}

bool describe(const Graph& g, const LayerInfo& conv, PatchConv& s) {
  const Attributes& a = conv.params.attrs;
  if (conv.params.type != LayerType::kCONVOLUTION || conv.hostEvaluated || conv.outputs.size() != 1 ||
      conv.inputs.empty() || conv.inputs[0] < 0 || a.getInt("channels_last", 0) != 0 || a.getInt("groups", 1) != 1 ||
      hasFusedAttribute(a)) {
    return false;
  }
  for (size_t i = 1; i < conv.inputs.size(); ++i) {
    if (conv.inputs[i] >= 0) return false;  // kernel or bias computed at run time
  }
  const Dims kernel = a.getDims("kernel_size");
  if (kernel.nbDims != 2 || kernel.d[0] < 1 || kernel.d[1] < 1 || a.getDims("stride") != kernel ||
      a.getDims("dilation") != Dims{1, 1} || a.getDims("pre_padding") != Dims{0, 0} ||
      a.getDims("post_padding") != Dims{0, 0}) {
    return false;
  }
  const TensorInfo& x = g.tensors[static_cast<size_t>(conv.inputs[0])];
  const TensorInfo& y = g.tensors[static_cast<size_t>(conv.outputs[0])];
  if (x.dims.nbDims != 4 || !isStaticShape(x.dims) || !isFloatType(x.type) || x.isShapeTensor || y.type != x.type) {
    return false;
  }
  s.n = x.dims.d[0];
  s.c = x.dims.d[1];
  s.h = x.dims.d[2];
  s.w = x.dims.d[3];
  s.p = kernel.d[0];
  s.q = kernel.d[1];
  s.k = a.getInt("nb_output_maps", 0);
  s.type = x.type;
  // Zero padding and whole patches: every padding mode then gives exactly H/p x W/q outputs (checked).
  if (s.h % s.p != 0 || s.w % s.q != 0 || y.dims != Dims{s.n, s.k, s.h / s.p, s.w / s.q}) return false;
  if (s.k < kMIN_GEMM_EXTENT || s.c * s.p * s.q < kMIN_GEMM_EXTENT || s.p * s.q < kMIN_PATCH_AREA) return false;
  s.kernel = a.getWeights("kernel");
  s.bias = a.getWeights("bias");
  if (s.bias != nullptr && s.bias->count == 0) s.bias = nullptr;
  return soundBlob(s.kernel, s.k * s.c * s.p * s.q) && (s.bias == nullptr || soundBlob(s.bias, s.k));
}

float valueAt(const WeightsBlob& blob, int64_t i) {
  switch (blob.type) {
    case DataType::kHALF: return halfToFloat(static_cast<const uint16_t*>(blob.data())[i]);
    case DataType::kBF16: return bf16ToFloat(static_cast<const uint16_t*>(blob.data())[i]);
    default: return static_cast<const float*>(blob.data())[i];
  }
}

// The weights in the activation type, which the matrix multiply and the bias add require of their operands.
// Shared as they are when they already have it (the [K, C, p, q] kernel is the [K, C*p*q] matrix row for
// row); converted otherwise (a weakly typed network keeps float32 weights for a float16 convolution, whose
// CUDA kernels round the kernel to float16 the same way when they load it).
WeightsBlob inType(const WeightsBlob& blob, DataType type) {
  const int64_t bytes = blob.count * dataTypeSize(type);
  if (blob.type == type && blob.byteSize() == bytes) return blob;
  auto out = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(bytes));
  for (int64_t i = 0; i < blob.count; ++i) {
    const float v = valueAt(blob, i);
    const auto at = static_cast<size_t>(i);
    if (type == DataType::kFLOAT) {
      std::memcpy(out->data() + 4 * at, &v, 4);
    } else {
      const uint16_t h = type == DataType::kHALF ? floatToHalf(v) : floatToBf16(v);
      std::memcpy(out->data() + 2 * at, &h, 2);
    }
  }
  return WeightsBlob{type, blob.count, std::move(out)};
}

LayerInfo constantLayer(const std::string& name, const Dims& dims, WeightsBlob blob, int32_t output) {
  LayerInfo c;
  c.params.type = LayerType::kCONSTANT;
  c.params.name = name;
  c.params.attrs.setDims("dims", dims);
  c.params.attrs.setWeights("weights", std::move(blob));
  c.outputs = {output};
  return c;
}

// A stored shuffle permutation: `leading`, then the identity up to kMAX_DIMS entries (as addShuffle stores
// them, so the memory planner sees an identity as one).
std::vector<int64_t> permutation(std::initializer_list<int64_t> leading) {
  std::vector<int64_t> order(leading);
  for (auto i = static_cast<int64_t>(order.size()); i < Dims::kMAX_DIMS; ++i) order.push_back(i);
  return order;
}

LayerInfo shuffleLayer(const std::string& name, int32_t in, int32_t out, std::vector<int64_t> first,
                       const Dims& reshape, std::vector<int64_t> second) {
  LayerInfo s;
  s.params.type = LayerType::kSHUFFLE;
  s.params.name = name;
  s.params.attrs.setInts("first_transpose", std::move(first));
  s.params.attrs.setDims("reshape", reshape);
  s.params.attrs.setInt("has_reshape", 1);
  s.params.attrs.setInt("zero_is_placeholder", 0);
  s.params.attrs.setInts("second_transpose", std::move(second));
  s.inputs = {in};
  s.outputs = {out};
  return s;
}

// The layers replacing `conv` (constants first), ending in the convolution's output tensor.
std::vector<LayerInfo> patchGemmLayers(Graph& g, const LayerInfo& conv, const PatchConv& s) {
  const std::string& name = conv.params.name;
  const int64_t hp = s.h / s.p, wq = s.w / s.q, patch = s.c * s.p * s.q;
  std::vector<LayerInfo> layers;

  const Dims weightDims{s.k, patch};
  const int32_t weights = g.addTensor(name + " (patch GEMM weights)", s.type, weightDims);
  layers.push_back(constantLayer(name + " (patch GEMM weights)", weightDims, inType(*s.kernel, s.type), weights));
  int32_t bias = -1;
  if (s.bias != nullptr) {
    const Dims biasDims{1, s.k};
    bias = g.addTensor(name + " (patch GEMM bias)", s.type, biasDims);
    layers.push_back(constantLayer(name + " (patch GEMM bias)", biasDims, inType(*s.bias, s.type), bias));
  }

  // [N, C, H, W] -> [N, C, H/p, p, W/q, q] -> [N, H/p, W/q, C, p, q]: one copy, each element read once.
  const int32_t grid = g.addTensor(name + " (patches)", s.type, Dims{s.n, hp, wq, s.c, s.p, s.q});
  layers.push_back(shuffleLayer(name + " (patches)", conv.inputs[0], grid, permutation({}),
                                Dims{s.n, s.c, hp, s.p, wq, s.q}, permutation({0, 2, 4, 1, 3, 5})));
  // One row per patch. The batch stays a dim so that the product is already [N, tokens, K], the layout a
  // vision transformer continues in; the GEMM folds it into its rows.
  const int32_t rows = g.addTensor(name + " (patch rows)", s.type, Dims{s.n, hp * wq, patch});
  layers.push_back(
      shuffleLayer(name + " (patch rows)", grid, rows, permutation({}), Dims{s.n, hp * wq, patch}, permutation({})));

  LayerInfo gemm;
  gemm.params.type = LayerType::kMATRIX_MULTIPLY;
  gemm.params.name = name + " (patch GEMM)";
  gemm.params.attrs.setInt("op0", static_cast<int64_t>(MatrixOperation::kNONE));
  gemm.params.attrs.setInt("op1", static_cast<int64_t>(MatrixOperation::kTRANSPOSE));
  gemm.hasPrecision = conv.hasPrecision;
  gemm.precision = conv.precision;
  const Dims tokenDims{s.n, hp * wq, s.k};
  int32_t tokens = g.addTensor(name + " (patch GEMM output)", s.type, tokenDims);
  gemm.inputs = {rows, weights};
  gemm.outputs = {tokens};
  layers.push_back(std::move(gemm));
  if (bias >= 0) {
    LayerInfo add;
    add.params.type = LayerType::kELEMENTWISE;
    add.params.name = name + " (patch GEMM bias)";
    add.params.attrs.setInt("operation", static_cast<int64_t>(ElementWiseOperation::kSUM));
    add.inputs = {tokens, bias};
    tokens = g.addTensor(name + " (patch GEMM output with bias)", s.type, tokenDims);
    add.outputs = {tokens};
    layers.push_back(std::move(add));
  }

  // [N, tokens, K] -> [N, K, tokens] -> [N, K, H/p, W/q]: the convolution's output, so its readers stay.
  layers.push_back(shuffleLayer(name + " (patch GEMM to NCHW)", tokens, conv.outputs[0], permutation({0, 2, 1}),
                                Dims{s.n, s.k, hp, wq}, permutation({})));
  return layers;
}

}  // namespace

bool patchConvolutionsEnabled() { return !envSwitchedOff("KILN_PATCH_GEMM"); }

int32_t convertPatchConvolutions(Graph& g) {
  std::vector<LayerInfo> layers;
  layers.reserve(g.layers.size());
  int32_t converted = 0;
  for (LayerInfo& layer : g.layers) {
    PatchConv s;
    if (!describe(g, layer, s)) {
      layers.push_back(std::move(layer));
      continue;
    }
    for (LayerInfo& r : patchGemmLayers(g, layer, s)) layers.push_back(std::move(r));
    ++converted;
  }
  g.layers = std::move(layers);
  return converted;
}

}  // namespace kiln
