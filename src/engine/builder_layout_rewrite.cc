// Layout choice, the editing half: NHWC twins of region tensors, edge transposes, permuted constants,
// remapped axis attributes, and pure-transpose shuffles composed with the layout change.
#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "engine/builder_layout_internal.h"
#include "engine/builder_passes.h"
#include "engine/layers/shape_utils.h"

namespace kiln {
namespace layout {
namespace {

std::vector<int64_t> shufflePermutation(const int32_t* order4) {
  std::vector<int64_t> v(Dims::kMAX_DIMS);
  for (int32_t i = 0; i < Dims::kMAX_DIMS; ++i) v[static_cast<size_t>(i)] = i < 4 ? order4[i] : i;
  return v;
}

LayerInfo makeTranspose(const std::string& name, int32_t input, int32_t output, const int32_t (&perm)[4]) {
  LayerInfo shuffle;
  shuffle.params.type = LayerType::kSHUFFLE;
  shuffle.params.name = name;
  shuffle.params.attrs.setInts("first_transpose", shufflePermutation(perm));
  shuffle.params.attrs.setInts("second_transpose", shufflePermutation(kIdentity));
  shuffle.params.attrs.setInt("has_reshape", 0);
  shuffle.params.attrs.setInt("zero_is_placeholder", 1);
  shuffle.inputs = {input};
  shuffle.outputs = {output};
  return shuffle;
}

// The constant's data as a rank-4 NHWC tensor ([C,1,1] broadcasts as [1,C,1,1], so it becomes [1,1,1,C]).
LayerInfo permutedConstant(const Analysis& a, int32_t t, const WeightsBlob& w, int32_t output) {
  const Dims& d = a.tensor(t).dims;
  Dims nchw = makeDims(4, 1);
  for (int32_t i = 0; i < d.nbDims; ++i) nchw.d[4 - d.nbDims + i] = d.d[i];
  const Dims nhwc = permuted(nchw, kToNhwc);
  const auto size = static_cast<size_t>(dataTypeSize(w.type));
  auto bytes = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(w.byteSize()));
  const auto* src = static_cast<const uint8_t*>(w.data());
  const int64_t C = nchw.d[1], H = nchw.d[2], W = nchw.d[3];
  int64_t dst = 0;
  for (int64_t n = 0; n < nchw.d[0]; ++n) {
    for (int64_t h = 0; h < H; ++h) {
      for (int64_t x = 0; x < W; ++x) {
        for (int64_t c = 0; c < C; ++c, ++dst) {
          const int64_t from = ((n * C + c) * H + h) * W + x;
          std::memcpy(bytes->data() + static_cast<size_t>(dst) * size, src + static_cast<size_t>(from) * size, size);
        }
      }
    }
  }
  WeightsBlob blob = w;
  blob.bytes = std::move(bytes);
  LayerInfo constant;
  constant.params.type = LayerType::kCONSTANT;
  constant.params.name = a.tensor(t).name + "_nhwc";
  constant.params.attrs.setDims("dims", nhwc);
  constant.params.attrs.setWeights("weights", std::move(blob));
  constant.outputs = {output};
  return constant;
}

// Axis attributes of a member, rewritten for NHWC dims.
void remapAxes(LayerInfo& layer) {
  Attributes& attrs = layer.params.attrs;
  switch (layer.params.type) {
    case LayerType::kCONVOLUTION:
    case LayerType::kPOOLING:
      attrs.setInt("channels_last", 1);
      break;
    case LayerType::kCONCATENATION: {
      int64_t axis = attrs.has("axis") ? attrs.getInt("axis") : 1;  // rank 4: the channel dim by default
      if (axis < 0) axis += 4;
      if (axis >= 0 && axis < 4) attrs.setInt("axis", kToNchw[axis]);
      break;
    }
    case LayerType::kSOFTMAX: {
      const auto mask = attrs.has("axes") ? static_cast<uint32_t>(attrs.getInt("axes")) : 1u << 3;
      attrs.setInt("axes", remapMask(mask));
      break;
    }
    case LayerType::kREDUCE:
    case LayerType::kNORMALIZATION:
      attrs.setInt("axes", remapMask(static_cast<uint32_t>(attrs.getInt("axes", 0))));
      break;
    default:
      break;
  }
}

struct Rewriter {
  Rewriter(Graph& graph, const Analysis& analysis, const std::vector<LayerPlan>& layerPlans,
           const std::vector<bool>& isConverted)
      : g(graph), a(analysis), plans(layerPlans), converted(isConverted) {}

  Graph& g;
  const Analysis& a;
  const std::vector<LayerPlan>& plans;
  const std::vector<bool>& converted;
  std::vector<bool> adapterOutNhwc;  // per layer
  std::vector<int32_t> nhwc;         // per original tensor: its NHWC twin, or -1
  std::vector<LayerInfo> result;
  std::set<int32_t> identityShuffles;  // output tensors of adapters that became identities
  LayoutChoice choice;

  // A new tensor holding `like` in NHWC order.
  int32_t addTwin(int32_t like) {
    TensorInfo info = g.tensors[static_cast<size_t>(like)];
    info.name += "_nhwc";
    info.dims = permuted(info.dims, kToNhwc);
    g.tensors.push_back(std::move(info));
    return static_cast<int32_t>(g.tensors.size() - 1);
  }

  // The NHWC twin of t for a converted reader: a permuted constant or an entering transpose, made once.
  int32_t nhwcOf(int32_t t) {
    if (nhwc[static_cast<size_t>(t)] >= 0) return nhwc[static_cast<size_t>(t)];
    const int32_t twin = addTwin(t);
    if (const WeightsBlob* w = a.constantOf(t)) {
      result.push_back(permutedConstant(a, t, *w, twin));
      g.tensors[static_cast<size_t>(twin)].dims = result.back().params.attrs.getDims("dims");
    } else {
      result.push_back(makeTranspose(g.tensors[static_cast<size_t>(t)].name + "_to_nhwc", t, twin, kToNhwc));
      ++choice.transposesInserted;
    }
    nhwc[static_cast<size_t>(t)] = twin;
    return twin;
  }

  bool needsNchw(int32_t t) const {
    if (a.isOutput[static_cast<size_t>(t)]) return true;
    for (int32_t r : a.readers[static_cast<size_t>(t)]) {
      const auto ur = static_cast<size_t>(r);
      if (plans[ur].role == Role::kADAPTER) continue;
      if (!converted[ur] || !readsOnlyAsPort(plans[ur], g.layers[ur], t)) return true;
    }
    return false;
  }

  void member(LayerInfo layer) {
    const LayerPlan& plan = plans[current];
    for (size_t slot : plan.ports) layer.inputs[slot] = nhwcOf(layer.inputs[slot]);
    remapAxes(layer);
    ++choice.layersConverted;
    const int32_t out = layer.outputs[0];
    if (!plan.outputNhwc) {
      result.push_back(std::move(layer));
      return;
    }
    const int32_t twin = addTwin(out);
    nhwc[static_cast<size_t>(out)] = twin;
    layer.outputs[0] = twin;
    const std::string name = layer.params.name;
    result.push_back(std::move(layer));
    if (needsNchw(out)) {
      result.push_back(makeTranspose(name + "_to_nchw", twin, out, kToNchw));
      ++choice.transposesInserted;
    }
  }

  void adapter(LayerInfo layer) {
    const LayerPlan& plan = plans[current];
    const int32_t in = layer.inputs[0];
    const bool inNhwc = nhwc[static_cast<size_t>(in)] >= 0;
    const bool outNhwc = adapterOutNhwc[current];
    if (!inNhwc && !outNhwc) {
      result.push_back(std::move(layer));
      return;
    }
    // Compose: reading NHWC data X' (X = X' through kToNchw) and/or writing NHWC output (Y' = Y through kToNhwc).
    int32_t order[4];
    for (int32_t i = 0; i < 4; ++i) order[i] = inNhwc ? kToNchw[plan.adapterOrder[i]] : plan.adapterOrder[i];
    if (outNhwc) {
      int32_t composed[4];
      for (int32_t i = 0; i < 4; ++i) composed[i] = order[kToNhwc[i]];
      std::copy(composed, composed + 4, order);
    }
    if (inNhwc) layer.inputs[0] = nhwc[static_cast<size_t>(in)];
    if (outNhwc) {
      const int32_t out = layer.outputs[0];
      nhwc[static_cast<size_t>(out)] = addTwin(out);
      layer.outputs[0] = nhwc[static_cast<size_t>(out)];
    }
    layer.params.attrs.setInts("first_transpose", shufflePermutation(order));
    layer.params.attrs.setInts("second_transpose", shufflePermutation(kIdentity));
    if (std::equal(order, order + 4, kIdentity)) identityShuffles.insert(layer.outputs[0]);
    result.push_back(std::move(layer));
  }

  size_t current = 0;
};

// Drops adapters that composed to the identity, reading their input in place of their output.
void dropIdentityShuffles(Graph& g, const std::set<int32_t>& identities, const std::vector<bool>& isOutput) {
  std::vector<int32_t> replace(g.tensors.size(), -1);
  std::vector<LayerInfo> kept;
  for (LayerInfo& layer : g.layers) {
    for (int32_t& t : layer.inputs) {
      if (t >= 0 && replace[static_cast<size_t>(t)] >= 0) t = replace[static_cast<size_t>(t)];
    }
    const int32_t out = layer.outputs.empty() ? -1 : layer.outputs[0];
    const bool original = out >= 0 && static_cast<size_t>(out) < isOutput.size();
    if (layer.params.type == LayerType::kSHUFFLE && identities.count(out) &&
        !(original && isOutput[static_cast<size_t>(out)])) {
      replace[static_cast<size_t>(out)] = layer.inputs[0];
      continue;
    }
    kept.push_back(std::move(layer));
  }
  g.layers = std::move(kept);
}

}  // namespace

bool readsOnlyAsPort(const LayerPlan& plan, const LayerInfo& layer, int32_t t) {
  bool reads = false;
  for (size_t slot = 0; slot < layer.inputs.size(); ++slot) {
    if (layer.inputs[slot] != t) continue;
    if (std::find(plan.ports.begin(), plan.ports.end(), slot) == plan.ports.end()) return false;
    reads = true;
  }
  return reads;
}

LayoutChoice rewriteRegions(Graph& graph, const Analysis& a, const std::vector<LayerPlan>& plans,
                            const std::vector<bool>& converted, const std::vector<bool>& adapterOutNhwc) {
  const size_t nbLayers = graph.layers.size();
  Rewriter rw(graph, a, plans, converted);
  rw.adapterOutNhwc = adapterOutNhwc;
  rw.nhwc.assign(graph.tensors.size(), -1);
  const std::vector<bool> originalOutputs = a.isOutput;
  for (size_t l = 0; l < nbLayers; ++l) {
    rw.current = l;
    if (converted[l]) {
      rw.member(graph.layers[l]);
    } else if (plans[l].role == Role::kADAPTER) {
      rw.adapter(graph.layers[l]);
    } else {
      rw.result.push_back(graph.layers[l]);
    }
  }
  graph.layers = std::move(rw.result);
  dropIdentityShuffles(graph, rw.identityShuffles, originalOutputs);
  eliminateDeadLayers(graph);  // constants whose only readers now take a permuted copy
  return rw.choice;
}

}  // namespace layout
}  // namespace kiln
