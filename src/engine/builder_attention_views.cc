#include "engine/builder_attention_views.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "engine/builder_passes.h"
#include "engine/builder_shuffle.h"
#include "engine/layers/attention_view.h"
#include "engine/shape_resolution.h"

namespace kiln {
namespace {

// A strided view whose dims may each be a product of several strided factors ("atoms", outermost first).
// Models reshape heads through views that torch itself could not express with one stride per dim, e.g.
// [S, B, E] -> [S, B*H, D] -> ... -> [B, H, S, D]: B*H is two atoms until a later reshape splits it again.
struct Atom {
  int64_t extent, stride;
};
struct View {
  int64_t offset = 0;
  std::vector<std::vector<Atom>> dims;  // extent-1 factors are dropped
};

int64_t extentOf(const std::vector<Atom>& dim) {
  int64_t e = 1;
  for (const Atom& a : dim) e *= a.extent;
  return e;
}

// Merges neighbouring atoms that step over each other exactly.
void normalize(std::vector<Atom>& dim) {
  std::vector<Atom> merged;
  for (const Atom& a : dim) {
    if (a.extent == 1) continue;
    if (!merged.empty() && merged.back().stride == a.stride * a.extent) {
      merged.back() = {merged.back().extent * a.extent, a.stride};
    } else {
      merged.push_back(a);
    }
  }
  dim = std::move(merged);
}

View contiguous(const Dims& dims) {
  View v;
  v.dims.resize(static_cast<size_t>(dims.nbDims));
  int64_t stride = 1;
  for (int32_t i = dims.nbDims - 1; i >= 0; --i) {
    if (dims.d[i] != 1) v.dims[static_cast<size_t>(i)].push_back({dims.d[i], stride});
    stride *= dims.d[i];
  }
  return v;
}

bool hasDims(const View& v, const Dims& dims) {
  if (static_cast<int32_t>(v.dims.size()) != dims.nbDims) return false;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (extentOf(v.dims[static_cast<size_t>(i)]) != dims.d[i]) return false;
  }
  return true;
}

// The operand the attention kernels take: one stride per dim, the innermost contiguous.
bool toOperand(const View& v, AttentionOperand& out) {
  if (v.dims.empty() || v.dims.size() > static_cast<size_t>(Dims::kMAX_DIMS)) return false;
  out = AttentionOperand{};
  out.offset = v.offset;
  out.dims.nbDims = static_cast<int32_t>(v.dims.size());
  for (size_t i = 0; i < v.dims.size(); ++i) {
    std::vector<Atom> dim = v.dims[i];
    normalize(dim);
    if (dim.size() > 1) return false;
    out.dims.d[i] = extentOf(dim);
    out.strides[i] = dim.empty() ? 0 : dim[0].stride;
  }
  const size_t inner = v.dims.size() - 1;
  return out.dims.d[inner] == 1 || out.strides[inner] == 1;
}

std::vector<int32_t> inverse(const std::vector<int32_t>& perm) {
  std::vector<int32_t> inv(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) inv[static_cast<size_t>(perm[i])] = static_cast<int32_t>(i);
  return inv;
}

// Dim i of the result is dim perm[i] of the view.
View permuted(const View& v, const std::vector<int32_t>& perm) {
  View out;
  out.offset = v.offset;
  for (int32_t p : perm) out.dims.push_back(v.dims[static_cast<size_t>(p)]);
  return out;
}

// The view reshaped to `to` (row-major, like a reshape of the elements it addresses): the atoms of all dims
// in order are regrouped into the target extents, splitting an atom where a target boundary falls inside it.
bool reshaped(const View& v, const Dims& to, View& out) {
  std::vector<Atom> atoms;
  for (const std::vector<Atom>& dim : v.dims) atoms.insert(atoms.end(), dim.begin(), dim.end());
  out = View{};
  out.offset = v.offset;
  size_t next = 0;
  for (int32_t i = 0; i < to.nbDims; ++i) {
    int64_t need = to.d[i];
    if (need < 1) return false;
    std::vector<Atom> dim;
    while (need > 1) {
      if (next >= atoms.size()) return false;
      Atom& a = atoms[next];
      if (need % a.extent == 0) {
        dim.push_back(a);
        need /= a.extent;
        ++next;
      } else if (a.extent % need == 0) {
        // Split: the outer `need` factor goes to this dim, the rest stays for the next.
        dim.push_back({need, a.stride * (a.extent / need)});
        a.extent /= need;
        need = 1;
      } else {
        return false;
      }
    }
    out.dims.push_back(std::move(dim));
  }
  return next == atoms.size();
}

// The view a static shuffle gives of its input viewed as `in`.
bool throughShuffle(const Graph& graph, const LayerInfo& layer, const View& in, View& out) {
  const Dims& outDims = graph.tensors[static_cast<size_t>(layer.outputs[0])].dims;
  std::vector<int32_t> first, second;
  if (!readShufflePermutation(layer, "first_transpose", static_cast<int32_t>(in.dims.size()), first) ||
      !readShufflePermutation(layer, "second_transpose", outDims.nbDims, second)) {
    return false;
  }
  Dims reshapedDims = outDims;
  for (int32_t i = 0; i < outDims.nbDims; ++i) reshapedDims.d[second[static_cast<size_t>(i)]] = outDims.d[i];
  View r;
  if (!reshaped(permuted(in, first), reshapedDims, r)) return false;
  out = permuted(r, second);
  return hasDims(out, outDims);
}

bool throughSlice(const LayerInfo& layer, const View& in, View& out) {
  const Attributes& a = layer.params.attrs;
  if (a.getInt("mode", 0) != static_cast<int64_t>(SampleMode::kSTRICT_BOUNDS)) return false;
  const Dims start = a.getDims("start"), size = a.getDims("size"), stride = a.getDims("stride");
  const auto rank = static_cast<int32_t>(in.dims.size());
  if (start.nbDims != rank || size.nbDims != rank || stride.nbDims != rank) return false;
  out = in;
  for (int32_t i = 0; i < rank; ++i) {
    std::vector<Atom> dim = in.dims[static_cast<size_t>(i)];
    normalize(dim);
    const int64_t extent = extentOf(dim);
    if (start.d[i] < 0 || size.d[i] < 1 || stride.d[i] < 1 || start.d[i] + (size.d[i] - 1) * stride.d[i] >= extent) {
      return false;
    }
    if (start.d[i] == 0 && size.d[i] == extent) continue;  // the whole dim (a step > 1 needs size 1 here)
    if (dim.size() != 1) return false;                      // part of a composite dim is not one stride
    out.offset += start.d[i] * dim[0].stride;
    out.dims[static_cast<size_t>(i)] = {{size.d[i], dim[0].stride * stride.d[i]}};
  }
  return true;
}

// select(x, axis, index): a default-mode gather of one constant index.
bool throughSelect(const LayerInfo& layer, const HostTensor* index, const View& in, View& out) {
  const Attributes& a = layer.params.attrs;
  if (a.getInt("mode", 0) != static_cast<int64_t>(GatherMode::kDEFAULT) || a.getInt("nb_elementwise_dims", 0) != 0 ||
      index == nullptr || index->dims.nbDims != 0 || index->count() != 1) {
    return false;
  }
  const int64_t axis = a.getInt("axis", 0);
  if (axis < 0 || axis >= static_cast<int64_t>(in.dims.size())) return false;
  const std::vector<Atom>& dim = in.dims[static_cast<size_t>(axis)];
  const int64_t extent = extentOf(dim);
  int64_t i = index->intAt(0);
  if (i < 0) i += extent;
  if (i < 0 || i >= extent) return false;
  out = in;
  out.dims.erase(out.dims.begin() + axis);
  // The index in the mixed radix of the dim's atoms, innermost first.
  for (size_t k = dim.size(); k-- > 0;) {
    out.offset += (i % dim[k].extent) * dim[k].stride;
    i /= dim[k].extent;
  }
  return true;
}

bool isStaticShuffle(const LayerInfo& layer) {
  return layer.params.type == LayerType::kSHUFFLE && layer.inputs.size() >= 1 && layer.inputs[0] >= 0 &&
         (layer.inputs.size() < 2 || layer.inputs[1] < 0) && layer.outputs.size() == 1;
}

bool isStaticSlice(const LayerInfo& layer) {
  if (layer.params.type != LayerType::kSLICE || layer.inputs.empty() || layer.inputs[0] < 0) return false;
  for (size_t i = 1; i < layer.inputs.size(); ++i) {
    if (layer.inputs[i] >= 0) return false;
  }
  return layer.outputs.size() == 1;
}

bool isSelect(const LayerInfo& layer) {
  return layer.params.type == LayerType::kGATHER && layer.inputs.size() == 2 && layer.inputs[0] >= 0 &&
         layer.inputs[1] >= 0 && layer.outputs.size() == 1;
}

struct Context {
  const Graph& graph;
  std::vector<int32_t> producer;
  std::vector<std::shared_ptr<const HostTensor>> constants;
};

// The view layer `layer` gives of its data input viewed as `in`; false when it is not a pure view.
bool through(const Context& ctx, const LayerInfo& layer, const View& in, View& out) {
  if (isStaticShuffle(layer)) return throughShuffle(ctx.graph, layer, in, out);
  if (isStaticSlice(layer)) return throughSlice(layer, in, out);
  if (isSelect(layer)) return throughSelect(layer, ctx.constants[static_cast<size_t>(layer.inputs[1])].get(), in, out);
  return false;
}

bool isViewLayer(const Context& ctx, const LayerInfo& layer) {
  if (!isStaticShuffle(layer) && !isStaticSlice(layer) && !isSelect(layer)) return false;
  const TensorInfo& in = ctx.graph.tensors[static_cast<size_t>(layer.inputs[0])];
  const TensorInfo& out = ctx.graph.tensors[static_cast<size_t>(layer.outputs[0])];
  return !in.isShapeTensor && !out.isShapeTensor && in.type == out.type && isStaticShape(in.dims) && isStaticShape(out.dims);
}

// Points attention input `index` at the start of the longest chain of view layers that ends in it.
bool absorbInput(const Context& ctx, LayerInfo& attention, int32_t index) {
  const int32_t target = attention.inputs[static_cast<size_t>(index)];
  if (target < 0 || attention.params.attrs.has(kAttentionInputViewKeys[index])) return false;
  std::vector<int32_t> chain;  // producers, nearest first
  for (int32_t t = target;;) {
    const int32_t p = ctx.producer[static_cast<size_t>(t)];
    if (p < 0 || !isViewLayer(ctx, ctx.graph.layers[static_cast<size_t>(p)])) break;
    chain.push_back(p);
    t = ctx.graph.layers[static_cast<size_t>(p)].inputs[0];
  }
  // Longest first: a chain whose far end does not compose may still compose from a nearer start.
  for (size_t length = chain.size(); length > 0; --length) {
    const int32_t source = ctx.graph.layers[static_cast<size_t>(chain[length - 1])].inputs[0];
    View v = contiguous(ctx.graph.tensors[static_cast<size_t>(source)].dims);
    bool ok = true;
    for (size_t i = length; i-- > 0 && ok;) {
      View next;
      ok = through(ctx, ctx.graph.layers[static_cast<size_t>(chain[i])], v, next);
      v = std::move(next);
    }
    AttentionOperand operand;
    if (!ok || !hasDims(v, ctx.graph.tensors[static_cast<size_t>(target)].dims) || !toOperand(v, operand)) continue;
    attention.inputs[static_cast<size_t>(index)] = source;
    setAttentionInputView(attention.params.attrs, index, operand);
    return true;
  }
  return false;
}

// Lets the attention write straight into the output of the shuffle that alone reads its output.
// The view of a shuffle's input in the memory of its output, given the view of its output (`out`): the
// second transpose, the reshape and the first transpose undone.
bool undoShuffle(const Graph& graph, const LayerInfo& shuffle, const View& out, View& in) {
  const Dims& inDims = graph.tensors[static_cast<size_t>(shuffle.inputs[0])].dims;
  const Dims& outDims = graph.tensors[static_cast<size_t>(shuffle.outputs[0])].dims;
  std::vector<int32_t> first, second;
  if (!readShufflePermutation(shuffle, "first_transpose", inDims.nbDims, first) ||
      !readShufflePermutation(shuffle, "second_transpose", outDims.nbDims, second)) {
    return false;
  }
  Dims transposedIn = inDims;
  for (int32_t i = 0; i < inDims.nbDims; ++i) transposedIn.d[i] = inDims.d[first[static_cast<size_t>(i)]];
  View t;
  if (!reshaped(permuted(out, inverse(second)), transposedIn, t)) return false;
  in = permuted(t, inverse(first));
  return hasDims(in, inDims);
}

// Lets the attention write straight into the output of the chain of shuffles (each the sole reader of the
// one before) that follows it; the longest chain whose layout is one strided view wins.
bool absorbOutput(Graph& graph, const std::vector<std::vector<int32_t>>& readers,
                  const std::vector<bool>& isGraphOutput, LayerInfo& attention) {
  if (attention.outputs.size() != 1 || hasAttentionOutputView(attention.params.attrs)) return false;
  const int32_t out = attention.outputs[0];
  const TensorInfo logicalInfo = graph.tensors[static_cast<size_t>(out)];
  const Dims logical = logicalInfo.dims;
  if (!isStaticShape(logical)) return false;
  std::vector<size_t> chain;
  for (int32_t t = out; chain.size() < 4;) {
    if (isGraphOutput[static_cast<size_t>(t)] || readers[static_cast<size_t>(t)].size() != 1) break;
    const auto r = static_cast<size_t>(readers[static_cast<size_t>(t)][0]);
    const LayerInfo& next = graph.layers[r];
    if (&next == &attention || !isStaticShuffle(next)) break;
    const TensorInfo& o = graph.tensors[static_cast<size_t>(next.outputs[0])];
    if (!isStaticShape(o.dims) || o.isShapeTensor || o.type != logicalInfo.type) break;
    chain.push_back(r);
    t = next.outputs[0];
  }
  for (size_t length = chain.size(); length > 0; --length) {
    const Dims physical = graph.tensors[static_cast<size_t>(graph.layers[chain[length - 1]].outputs[0])].dims;
    View v = contiguous(physical);
    bool ok = true;
    for (size_t i = length; i-- > 0 && ok;) {
      View in;
      ok = undoShuffle(graph, graph.layers[chain[i]], v, in);
      v = std::move(in);
    }
    AttentionOperand written;
    if (!ok || !hasDims(v, logical) || !toOperand(v, written)) continue;
    written.offset = 0;
    Attributes attrs = attention.params.attrs;
    setAttentionOutputView(attrs, written, physical);
    if (!attentionOutputOperand(attrs, logical).isOk()) continue;
    attention.params.attrs = std::move(attrs);
    attention.outputs[0] = graph.layers[chain[length - 1]].outputs[0];
    for (size_t i = 0; i < length; ++i) {
      graph.layers[chain[i]].outputs.clear();  // dead now: the elimination below drops them
      graph.layers[chain[i]].inputs.clear();
    }
    return true;
  }
  return false;
}

}  // namespace

int32_t absorbAttentionViews(Graph& graph) {
  Context ctx{graph, graph.producers(), constantHostValues(graph)};
  std::vector<std::vector<int32_t>> readers(graph.tensors.size());
  for (size_t l = 0; l < graph.layers.size(); ++l) {
    for (int32_t t : graph.layers[l].inputs) {
      if (t >= 0) readers[static_cast<size_t>(t)].push_back(static_cast<int32_t>(l));
    }
  }
  std::vector<bool> isGraphOutput(graph.tensors.size(), false);
  for (int32_t t : graph.outputs) isGraphOutput[static_cast<size_t>(t)] = true;

  bool changed = false;
  for (LayerInfo& layer : graph.layers) {
    if (layer.params.type != LayerType::kATTENTION || layer.inputs.size() < 3) continue;
    for (int32_t i = 0; i < 3; ++i) changed = absorbInput(ctx, layer, i) || changed;
    changed = absorbOutput(graph, readers, isGraphOutput, layer) || changed;
  }
  return changed ? eliminateDeadLayers(graph) : 0;
}

bool attentionViewsEnabled() { return !envSwitchedOff("KILN_ATTENTION_VIEWS"); }

}  // namespace kiln
