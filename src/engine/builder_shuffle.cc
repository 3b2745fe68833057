#include "engine/builder_shuffle.h"

#include <vector>

namespace kiln {
namespace {

constexpr const char* kFirstTranspose = "first_transpose";
constexpr const char* kSecondTranspose = "second_transpose";
constexpr const char* kHasReshape = "has_reshape";

bool isStaticShuffle(const LayerInfo& layer) {
  return layer.params.type == LayerType::kSHUFFLE && !layer.inputs.empty() && layer.inputs[0] >= 0 &&
         (layer.inputs.size() < 2 || layer.inputs[1] < 0) && layer.outputs.size() == 1;
}

bool reshapes(const LayerInfo& layer) { return layer.params.attrs.getInt(kHasReshape, 0) != 0; }

// The first `rank` entries of a stored permutation (identity when absent); false when it is malformed, and
// the layer is then left alone for shape inference to report.
bool readPermutation(const LayerInfo& layer, const char* key, int32_t rank, std::vector<int32_t>& perm) {
  perm.resize(static_cast<size_t>(rank));
  for (int32_t i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = i;
  if (!layer.params.attrs.has(key)) return true;
  const std::vector<int64_t> stored = layer.params.attrs.getInts(key);
  if (stored.size() < static_cast<size_t>(rank)) return false;
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int32_t i = 0; i < rank; ++i) {
    const int64_t p = stored[static_cast<size_t>(i)];
    if (p < 0 || p >= rank || seen[static_cast<size_t>(p)]) return false;
    seen[static_cast<size_t>(p)] = true;
    perm[static_cast<size_t>(i)] = static_cast<int32_t>(p);
  }
  return true;
}

void writePermutation(LayerInfo& layer, const char* key, const std::vector<int32_t>& perm) {
  std::vector<int64_t> stored(static_cast<size_t>(Dims::kMAX_DIMS));
  for (int32_t i = 0; i < Dims::kMAX_DIMS; ++i) {
    stored[static_cast<size_t>(i)] = i < static_cast<int32_t>(perm.size()) ? perm[static_cast<size_t>(i)] : i;
  }
  layer.params.attrs.setInts(key, std::move(stored));
}

// permute(permute(x, inner), outer)[i] = x[inner[outer[i]]].
std::vector<int32_t> compose(const std::vector<int32_t>& inner, const std::vector<int32_t>& outer) {
  std::vector<int32_t> result(outer.size());
  for (size_t i = 0; i < outer.size(); ++i) result[i] = inner[static_cast<size_t>(outer[i])];
  return result;
}

bool isIdentity(const std::vector<int32_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int32_t>(i)) return false;
  }
  return true;
}

bool isStaticDims(const Dims& d) {
  for (int32_t i = 0; i < d.nbDims; ++i) {
    if (d.d[i] < 0) return false;
  }
  return true;
}

struct Readers {
  std::vector<std::vector<int32_t>> byTensor;
  std::vector<bool> isOutput;
  explicit Readers(const Graph& g) : byTensor(g.tensors.size()), isOutput(g.tensors.size(), false) {
    for (size_t l = 0; l < g.layers.size(); ++l) {
      for (int32_t t : g.layers[l].inputs) {
        if (t >= 0) byTensor[static_cast<size_t>(t)].push_back(static_cast<int32_t>(l));
      }
    }
    for (int32_t t : g.outputs) isOutput[static_cast<size_t>(t)] = true;
  }
};

// Folds shuffle `a` (the sole producer of b's input) into `b`; false when the pair cannot merge exactly.
bool mergePair(const Graph& graph, const LayerInfo& a, LayerInfo& b) {
  const int32_t inRank = graph.tensors[static_cast<size_t>(a.inputs[0])].dims.nbDims;
  const int32_t midRank = graph.tensors[static_cast<size_t>(a.outputs[0])].dims.nbDims;
  std::vector<int32_t> a1, a2, b1, b2;
  if (!readPermutation(a, kFirstTranspose, inRank, a1) || !readPermutation(a, kSecondTranspose, midRank, a2) ||
      !readPermutation(b, kFirstTranspose, midRank, b1)) {
    return false;
  }
  if (!reshapes(b)) {
    if (!readPermutation(b, kSecondTranspose, midRank, b2)) return false;
    // b becomes a's first transpose and reshape, then every later transpose as one.
    b.params.attrs = a.params.attrs;
    writePermutation(b, kSecondTranspose, compose(compose(a2, b1), b2));
  } else if (!reshapes(a)) {
    if (inRank != midRank) return false;
    writePermutation(b, kFirstTranspose, compose(compose(a1, a2), b1));
  } else {
    return false;
  }
  b.inputs[0] = a.inputs[0];
  return true;
}

// Whether the shuffle's output is its input, element for element.
bool isIdentityShuffle(const Graph& graph, const LayerInfo& layer) {
  const Dims& in = graph.tensors[static_cast<size_t>(layer.inputs[0])].dims;
  const Dims& out = graph.tensors[static_cast<size_t>(layer.outputs[0])].dims;
  std::vector<int32_t> first, second;
  if (!readPermutation(layer, kFirstTranspose, in.nbDims, first) || !isIdentity(first)) return false;
  if (!readPermutation(layer, kSecondTranspose, out.nbDims, second) || !isIdentity(second)) return false;
  if (!reshapes(layer)) return true;
  if (!isStaticDims(in) || !isStaticDims(out) || in.nbDims != out.nbDims) return false;
  for (int32_t i = 0; i < in.nbDims; ++i) {
    if (in.d[i] != out.d[i]) return false;
  }
  return true;
}

}  // namespace

int32_t mergeShuffles(Graph& graph) {
  std::vector<bool> removed(graph.layers.size(), false);
  int32_t count = 0;
  // Identity shuffles first (their readers take the input directly), so the merges below see through them.
  {
    const Readers readers(graph);
    for (size_t l = 0; l < graph.layers.size(); ++l) {
      const LayerInfo& layer = graph.layers[l];
      if (!isStaticShuffle(layer) || !isIdentityShuffle(graph, layer)) continue;
      const int32_t in = layer.inputs[0];
      const int32_t out = layer.outputs[0];
      if (readers.isOutput[static_cast<size_t>(out)] || graph.tensors[static_cast<size_t>(out)].isShapeTensor ||
          graph.tensors[static_cast<size_t>(in)].type != graph.tensors[static_cast<size_t>(out)].type) {
        continue;
      }
      for (int32_t r : readers.byTensor[static_cast<size_t>(out)]) {
        for (int32_t& t : graph.layers[static_cast<size_t>(r)].inputs) {
          if (t == out) t = in;
        }
      }
      removed[l] = true;
      graph.layers[l].inputs.clear();  // no longer a reader of anything
      ++count;
    }
  }
  const std::vector<int32_t> producer = graph.producers();
  const Readers readers(graph);
  for (size_t l = 0; l < graph.layers.size(); ++l) {
    LayerInfo& b = graph.layers[l];
    if (removed[l] || !isStaticShuffle(b)) continue;
    const int32_t mid = b.inputs[0];
    const int32_t p = producer[static_cast<size_t>(mid)];
    if (p < 0 || removed[static_cast<size_t>(p)]) continue;
    const LayerInfo& a = graph.layers[static_cast<size_t>(p)];
    if (!isStaticShuffle(a) || readers.isOutput[static_cast<size_t>(mid)] ||
        readers.byTensor[static_cast<size_t>(mid)].size() != 1 || graph.tensors[static_cast<size_t>(mid)].isShapeTensor ||
        graph.tensors[static_cast<size_t>(a.inputs[0])].isShapeTensor) {
      continue;
    }
    if (mergePair(graph, a, b)) {
      removed[static_cast<size_t>(p)] = true;
      ++count;
    }
  }
  if (count == 0) return 0;
  std::vector<LayerInfo> kept;
  kept.reserve(graph.layers.size() - static_cast<size_t>(count));
  for (size_t l = 0; l < graph.layers.size(); ++l) {
    if (!removed[l]) kept.push_back(std::move(graph.layers[l]));
  }
  graph.layers = std::move(kept);
  return count;
}

}  // namespace kiln
