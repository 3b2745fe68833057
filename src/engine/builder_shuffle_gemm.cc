// Shuffles that keep the last dim commute with row-wise GEMMs (x @ W with a 2-D W, then a per-column bias):
// the GEMM treats every leading index alike, so permuting or regrouping the leading dims before it or after it
// gives the same elements. nn.MultiheadAttention (ViT) transposes [B, S, E] to [S, B, E] before its input
// projection and back after its output projection; moved next to the attention, those copies become part of
// its operand views (builder_attention_views.cc), and the output projection then fuses the residual add.
#include <string>
#include <vector>

#include "engine/builder_shuffle.h"

namespace kiln {
namespace {

struct Uses {
  std::vector<std::vector<int32_t>> readers;
  std::vector<bool> isOutput;
  explicit Uses(const Graph& g) : readers(g.tensors.size()), isOutput(g.tensors.size(), false) {
    for (size_t l = 0; l < g.layers.size(); ++l) {
      for (int32_t t : g.layers[l].inputs) {
        if (t >= 0) readers[static_cast<size_t>(t)].push_back(static_cast<int32_t>(l));
      }
    }
    for (int32_t t : g.outputs) isOutput[static_cast<size_t>(t)] = true;
  }
  // The one layer reading intermediate t, or -1.
  int32_t sole(int32_t t) const {
    const auto u = static_cast<size_t>(t);
    return isOutput[u] || readers[u].size() != 1 ? -1 : readers[u][0];
  }
};

// A shuffle between static shapes whose transposes leave the last dim last and whose reshape keeps the last
// extent: it only permutes or regroups the leading dims.
bool keepsLastDim(const Graph& g, const LayerInfo& s) {
  if (s.params.type != LayerType::kSHUFFLE || s.inputs.empty() || s.inputs[0] < 0 ||
      (s.inputs.size() > 1 && s.inputs[1] >= 0) || s.outputs.size() != 1) {
    return false;
  }
  const TensorInfo& in = g.tensors[static_cast<size_t>(s.inputs[0])];
  const TensorInfo& out = g.tensors[static_cast<size_t>(s.outputs[0])];
  if (in.isShapeTensor || out.isShapeTensor || in.type != out.type || in.dims.nbDims < 1 || out.dims.nbDims < 1 ||
      !isStaticShape(in.dims) || !isStaticShape(out.dims) ||
      in.dims.d[in.dims.nbDims - 1] != out.dims.d[out.dims.nbDims - 1]) {
    return false;
  }
  std::vector<int32_t> first, second;
  return readShufflePermutation(s, "first_transpose", in.dims.nbDims, first) &&
         readShufflePermutation(s, "second_transpose", out.dims.nbDims, second) &&
         first.back() == in.dims.nbDims - 1 && second.back() == out.dims.nbDims - 1;
}

// x @ W with W of rank 2, x not transposed, no fused attributes yet, static shapes.
bool isRowWiseGemm(const Graph& g, const LayerInfo& m) {
  if (m.params.type != LayerType::kMATRIX_MULTIPLY || m.inputs.size() != 2 || m.inputs[0] < 0 || m.inputs[1] < 0 ||
      m.inputs[0] == m.inputs[1] || m.outputs.size() != 1 ||
      m.params.attrs.getInt("op0", -1) != static_cast<int64_t>(MatrixOperation::kNONE)) {
    return false;
  }
  const Dims& w = g.tensors[static_cast<size_t>(m.inputs[1])].dims;
  const Dims& x = g.tensors[static_cast<size_t>(m.inputs[0])].dims;
  return w.nbDims == 2 && x.nbDims >= 2 && isStaticShape(x) && isStaticShape(w);
}

// The bias add alone reading `t`: its other operand is one value or a per-column vector ([N], [1, .., N]) of
// rank at most `maxRank` (so that it broadcasts the same way over the reordered leading dims). -1 otherwise.
int32_t biasAddOf(const Graph& g, const Uses& uses, int32_t t, int32_t maxRank) {
  const int32_t r = uses.sole(t);
  if (r < 0) return -1;
  const LayerInfo& e = g.layers[static_cast<size_t>(r)];
  if (e.params.type != LayerType::kELEMENTWISE || e.inputs.size() != 2 ||
      e.params.attrs.getInt("operation", -1) != static_cast<int64_t>(ElementWiseOperation::kSUM)) {
    return -1;
  }
  const int32_t other = e.inputs[0] == t ? e.inputs[1] : e.inputs[0];
  const Dims& b = g.tensors[static_cast<size_t>(other)].dims;
  const Dims& y = g.tensors[static_cast<size_t>(t)].dims;
  if (other == t || !isStaticShape(b) || b.nbDims > maxRank) return -1;
  for (int32_t i = 0; i + 1 < b.nbDims; ++i) {
    if (b.d[i] != 1) return -1;
  }
  const int64_t last = b.nbDims == 0 ? 1 : b.d[b.nbDims - 1];
  const bool same = g.tensors[static_cast<size_t>(e.outputs[0])].dims == y;
  return same && (last == 1 || last == y.d[y.nbDims - 1]) ? r : -1;
}

Dims withLast(Dims d, int64_t last) {
  d.d[d.nbDims - 1] = last;
  return d;
}

void replaceInput(LayerInfo& layer, int32_t from, int32_t to) {
  for (int32_t& t : layer.inputs) {
    if (t == from) t = to;
  }
}

bool isViewLayer(const LayerInfo& l) {
  return (l.params.type == LayerType::kSHUFFLE || l.params.type == LayerType::kSLICE ||
          l.params.type == LayerType::kGATHER) &&
         !l.inputs.empty() && l.outputs.size() == 1;
}

// Whether every path from t through view layers ends in attention layers (at least one): moving a shuffle
// there lets the attention absorb it. Moves only ever go toward attention, so they never undo each other.
bool attentionBelow(const Graph& g, const Uses& uses, int32_t t, int depth = 0) {
  const auto& readers = uses.readers[static_cast<size_t>(t)];
  if (depth > 6 || readers.empty() || uses.isOutput[static_cast<size_t>(t)]) return false;
  for (int32_t r : readers) {
    const LayerInfo& l = g.layers[static_cast<size_t>(r)];
    if (l.params.type == LayerType::kATTENTION) continue;
    if (!isViewLayer(l) || l.inputs[0] != t || !attentionBelow(g, uses, l.outputs[0], depth + 1)) return false;
  }
  return true;
}

// Whether t is an attention's output, possibly through view layers.
bool attentionAbove(const Graph& g, int32_t t) {
  const std::vector<int32_t> producer = g.producers();
  for (int depth = 0; depth <= 6 && t >= 0; ++depth) {
    const int32_t p = producer[static_cast<size_t>(t)];
    if (p < 0) return false;
    const LayerInfo& l = g.layers[static_cast<size_t>(p)];
    if (l.params.type == LayerType::kATTENTION) return true;
    if (!isViewLayer(l)) return false;
    t = l.inputs[0];
  }
  return false;
}

// One rewrite: layers[i] is dropped when drop[i], and before[i] / after[i] go right before / after it.
struct Edit {
  std::vector<bool> drop;
  std::vector<std::vector<LayerInfo>> before, after;
  explicit Edit(size_t n) : drop(n, false), before(n), after(n) {}
  void apply(Graph& g) {
    std::vector<LayerInfo> layers;
    for (size_t l = 0; l < g.layers.size(); ++l) {
      for (LayerInfo& b : before[l]) layers.push_back(std::move(b));
      if (!drop[l]) layers.push_back(std::move(g.layers[l]));
      for (LayerInfo& a : after[l]) layers.push_back(std::move(a));
    }
    g.layers = std::move(layers);
  }
};

// shuffle (transposes only) -> GEMM [-> bias]  =>  GEMM [-> bias] -> shuffle.
bool sinkBelowGemm(Graph& g, const Uses& uses, size_t s, Edit& edit) {
  const LayerInfo shuffle = g.layers[s];
  if (!keepsLastDim(g, shuffle) || shuffle.params.attrs.getInt("has_reshape", 0) != 0) return false;
  const int32_t m = uses.sole(shuffle.outputs[0]);
  if (m < 0 || !isRowWiseGemm(g, g.layers[static_cast<size_t>(m)]) ||
      g.layers[static_cast<size_t>(m)].inputs[0] != shuffle.outputs[0]) {
    return false;
  }
  LayerInfo& gemm = g.layers[static_cast<size_t>(m)];
  const Dims inDims = g.tensors[static_cast<size_t>(shuffle.inputs[0])].dims;
  const int32_t bias = biasAddOf(g, uses, gemm.outputs[0], inDims.nbDims);
  const int32_t end = bias >= 0 ? g.layers[static_cast<size_t>(bias)].outputs[0] : gemm.outputs[0];
  if (!attentionBelow(g, uses, end)) return false;
  const TensorInfo endInfo = g.tensors[static_cast<size_t>(end)];
  const Dims unshuffled = withLast(inDims, endInfo.dims.d[endInfo.dims.nbDims - 1]);
  const int32_t product = g.addTensor(endInfo.name + " (before the shuffle)", endInfo.type, unshuffled);
  int32_t last = product;
  const int32_t oldProduct = gemm.outputs[0];
  gemm.inputs[0] = shuffle.inputs[0];
  gemm.outputs[0] = product;
  if (bias >= 0) {
    LayerInfo& add = g.layers[static_cast<size_t>(bias)];
    last = g.addTensor(endInfo.name + " (biased, before the shuffle)", endInfo.type, unshuffled);
    replaceInput(add, oldProduct, product);
    add.outputs[0] = last;
  }
  LayerInfo moved = shuffle;
  moved.inputs[0] = last;
  moved.outputs[0] = end;
  edit.drop[s] = true;
  edit.after[static_cast<size_t>(bias >= 0 ? bias : m)].push_back(std::move(moved));
  return true;
}

// GEMM [-> bias] -> shuffle (leading dims only)  =>  shuffle -> GEMM [-> bias].
bool hoistAboveGemm(Graph& g, const Uses& uses, size_t m, Edit& edit) {
  if (!isRowWiseGemm(g, g.layers[m]) || !attentionAbove(g, g.layers[m].inputs[0])) return false;
  const int32_t product = g.layers[m].outputs[0];
  const int32_t next = uses.sole(product);
  if (next < 0) return false;
  int32_t bias = -1, afterGemm = product;
  if (g.layers[static_cast<size_t>(next)].params.type == LayerType::kELEMENTWISE) {
    bias = next;
    afterGemm = g.layers[static_cast<size_t>(next)].outputs[0];
  }
  const int32_t s = uses.sole(afterGemm);
  if (s < 0 || !keepsLastDim(g, g.layers[static_cast<size_t>(s)])) return false;
  const LayerInfo shuffle = g.layers[static_cast<size_t>(s)];
  const TensorInfo outInfo = g.tensors[static_cast<size_t>(shuffle.outputs[0])];
  if (bias >= 0 && biasAddOf(g, uses, product, outInfo.dims.nbDims) != bias) return false;
  LayerInfo& gemm = g.layers[m];
  const int32_t x = gemm.inputs[0];
  const TensorInfo xInfo = g.tensors[static_cast<size_t>(x)];
  const int64_t k = xInfo.dims.d[xInfo.dims.nbDims - 1];
  // The shuffle on the GEMM's input: the same transposes, the reshape written out with the input's last extent.
  LayerInfo hoisted = shuffle;
  hoisted.params.name = shuffle.params.name + " (before the GEMM)";
  if (shuffle.params.attrs.getInt("has_reshape", 0) != 0) {
    std::vector<int32_t> second;
    readShufflePermutation(shuffle, "second_transpose", outInfo.dims.nbDims, second);
    Dims reshaped = outInfo.dims;
    for (int32_t i = 0; i < outInfo.dims.nbDims; ++i) reshaped.d[second[static_cast<size_t>(i)]] = outInfo.dims.d[i];
    reshaped = withLast(reshaped, k);
    hoisted.params.attrs.setInts("reshape", std::vector<int64_t>(reshaped.d, reshaped.d + reshaped.nbDims));
    hoisted.params.attrs.setInt("zero_is_placeholder", 0);
  }
  const int32_t shuffledX = g.addTensor(xInfo.name + " (shuffled)", xInfo.type, withLast(outInfo.dims, k));
  hoisted.inputs[0] = x;
  hoisted.outputs[0] = shuffledX;
  gemm.inputs[0] = shuffledX;
  if (bias >= 0) {
    const int32_t newProduct = g.addTensor(outInfo.name + " (before the bias)", outInfo.type, outInfo.dims);
    gemm.outputs[0] = newProduct;
    LayerInfo& add = g.layers[static_cast<size_t>(bias)];
    replaceInput(add, product, newProduct);
    add.outputs[0] = shuffle.outputs[0];
  } else {
    gemm.outputs[0] = shuffle.outputs[0];
  }
  edit.before[m].push_back(std::move(hoisted));
  edit.drop[static_cast<size_t>(s)] = true;
  return true;
}

}  // namespace

int32_t moveShufflesAcrossGemms(Graph& g) {
  int32_t moved = 0;
  // One move at a time (each changes readers); each takes a shuffle one GEMM closer to an attention.
  for (bool changed = true; changed;) {
    changed = false;
    const Uses uses(g);
    Edit edit(g.layers.size());
    for (size_t l = 0; l < g.layers.size() && !changed; ++l) {
      changed = sinkBelowGemm(g, uses, l, edit) || hoistAboveGemm(g, uses, l, edit);
    }
    if (changed) {
      edit.apply(g);
      ++moved;
    }
  }
  return moved;
}

}  // namespace kiln
