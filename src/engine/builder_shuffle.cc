#include "engine/builder_shuffle.h"

#include <string>
#include <vector>

namespace kiln {

// The first `rank` entries of a stored permutation (identity when absent); false when it is malformed, and
// the layer is then left alone for shape inference to report.
bool readShufflePermutation(const LayerInfo& layer, const char* key, int32_t rank, std::vector<int32_t>& perm) {
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

namespace {

constexpr const char* kFirstTranspose = "first_transpose";
constexpr const char* kSecondTranspose = "second_transpose";
constexpr const char* kHasReshape = "has_reshape";

bool isStaticShuffle(const LayerInfo& layer) {
  return layer.params.type == LayerType::kSHUFFLE && !layer.inputs.empty() && layer.inputs[0] >= 0 &&
         (layer.inputs.size() < 2 || layer.inputs[1] < 0) && layer.outputs.size() == 1;
}

bool reshapes(const LayerInfo& layer) { return layer.params.attrs.getInt(kHasReshape, 0) != 0; }

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

// Marks the reshapes sinking adds to a binary layer's other operand: moving one of those back down would
// undo the move that made it, forever.
constexpr const char* kOperandReshape = "operand_reshape";

// A shuffle that only reshapes (no transposes) between tensors of static dims.
bool isPureReshape(const Graph& graph, const LayerInfo& layer) {
  if (!isStaticShuffle(layer)) return false;
  const Dims& in = graph.tensors[static_cast<size_t>(layer.inputs[0])].dims;
  const Dims& out = graph.tensors[static_cast<size_t>(layer.outputs[0])].dims;
  std::vector<int32_t> first, second;
  return readShufflePermutation(layer, kFirstTranspose, in.nbDims, first) && isIdentity(first) &&
         readShufflePermutation(layer, kSecondTranspose, out.nbDims, second) && isIdentity(second) && isStaticShape(in) &&
         isStaticShape(out) && !graph.tensors[static_cast<size_t>(layer.inputs[0])].isShapeTensor &&
         !graph.tensors[static_cast<size_t>(layer.outputs[0])].isShapeTensor;
}

// Folds shuffle `a` (the sole producer of b's input) into `b`; false when the pair cannot merge exactly.
bool mergePair(const Graph& graph, const LayerInfo& a, LayerInfo& b) {
  const int32_t inRank = graph.tensors[static_cast<size_t>(a.inputs[0])].dims.nbDims;
  const int32_t midRank = graph.tensors[static_cast<size_t>(a.outputs[0])].dims.nbDims;
  std::vector<int32_t> a1, a2, b1, b2;
  if (!readShufflePermutation(a, kFirstTranspose, inRank, a1) || !readShufflePermutation(a, kSecondTranspose, midRank, a2) ||
      !readShufflePermutation(b, kFirstTranspose, midRank, b1)) {
    return false;
  }
  if (!reshapes(b)) {
    if (!readShufflePermutation(b, kSecondTranspose, midRank, b2)) return false;
    // b becomes a's first transpose and reshape, then every later transpose as one.
    b.params.attrs = a.params.attrs;
    writePermutation(b, kSecondTranspose, compose(compose(a2, b1), b2));
  } else if (!reshapes(a)) {
    if (inRank != midRank) return false;
    writePermutation(b, kFirstTranspose, compose(compose(a1, a2), b1));
  } else if (isIdentity(a2) && isIdentity(b1)) {
    // Both reshape, with nothing between the two reshapes: a's first transpose, one reshape to b's reshaped
    // dims (written out, static: b's placeholders referred to a's output), b's second transpose.
    const Dims& out = graph.tensors[static_cast<size_t>(b.outputs[0])].dims;
    if (!isStaticShape(out) || !readShufflePermutation(b, kSecondTranspose, out.nbDims, b2)) return false;
    Dims reshaped = out;
    for (int32_t i = 0; i < out.nbDims; ++i) reshaped.d[b2[static_cast<size_t>(i)]] = out.d[i];
    b.params.attrs.setInts("reshape", std::vector<int64_t>(reshaped.d, reshaped.d + reshaped.nbDims));
    b.params.attrs.setInt("zero_is_placeholder", 0);
    b.params.attrs.erase(kOperandReshape);
    writePermutation(b, kFirstTranspose, a1);
  } else {
    return false;
  }
  b.inputs[0] = a.inputs[0];
  return true;
}

// A reshape to the dims the first transpose already gives does nothing: the shuffle is then two transposes,
// which compose into one.
void dropNoOpReshape(const Graph& graph, LayerInfo& layer) {
  if (!reshapes(layer)) return;
  const Dims& in = graph.tensors[static_cast<size_t>(layer.inputs[0])].dims;
  const Dims& out = graph.tensors[static_cast<size_t>(layer.outputs[0])].dims;
  std::vector<int32_t> first, second;
  if (!isStaticShape(in) || !isStaticShape(out) || in.nbDims != out.nbDims ||
      !readShufflePermutation(layer, kFirstTranspose, in.nbDims, first) ||
      !readShufflePermutation(layer, kSecondTranspose, out.nbDims, second)) {
    return;
  }
  for (int32_t i = 0; i < out.nbDims; ++i) {
    // Reshaped dim second[i] is output dim i; the transposed input dim there is in[first[second[i]]].
    if (out.d[i] != in.d[first[static_cast<size_t>(second[static_cast<size_t>(i)])]]) return;
  }
  layer.params.attrs.setInt(kHasReshape, 0);
  layer.params.attrs.erase("reshape");
  writePermutation(layer, kFirstTranspose, compose(first, second));
  writePermutation(layer, kSecondTranspose, std::vector<int32_t>());
}

// Whether the shuffle's output is its input, element for element.
bool isIdentityShuffle(const Graph& graph, const LayerInfo& layer) {
  const Dims& in = graph.tensors[static_cast<size_t>(layer.inputs[0])].dims;
  const Dims& out = graph.tensors[static_cast<size_t>(layer.outputs[0])].dims;
  std::vector<int32_t> first, second;
  if (!readShufflePermutation(layer, kFirstTranspose, in.nbDims, first) || !isIdentity(first)) return false;
  if (!readShufflePermutation(layer, kSecondTranspose, out.nbDims, second) || !isIdentity(second)) return false;
  if (!reshapes(layer)) return true;
  if (!isStaticShape(in) || !isStaticShape(out) || in.nbDims != out.nbDims) return false;
  for (int32_t i = 0; i < in.nbDims; ++i) {
    if (in.d[i] != out.d[i]) return false;
  }
  return true;
}

bool sameDims(const Dims& a, const Dims& b) {
  if (a.nbDims != b.nbDims) return false;
  for (int32_t i = 0; i < a.nbDims; ++i) {
    if (a.d[i] != b.d[i]) return false;
  }
  return true;
}

// Whether `operand` broadcasts against `target` exactly as against `current` (only its last dim may be > 1,
// and then both have that last dim): a per-column bias or a scalar.
bool broadcastsAlike(const Dims& operand, const Dims& current, const Dims& target) {
  if (operand.nbDims > target.nbDims || current.nbDims == 0 || target.nbDims == 0) return false;
  for (int32_t i = 0; i + 1 < operand.nbDims; ++i) {
    if (operand.d[i] != 1) return false;
  }
  const int64_t last = operand.nbDims == 0 ? 1 : operand.d[operand.nbDims - 1];
  return last == 1 || (current.d[current.nbDims - 1] == last && target.d[target.nbDims - 1] == last);
}


// The last `rank` dims of d.
Dims trailing(const Dims& d, int32_t rank) {
  Dims out;
  out.nbDims = rank;
  for (int32_t i = 0; i < rank; ++i) out.d[i] = d.d[d.nbDims - rank + i];
  return out;
}

LayerInfo reshapeLayer(const std::string& name, int32_t in, int32_t out, const Dims& dims) {
  LayerInfo r;
  r.params.type = LayerType::kSHUFFLE;
  r.params.name = name;
  r.params.attrs.setInts("reshape", std::vector<int64_t>(dims.d, dims.d + dims.nbDims));
  r.params.attrs.setInt(kHasReshape, 1);
  r.params.attrs.setInt("zero_is_placeholder", 0);
  r.inputs = {in};
  r.outputs = {out};
  return r;
}

// How one reader of a reshape's output moves above the reshape.
struct SinkStep {
  size_t reader;
  int32_t other = -1;  // the operand that must be reshaped too (-1: none)
  Dims otherDims;      // ... to these dims
};

// Whether `reader` (reading `to`, the reshape of `from`) is elementwise and can read `from` instead.
bool planSinkStep(const Graph& graph, const Readers& readers, size_t index, int32_t from, int32_t to, SinkStep& step) {
  const LayerInfo& reader = graph.layers[index];
  const LayerType type = reader.params.type;
  const bool unary = (type == LayerType::kACTIVATION || type == LayerType::kUNARY || type == LayerType::kCAST) &&
                     reader.inputs.size() == 1;
  const bool binary = type == LayerType::kELEMENTWISE && reader.inputs.size() == 2;
  // A reshape moved onto a graph output would stay there as a copy.
  if ((!unary && !binary) || reader.outputs.size() != 1 || reader.hostEvaluated ||
      readers.isOutput[static_cast<size_t>(reader.outputs[0])]) {
    return false;
  }
  const Dims fromDims = graph.tensors[static_cast<size_t>(from)].dims;
  const Dims toDims = graph.tensors[static_cast<size_t>(to)].dims;
  const TensorInfo& out = graph.tensors[static_cast<size_t>(reader.outputs[0])];
  if (!sameDims(out.dims, toDims) || out.isShapeTensor) return false;
  step = SinkStep{index, -1, fromDims};
  if (!binary) return true;
  const int32_t o = reader.inputs[0] == to ? reader.inputs[1] : reader.inputs[0];
  if (o == to) return true;
  const TensorInfo& oi = graph.tensors[static_cast<size_t>(o)];
  if (oi.isShapeTensor || !isStaticShape(oi.dims)) return false;
  if (sameDims(oi.dims, toDims)) {
    step.other = o;
    return true;
  }
  if (broadcastsAlike(oi.dims, toDims, fromDims)) return true;  // stays as it is
  // A [1, 1, N] bias or a scalar of higher rank than `from`: reshaped to that rank.
  if (oi.dims.nbDims > fromDims.nbDims) {
    const Dims lower = trailing(oi.dims, fromDims.nbDims);
    if (volume(lower) == volume(oi.dims) && broadcastsAlike(lower, toDims, fromDims)) {
      step.other = o;
      step.otherDims = lower;
      return true;
    }
  }
  return false;
}

// Moves one reshape below its readers when every reader is elementwise; false when none can move.
bool sinkOneReshape(Graph& graph) {
  const Readers readers(graph);
  for (size_t l = 0; l < graph.layers.size(); ++l) {
    const LayerInfo& reshape = graph.layers[l];
    if (!isPureReshape(graph, reshape) || reshape.params.attrs.getInt(kOperandReshape, 0) != 0) continue;
    const int32_t from = reshape.inputs[0], to = reshape.outputs[0];
    const auto& toReaders = readers.byTensor[static_cast<size_t>(to)];
    if (readers.isOutput[static_cast<size_t>(to)] || toReaders.empty()) continue;
    std::vector<SinkStep> steps;
    for (int32_t r : toReaders) {
      SinkStep step;
      if (!planSinkStep(graph, readers, static_cast<size_t>(r), from, to, step)) break;
      if (steps.empty() || steps.back().reader != step.reader) steps.push_back(step);  // x*x reads it twice
    }
    size_t distinct = 0;
    for (size_t i = 0; i < toReaders.size(); ++i) distinct += i == 0 || toReaders[i] != toReaders[i - 1] ? 1 : 0;
    if (steps.size() != distinct) continue;
    // reader(reshape(a), b) = reshape(reader(a, reshape^-1(b))) for each reader; the reshapes move no bytes
    // (memory_planner), and those that meet their inverse cancel in mergeShuffles.
    const Dims fromDims = graph.tensors[static_cast<size_t>(from)].dims;
    const Dims toDims = graph.tensors[static_cast<size_t>(to)].dims;
    const std::string reshapeName = reshape.params.name;
    std::vector<std::vector<LayerInfo>> replacement(steps.size());
    // Operand reshapes go right after their operand's producer (first when it has none), so that a GEMM
    // computed between the two can still take the operand as its fused residual.
    const std::vector<int32_t> producer = graph.producers();
    std::vector<std::pair<int32_t, LayerInfo>> operandReshapes;
    for (size_t i = 0; i < steps.size(); ++i) {
      LayerInfo moved = graph.layers[steps[i].reader];
      if (steps[i].other >= 0) {
        const TensorInfo other = graph.tensors[static_cast<size_t>(steps[i].other)];
        const int32_t reshaped = graph.addTensor(other.name + " (reshaped)", other.type, steps[i].otherDims);
        operandReshapes.emplace_back(
            producer[static_cast<size_t>(steps[i].other)],
            reshapeLayer(moved.params.name + " (operand reshape)", steps[i].other, reshaped, steps[i].otherDims));
        operandReshapes.back().second.params.attrs.setInt(kOperandReshape, 1);
        for (int32_t& t : moved.inputs) {
          if (t == steps[i].other) t = reshaped;
        }
      }
      for (int32_t& t : moved.inputs) {
        if (t == to) t = from;
      }
      const TensorInfo out = graph.tensors[static_cast<size_t>(moved.outputs[0])];
      const int32_t result = graph.addTensor(out.name + " (before reshape)", out.type, fromDims);
      LayerInfo after = reshapeLayer(reshapeName + (i == 0 ? "" : " (" + std::to_string(i) + ")"), result,
                                     moved.outputs[0], toDims);
      moved.outputs[0] = result;
      replacement[i].push_back(std::move(moved));
      replacement[i].push_back(std::move(after));
    }
    std::vector<LayerInfo> layers;
    layers.reserve(graph.layers.size() + 3 * steps.size());
    const auto placeOperandReshapes = [&](int32_t after) {
      for (auto& [p, r] : operandReshapes) {
        if (p == after) layers.push_back(std::move(r));
      }
    };
    placeOperandReshapes(-1);
    for (size_t i = 0; i < graph.layers.size(); ++i) {
      if (i == l) continue;  // the old reshape: nothing reads its output any more
      bool replaced = false;
      for (size_t k = 0; k < steps.size() && !replaced; ++k) {
        if (steps[k].reader != i) continue;
        for (LayerInfo& r : replacement[k]) layers.push_back(std::move(r));
        replaced = true;
      }
      if (!replaced) layers.push_back(std::move(graph.layers[i]));
      placeOperandReshapes(static_cast<int32_t>(i));
    }
    graph.layers = std::move(layers);
    return true;
  }
  return false;
}

}  // namespace

namespace {

void eraseRemoved(Graph& graph, const std::vector<bool>& removed) {
  std::vector<LayerInfo> kept;
  kept.reserve(graph.layers.size());
  for (size_t l = 0; l < graph.layers.size(); ++l) {
    if (!removed[l]) kept.push_back(std::move(graph.layers[l]));
  }
  graph.layers = std::move(kept);
}

// Shuffles whose output equals their input: their readers take the input directly.
int32_t removeIdentityShuffles(Graph& graph) {
  std::vector<bool> removed(graph.layers.size(), false);
  int32_t count = 0;
  const Readers readers(graph);
  for (size_t l = 0; l < graph.layers.size(); ++l) {
    if (!isStaticShuffle(graph.layers[l])) continue;
    dropNoOpReshape(graph, graph.layers[l]);
    const LayerInfo& layer = graph.layers[l];
    if (!isIdentityShuffle(graph, layer)) continue;
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
  if (count > 0) eraseRemoved(graph, removed);
  return count;
}

int32_t mergeShufflePairs(Graph& graph) {
  std::vector<bool> removed(graph.layers.size(), false);
  int32_t count = 0;
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
  if (count > 0) eraseRemoved(graph, removed);
  return count;
}

}  // namespace

int32_t mergeShuffles(Graph& graph) {
  // Identities first (so that pairs are seen through them), then pairs, then the identities pairs made.
  int32_t count = removeIdentityShuffles(graph);
  count += mergeShufflePairs(graph);
  return count + removeIdentityShuffles(graph);
}

int32_t sinkReshapes(Graph& graph) {
  int32_t moved = 0;
  // Each move lets the reshape meet the next layer; the graph has finitely many elementwise layers below it.
  while (sinkOneReshape(graph)) ++moved;
  return moved;
}

}  // namespace kiln
