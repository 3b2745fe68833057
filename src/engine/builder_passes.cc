#include "engine/builder_passes.h"

#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <queue>
#include <set>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/layer_kinds.h"
#include "engine/shape_resolution.h"

namespace kiln {

bool envSwitchedOff(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::strcmp(value, "0") == 0;
}

int32_t eliminateDeadLayers(Graph& graph) {
  std::vector<bool> needed(graph.tensors.size(), false);
  for (int32_t t : graph.outputs) needed[static_cast<size_t>(t)] = true;
  std::vector<bool> keep(graph.layers.size(), false);
  for (size_t l = graph.layers.size(); l-- > 0;) {
    const LayerInfo& layer = graph.layers[l];
    bool used = false;
    for (int32_t t : layer.outputs) used = used || needed[static_cast<size_t>(t)];
    if (!used) continue;
    keep[l] = true;
    for (int32_t t : layer.inputs) {
      if (t >= 0) needed[static_cast<size_t>(t)] = true;
    }
  }
  std::vector<LayerInfo> kept;
  int32_t removed = 0;
  for (size_t l = 0; l < graph.layers.size(); ++l) {
    if (keep[l]) {
      kept.push_back(std::move(graph.layers[l]));
    } else {
      ++removed;
    }
  }
  graph.layers = std::move(kept);
  return removed;
}

StatusOr<int32_t> foldConstants(Graph& graph, int64_t maxElements) {
  std::vector<const WeightsBlob*> constant(graph.tensors.size(), nullptr);
  int32_t folded = 0;
  for (LayerInfo& layer : graph.layers) {
    const LayerKindInfo& info = layerKindInfo(layer.params.type);
    if (layer.params.type == LayerType::kCONSTANT) {
      constant[static_cast<size_t>(layer.outputs[0])] = layer.params.attrs.getWeights("weights");
      continue;
    }
    // A fill with no inputs (static dims, start and step as attributes: an arange) is a constant as well;
    // models build position ids and attention masks from them.
    const bool source = layer.inputs.empty() && layer.params.type == LayerType::kFILL;
    bool allConstant = (!layer.inputs.empty() || source) && !info.dataDependentOutput &&
                       layer.params.type != LayerType::kSHAPE;
    for (int32_t t : layer.inputs) allConstant = allConstant && (t < 0 || constant[static_cast<size_t>(t)] != nullptr);
    if (!allConstant || layer.outputs.size() != 1) continue;
    const TensorInfo& out = graph.tensors[static_cast<size_t>(layer.outputs[0])];
    const int64_t count = volume(out.dims);
    if (count < 0 || count > maxElements) continue;
    KernelIO io;
    for (int32_t t : layer.inputs) {
      TensorView view;
      if (t >= 0) {
        view.data = const_cast<void*>(constant[static_cast<size_t>(t)]->data());
        view.dims = graph.tensors[static_cast<size_t>(t)].dims;
        view.type = graph.tensors[static_cast<size_t>(t)].type;
      }
      io.inputs.push_back(view);
    }
    auto bytes = std::make_shared<std::vector<uint8_t>>(static_cast<size_t>(count * dataTypeSize(out.type)));
    io.outputs.push_back({bytes->data(), out.dims, out.type});
    Status status = runCpuLayer(layer.params, io);
    if (!status.isOk()) {
      return status.withContext("constant folding of " + std::string(layerTypeName(layer.params.type)) + " layer '" +
                                layer.params.name + "'");
    }
    WeightsBlob blob;
    blob.type = out.type;
    blob.count = count;
    blob.bytes = bytes;
    LayerInfo replacement;
    replacement.params.type = LayerType::kCONSTANT;
    replacement.params.name = layer.params.name;
    replacement.params.attrs.setDims("dims", out.dims);
    replacement.params.attrs.setWeights("weights", blob);
    replacement.outputs = layer.outputs;
    layer = std::move(replacement);
    constant[static_cast<size_t>(layer.outputs[0])] = layer.params.attrs.getWeights("weights");
    ++folded;
  }
  if (folded > 0) eliminateDeadLayers(graph);
  return folded;
}

namespace {

// Layer kinds whose float32 computation may move to a reduced precision.
bool supportsReducedPrecision(LayerType type) {
  switch (type) {
    case LayerType::kACTIVATION:
    case LayerType::kELEMENTWISE:
    case LayerType::kUNARY:
    case LayerType::kCONVOLUTION:
    case LayerType::kDECONVOLUTION:
    case LayerType::kPOOLING:
    case LayerType::kMATRIX_MULTIPLY:
    case LayerType::kSOFTMAX:
    case LayerType::kNORMALIZATION:
    case LayerType::kRESIZE:
    case LayerType::kATTENTION:
    case LayerType::kREDUCE: return true;
    case LayerType::kSHUFFLE:
    case LayerType::kSLICE:
    case LayerType::kCONCATENATION:
    case LayerType::kGATHER:
    case LayerType::kSELECT:
    case LayerType::kCONSTANT:
    case LayerType::kCAST:
    case LayerType::kIDENTITY:
    case LayerType::kTOPK:
    case LayerType::kSCATTER:
    case LayerType::kPADDING:
    case LayerType::kSHAPE:
    case LayerType::kFILL:
    case LayerType::kCUMULATIVE:
    case LayerType::kNON_ZERO:
    case LayerType::kONE_HOT:
    case LayerType::kPOINTWISE: return false;
  }
  return false;
}

int32_t addTensor(Graph& graph, const TensorInfo& like, DataType type, const std::string& suffix) {
  TensorInfo t = like;
  t.type = type;
  t.name += suffix;
  t.isShapeTensor = false;
  graph.tensors.push_back(std::move(t));
  return static_cast<int32_t>(graph.tensors.size() - 1);
}

LayerInfo makeCast(const std::string& name, int32_t input, int32_t output, DataType to) {
  LayerInfo cast;
  cast.params.type = LayerType::kCAST;
  cast.params.name = name;
  cast.params.attrs.setInt("to_type", static_cast<int64_t>(to));
  cast.inputs = {input};
  cast.outputs = {output};
  return cast;
}

}  // namespace

Status assignPrecisions(Graph& graph, const BuilderConfig& config, bool backendPrefersReducedPrecision) {
  const bool fp16 = config.getFlag(BuilderFlag::kFP16);
  const bool bf16 = config.getFlag(BuilderFlag::kBF16);
  const bool obey = config.getFlag(BuilderFlag::kOBEY_PRECISION_CONSTRAINTS);
  std::vector<LayerInfo> result;
  for (LayerInfo& layer : graph.layers) {
    DataType target = DataType::kFLOAT;
    if (layer.hasPrecision && (obey || (layer.precision == DataType::kHALF && fp16) ||
                               (layer.precision == DataType::kBF16 && bf16))) {
      target = layer.precision;
    } else if (!layer.hasPrecision && backendPrefersReducedPrecision && (fp16 || bf16)) {
      target = fp16 ? DataType::kHALF : DataType::kBF16;
    }
    bool eligible = target != DataType::kFLOAT && supportsReducedPrecision(layer.params.type) &&
                    (target == DataType::kHALF || target == DataType::kBF16);
    for (int32_t t : layer.inputs) eligible = eligible && (t < 0 || graph.tensors[static_cast<size_t>(t)].type == DataType::kFLOAT);
    for (int32_t t : layer.outputs) eligible = eligible && graph.tensors[static_cast<size_t>(t)].type == DataType::kFLOAT;
    if (layer.hasPrecision && obey && layer.precision != DataType::kFLOAT && !eligible) {
      return invalidArgument("layer '" + layer.params.name + "' cannot run in " + dataTypeName(layer.precision) +
                             " (kOBEY_PRECISION_CONSTRAINTS is set); only float32 math layers can change precision");
    }
    if (!eligible) {
      result.push_back(std::move(layer));
      continue;
    }
    for (int32_t& t : layer.inputs) {
      if (t < 0) continue;
      const TensorInfo like = graph.tensors[static_cast<size_t>(t)];
      const int32_t cast = addTensor(graph, like, target, "_to_" + std::string(dataTypeName(target)));
      result.push_back(makeCast(layer.params.name + "_input_cast", t, cast, target));
      t = cast;
    }
    std::vector<LayerInfo> after;
    for (int32_t& t : layer.outputs) {
      const TensorInfo like = graph.tensors[static_cast<size_t>(t)];
      const int32_t reduced = addTensor(graph, like, target, "_" + std::string(dataTypeName(target)));
      after.push_back(makeCast(layer.params.name + "_output_cast", reduced, t, DataType::kFLOAT));
      t = reduced;
    }
    result.push_back(std::move(layer));
    for (LayerInfo& c : after) result.push_back(std::move(c));
  }
  graph.layers = std::move(result);
  return Status::ok();
}

int32_t removeRedundantCasts(Graph& graph) {
  const std::vector<int32_t> producer = graph.producers();
  std::set<int32_t> outputs(graph.outputs.begin(), graph.outputs.end());
  std::map<int32_t, int32_t> replace;  // tensor -> equivalent earlier tensor
  int32_t removed = 0;
  auto exactWidening = [](DataType from, DataType to) {
    return (from == DataType::kHALF || from == DataType::kBF16) && to == DataType::kFLOAT;
  };
  for (LayerInfo& layer : graph.layers) {
    for (int32_t& t : layer.inputs) {
      auto it = replace.find(t);
      if (it != replace.end()) t = it->second;
    }
    if (layer.params.type != LayerType::kCAST || outputs.count(layer.outputs[0])) continue;
    const int32_t in = layer.inputs[0];
    const DataType inType = graph.tensors[static_cast<size_t>(in)].type;
    const DataType outType = graph.tensors[static_cast<size_t>(layer.outputs[0])].type;
    if (inType == outType) {
      replace[layer.outputs[0]] = in;
      ++removed;
      continue;
    }
    const int32_t p = producer[static_cast<size_t>(in)];
    if (p < 0) continue;
    const LayerInfo& prev = graph.layers[static_cast<size_t>(p)];
    if (prev.params.type != LayerType::kCAST) continue;
    const int32_t origin = prev.inputs[0];
    if (graph.tensors[static_cast<size_t>(origin)].type == outType && exactWidening(outType, inType)) {
      replace[layer.outputs[0]] = origin;
      ++removed;
    }
  }
  if (removed > 0) eliminateDeadLayers(graph);
  return removed;
}

void markHostEvaluatedLayers(Graph& graph) {
  for (LayerInfo& layer : graph.layers) {
    const LayerKindInfo& info = layerKindInfo(layer.params.type);
    bool allShape = info.hostEvaluable && layer.params.type != LayerType::kCONSTANT;
    for (int32_t t : layer.outputs) allShape = allShape && graph.tensors[static_cast<size_t>(t)].isShapeTensor;
    layer.hostEvaluated = allShape;
  }
}

void sortLayersTopologically(Graph& graph) {
  const size_t n = graph.layers.size();
  const std::vector<int32_t> producer = graph.producers();
  std::vector<std::vector<size_t>> dependents(n);
  std::vector<int32_t> waiting(n, 0);
  for (size_t l = 0; l < n; ++l) {
    for (int32_t t : graph.layers[l].inputs) {
      if (t < 0 || producer[static_cast<size_t>(t)] < 0) continue;
      dependents[static_cast<size_t>(producer[static_cast<size_t>(t)])].push_back(l);
      ++waiting[l];
    }
  }
  // Kahn's algorithm, always taking the earliest ready layer: an ordered graph comes out unchanged.
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t l = 0; l < n; ++l) {
    if (waiting[l] == 0) ready.push(l);
  }
  std::vector<size_t> order;
  order.reserve(n);
  while (!ready.empty()) {
    const size_t l = ready.top();
    ready.pop();
    order.push_back(l);
    for (size_t d : dependents[l]) {
      if (--waiting[d] == 0) ready.push(d);
    }
  }
  if (order.size() != n) return;  // a cycle: left for the plan's validation to report
  std::vector<LayerInfo> sorted;
  sorted.reserve(n);
  for (size_t l : order) sorted.push_back(std::move(graph.layers[l]));
  graph.layers = std::move(sorted);
}

void compactTensors(Graph& graph) {
  std::vector<int32_t> remap(graph.tensors.size(), -1);
  std::vector<TensorInfo> kept;
  auto use = [&](int32_t& t) {
    if (t < 0) return;
    if (remap[static_cast<size_t>(t)] < 0) {
      remap[static_cast<size_t>(t)] = static_cast<int32_t>(kept.size());
      kept.push_back(graph.tensors[static_cast<size_t>(t)]);
    }
    t = remap[static_cast<size_t>(t)];
  };
  for (int32_t& t : graph.inputs) use(t);
  for (LayerInfo& layer : graph.layers) {
    for (int32_t& t : layer.inputs) use(t);
    for (int32_t& t : layer.outputs) use(t);
  }
  for (int32_t& t : graph.outputs) use(t);
  graph.tensors = std::move(kept);
}

}  // namespace kiln
