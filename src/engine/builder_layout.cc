// Layout choice, the analysis half: which layers can run on NHWC data, how they group into regions around
// convolutions, and which regions pay for their edge transposes. builder_layout_rewrite.cc edits the graph.
#include "engine/builder_layout.h"

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "engine/builder_layout_internal.h"

namespace kiln {
namespace layout {
namespace {

// An operand broadcast against a converted rank-4 output: a port (rank-4 data or a permutable constant),
// left alone (a known single element), or a reason to leave the layer out (false).
bool addOperand(const Analysis& a, const LayerInfo& layer, size_t slot, LayerPlan& plan) {
  const int32_t t = layer.inputs[slot];
  if (t < 0) return true;
  if (a.constantOf(t) != nullptr || a.isData4(t)) {
    plan.ports.push_back(slot);
    return true;
  }
  return volume(a.tensor(t).dims) == 1;
}

bool readPermutation4(const Attributes& attrs, const char* key, int32_t (&out)[4]) {
  for (int32_t i = 0; i < 4; ++i) out[i] = i;
  if (!attrs.has(key)) return true;
  const std::vector<int64_t> v = attrs.getInts(key);
  if (v.size() < 4) return false;
  bool seen[4] = {false, false, false, false};
  for (int32_t i = 0; i < 4; ++i) {
    if (v[static_cast<size_t>(i)] < 0 || v[static_cast<size_t>(i)] > 3 || seen[v[static_cast<size_t>(i)]]) return false;
    seen[v[static_cast<size_t>(i)]] = true;
    out[i] = static_cast<int32_t>(v[static_cast<size_t>(i)]);
  }
  return true;
}

LayerPlan planLayer(const Analysis& a, const LayerInfo& layer, bool float32Seeds) {
  LayerPlan plan;
  if (layer.inputs.empty() || layer.outputs.size() != 1) return plan;
  const int32_t out = layer.outputs[0];
  const Attributes& attrs = layer.params.attrs;
  // Elementwise may broadcast a lower-rank operand in slot 0; every other kind reads rank-4 data there.
  const bool in4 = a.isData4(layer.inputs[0]) || layer.params.type == LayerType::kELEMENTWISE;
  const bool out4 = in4 && a.isData4(out);
  plan.outputNhwc = out4;
  plan.ports = {0};
  bool ok = false;
  switch (layer.params.type) {
    case LayerType::kCONVOLUTION: {
      const DataType type = a.tensor(layer.inputs[0]).type;
      const bool seedType =
          type == DataType::kHALF || type == DataType::kBF16 || (float32Seeds && type == DataType::kFLOAT);
      ok = out4 && seedType && attrs.getDims("kernel_size").nbDims == 2 && attrs.getInt("channels_last", 0) == 0;
      if (attrs.getInt("fused_residual", 0) == 1) {
        ok = ok && layer.inputs.size() > 3 && a.isData4(layer.inputs[3]);
        plan.ports.push_back(3);
      }
      plan.seed = ok;
      break;
    }
    case LayerType::kPOOLING:
      ok = out4 && attrs.getDims("window_size").nbDims == 2 && attrs.getInt("channels_last", 0) == 0;
      break;
    case LayerType::kACTIVATION:
    case LayerType::kUNARY:
    case LayerType::kCAST:
    case LayerType::kIDENTITY:
    case LayerType::kSOFTMAX:
      ok = out4 && layer.inputs.size() == 1;
      break;
    case LayerType::kELEMENTWISE:
      plan.ports.clear();
      ok = out4 && layer.inputs.size() == 2 && addOperand(a, layer, 0, plan) && addOperand(a, layer, 1, plan);
      break;
    case LayerType::kNORMALIZATION:
      ok = out4 && layer.inputs.size() == 3 && attrs.getInt("nb_groups", 1) == 1 && addOperand(a, layer, 1, plan) &&
           addOperand(a, layer, 2, plan);
      break;
    case LayerType::kCONCATENATION:
      ok = out4;
      for (size_t i = 1; i < layer.inputs.size(); ++i) {
        ok = ok && (a.isData4(layer.inputs[i]) || (layer.inputs[i] >= 0 && a.constantOf(layer.inputs[i])));
        plan.ports.push_back(i);
      }
      break;
    case LayerType::kREDUCE: {
      if (layer.inputs.size() != 1 || !in4) break;
      if (attrs.getInt("keep_dims", 0) == 1) {
        ok = out4;
        break;
      }
      // Without keepDims the kept dims come out in storage order: fine when NHWC keeps their NCHW order
      // ([N,C] after reducing H and W), and then the output needs no layout at all.
      const auto mask = static_cast<uint32_t>(attrs.getInt("axes", 0));
      int32_t last = -1;
      ok = true;
      for (int32_t j = 0; j < 4; ++j) {
        if ((remapMask(mask) >> j) & 1u) continue;
        ok = ok && kToNhwc[j] > last;
        last = kToNhwc[j];
      }
      plan.outputNhwc = false;
      break;
    }
    case LayerType::kSHUFFLE: {
      int32_t first[4], second[4];
      const bool pure = (layer.inputs.size() == 1 || layer.inputs[1] < 0) && attrs.getInt("has_reshape", 0) == 0;
      if (pure && out4 && layer.inputs[0] >= 0 && readPermutation4(attrs, "first_transpose", first) &&
          readPermutation4(attrs, "second_transpose", second)) {
        plan.role = Role::kADAPTER;
        for (int32_t i = 0; i < 4; ++i) plan.adapterOrder[i] = first[second[i]];
      }
      return plan;
    }
    default:
      break;
  }
  if (ok) plan.role = Role::kMEMBER;
  return plan;
}

int32_t findRoot(std::vector<int32_t>& parent, int32_t x) {
  while (parent[static_cast<size_t>(x)] != x) {
    parent[static_cast<size_t>(x)] = parent[static_cast<size_t>(parent[static_cast<size_t>(x)])];
    x = parent[static_cast<size_t>(x)];
  }
  return x;
}

// Asks the backend about every candidate convolution and pooling at once, in one copy of the graph where all
// of them are converted (their ports are NHWC in any region they could join, so the dims agree).
void dropUnsupported(const Graph& graph, const ChannelsLastProbe& canRun, std::vector<LayerPlan>& plans) {
  Graph probe = graph;
  std::vector<bool> permutedTensor(graph.tensors.size(), false);
  auto toNhwc = [&](int32_t t) {
    if (t < 0 || permutedTensor[static_cast<size_t>(t)]) return;
    permutedTensor[static_cast<size_t>(t)] = true;
    probe.tensors[static_cast<size_t>(t)].dims = permuted(probe.tensors[static_cast<size_t>(t)].dims, kToNhwc);
  };
  std::vector<size_t> candidates;
  for (size_t l = 0; l < graph.layers.size(); ++l) {
    const LayerType type = graph.layers[l].params.type;
    if (plans[l].role != Role::kMEMBER || (type != LayerType::kCONVOLUTION && type != LayerType::kPOOLING)) continue;
    candidates.push_back(l);
    LayerInfo& layer = probe.layers[l];
    layer.params.attrs.setInt("channels_last", 1);
    for (size_t slot : plans[l].ports) toNhwc(layer.inputs[slot]);
    toNhwc(layer.outputs[0]);
  }
  for (size_t l : candidates) {
    if (!canRun(probe.layers[l], probe)) plans[l] = LayerPlan();
  }
}

}  // namespace
}  // namespace layout

LayoutChoice chooseChannelsLastLayout(Graph& graph, bool float32Seeds, const ChannelsLastProbe& canRun) {
  using namespace layout;
  const Analysis a(graph);
  const size_t nbLayers = graph.layers.size();
  std::vector<LayerPlan> plans(nbLayers);
  for (size_t l = 0; l < nbLayers; ++l) plans[l] = planLayer(a, graph.layers[l], float32Seeds);
  if (canRun) dropUnsupported(graph, canRun, plans);
  auto isMember = [&](int32_t l) { return l >= 0 && plans[static_cast<size_t>(l)].role == Role::kMEMBER; };
  auto readsAsPort = [&](int32_t r, int32_t t) {
    return isMember(r) && readsOnlyAsPort(plans[static_cast<size_t>(r)], graph.layers[static_cast<size_t>(r)], t);
  };

  // Regions: members joined by the NHWC tensors one writes and another reads as a port, and members reading
  // the same tensor as a port (they share its entering transpose: ConvNeXt's depthwise conv and residual add).
  std::vector<int32_t> parent(nbLayers);
  for (size_t l = 0; l < nbLayers; ++l) parent[l] = static_cast<int32_t>(l);
  auto join = [&](int32_t x, int32_t y) { parent[static_cast<size_t>(findRoot(parent, x))] = findRoot(parent, y); };
  for (size_t t = 0; t < graph.tensors.size(); ++t) {
    const auto ti = static_cast<int32_t>(t);
    if (a.constantOf(ti) != nullptr) continue;
    int32_t anchor = a.producer[t];
    if (!isMember(anchor) || !plans[static_cast<size_t>(anchor)].outputNhwc) anchor = -1;
    for (int32_t r : a.readers[t]) {
      if (!readsAsPort(r, ti)) continue;
      if (anchor >= 0) join(r, anchor);
      anchor = r;
    }
  }
  // A pure transpose whose every reader is a port of one region writes NHWC for free when that region converts.
  std::vector<int32_t> adapterRegion(nbLayers, -1);
  for (size_t l = 0; l < nbLayers; ++l) {
    if (plans[l].role != Role::kADAPTER) continue;
    const int32_t u = graph.layers[l].outputs[0];
    const auto& rs = a.readers[static_cast<size_t>(u)];
    if (a.isOutput[static_cast<size_t>(u)] || rs.empty()) continue;
    int32_t region = -2;
    for (int32_t r : rs) {
      const int32_t root = readsAsPort(r, u) ? findRoot(parent, r) : -1;
      region = region == -2 || region == root ? root : -1;
    }
    adapterRegion[l] = region;
  }

  // Each region's price: distinct tensors transposed on the way in or out; it pays with one per convolution.
  std::vector<int32_t> convs(nbLayers, 0);
  std::vector<std::set<int32_t>> edges(nbLayers);
  for (size_t l = 0; l < nbLayers; ++l) {
    if (!isMember(static_cast<int32_t>(l))) continue;
    const int32_t root = findRoot(parent, static_cast<int32_t>(l));
    if (plans[l].seed) ++convs[static_cast<size_t>(root)];
    for (size_t slot : plans[l].ports) {
      const int32_t t = graph.layers[l].inputs[slot];
      if (a.constantOf(t) != nullptr) continue;
      const int32_t p = a.producer[static_cast<size_t>(t)];
      if (isMember(p) && plans[static_cast<size_t>(p)].outputNhwc && findRoot(parent, p) == root) continue;
      if (p >= 0 && plans[static_cast<size_t>(p)].role == Role::kADAPTER &&
          adapterRegion[static_cast<size_t>(p)] == root) {
        continue;
      }
      edges[static_cast<size_t>(root)].insert(t);
    }
    if (!plans[l].outputNhwc) continue;
    const int32_t t = graph.layers[l].outputs[0];
    bool leaves = a.isOutput[static_cast<size_t>(t)];
    for (int32_t r : a.readers[static_cast<size_t>(t)]) {
      leaves = leaves || (plans[static_cast<size_t>(r)].role != Role::kADAPTER && !readsAsPort(r, t));
    }
    if (leaves) edges[static_cast<size_t>(root)].insert(t);
  }
  std::vector<bool> convertRegion(nbLayers, false), converted(nbLayers, false);
  bool any = false;
  for (size_t root = 0; root < nbLayers; ++root) {
    convertRegion[root] = convs[root] > 0 && static_cast<int32_t>(edges[root].size()) <= convs[root];
  }
  for (size_t l = 0; l < nbLayers; ++l) {
    converted[l] = isMember(static_cast<int32_t>(l)) &&
                   convertRegion[static_cast<size_t>(findRoot(parent, static_cast<int32_t>(l)))];
    any = any || converted[l];
  }
  if (!any) return {};

  std::vector<bool> adapterOutNhwc(nbLayers, false);
  for (size_t l = 0; l < nbLayers; ++l) {
    adapterOutNhwc[l] = adapterRegion[l] >= 0 && convertRegion[static_cast<size_t>(adapterRegion[l])];
  }
  return rewriteRegions(graph, a, plans, converted, adapterOutNhwc);
}

void chooseLayoutForBackend(Graph& graph, const Backend& backend, BuildReport& report) {
  const char* env = std::getenv("KILN_CHANNELS_LAST");
  const std::string mode = env != nullptr ? env : "";
  if (mode == "0" || (mode != "1" && backend.kind() != BackendKind::kCUDA)) return;
  const ChannelsLastProbe hasTactic = [&backend](const LayerInfo& layer, const Graph& g) {
    return !backend.tactics(layer, g).empty();
  };
  const LayoutChoice choice = chooseChannelsLastLayout(graph, /*float32Seeds=*/mode == "1", hasTactic);
  report.layersChannelsLast += choice.layersConverted;
  report.layoutTransposes += choice.transposesInserted;
}

}  // namespace kiln
