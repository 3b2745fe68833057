#include "engine/builder_fusion.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "engine/builder_passes.h"
#include "util/half.h"

namespace kiln {
namespace {

// Who reads each tensor, and whether it leaves the graph: a tensor fused into its consumer must have no
// other reader.
struct Uses {
  std::vector<std::vector<int32_t>> readers;  // per tensor: layer indices
  std::vector<bool> isOutput;
  std::vector<int32_t> producer;

  explicit Uses(const Graph& g) : readers(g.tensors.size()), isOutput(g.tensors.size(), false), producer(g.producers()) {
    for (size_t l = 0; l < g.layers.size(); ++l) {
      for (int32_t t : g.layers[l].inputs) {
        if (t >= 0) readers[static_cast<size_t>(t)].push_back(static_cast<int32_t>(l));
      }
    }
    for (int32_t t : g.outputs) isOutput[static_cast<size_t>(t)] = true;
  }
  // The single layer reading t, when t is an intermediate read exactly once; -1 otherwise.
  int32_t soleReader(int32_t t) const {
    const auto ut = static_cast<size_t>(t);
    if (isOutput[ut] || readers[ut].size() != 1) return -1;
    return readers[ut][0];
  }
};

bool isElementWise(const LayerInfo& l, ElementWiseOperation op) {
  return l.params.type == LayerType::kELEMENTWISE && l.inputs.size() == 2 &&
         l.params.attrs.getInt("operation", -1) == static_cast<int64_t>(op);
}

// The constant's values as doubles, when `t` is produced by a constant layer.
bool constantValues(const Graph& g, const Uses& uses, int32_t t, std::vector<double>& out, Dims& dims) {
  const int32_t p = uses.producer[static_cast<size_t>(t)];
  if (p < 0 || g.layers[static_cast<size_t>(p)].params.type != LayerType::kCONSTANT) return false;
  const WeightsBlob* w = g.layers[static_cast<size_t>(p)].params.attrs.getWeights("weights");
  if (w == nullptr || w->count <= 0 || w->byteSize() < w->count * dataTypeSize(w->type)) return false;
  out.resize(static_cast<size_t>(w->count));
  for (int64_t i = 0; i < w->count; ++i) {
    switch (w->type) {
      case DataType::kFLOAT: out[static_cast<size_t>(i)] = static_cast<const float*>(w->data())[i]; break;
      case DataType::kHALF: out[static_cast<size_t>(i)] = halfToFloat(static_cast<const uint16_t*>(w->data())[i]); break;
      case DataType::kBF16: out[static_cast<size_t>(i)] = bf16ToFloat(static_cast<const uint16_t*>(w->data())[i]); break;
      default: return false;
    }
  }
  dims = g.tensors[static_cast<size_t>(t)].dims;
  return true;
}

// A [C] / [1,C,1,..] / [C,1,..] tensor broadcast along dim 1 of a rank-`rank` output with C channels.
bool isPerChannel(const Dims& d, int32_t rank, int64_t channels) {
  if (d.nbDims > rank || volume(d) != channels) return false;
  const int32_t channelDim = 1 - (rank - d.nbDims);  // dim of d that lines up with output dim 1
  for (int32_t i = 0; i < d.nbDims; ++i) {
    if (i == channelDim) continue;
    if (d.d[i] != 1) return false;
  }
  return channels == 1 || (channelDim >= 0 && d.d[channelDim] == channels);
}

WeightsBlob blobFrom(DataType type, const std::vector<double>& values) {
  WeightsBlob blob;
  blob.type = type;
  blob.count = static_cast<int64_t>(values.size());
  auto bytes = std::make_shared<std::vector<uint8_t>>(values.size() * static_cast<size_t>(dataTypeSize(type)));
  for (size_t i = 0; i < values.size(); ++i) {
    const float v = static_cast<float>(values[i]);
    if (type == DataType::kFLOAT) {
      std::memcpy(bytes->data() + 4 * i, &v, 4);
    } else {
      const uint16_t h = type == DataType::kHALF ? floatToHalf(v) : floatToBf16(v);
      std::memcpy(bytes->data() + 2 * i, &h, 2);
    }
  }
  blob.bytes = std::move(bytes);
  return blob;
}

bool blobValues(const WeightsBlob& w, std::vector<double>& out) {
  if (w.count <= 0 || !isFloatType(w.type) || w.byteSize() < w.count * dataTypeSize(w.type)) return false;
  out.resize(static_cast<size_t>(w.count));
  for (int64_t i = 0; i < w.count; ++i) {
    const auto u = static_cast<size_t>(i);
    if (w.type == DataType::kFLOAT) out[u] = static_cast<const float*>(w.data())[i];
    else if (w.type == DataType::kHALF) out[u] = halfToFloat(static_cast<const uint16_t*>(w.data())[i]);
    else out[u] = bf16ToFloat(static_cast<const uint16_t*>(w.data())[i]);
  }
  return true;
}

// Replaces layer `from`'s reading of its output chain: `keep` takes over `last`'s output tensor and the
// layers in `dead` are erased.
void eraseLayers(Graph& g, std::vector<bool>& dead) {
  std::vector<LayerInfo> kept;
  kept.reserve(g.layers.size());
  for (size_t l = 0; l < g.layers.size(); ++l) {
    if (!dead[l]) kept.push_back(std::move(g.layers[l]));
  }
  g.layers = std::move(kept);
}

}  // namespace

int32_t foldChannelAffineIntoConvolution(Graph& g) {
  Uses uses(g);
  std::vector<bool> dead(g.layers.size(), false);
  int32_t folded = 0;
  for (size_t c = 0; c < g.layers.size(); ++c) {
    LayerInfo& conv = g.layers[c];
    if (conv.params.type != LayerType::kCONVOLUTION || dead[c]) continue;
    // Kernel and bias must be weights of the layer (not tensors) to be rewritten here.
    if (conv.inputs.size() > 1) continue;
    const WeightsBlob* kernel = conv.params.attrs.getWeights("kernel");
    std::vector<double> k, bias;
    if (kernel == nullptr || !blobValues(*kernel, k)) continue;
    const int64_t channels = conv.params.attrs.getInt("nb_output_maps", -1);
    if (channels <= 0 || static_cast<int64_t>(k.size()) % channels != 0) continue;
    const WeightsBlob* b = conv.params.attrs.getWeights("bias");
    if (b != nullptr && b->count > 0) {
      if (!blobValues(*b, bias) || static_cast<int64_t>(bias.size()) != channels) continue;
    } else {
      bias.assign(static_cast<size_t>(channels), 0.0);
    }
    const int32_t out = conv.outputs[0];
    const int32_t rank = g.tensors[static_cast<size_t>(out)].dims.nbDims;
    int32_t current = out;
    std::vector<double> scale(static_cast<size_t>(channels), 1.0), shift(static_cast<size_t>(channels), 0.0);
    std::vector<size_t> absorbed;
    // Up to one multiply then one add (the batch-norm form), in that order.
    for (ElementWiseOperation op : {ElementWiseOperation::kPROD, ElementWiseOperation::kSUM}) {
      const int32_t r = uses.soleReader(current);
      if (r < 0 || !isElementWise(g.layers[static_cast<size_t>(r)], op)) continue;
      const LayerInfo& e = g.layers[static_cast<size_t>(r)];
      const int32_t other = e.inputs[0] == current ? e.inputs[1] : e.inputs[0];
      if (other == current) continue;
      std::vector<double> values;
      Dims dims;
      if (!constantValues(g, uses, other, values, dims) || !isPerChannel(dims, rank, static_cast<int64_t>(values.size()))) continue;
      if (g.tensors[static_cast<size_t>(e.outputs[0])].dims != g.tensors[static_cast<size_t>(current)].dims ||
          g.tensors[static_cast<size_t>(e.outputs[0])].type != g.tensors[static_cast<size_t>(current)].type) {
        continue;
      }
      for (int64_t ch = 0; ch < channels; ++ch) {
        const double v = values[values.size() == 1 ? 0 : static_cast<size_t>(ch)];
        if (op == ElementWiseOperation::kPROD) {
          scale[static_cast<size_t>(ch)] *= v;
          shift[static_cast<size_t>(ch)] *= v;
        } else {
          shift[static_cast<size_t>(ch)] += v;
        }
      }
      absorbed.push_back(static_cast<size_t>(r));
      current = e.outputs[0];
    }
    if (absorbed.empty()) continue;
    const size_t perChannel = k.size() / static_cast<size_t>(channels);
    for (size_t ch = 0; ch < static_cast<size_t>(channels); ++ch) {
      for (size_t i = 0; i < perChannel; ++i) k[ch * perChannel + i] *= scale[ch];
      bias[ch] = bias[ch] * scale[ch] + shift[ch];
    }
    conv.params.attrs.setWeights("kernel", blobFrom(kernel->type, k));
    conv.params.attrs.setWeights("bias", blobFrom(kernel->type, bias));
    conv.outputs[0] = current;
    for (size_t r : absorbed) dead[r] = true;
    folded += static_cast<int32_t>(absorbed.size());
    // The absorbed layers' readers changed: recompute before the next convolution.
    uses = Uses(g);
    for (size_t r : absorbed) uses.readers[static_cast<size_t>(g.layers[r].outputs[0])].clear();
  }
  if (folded > 0) eraseLayers(g, dead);
  return folded;
}

namespace {

// A [N] / [1, .., N] constant broadcast along the last dim (or a single value), as doubles.
bool lastDimValues(const Graph& g, const Uses& uses, int32_t t, int64_t n, std::vector<double>& values) {
  Dims dims;
  if (!constantValues(g, uses, t, values, dims)) return false;
  for (int32_t i = 0; i + 1 < dims.nbDims; ++i) {
    if (dims.d[i] != 1) return false;
  }
  if (values.size() == 1) values.assign(static_cast<size_t>(n), values[0]);
  return static_cast<int64_t>(values.size()) == n;
}

// The constant operand of elementwise layer `e` besides `current`, when its constant layer has no other reader.
int32_t soleConstantOperand(const Graph& g, const Uses& uses, const LayerInfo& e, int32_t current) {
  const int32_t other = e.inputs[0] == current ? e.inputs[1] : e.inputs[0];
  if (other == current || uses.readers[static_cast<size_t>(other)].size() != 1 ||
      uses.isOutput[static_cast<size_t>(other)]) {
    return -1;
  }
  const TensorInfo& a = g.tensors[static_cast<size_t>(current)];
  const TensorInfo& out = g.tensors[static_cast<size_t>(e.outputs[0])];
  return out.dims == a.dims && out.type == a.type ? other : -1;
}

// The value of a one-element constant operand of elementwise layer `e` (the operand besides `current`).
bool scalarOperand(const Graph& g, const Uses& uses, const LayerInfo& e, int32_t current, double& value) {
  const int32_t other = e.inputs[0] == current ? e.inputs[1] : e.inputs[0];
  std::vector<double> values;
  Dims dims;
  if (other == current || !constantValues(g, uses, other, values, dims) || values.size() != 1) return false;
  value = values[0];
  return true;
}

// Constants of float16 (bfloat16) models are rounded to 11 (8) significant bits: 0.044715 is 0.0447083 in half.
bool near(double a, double b) { return std::abs(a - b) <= 1e-2 * std::abs(b); }

// The elementwise layer `op` that alone reads `t`, with a scalar operand equal to `value`; -1 otherwise.
int32_t scalarStep(const Graph& g, const Uses& uses, int32_t t, ElementWiseOperation op, double value) {
  const int32_t r = uses.soleReader(t);
  if (r < 0 || !isElementWise(g.layers[static_cast<size_t>(r)], op)) return -1;
  const LayerInfo& e = g.layers[static_cast<size_t>(r)];
  // x ^ 3 takes x first; sums and products take the scalar either side.
  if (op == ElementWiseOperation::kPOW && e.inputs[0] != t) return -1;
  double v = 0;
  return scalarOperand(g, uses, e, t, v) && near(v, value) ? r : -1;
}

// GPT-2's tanh GELU written out (transformers' NewGELUActivation):
//   0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x^3)))
// read from x = `y`. Returns the chain's output tensor and its layers, or -1.
int32_t geluTanhChain(const Graph& g, const Uses& uses, int32_t y, std::vector<size_t>& chain) {
  const auto& readers = uses.readers[static_cast<size_t>(y)];
  if (uses.isOutput[static_cast<size_t>(y)] || readers.size() != 3) return -1;
  int32_t half = -1, cube = -1, inner = -1;
  for (int32_t r : readers) {
    const LayerInfo& e = g.layers[static_cast<size_t>(r)];
    double v = 0;
    if (isElementWise(e, ElementWiseOperation::kPROD) && scalarOperand(g, uses, e, y, v) && near(v, 0.5)) {
      half = r;
    } else if (isElementWise(e, ElementWiseOperation::kPOW) && e.inputs[0] == y && scalarOperand(g, uses, e, y, v) &&
               near(v, 3.0)) {
      cube = r;
    } else if (isElementWise(e, ElementWiseOperation::kSUM)) {
      inner = r;
    }
  }
  if (half < 0 || cube < 0 || inner < 0) return -1;
  const int32_t cubeScaled = scalarStep(g, uses, g.layers[static_cast<size_t>(cube)].outputs[0],
                                        ElementWiseOperation::kPROD, 0.044715);
  if (cubeScaled < 0 || uses.soleReader(g.layers[static_cast<size_t>(cubeScaled)].outputs[0]) != inner) return -1;
  const LayerInfo& innerSum = g.layers[static_cast<size_t>(inner)];
  const int32_t cubeOut = g.layers[static_cast<size_t>(cubeScaled)].outputs[0];
  if (!((innerSum.inputs[0] == y && innerSum.inputs[1] == cubeOut) ||
        (innerSum.inputs[1] == y && innerSum.inputs[0] == cubeOut))) {
    return -1;
  }
  const int32_t scaled = scalarStep(g, uses, innerSum.outputs[0], ElementWiseOperation::kPROD, 0.7978845608028654);
  if (scaled < 0) return -1;
  const int32_t tanhLayer = uses.soleReader(g.layers[static_cast<size_t>(scaled)].outputs[0]);
  if (tanhLayer < 0 || g.layers[static_cast<size_t>(tanhLayer)].params.type != LayerType::kACTIVATION ||
      g.layers[static_cast<size_t>(tanhLayer)].params.attrs.getInt("activation", -1) !=
          static_cast<int64_t>(ActivationType::kTANH)) {
    return -1;
  }
  const int32_t plusOne =
      scalarStep(g, uses, g.layers[static_cast<size_t>(tanhLayer)].outputs[0], ElementWiseOperation::kSUM, 1.0);
  if (plusOne < 0) return -1;
  const int32_t product = uses.soleReader(g.layers[static_cast<size_t>(plusOne)].outputs[0]);
  const int32_t halfOut = g.layers[static_cast<size_t>(half)].outputs[0];
  if (product < 0 || uses.soleReader(halfOut) != product ||
      !isElementWise(g.layers[static_cast<size_t>(product)], ElementWiseOperation::kPROD)) {
    return -1;
  }
  chain = {static_cast<size_t>(half),     static_cast<size_t>(cube),      static_cast<size_t>(cubeScaled),
           static_cast<size_t>(inner),    static_cast<size_t>(scaled),    static_cast<size_t>(tanhLayer),
           static_cast<size_t>(plusOne),  static_cast<size_t>(product)};
  const TensorInfo& out = g.tensors[static_cast<size_t>(g.layers[static_cast<size_t>(product)].outputs[0])];
  const TensorInfo& in = g.tensors[static_cast<size_t>(y)];
  return out.dims == in.dims && out.type == in.type ? g.layers[static_cast<size_t>(product)].outputs[0] : -1;
}

}  // namespace

int32_t foldColumnScaleIntoGemm(Graph& g) {
  Uses uses(g);
  std::vector<bool> dead(g.layers.size(), false);
  int32_t folded = 0;
  for (size_t li = 0; li < g.layers.size(); ++li) {
    LayerInfo& gemm = g.layers[li];
    const Attributes& a = gemm.params.attrs;
    if (gemm.params.type != LayerType::kMATRIX_MULTIPLY || dead[li] || gemm.inputs.size() != 2 ||
        a.getInt("op0", -1) != static_cast<int64_t>(MatrixOperation::kNONE)) {
      continue;
    }
    const bool transposed = a.getInt("op1", -1) == static_cast<int64_t>(MatrixOperation::kTRANSPOSE);
    if (!transposed && a.getInt("op1", -1) != static_cast<int64_t>(MatrixOperation::kNONE)) continue;
    const int32_t wTensor = gemm.inputs[1];
    const Dims outDims = g.tensors[static_cast<size_t>(gemm.outputs[0])].dims;
    std::vector<double> w;
    Dims wDims;
    if (outDims.nbDims < 1 || uses.readers[static_cast<size_t>(wTensor)].size() != 1 ||
        !constantValues(g, uses, wTensor, w, wDims) || wDims.nbDims != 2) {
      continue;
    }
    const int64_t n = outDims.d[outDims.nbDims - 1];
    if (n <= 0 || (transposed ? wDims.d[0] : wDims.d[1]) != n) continue;
    // gemm [+ bias] then * scale, each the sole reader of the one before.
    int32_t current = gemm.outputs[0];
    size_t last = li;
    int32_t biasTensor = -1;
    std::vector<double> bias, scale;
    int32_t r = uses.soleReader(current);
    if (r >= 0 && isElementWise(g.layers[static_cast<size_t>(r)], ElementWiseOperation::kSUM)) {
      const int32_t other = soleConstantOperand(g, uses, g.layers[static_cast<size_t>(r)], current);
      if (other >= 0 && volume(g.tensors[static_cast<size_t>(other)].dims) == n && lastDimValues(g, uses, other, n, bias)) {
        biasTensor = other;
        last = static_cast<size_t>(r);
        current = g.layers[last].outputs[0];
        r = uses.soleReader(current);
      }
    }
    if (r < 0 || !isElementWise(g.layers[static_cast<size_t>(r)], ElementWiseOperation::kPROD)) continue;
    const LayerInfo& mul = g.layers[static_cast<size_t>(r)];
    const int32_t scaleTensor = soleConstantOperand(g, uses, mul, current);
    if (scaleTensor < 0 || !lastDimValues(g, uses, scaleTensor, n, scale)) continue;
    // Column c of the product scales by scale[c]: weights [K, N] by column, [N, K] by row, and the bias.
    const int64_t k = static_cast<int64_t>(w.size()) / n;
    for (int64_t i = 0; i < static_cast<int64_t>(w.size()); ++i) {
      w[static_cast<size_t>(i)] *= scale[static_cast<size_t>(transposed ? i / k : i % n)];
    }
    LayerInfo& wLayer = g.layers[static_cast<size_t>(uses.producer[static_cast<size_t>(wTensor)])];
    wLayer.params.attrs.setWeights("weights", blobFrom(wLayer.params.attrs.getWeights("weights")->type, w));
    if (biasTensor >= 0) {
      for (int64_t c = 0; c < n; ++c) bias[static_cast<size_t>(c)] *= scale[static_cast<size_t>(c)];
      LayerInfo& bLayer = g.layers[static_cast<size_t>(uses.producer[static_cast<size_t>(biasTensor)])];
      bLayer.params.attrs.setWeights("weights", blobFrom(bLayer.params.attrs.getWeights("weights")->type, bias));
    }
    g.layers[last].outputs[0] = mul.outputs[0];
    dead[static_cast<size_t>(r)] = true;
    ++folded;
  }
  if (folded > 0) {
    eraseLayers(g, dead);
    eliminateDeadLayers(g);  // the scale constants
  }
  return folded;
}

int32_t fuseEpilogues(Graph& g) {
  Uses uses(g);
  std::vector<bool> dead(g.layers.size(), false);
  int32_t fused = 0;
  for (size_t li = 0; li < g.layers.size(); ++li) {
    if (dead[li]) continue;
    LayerInfo& layer = g.layers[li];
    const bool conv = layer.params.type == LayerType::kCONVOLUTION;
    const bool gemm = layer.params.type == LayerType::kMATRIX_MULTIPLY;
    if (!conv && !gemm) continue;
    const int32_t out = layer.outputs[0];
    const TensorInfo outInfo = g.tensors[static_cast<size_t>(out)];
    if (!isFloatType(outInfo.type) || outInfo.dims.nbDims < 2) continue;
    int32_t current = out;
    std::vector<size_t> absorbed;

    const int32_t addIndex = uses.soleReader(current);
    if (addIndex >= 0 && isElementWise(g.layers[static_cast<size_t>(addIndex)], ElementWiseOperation::kSUM)) {
      const LayerInfo& add = g.layers[static_cast<size_t>(addIndex)];
      const int32_t other = add.inputs[0] == current ? add.inputs[1] : add.inputs[0];
      const TensorInfo& o = g.tensors[static_cast<size_t>(other)];
      const TensorInfo& sum = g.tensors[static_cast<size_t>(add.outputs[0])];
      const int32_t otherProducer = uses.producer[static_cast<size_t>(other)];
      const bool sameShape = sum.dims == outInfo.dims && sum.type == outInfo.type && o.type == outInfo.type;
      if (conv && other != current && sameShape && o.dims == outInfo.dims && otherProducer < static_cast<int32_t>(li)) {
        // The residual must exist before the convolution runs; its producer comes earlier in the order.
        layer.inputs.resize(3, -1);
        layer.inputs.push_back(other);
        layer.params.attrs.setInt("fused_residual", 1);
        absorbed.push_back(static_cast<size_t>(addIndex));
        current = add.outputs[0];
      } else if (gemm && other != current && sameShape && otherProducer >= 0 &&
                 g.layers[static_cast<size_t>(otherProducer)].params.type == LayerType::kCONSTANT &&
                 volume(o.dims) == outInfo.dims.d[outInfo.dims.nbDims - 1] && outInfo.dims.d[outInfo.dims.nbDims - 1] > 0 &&
                 layer.params.attrs.getInt("op0", 0) != static_cast<int64_t>(MatrixOperation::kVECTOR) &&
                 layer.params.attrs.getInt("op1", 0) != static_cast<int64_t>(MatrixOperation::kVECTOR)) {
        bool lastDimOnly = true;
        for (int32_t i = 0; i + 1 < o.dims.nbDims; ++i) lastDimOnly = lastDimOnly && o.dims.d[i] == 1;
        if (lastDimOnly) {
          layer.inputs.push_back(other);
          layer.params.attrs.setInt("fused_bias", 1);
          absorbed.push_back(static_cast<size_t>(addIndex));
          current = add.outputs[0];
        }
      }
    }
    if (gemm) {
      // matmul [+ bias] + a same-shape tensor computed earlier (a transformer's residual connection).
      const int32_t resIndex = uses.soleReader(current);
      if (resIndex >= 0 && isElementWise(g.layers[static_cast<size_t>(resIndex)], ElementWiseOperation::kSUM)) {
        const LayerInfo& add = g.layers[static_cast<size_t>(resIndex)];
        const int32_t other = add.inputs[0] == current ? add.inputs[1] : add.inputs[0];
        const TensorInfo& o = g.tensors[static_cast<size_t>(other)];
        const TensorInfo& sum = g.tensors[static_cast<size_t>(add.outputs[0])];
        if (other != current && o.dims == outInfo.dims && sum.dims == outInfo.dims && o.type == outInfo.type &&
            sum.type == outInfo.type && uses.producer[static_cast<size_t>(other)] < static_cast<int32_t>(li)) {
          layer.inputs.resize(3, -1);
          layer.inputs.push_back(other);
          layer.params.attrs.setInt("fused_residual", 1);
          absorbed.push_back(static_cast<size_t>(resIndex));
          current = add.outputs[0];
        }
      }
    }
    const int32_t actIndex = uses.soleReader(current);
    std::vector<size_t> gelu;
    const int32_t geluOut = gemm ? geluTanhChain(g, uses, current, gelu) : -1;
    if (geluOut >= 0) {
      layer.params.attrs.setInt("fused_activation", static_cast<int64_t>(ActivationType::kGELU_TANH));
      absorbed.insert(absorbed.end(), gelu.begin(), gelu.end());
      current = geluOut;
    } else if (actIndex >= 0 && g.layers[static_cast<size_t>(actIndex)].params.type == LayerType::kACTIVATION) {
      const LayerInfo& act = g.layers[static_cast<size_t>(actIndex)];
      const auto type = static_cast<ActivationType>(act.params.attrs.getInt("activation", -1));
      const bool fusable = type == ActivationType::kRELU ||
                           (gemm && (type == ActivationType::kGELU_ERF || type == ActivationType::kGELU_TANH));
      if (fusable && g.tensors[static_cast<size_t>(act.outputs[0])].type == outInfo.type) {
        layer.params.attrs.setInt("fused_activation", static_cast<int64_t>(type));
        absorbed.push_back(static_cast<size_t>(actIndex));
        current = act.outputs[0];
      }
    }
    if (absorbed.empty()) continue;
    layer.outputs[0] = current;
    for (size_t r : absorbed) dead[r] = true;
    fused += static_cast<int32_t>(absorbed.size());
  }
  if (fused > 0) eraseLayers(g, dead);
  return fused;
}

}  // namespace kiln
