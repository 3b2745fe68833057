#include "engine/shape_resolution.h"

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/layer_kinds.h"

namespace kiln {

std::vector<std::shared_ptr<const HostTensor>> constantHostValues(const Graph& graph) {
  std::vector<std::shared_ptr<const HostTensor>> values(graph.tensors.size());
  for (const LayerInfo& layer : graph.layers) {
    if (layer.params.type != LayerType::kCONSTANT || layer.outputs.size() != 1) continue;
    const int32_t t = layer.outputs[0];
    if (t < 0 || static_cast<size_t>(t) >= graph.tensors.size()) continue;
    const WeightsBlob* weights = layer.params.attrs.getWeights("weights");
    const Dims dims = layer.params.attrs.getDims("dims");
    const int64_t count = dims.nbDims >= 0 ? volume(dims) : -1;
    if (weights == nullptr || count < 0 || count > kMAX_HOST_ELEMENTS || weights->count != count ||
        !isValidDataType(static_cast<int32_t>(weights->type)) ||
        weights->byteSize() != count * dataTypeSize(weights->type)) {
      continue;
    }
    auto value = std::make_shared<HostTensor>(weights->type, dims);
    std::copy(weights->bytes->begin(), weights->bytes->end(), value->bytes.begin());
    values[static_cast<size_t>(t)] = std::move(value);
  }
  return values;
}

bool hostInputsReady(const Graph& graph, const LayerInfo& layer, const ShapeState& state) {
  for (int32_t t : layer.inputs) {
    if (t < 0) continue;
    if (hasDynamicExtent(state.dims[static_cast<size_t>(t)])) return false;
    if (layer.params.type != LayerType::kSHAPE && state.values[static_cast<size_t>(t)] == nullptr) return false;
  }
  return true;
}

Status evaluateHostLayer(const Graph& graph, size_t layerIndex, ShapeState& state) {
  const LayerInfo& layer = graph.layers[layerIndex];
  KernelIO io;
  for (int32_t t : layer.inputs) {
    TensorView view;
    if (t >= 0) {
      const auto& value = state.values[static_cast<size_t>(t)];
      if (value == nullptr && layer.params.type != LayerType::kSHAPE) {
        return invalidArgument("input '" + graph.tensors[static_cast<size_t>(t)].name +
                               "' of a shape computation is not known on the host");
      }
      view.dims = state.dims[static_cast<size_t>(t)];
      view.type = state.types[static_cast<size_t>(t)];
      view.data = value ? const_cast<void*>(value->data()) : nullptr;
    }
    io.inputs.push_back(view);
  }
  std::vector<std::shared_ptr<HostTensor>> results;
  for (int32_t t : layer.outputs) {
    const Dims& dims = state.dims[static_cast<size_t>(t)];
    const int64_t count = volume(dims);
    if (count < 0 || count > kMAX_HOST_ELEMENTS) {
      return invalidArgument("shape tensor '" + graph.tensors[static_cast<size_t>(t)].name + "' of shape " +
                             dimsToString(dims) + " is too large for host evaluation");
    }
    results.push_back(std::make_shared<HostTensor>(state.types[static_cast<size_t>(t)], dims));
    io.outputs.push_back({results.back()->data(), dims, results.back()->type});
  }
  Status status = runCpuLayer(layer.params, io);
  if (!status.isOk()) {
    return status.withContext(std::string(layerTypeName(layer.params.type)) + " layer '" + layer.params.name + "'");
  }
  for (size_t i = 0; i < layer.outputs.size(); ++i) state.values[static_cast<size_t>(layer.outputs[i])] = results[i];
  return Status::ok();
}

Status inferLayerInState(const Graph& graph, size_t layerIndex, ShapeState& state) {
  const LayerInfo& layer = graph.layers[layerIndex];
  std::vector<ShapeInput> inputs(layer.inputs.size());
  for (size_t i = 0; i < layer.inputs.size(); ++i) {
    const int32_t t = layer.inputs[i];
    if (t < 0) continue;
    inputs[i] = {true, state.dims[static_cast<size_t>(t)], state.types[static_cast<size_t>(t)],
                 state.values[static_cast<size_t>(t)].get()};
  }
  std::vector<ShapeOutput> outputs;
  KILN_RETURN_IF_ERROR(inferLayerShapes(layer.params, inputs, outputs));
  if (outputs.size() != layer.outputs.size()) {
    return invalidArgument(std::string(layerTypeName(layer.params.type)) + " layer '" + layer.params.name + "' has " +
                           std::to_string(layer.outputs.size()) + " outputs, expected " +
                           std::to_string(outputs.size()));
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    const auto t = static_cast<size_t>(layer.outputs[i]);
    if (outputs[i].type != graph.tensors[t].type) {
      return invalidArgument("layer '" + layer.params.name + "' produces " + dataTypeName(outputs[i].type) +
                             " but tensor '" + graph.tensors[t].name + "' is declared " +
                             dataTypeName(graph.tensors[t].type));
    }
    state.dims[t] = outputs[i].dims;
    state.types[t] = outputs[i].type;
  }
  return Status::ok();
}

Status resolveShapes(const Graph& graph, const std::vector<Dims>& inputDims,
                     const std::vector<std::shared_ptr<const HostTensor>>& constants, ShapeState& state) {
  const size_t nbTensors = graph.tensors.size();
  state.dims.assign(nbTensors, Dims{});
  state.types.assign(nbTensors, DataType::kFLOAT);
  state.values = constants;
  state.values.resize(nbTensors);
  if (inputDims.size() != graph.inputs.size()) return internalError("input shape count mismatch");
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    const auto t = static_cast<size_t>(graph.inputs[i]);
    state.dims[t] = inputDims[i];
    state.types[t] = graph.tensors[t].type;
  }
  for (size_t l = 0; l < graph.layers.size(); ++l) {
    KILN_RETURN_IF_ERROR(inferLayerInState(graph, l, state));
    const LayerInfo& layer = graph.layers[l];
    // Downstream of a data-dependent layer the inputs are known only during execution.
    if (layer.hostEvaluated && hostInputsReady(graph, layer, state)) {
      KILN_RETURN_IF_ERROR(evaluateHostLayer(graph, l, state));
    }
  }
  return Status::ok();
}

}  // namespace kiln
