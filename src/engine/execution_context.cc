// ExecutionContext: input shapes and bindings, shape resolution, memory, and the layer loop.
#include <cstring>

#include "engine/engine_impl.h"
#include "engine/layer_kinds.h"
#include "engine/memory_planner.h"

namespace kiln {
namespace {

// No tensor may exceed this; it guards against corrupt plans and runaway shape arithmetic.
constexpr int64_t kMAX_TENSOR_BYTES = int64_t{1} << 38;

StatusOr<int64_t> tensorBytes(const Dims& dims, DataType type, const std::string& name) {
  int64_t bytes = dataTypeSize(type);
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < 0) return internalError("tensor '" + name + "' has no concrete shape");
    if (dims.d[i] != 0 && bytes > kMAX_TENSOR_BYTES / dims.d[i]) {
      return resourceExhausted("tensor '" + name + "' of shape " + dimsToString(dims) + " is too large");
    }
    bytes *= dims.d[i];
  }
  return bytes;
}

}  // namespace

struct ExecutionContext::Impl {
  const Engine* engine = nullptr;
  const Engine::Impl* e = nullptr;
  int32_t profile = 0;
  std::vector<Dims> inputShapes;
  std::vector<bool> inputSet;
  std::vector<void*> addresses;          // per I/O tensor
  std::vector<IOutputAllocator*> allocators;
  bool dirty = true;
  Status resolveStatus;
  ShapeState resolved;
  void* arena = nullptr;
  int64_t arenaBytes = 0;
  void* workspace = nullptr;
  int64_t workspaceBytes = 0;
  std::vector<void*> dynamicBuffers;     // per tensor: memory outside the arena
  std::vector<int64_t> dynamicBytes;
  bool hasDataDependentLayers = false;

  ~Impl() {
    Backend& backend = *e->backend;
    backend.deallocate(arena);
    backend.deallocate(workspace);
    for (void* p : dynamicBuffers) backend.deallocate(p);
  }

  const Graph& graph() const { return e->plan.graph; }
  const std::string& nameOf(int32_t t) const { return graph().tensors[static_cast<size_t>(t)].name; }

  Status resolve() {
    if (!dirty) return resolveStatus;
    dirty = false;
    for (size_t i = 0; i < inputSet.size(); ++i) {
      if (!inputSet[i]) {
        resolveStatus = failedPrecondition("input '" + nameOf(graph().inputs[i]) + "' has dynamic dims " +
                                           dimsToString(graph().tensors[static_cast<size_t>(graph().inputs[i])].dims) +
                                           "; call setInputShape before running");
        return resolveStatus;
      }
    }
    resolveStatus = resolveShapes(graph(), inputShapes, e->hostConstants, resolved);
    return resolveStatus;
  }

  StatusOr<void*> dynamicMemory(int32_t t, int64_t bytes) {
    const auto ut = static_cast<size_t>(t);
    if (dynamicBytes[ut] < bytes) {
      e->backend->deallocate(dynamicBuffers[ut]);
      dynamicBuffers[ut] = nullptr;
      dynamicBytes[ut] = 0;
      KILN_ASSIGN_OR_RETURN(dynamicBuffers[ut], e->backend->allocate(bytes));
      dynamicBytes[ut] = bytes;
    }
    return dynamicBuffers[ut];
  }

  // Memory for a tensor a kernel writes, once its shape is known.
  StatusOr<void*> outputMemory(int32_t t, const Dims& dims, DataType type, int32_t ioIndex) {
    KILN_ASSIGN_OR_RETURN(int64_t bytes, tensorBytes(dims, type, nameOf(t)));
    if (ioIndex >= 0) {
      const auto io = static_cast<size_t>(ioIndex);
      if (allocators[io] != nullptr) {
        void* ptr = allocators[io]->reallocateOutput(nameOf(t).c_str(), addresses[io], static_cast<uint64_t>(bytes),
                                                     static_cast<uint64_t>(kTENSOR_ALIGNMENT));
        if (ptr == nullptr && bytes > 0) {
          return resourceExhausted("the output allocator of '" + nameOf(t) + "' returned no memory for " +
                                   std::to_string(bytes) + " bytes");
        }
        addresses[io] = ptr;
      }
      return addresses[io];
    }
    const MemoryPlan& plan = e->plan.memoryPlans[static_cast<size_t>(profile)];
    const auto ut = static_cast<size_t>(t);
    if (plan.offsets[ut] >= 0 && bytes <= plan.capacities[ut]) return static_cast<uint8_t*>(arena) + plan.offsets[ut];
    return dynamicMemory(t, bytes);
  }

  Status checkBindings() {
    for (size_t io = 0; io < e->ioTensors.size(); ++io) {
      const int32_t t = e->ioTensors[io];
      const bool input = e->isInput(static_cast<int32_t>(io));
      const Dims& dims = resolved.dims[static_cast<size_t>(t)];
      if (input && addresses[io] == nullptr && volume(dims) != 0) {
        return failedPrecondition("input '" + nameOf(t) + "' has no address; call setTensorAddress");
      }
      if (!input && allocators[io] == nullptr) {
        if (hasDynamicExtent(dims)) {
          return failedPrecondition("output '" + nameOf(t) +
                                    "' has a data-dependent shape; give it an IOutputAllocator (setOutputAllocator)");
        }
        if (addresses[io] == nullptr && volume(dims) != 0) {
          return failedPrecondition("output '" + nameOf(t) + "' has no address; call setTensorAddress");
        }
      }
    }
    return Status::ok();
  }

  Status copyOut(int32_t t, const void* src, const Dims& dims, DataType type, int32_t ioIndex, void* stream) {
    KILN_ASSIGN_OR_RETURN(void* dst, outputMemory(t, dims, type, ioIndex));
    KILN_ASSIGN_OR_RETURN(int64_t bytes, tensorBytes(dims, type, nameOf(t)));
    return e->backend->copyToDevice(dst, src, bytes, stream);
  }

  Status enqueue(void* stream);
};

Status ExecutionContext::Impl::enqueue(void* stream) {
  KILN_RETURN_IF_ERROR(resolve());
  KILN_RETURN_IF_ERROR(checkBindings());
  Backend& backend = *e->backend;
  const Graph& g = graph();
  const MemoryPlan& plan = e->plan.memoryPlans[static_cast<size_t>(profile)];
  if (arenaBytes < plan.arenaBytes) {
    backend.deallocate(arena);
    arena = nullptr;
    arenaBytes = 0;
    KILN_ASSIGN_OR_RETURN(arena, backend.allocate(plan.arenaBytes));
    arenaBytes = plan.arenaBytes;
  }
  // Shapes downstream of data-dependent layers are filled in as those layers run.
  ShapeState local;
  if (hasDataDependentLayers) local = resolved;
  ShapeState& state = hasDataDependentLayers ? local : resolved;

  std::vector<int32_t> ioOf(g.tensors.size(), -1);
  for (size_t io = 0; io < e->ioTensors.size(); ++io) ioOf[static_cast<size_t>(e->ioTensors[io])] = static_cast<int32_t>(io);
  std::vector<void*> ptr(g.tensors.size(), nullptr);
  for (size_t i = 0; i < g.inputs.size(); ++i) ptr[static_cast<size_t>(g.inputs[i])] = addresses[i];

  for (size_t l = 0; l < g.layers.size(); ++l) {
    const LayerInfo& layer = g.layers[l];
    bool concrete = true;
    for (int32_t t : layer.outputs) concrete = concrete && !hasDynamicExtent(state.dims[static_cast<size_t>(t)]);
    if (!concrete && !layerKindInfo(layer.params.type).dataDependentOutput) {
      KILN_RETURN_IF_ERROR(inferLayerInState(g, l, state));
    }
    if (layer.params.type == LayerType::kCONSTANT) {
      const int32_t t = layer.outputs[0];
      ptr[static_cast<size_t>(t)] = e->constantData[static_cast<size_t>(t)];
      if (ioOf[static_cast<size_t>(t)] >= 0) {
        KILN_RETURN_IF_ERROR(copyOut(t, ptr[static_cast<size_t>(t)], state.dims[static_cast<size_t>(t)],
                                     state.types[static_cast<size_t>(t)], ioOf[static_cast<size_t>(t)], stream));
      }
      continue;
    }
    if (layer.hostEvaluated) {
      if (state.values[static_cast<size_t>(layer.outputs[0])] == nullptr) KILN_RETURN_IF_ERROR(evaluateHostLayer(g, l, state));
      for (int32_t t : layer.outputs) {
        const auto& value = state.values[static_cast<size_t>(t)];
        if (backend.kind() != BackendKind::kCPU) {
          return unimplemented("shape tensor '" + nameOf(t) + "' is needed on the device; not supported yet");
        }
        ptr[static_cast<size_t>(t)] = const_cast<void*>(value->data());
        if (ioOf[static_cast<size_t>(t)] >= 0) {
          KILN_RETURN_IF_ERROR(copyOut(t, value->data(), value->dims, value->type, ioOf[static_cast<size_t>(t)], stream));
        }
      }
      continue;
    }
    KernelIO io;
    io.stream = stream;
    for (int32_t t : layer.inputs) {
      TensorView view;
      if (t >= 0) {
        const auto ut = static_cast<size_t>(t);
        view = {ptr[ut], state.dims[ut], state.types[ut]};
        if (view.data == nullptr && state.values[ut] != nullptr) view.data = const_cast<void*>(state.values[ut]->data());
      }
      io.inputs.push_back(view);
    }
    const bool dataDependent = layerKindInfo(layer.params.type).dataDependentOutput;
    for (int32_t t : layer.outputs) {
      const auto ut = static_cast<size_t>(t);
      TensorView view{nullptr, state.dims[ut], state.types[ut]};
      if (!dataDependent) {
        KILN_ASSIGN_OR_RETURN(view.data, outputMemory(t, view.dims, view.type, ioOf[ut]));
        ptr[ut] = view.data;
      }
      io.outputs.push_back(view);
    }
    if (dataDependent) {
      io.allocateOutput = [&, this](int32_t index, const Dims& dims) -> Status {
        if (index < 0 || static_cast<size_t>(index) >= layer.outputs.size()) return internalError("bad output index");
        const int32_t t = layer.outputs[static_cast<size_t>(index)];
        const auto ut = static_cast<size_t>(t);
        KILN_ASSIGN_OR_RETURN(void* mem, outputMemory(t, dims, state.types[ut], ioOf[ut]));
        state.dims[ut] = dims;
        ptr[ut] = mem;
        io.outputs[static_cast<size_t>(index)].data = mem;
        io.outputs[static_cast<size_t>(index)].dims = dims;
        return Status::ok();
      };
    }
    const Kernel* kernel = e->kernels[l].get();
    if (kernel == nullptr) return internalError("layer '" + layer.params.name + "' has no kernel");
    const int64_t wsBytes = kernel->workspaceSize(io);
    if (wsBytes > workspaceBytes) {
      backend.deallocate(workspace);
      workspace = nullptr;
      workspaceBytes = 0;
      KILN_ASSIGN_OR_RETURN(workspace, backend.allocate(wsBytes));
      workspaceBytes = wsBytes;
    }
    io.workspace = workspace;
    io.workspaceSize = workspaceBytes;
    KILN_RETURN_IF_ERROR(kernel->execute(io));
  }
  for (size_t io = e->plan.graph.inputs.size(); io < e->ioTensors.size(); ++io) {
    if (allocators[io] != nullptr) {
      allocators[io]->notifyShape(nameOf(e->ioTensors[io]).c_str(), state.dims[static_cast<size_t>(e->ioTensors[io])]);
    }
  }
  return Status::ok();
}

StatusOr<std::unique_ptr<ExecutionContext>> Engine::createExecutionContext() const {
  auto impl = std::make_unique<ExecutionContext::Impl>();
  impl->engine = this;
  impl->e = impl_.get();
  const Graph& g = impl_->plan.graph;
  for (int32_t t : g.inputs) {
    impl->inputShapes.push_back(g.tensors[static_cast<size_t>(t)].dims);
    impl->inputSet.push_back(!hasDynamicExtent(g.tensors[static_cast<size_t>(t)].dims));
  }
  impl->addresses.assign(impl_->ioTensors.size(), nullptr);
  impl->allocators.assign(impl_->ioTensors.size(), nullptr);
  impl->dynamicBuffers.assign(g.tensors.size(), nullptr);
  impl->dynamicBytes.assign(g.tensors.size(), 0);
  for (const LayerInfo& layer : g.layers) {
    impl->hasDataDependentLayers = impl->hasDataDependentLayers || layerKindInfo(layer.params.type).dataDependentOutput;
  }
  return std::make_unique<ExecutionContext>(std::move(impl));
}

ExecutionContext::ExecutionContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ExecutionContext::~ExecutionContext() = default;

const Engine& ExecutionContext::getEngine() const { return *impl_->engine; }

Status ExecutionContext::setOptimizationProfileAsync(int32_t profileIndex, void*) {
  const int32_t count = impl_->engine->getNbOptimizationProfiles();
  if (profileIndex < 0 || profileIndex >= count) {
    return outOfRange("optimization profile " + std::to_string(profileIndex) + " does not exist (the engine has " +
                      std::to_string(count) + ")");
  }
  impl_->profile = profileIndex;
  impl_->dirty = true;
  return Status::ok();
}

int32_t ExecutionContext::getOptimizationProfile() const { return impl_->profile; }

Status ExecutionContext::setInputShape(const char* tensorName, const Dims& dims) {
  const int32_t io = impl_->e->findIO(tensorName);
  const std::string name = tensorName ? tensorName : "";
  if (io < 0) return notFound("setInputShape: the engine has no tensor named '" + name + "'");
  if (!impl_->e->isInput(io)) return invalidArgument("setInputShape: '" + name + "' is an output, not an input");
  const ProfileShapes& p = impl_->e->plan.profiles[static_cast<size_t>(impl_->profile)];
  const Dims& min = p.min[static_cast<size_t>(io)];
  const Dims& max = p.max[static_cast<size_t>(io)];
  if (dims.nbDims != min.nbDims) {
    return invalidArgument("input '" + name + "' has rank " + std::to_string(min.nbDims) + ", got shape " +
                           dimsToString(dims));
  }
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < min.d[i] || dims.d[i] > max.d[i]) {
      return outOfRange("input '" + name + "' shape " + dimsToString(dims) + " is outside optimization profile " +
                        std::to_string(impl_->profile) + " (dim " + std::to_string(i) + " must be in [" +
                        std::to_string(min.d[i]) + ", " + std::to_string(max.d[i]) + "]; profile min " +
                        dimsToString(min) + ", max " + dimsToString(max) + ")");
    }
  }
  impl_->inputShapes[static_cast<size_t>(io)] = dims;
  impl_->inputSet[static_cast<size_t>(io)] = true;
  impl_->dirty = true;
  return Status::ok();
}

Dims ExecutionContext::getTensorShape(const char* tensorName) const {
  Dims none;
  none.nbDims = -1;
  const int32_t io = impl_->e->findIO(tensorName);
  if (io < 0) return none;
  if (impl_->e->isInput(io)) return impl_->inputShapes[static_cast<size_t>(io)];
  if (!impl_->resolve().isOk()) return impl_->e->plan.graph.tensors[static_cast<size_t>(impl_->e->ioTensors[static_cast<size_t>(io)])].dims;
  return impl_->resolved.dims[static_cast<size_t>(impl_->e->ioTensors[static_cast<size_t>(io)])];
}

Status ExecutionContext::setTensorAddress(const char* tensorName, void* data) {
  const int32_t io = impl_->e->findIO(tensorName);
  if (io < 0) return notFound("setTensorAddress: the engine has no I/O tensor named '" + std::string(tensorName ? tensorName : "") + "'");
  impl_->addresses[static_cast<size_t>(io)] = data;
  return Status::ok();
}

Status ExecutionContext::setInputTensorAddress(const char* tensorName, const void* data) {
  const int32_t io = impl_->e->findIO(tensorName);
  if (io >= 0 && !impl_->e->isInput(io)) {
    return invalidArgument("setInputTensorAddress: '" + std::string(tensorName) + "' is an output");
  }
  return setTensorAddress(tensorName, const_cast<void*>(data));
}

void* ExecutionContext::getTensorAddress(const char* tensorName) const {
  const int32_t io = impl_->e->findIO(tensorName);
  return io < 0 ? nullptr : impl_->addresses[static_cast<size_t>(io)];
}

Status ExecutionContext::bindTensor(const char* tensorName, void* data, DataType type, const Dims& dims) {
  const int32_t io = impl_->e->findIO(tensorName);
  const std::string name = tensorName ? tensorName : "";
  if (io < 0) return notFound("the engine has no I/O tensor named '" + name + "'");
  const DataType expected = impl_->engine->getTensorDataType(tensorName);
  if (type != expected) {
    return invalidArgument(std::string(impl_->e->isInput(io) ? "input" : "output") + " '" + name + "' must be " +
                           dataTypeName(expected) + ", got " + dataTypeName(type));
  }
  if (impl_->e->isInput(io)) {
    KILN_RETURN_IF_ERROR(setInputShape(tensorName, dims));
  } else {
    const Dims inferred = getTensorShape(tensorName);
    if (inferred.nbDims >= 0 && !hasDynamicExtent(inferred) && inferred != dims) {
      return invalidArgument("output '" + name + "' has shape " + dimsToString(inferred) + ", but the buffer is " +
                             dimsToString(dims));
    }
  }
  return setTensorAddress(tensorName, data);
}

Status ExecutionContext::setOutputAllocator(const char* tensorName, IOutputAllocator* allocator) {
  const int32_t io = impl_->e->findIO(tensorName);
  if (io < 0 || impl_->e->isInput(io)) {
    return notFound("setOutputAllocator: the engine has no output named '" + std::string(tensorName ? tensorName : "") + "'");
  }
  impl_->allocators[static_cast<size_t>(io)] = allocator;
  return Status::ok();
}

Status ExecutionContext::enqueueV3(void* stream) { return impl_->enqueue(stream); }

}  // namespace kiln
