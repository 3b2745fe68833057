// Runtime and Engine: plan -> validated graph -> kernels.
#include <cstring>

#include "engine/engine_impl.h"
#include "engine/layer_kinds.h"

namespace kiln {

const char* kilnVersion() { return "0.1.0"; }

Engine::Impl::~Impl() {
  for (void* p : ownedConstants) backend->deallocate(p);
}

int32_t Engine::Impl::findIO(const char* name) const {
  if (name == nullptr) return -1;
  for (size_t i = 0; i < ioTensors.size(); ++i) {
    if (plan.graph.tensors[static_cast<size_t>(ioTensors[i])].name == name) return static_cast<int32_t>(i);
  }
  return -1;
}

StatusOr<std::unique_ptr<Engine>> Runtime::deserializeEngine(const void* blob, size_t size) {
  StatusOr<PlanContents> parsed = deserializePlan(blob, size);
  if (!parsed.isOk()) return parsed.status();
  auto impl = std::make_unique<Engine::Impl>();
  impl->plan = std::move(parsed).value();
  const Graph& graph = impl->plan.graph;
  StatusOr<std::shared_ptr<Backend>> backend = getBackend(impl->plan.backend);
  if (!backend.isOk()) return backend.status().withContext("loading a plan built for " + impl->plan.deviceName);
  impl->backend = backend.value();
  if (impl->backend->deviceName() != impl->plan.deviceName) {
    return invalidPlan("the plan was built for device '" + impl->plan.deviceName + "' but this machine has '" +
                       impl->backend->deviceName() + "'; rebuild the plan here");
  }
  // The graph must infer at every profile corner with the shapes it declares; this also validates every
  // layer's parameters before any kernel sees them.
  impl->hostConstants = constantHostValues(graph);
  for (size_t p = 0; p < impl->plan.profiles.size(); ++p) {
    const ProfileShapes& profile = impl->plan.profiles[p];
    for (const std::vector<Dims>* dims : {&profile.min, &profile.opt, &profile.max}) {
      ShapeState state;
      Status status = resolveShapes(graph, *dims, impl->hostConstants, state);
      if (!status.isOk()) return invalidPlan("the plan's graph does not infer at profile " + std::to_string(p) + ": " +
                                             status.message());
      for (size_t t = 0; t < graph.tensors.size(); ++t) {
        if (state.types[t] != graph.tensors[t].type) return invalidPlan("tensor types do not match the graph");
      }
    }
  }
  impl->consumers.assign(graph.tensors.size(), 0);
  impl->constantData.assign(graph.tensors.size(), nullptr);
  impl->kernels.resize(graph.layers.size());
  for (size_t l = 0; l < graph.layers.size(); ++l) {
    const LayerInfo& layer = graph.layers[l];
    for (int32_t t : layer.inputs) {
      if (t >= 0) ++impl->consumers[static_cast<size_t>(t)];
    }
    if (layer.params.type == LayerType::kCONSTANT) {
      const WeightsBlob* weights = layer.params.attrs.getWeights("weights");
      const auto t = static_cast<size_t>(layer.outputs[0]);
      if (impl->backend->kind() == BackendKind::kCPU) {
        impl->constantData[t] = const_cast<void*>(weights->data());
      } else {
        KILN_ASSIGN_OR_RETURN(void* device, impl->backend->allocate(weights->byteSize()));
        impl->ownedConstants.push_back(device);
        KILN_RETURN_IF_ERROR(impl->backend->copyToDevice(device, weights->data(), weights->byteSize(), nullptr));
        KILN_RETURN_IF_ERROR(impl->backend->synchronize(nullptr));
        impl->constantData[t] = device;
      }
      continue;
    }
    if (layer.hostEvaluated) continue;
    bool created = false;
    for (const TacticCandidate& candidate : impl->backend->tactics(layer, graph)) {
      if (candidate.name != layer.kernel) continue;
      StatusOr<std::unique_ptr<Kernel>> kernel = candidate.create(layer, graph);
      if (!kernel.isOk()) return kernel.status().withContext("creating the kernel of layer '" + layer.params.name + "'");
      impl->kernels[l] = std::move(kernel).value();
      created = true;
      break;
    }
    if (!created) {
      return invalidPlan("layer '" + layer.params.name + "' uses kernel '" + layer.kernel + "', which this " +
                         backendKindName(impl->backend->kind()) + " backend does not have; rebuild the plan");
    }
  }
  for (int32_t t : graph.inputs) impl->ioTensors.push_back(t);
  for (int32_t t : graph.outputs) impl->ioTensors.push_back(t);
  return std::make_unique<Engine>(std::move(impl));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

int32_t Engine::getNbIOTensors() const { return static_cast<int32_t>(impl_->ioTensors.size()); }
const char* Engine::getIOTensorName(int32_t index) const {
  if (index < 0 || index >= getNbIOTensors()) return nullptr;
  return impl_->plan.graph.tensors[static_cast<size_t>(impl_->ioTensors[static_cast<size_t>(index)])].name.c_str();
}
TensorIOMode Engine::getTensorIOMode(const char* tensorName) const {
  const int32_t io = impl_->findIO(tensorName);
  if (io < 0) return TensorIOMode::kNONE;
  return impl_->isInput(io) ? TensorIOMode::kINPUT : TensorIOMode::kOUTPUT;
}
DataType Engine::getTensorDataType(const char* tensorName) const {
  const int32_t io = impl_->findIO(tensorName);
  if (io < 0) return DataType::kFLOAT;
  return impl_->plan.graph.tensors[static_cast<size_t>(impl_->ioTensors[static_cast<size_t>(io)])].type;
}
Dims Engine::getTensorShape(const char* tensorName) const {
  const int32_t io = impl_->findIO(tensorName);
  if (io < 0) {
    Dims none;
    none.nbDims = -1;
    return none;
  }
  return impl_->plan.graph.tensors[static_cast<size_t>(impl_->ioTensors[static_cast<size_t>(io)])].dims;
}
int32_t Engine::getNbOptimizationProfiles() const { return static_cast<int32_t>(impl_->plan.profiles.size()); }
Dims Engine::getProfileShape(const char* tensorName, int32_t profileIndex, OptProfileSelector select) const {
  Dims none;
  none.nbDims = -1;
  const int32_t io = impl_->findIO(tensorName);
  if (io < 0 || !impl_->isInput(io) || profileIndex < 0 || profileIndex >= getNbOptimizationProfiles()) return none;
  const ProfileShapes& p = impl_->plan.profiles[static_cast<size_t>(profileIndex)];
  switch (select) {
    case OptProfileSelector::kMIN: return p.min[static_cast<size_t>(io)];
    case OptProfileSelector::kOPT: return p.opt[static_cast<size_t>(io)];
    case OptProfileSelector::kMAX: return p.max[static_cast<size_t>(io)];
  }
  return none;
}
int32_t Engine::getNbLayers() const { return static_cast<int32_t>(impl_->plan.graph.layers.size()); }
BackendKind Engine::getBackend() const { return impl_->plan.backend; }
std::string Engine::getDeviceName() const { return impl_->plan.deviceName; }
int64_t Engine::getDeviceMemorySize(int32_t profileIndex) const {
  if (profileIndex < 0 || profileIndex >= getNbOptimizationProfiles()) return 0;
  return impl_->plan.memoryPlans[static_cast<size_t>(profileIndex)].arenaBytes;
}
std::unique_ptr<EngineInspector> Engine::createEngineInspector() const {
  return std::make_unique<EngineInspector>(*this);
}
std::vector<uint8_t> Engine::serialize() const { return serializePlan(impl_->plan); }

}  // namespace kiln
