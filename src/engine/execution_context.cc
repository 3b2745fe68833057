// ExecutionContext: input shapes and bindings, shape resolution, memory, and the layer loop.
#include <algorithm>
#include <cstdlib>
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

// Per-layer launch arguments, prepared before any kernel runs (so a CUDA graph can record the launches alone).
struct PreparedLayer {
  size_t layer = 0;
  KernelIO io;
};

// A recorded CUDA graph and the I/O addresses it was recorded with.
struct RecordedGraph {
  std::vector<void*> addresses;
  void* exec = nullptr;
};

bool cudaGraphsDefault() {
  const char* env = std::getenv("KILN_CUDA_GRAPHS");
  return env == nullptr || std::string(env) != "0";
}

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
  int64_t generation = 0;                // bumped by every new shape resolution
  int64_t uploadedGeneration = -1;       // the generation whose host-evaluated values are on the device
  void* arena = nullptr;
  int64_t arenaBytes = 0;
  void* workspace = nullptr;
  int64_t workspaceBytes = 0;
  std::vector<void*> dynamicBuffers;     // per tensor: memory outside the arena
  std::vector<int64_t> dynamicBytes;
  bool hasDataDependentLayers = false;
  bool graphsEnabled = cudaGraphsDefault();
  IProfiler* profiler = nullptr;
  int64_t captureCount = 0;
  // Graphs recorded for the current shapes and memory; a new shape or a reallocation drops them all.
  std::vector<RecordedGraph> graphs;
  size_t nextGraphSlot = 0;
  std::vector<void*> warmedAddresses;   // the last addresses run layer by layer before recording
  int64_t warmedGeneration = -1;
  int32_t failedCaptures = 0;
  static constexpr size_t kMAX_GRAPHS = 8;

  ~Impl() {
    Backend& backend = *e->backend;
    dropGraphs();
    backend.deallocate(arena);
    backend.deallocate(workspace);
    for (void* p : dynamicBuffers) backend.deallocate(p);
  }

  const Graph& graph() const { return e->plan.graph; }
  const std::string& nameOf(int32_t t) const { return graph().tensors[static_cast<size_t>(t)].name; }

  void dropGraphs() {
    for (RecordedGraph& g : graphs) e->backend->destroyGraph(g.exec);
    graphs.clear();
    nextGraphSlot = 0;
  }

  Status resolve() {
    if (!dirty) return resolveStatus;
    dirty = false;
    ++generation;
    dropGraphs();
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
      dropGraphs();  // recorded graphs point at the old buffer
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

  bool anyAllocator() const {
    for (IOutputAllocator* a : allocators) {
      if (a != nullptr) return true;
    }
    return false;
  }

  Status ensureArena() {
    const MemoryPlan& plan = e->plan.memoryPlans[static_cast<size_t>(profile)];
    if (arenaBytes >= plan.arenaBytes) return Status::ok();
    dropGraphs();
    e->backend->deallocate(arena);
    arena = nullptr;
    arenaBytes = 0;
    KILN_ASSIGN_OR_RETURN(arena, e->backend->allocate(plan.arenaBytes));
    arenaBytes = plan.arenaBytes;
    return Status::ok();
  }

  Status ensureWorkspace(int64_t bytes) {
    if (bytes <= workspaceBytes) return Status::ok();
    dropGraphs();
    e->backend->deallocate(workspace);
    workspace = nullptr;
    workspaceBytes = 0;
    KILN_ASSIGN_OR_RETURN(workspace, e->backend->allocate(bytes));
    workspaceBytes = bytes;
    return Status::ok();
  }

  Status enqueue(void* stream);
  Status runLayerByLayer(void* stream);
  Status runRecorded(void* stream);
};

// Walks the layers in order, preparing each one's KernelIO. `launch` runs each layer right after preparing it
// (needed when a data-dependent layer sizes later tensors, and for profiling); otherwise the prepared list is
// returned for recording.
class LayerWalker {
 public:
  LayerWalker(ExecutionContext::Impl& ctx, ShapeState& state, void* stream)
      : c_(ctx), g_(ctx.graph()), state_(state), stream_(stream), ioOf_(g_.tensors.size(), -1),
        ptr_(g_.tensors.size(), nullptr) {
    for (size_t io = 0; io < c_.e->ioTensors.size(); ++io) ioOf_[static_cast<size_t>(c_.e->ioTensors[io])] = static_cast<int32_t>(io);
    for (size_t i = 0; i < g_.inputs.size(); ++i) ptr_[static_cast<size_t>(g_.inputs[i])] = c_.addresses[i];
  }

  // Prepares layer l; returns false in `runs` for layers with nothing to launch (constants, host-evaluated).
  Status prepare(size_t l, PreparedLayer& out, bool& runs) {
    runs = false;
    const LayerInfo& layer = g_.layers[l];
    Backend& backend = *c_.e->backend;
    bool concrete = true;
    for (int32_t t : layer.outputs) concrete = concrete && !hasDynamicExtent(state_.dims[static_cast<size_t>(t)]);
    if (!concrete && !layerKindInfo(layer.params.type).dataDependentOutput) {
      KILN_RETURN_IF_ERROR(inferLayerInState(g_, l, state_));
    }
    if (layer.params.type == LayerType::kCONSTANT) {
      const int32_t t = layer.outputs[0];
      ptr_[static_cast<size_t>(t)] = c_.e->constantData[static_cast<size_t>(t)];
      if (ioOf_[static_cast<size_t>(t)] >= 0) {
        KILN_RETURN_IF_ERROR(c_.copyOut(t, ptr_[static_cast<size_t>(t)], state_.dims[static_cast<size_t>(t)],
                                        state_.types[static_cast<size_t>(t)], ioOf_[static_cast<size_t>(t)], stream_));
      }
      return Status::ok();
    }
    if (layer.hostEvaluated) {
      if (state_.values[static_cast<size_t>(layer.outputs[0])] == nullptr) {
        KILN_RETURN_IF_ERROR(evaluateHostLayer(g_, l, state_));
      }
      for (int32_t t : layer.outputs) {
        const auto& value = state_.values[static_cast<size_t>(t)];
        if (backend.kind() == BackendKind::kCPU) {
          ptr_[static_cast<size_t>(t)] = const_cast<void*>(value->data());
        } else {
          KILN_ASSIGN_OR_RETURN(ptr_[static_cast<size_t>(t)], upload(t, *value));
        }
        if (ioOf_[static_cast<size_t>(t)] >= 0) {
          KILN_RETURN_IF_ERROR(c_.copyOut(t, value->data(), value->dims, value->type, ioOf_[static_cast<size_t>(t)], stream_));
        }
      }
      return Status::ok();
    }
    runs = true;
    out.layer = l;
    KernelIO& io = out.io;
    io.stream = stream_;
    for (int32_t t : layer.inputs) {
      TensorView view;
      if (t >= 0) {
        const auto ut = static_cast<size_t>(t);
        view = {ptr_[ut], state_.dims[ut], state_.types[ut]};
        if (view.data == nullptr && state_.values[ut] != nullptr) {
          if (backend.kind() == BackendKind::kCPU) {
            view.data = const_cast<void*>(state_.values[ut]->data());
          } else {
            KILN_ASSIGN_OR_RETURN(view.data, upload(t, *state_.values[ut]));
          }
        }
      }
      io.inputs.push_back(view);
    }
    const bool dataDependent = layerKindInfo(layer.params.type).dataDependentOutput;
    for (int32_t t : layer.outputs) {
      const auto ut = static_cast<size_t>(t);
      TensorView view{nullptr, state_.dims[ut], state_.types[ut]};
      if (!dataDependent) {
        KILN_ASSIGN_OR_RETURN(view.data, c_.outputMemory(t, view.dims, view.type, ioOf_[ut]));
        ptr_[ut] = view.data;
      }
      io.outputs.push_back(view);
    }
    if (dataDependent) {
      // The KernelIO is used right away (layer-by-layer runs): the callback may refer to this walker.
      io.allocateOutput = [this, l, &io](int32_t index, const Dims& dims) -> Status {
        const LayerInfo& lay = g_.layers[l];
        if (index < 0 || static_cast<size_t>(index) >= lay.outputs.size()) return internalError("bad output index");
        const int32_t t = lay.outputs[static_cast<size_t>(index)];
        const auto ut = static_cast<size_t>(t);
        KILN_ASSIGN_OR_RETURN(void* mem, c_.outputMemory(t, dims, state_.types[ut], ioOf_[ut]));
        state_.dims[ut] = dims;
        ptr_[ut] = mem;
        io.outputs[static_cast<size_t>(index)].data = mem;
        io.outputs[static_cast<size_t>(index)].dims = dims;
        return Status::ok();
      };
    }
    return Status::ok();
  }

 private:
  // Host-computed values that a device kernel reads: copied once per shape resolution (every run when shapes
  // can change mid-run, as downstream of data-dependent layers).
  StatusOr<void*> upload(int32_t t, const HostTensor& value) {
    const auto ut = static_cast<size_t>(t);
    const int64_t bytes = static_cast<int64_t>(value.bytes.size());
    const bool known = c_.dynamicBytes[ut] >= bytes && c_.dynamicBuffers[ut] != nullptr;
    KILN_ASSIGN_OR_RETURN(void* mem, c_.dynamicMemory(t, bytes > 0 ? bytes : 1));
    if (!known || c_.uploadedGeneration != c_.generation || c_.hasDataDependentLayers) {
      KILN_RETURN_IF_ERROR(c_.e->backend->copyToDevice(mem, value.data(), bytes, stream_));
      // Pageable host memory: the copy must finish before the host value can change or be freed.
      KILN_RETURN_IF_ERROR(c_.e->backend->synchronize(stream_));
    }
    return mem;
  }

  ExecutionContext::Impl& c_;
  const Graph& g_;
  ShapeState& state_;
  void* stream_;
  std::vector<int32_t> ioOf_;
  std::vector<void*> ptr_;
};

Status ExecutionContext::Impl::runLayerByLayer(void* stream) {
  Backend& backend = *e->backend;
  const Graph& g = graph();
  // Shapes downstream of data-dependent layers are filled in as those layers run.
  ShapeState local;
  if (hasDataDependentLayers) local = resolved;
  ShapeState& state = hasDataDependentLayers ? local : resolved;
  LayerWalker walker(*this, state, stream);

  struct Timed {
    size_t layer;
    void* start;
    void* end;
  };
  std::vector<Timed> timed;
  void* origin = nullptr;
  auto releaseMarks = [&] {
    for (const Timed& t : timed) {
      backend.destroyMark(t.start);
      backend.destroyMark(t.end);
    }
    if (origin != nullptr) backend.destroyMark(origin);
  };
  auto run = [&]() -> Status {
    if (profiler != nullptr) {
      KILN_ASSIGN_OR_RETURN(origin, backend.createMark());
      KILN_RETURN_IF_ERROR(backend.recordMark(origin, stream));
    }
    for (size_t l = 0; l < g.layers.size(); ++l) {
      PreparedLayer prepared;
      bool runs = false;
      KILN_RETURN_IF_ERROR(walker.prepare(l, prepared, runs));
      if (!runs) continue;
      const Kernel* kernel = e->kernels[l].get();
      if (kernel == nullptr) return internalError("layer '" + g.layers[l].params.name + "' has no kernel");
      KILN_RETURN_IF_ERROR(ensureWorkspace(kernel->workspaceSize(prepared.io)));
      prepared.io.workspace = workspace;
      prepared.io.workspaceSize = workspaceBytes;
      if (profiler != nullptr) {
        Timed t{l, nullptr, nullptr};
        KILN_ASSIGN_OR_RETURN(t.start, backend.createMark());
        timed.push_back(t);
        KILN_ASSIGN_OR_RETURN(timed.back().end, backend.createMark());
        KILN_RETURN_IF_ERROR(backend.recordMark(timed.back().start, stream));
      }
      KILN_RETURN_IF_ERROR(kernel->execute(prepared.io));
      if (profiler != nullptr) KILN_RETURN_IF_ERROR(backend.recordMark(timed.back().end, stream));
    }
    if (profiler != nullptr) {
      for (const Timed& t : timed) {
        KILN_ASSIGN_OR_RETURN(float startMs, backend.elapsedMs(origin, t.start));
        KILN_ASSIGN_OR_RETURN(float ms, backend.elapsedMs(t.start, t.end));
        const LayerParams& p = g.layers[t.layer].params;
        profiler->reportLayerTime(p.name.c_str(), layerTypeName(p.type), startMs, ms);
      }
    }
    return Status::ok();
  };
  Status status = run();
  releaseMarks();
  KILN_RETURN_IF_ERROR(status);
  uploadedGeneration = generation;
  for (size_t io = e->plan.graph.inputs.size(); io < e->ioTensors.size(); ++io) {
    if (allocators[io] != nullptr) {
      allocators[io]->notifyShape(nameOf(e->ioTensors[io]).c_str(), state.dims[static_cast<size_t>(e->ioTensors[io])]);
    }
  }
  return Status::ok();
}

// Records every launch into a graph once per shape and I/O addresses, then replays it.
Status ExecutionContext::Impl::runRecorded(void* stream) {
  Backend& backend = *e->backend;
  for (const RecordedGraph& g : graphs) {
    if (g.addresses == addresses) return backend.launchGraph(g.exec, stream);
  }
  // The first run with new addresses goes layer by layer: kernels make their lazy per-thread state (library
  // handles, plans) outside a capture, where creating it is allowed. The second run records.
  if (warmedAddresses != addresses || warmedGeneration != generation) {
    warmedAddresses = addresses;
    warmedGeneration = generation;
    return runLayerByLayer(stream);
  }
  const Graph& g = graph();
  LayerWalker walker(*this, resolved, stream);
  std::vector<PreparedLayer> layers;
  int64_t wsBytes = 0;
  for (size_t l = 0; l < g.layers.size(); ++l) {
    PreparedLayer prepared;
    bool runs = false;
    KILN_RETURN_IF_ERROR(walker.prepare(l, prepared, runs));
    if (!runs) continue;
    if (e->kernels[l] == nullptr) return internalError("layer '" + g.layers[l].params.name + "' has no kernel");
    wsBytes = std::max(wsBytes, e->kernels[l]->workspaceSize(prepared.io));
    layers.push_back(std::move(prepared));
  }
  KILN_RETURN_IF_ERROR(ensureWorkspace(wsBytes));
  uploadedGeneration = generation;
  // Preparing may have reallocated memory (dropping stale graphs): pick the slot only now.
  RecordedGraph* slot = nullptr;
  if (graphs.size() < kMAX_GRAPHS) {
    graphs.push_back({});
    slot = &graphs.back();
  } else {
    slot = &graphs[nextGraphSlot];
    nextGraphSlot = (nextGraphSlot + 1) % kMAX_GRAPHS;
  }
  void* captureStream = nullptr;
  Status status = backend.beginCapture(&captureStream);
  if (status.isOk()) {
    for (PreparedLayer& p : layers) {
      p.io.workspace = workspace;
      p.io.workspaceSize = workspaceBytes;
      p.io.stream = captureStream;
      status = e->kernels[p.layer]->execute(p.io);
      if (!status.isOk()) break;
    }
    void* exec = slot->exec;
    Status ended = backend.endCapture(captureStream, &exec);
    slot->exec = exec;
    if (status.isOk()) status = ended;
  }
  if (!status.isOk()) {
    // Leave no half-recorded graph behind and run this call layer by layer, which reports a real kernel error
    // plainly. A context whose launches keep failing to record stops trying.
    backend.destroyGraph(slot->exec);
    slot->exec = nullptr;
    graphs.erase(graphs.begin() + (slot - graphs.data()));
    nextGraphSlot = 0;
    if (++failedCaptures >= 3) graphsEnabled = false;
    return runLayerByLayer(stream);
  }
  slot->addresses = addresses;
  ++captureCount;
  return backend.launchGraph(slot->exec, stream);
}

Status ExecutionContext::Impl::enqueue(void* stream) {
  KILN_RETURN_IF_ERROR(resolve());
  KILN_RETURN_IF_ERROR(checkBindings());
  KILN_RETURN_IF_ERROR(ensureArena());
  const bool record = graphsEnabled && e->backend->supportsGraphs() && !hasDataDependentLayers &&
                      profiler == nullptr && !anyAllocator();
  return record ? runRecorded(stream) : runLayerByLayer(stream);
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
  // Re-resolving (and dropping recorded graphs) only when the shape changes keeps repeated runs cheap.
  if (!impl_->inputSet[static_cast<size_t>(io)] || impl_->inputShapes[static_cast<size_t>(io)] != dims) {
    impl_->inputShapes[static_cast<size_t>(io)] = dims;
    impl_->inputSet[static_cast<size_t>(io)] = true;
    impl_->dirty = true;
  }
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

void ExecutionContext::setCudaGraphsEnabled(bool enabled) {
  if (!enabled) impl_->dropGraphs();
  impl_->graphsEnabled = enabled;
}
bool ExecutionContext::getCudaGraphsEnabled() const { return impl_->graphsEnabled; }
int64_t ExecutionContext::getCudaGraphCaptureCount() const { return impl_->captureCount; }
void ExecutionContext::setProfiler(IProfiler* profiler) { impl_->profiler = profiler; }
IProfiler* ExecutionContext::getProfiler() const { return impl_->profiler; }

}  // namespace kiln
