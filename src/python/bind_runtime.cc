// Building plans from Python-made networks, and running plans on tensors given as data pointers.
#include <pybind11/stl.h>

#include <memory>
#include <mutex>

#include "engine/backend.h"
#include "kiln/kiln.h"
#include "python/bindings.h"

namespace kiln {
namespace python {
namespace {

// Memory for an output whose extent is data-dependent: allocated from the engine's backend when the context
// knows the size, kept (and reused by later runs that fit) until the runner goes. The final shape arrives
// after the run; the caller then copies the result into a tensor of that shape.
class BackendOutputAllocator : public IOutputAllocator {
 public:
  explicit BackendOutputAllocator(std::shared_ptr<Backend> backend) : backend_(std::move(backend)) {}
  ~BackendOutputAllocator() override { backend_->deallocate(buffer_); }
  BackendOutputAllocator(const BackendOutputAllocator&) = delete;
  BackendOutputAllocator& operator=(const BackendOutputAllocator&) = delete;

  void* reallocateOutput(const char*, void*, uint64_t size, uint64_t) override {
    if (size <= capacity_) return buffer_;
    // Backend allocations are aligned at least as strictly as any tensor needs.
    StatusOr<void*> fresh = backend_->allocate(static_cast<int64_t>(size));
    if (!fresh.isOk()) return nullptr;
    backend_->deallocate(buffer_);
    buffer_ = fresh.value();
    capacity_ = size;
    return buffer_;
  }
  void notifyShape(const char*, const Dims& dims) override { dims_ = dims; }

  const Dims& dims() const { return dims_; }
  void* buffer() const { return buffer_; }
  // Forgets the last run's shape (nbDims -1: not computed yet).
  void reset() { dims_ = notComputed(); }

 private:
  std::shared_ptr<Backend> backend_;
  void* buffer_ = nullptr;
  uint64_t capacity_ = 0;
  Dims dims_ = notComputed();
  static Dims notComputed() {
    Dims d;
    d.nbDims = -1;
    return d;
  }
};

// A deserialized engine and one execution context, for one KilnEngineModule. Calls are serialized by a
// mutex: a module may be called from several Python threads.
class EngineRunner {
 public:
  explicit EngineRunner(const py::bytes& plan) {
    const std::string bytes = plan;
    Runtime runtime;
    engine_ = unwrap(runtime.deserializeEngine(bytes.data(), bytes.size()));
    context_ = unwrap(engine_->createExecutionContext());
    for (int32_t i = 0; i < engine_->getNbIOTensors(); ++i) {
      const char* name = engine_->getIOTensorName(i);
      (engine_->getTensorIOMode(name) == TensorIOMode::kINPUT ? inputs_ : outputs_).push_back(name);
    }
    allocators_.resize(outputs_.size());
    active_.assign(outputs_.size(), false);
  }

  const std::vector<std::string>& inputNames() const { return inputs_; }
  const std::vector<std::string>& outputNames() const { return outputs_; }
  DataType dtype(const std::string& name) const { return engine_->getTensorDataType(name.c_str()); }
  BackendKind backend() const { return engine_->getBackend(); }

  // Sets the input shapes and returns the output shapes (checked against the profile). A data-dependent extent
  // is -1: such an output is written to memory of the runner's own, and read with outputShape / copyOutput
  // after execute (its entry in execute's outputs is then ignored).
  std::vector<std::vector<int64_t>> prepare(const std::vector<std::vector<int64_t>>& inputShapes) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (inputShapes.size() != inputs_.size()) {
      throw py::value_error("the engine takes " + std::to_string(inputs_.size()) + " inputs, got " +
                            std::to_string(inputShapes.size()));
    }
    for (size_t i = 0; i < inputs_.size(); ++i) check(context_->setInputShape(inputs_[i].c_str(), toDims(inputShapes[i])));
    std::vector<std::vector<int64_t>> shapes;
    for (size_t i = 0; i < outputs_.size(); ++i) {
      const Dims d = context_->getTensorShape(outputs_[i].c_str());
      BackendOutputAllocator* allocator = nullptr;
      active_[i] = hasDynamicExtent(d);
      if (active_[i]) {
        if (!allocators_[i]) allocators_[i] = std::make_unique<BackendOutputAllocator>(unwrap(getBackend(backend())));
        allocator = allocators_[i].get();
        allocator->reset();
      }
      check(context_->setOutputAllocator(outputs_[i].c_str(), allocator));
      shapes.push_back(fromDims(d));
    }
    return shapes;
  }

  // Binds (pointer, dtype, shape) per input and output and runs on `stream` (0 = default / CPU).
  void execute(const std::vector<std::tuple<uintptr_t, DataType, std::vector<int64_t>>>& inputs,
               const std::vector<std::tuple<uintptr_t, DataType, std::vector<int64_t>>>& outputs, uintptr_t stream) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto bind = [&](const std::string& name, const std::tuple<uintptr_t, DataType, std::vector<int64_t>>& t) {
      check(context_->bindTensor(name.c_str(), reinterpret_cast<void*>(std::get<0>(t)), std::get<1>(t),
                                 toDims(std::get<2>(t))));
    };
    if (inputs.size() != inputs_.size() || outputs.size() != outputs_.size()) {
      throw py::value_error("wrong number of inputs or outputs for the engine");
    }
    for (size_t i = 0; i < inputs.size(); ++i) bind(inputs_[i], inputs[i]);
    for (size_t i = 0; i < outputs.size(); ++i) {
      if (!allocating(i)) bind(outputs_[i], outputs[i]);
    }
    Status status;
    {
      py::gil_scoped_release release;
      status = context_->enqueueV3(reinterpret_cast<void*>(stream));
    }
    check(status);
  }

  // The final shape of a data-dependent output after execute.
  std::vector<int64_t> outputShape(size_t index) {
    std::lock_guard<std::mutex> lock(mutex_);
    const BackendOutputAllocator& allocator = allocatorOf(index);
    if (allocator.dims().nbDims < 0) throw std::runtime_error("output '" + outputs_[index] + "' has not been computed");
    return fromDims(allocator.dims());
  }

  // Copies a data-dependent output into `dst` (memory of the engine's device, outputShape's size) on `stream`.
  void copyOutput(size_t index, uintptr_t dst, uintptr_t stream) {
    std::lock_guard<std::mutex> lock(mutex_);
    const BackendOutputAllocator& allocator = allocatorOf(index);
    if (allocator.dims().nbDims < 0) throw std::runtime_error("output '" + outputs_[index] + "' has not been computed");
    const int64_t bytes = volume(allocator.dims()) * dataTypeSize(dtype(outputs_[index]));
    if (bytes == 0) return;
    std::shared_ptr<Backend> device = unwrap(getBackend(backend()));
    Status status;
    {
      py::gil_scoped_release release;
      status = device->copyToDevice(reinterpret_cast<void*>(dst), allocator.buffer(), bytes,
                                    reinterpret_cast<void*>(stream));
    }
    check(status);
  }

  void setCudaGraphs(bool enabled) {
    std::lock_guard<std::mutex> lock(mutex_);
    context_->setCudaGraphsEnabled(enabled);
  }
  int64_t cudaGraphCaptures() const { return context_->getCudaGraphCaptureCount(); }

  // Per-layer times of every run while profiling is on: (layer, type, start ms within the run, ms).
  void setProfiling(bool enabled) {
    std::lock_guard<std::mutex> lock(mutex_);
    context_->setProfiler(enabled ? &profiler_ : nullptr);
  }
  py::list takeProfile() {
    std::lock_guard<std::mutex> lock(mutex_);
    py::list rows;
    for (const LayerTime& t : profiler_.records) rows.append(py::make_tuple(t.name, t.type, t.startMs, t.ms, t.run));
    profiler_.records.clear();
    return rows;
  }

  std::string inspect(bool json) const {
    auto inspector = engine_->createEngineInspector();
    return json ? inspector->getEngineInformationJson() : inspector->getEngineInformationText();
  }

 private:
  std::unique_ptr<Engine> engine_;
  struct LayerTime {
    std::string name, type;
    float startMs, ms;
    int64_t run;
  };
  // Collects the context's reports; a new run starts when the first layer reports again.
  class RecordingProfiler : public IProfiler {
   public:
    void reportLayerTime(const char* layerName, const char* layerType, float startMs, float ms) override {
      if (records.empty() || startMs <= records.back().startMs) ++runs;
      records.push_back({layerName, layerType, startMs, ms, runs});
    }
    std::vector<LayerTime> records;
    int64_t runs = 0;
  };

  // Whether the last prepare() gave output `index` the runner's own memory.
  bool allocating(size_t index) const { return active_.at(index); }
  const BackendOutputAllocator& allocatorOf(size_t index) const {
    if (index >= outputs_.size()) {
      throw py::index_error("the engine has " + std::to_string(outputs_.size()) + " outputs");
    }
    if (!allocating(index)) {
      throw std::runtime_error("output '" + outputs_[index] + "' does not have a data-dependent shape");
    }
    return *allocators_[index];
  }

  // Per output; declared before context_ so that they outlive it (the context holds their pointers).
  std::vector<std::unique_ptr<BackendOutputAllocator>> allocators_;
  std::vector<bool> active_;
  std::unique_ptr<ExecutionContext> context_;
  std::vector<std::string> inputs_, outputs_;
  std::mutex mutex_;
  RecordingProfiler profiler_;
};

}  // namespace

void bindRuntime(py::module_& m) {
  py::class_<EngineRunner>(m, "EngineRunner")
      .def(py::init<const py::bytes&>(), py::arg("plan"))
      .def_property_readonly("input_names", &EngineRunner::inputNames)
      .def_property_readonly("output_names", &EngineRunner::outputNames)
      .def_property_readonly("backend", &EngineRunner::backend)
      .def("dtype", &EngineRunner::dtype)
      .def("prepare", &EngineRunner::prepare)
      .def("execute", &EngineRunner::execute, py::arg("inputs"), py::arg("outputs"), py::arg("stream") = 0)
      .def("output_shape", &EngineRunner::outputShape, py::arg("index"))
      .def("copy_output", &EngineRunner::copyOutput, py::arg("index"), py::arg("dst"), py::arg("stream") = 0)
      .def("set_cuda_graphs", &EngineRunner::setCudaGraphs, py::arg("enabled"))
      .def_property_readonly("cuda_graph_captures", &EngineRunner::cudaGraphCaptures)
      .def("set_profiling", &EngineRunner::setProfiling, py::arg("enabled"))
      .def("take_profile", &EngineRunner::takeProfile)
      .def("inspect", &EngineRunner::inspect, py::arg("json") = false);

  // What Kiln holds on a device (torch_kiln.runtime.memory_stats).
  m.def(
      "memory_use",
      [](BackendKind backend) {
        const MemoryUse use = unwrap(getMemoryUse(backend));
        return py::make_tuple(use.currentBytes, use.peakBytes);
      },
      py::arg("backend"));
  m.def(
      "reset_peak_memory_use", [](BackendKind backend) { check(resetPeakMemoryUse(backend)); }, py::arg("backend"));

  // Building a plan from a network made in Python (the engine API used directly, without the compiler).
  m.def(
      "create_network", [](bool stronglyTyped) {
        return std::make_unique<NetworkDefinition>(
            stronglyTyped ? 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED) : 0u);
      },
      py::arg("strongly_typed") = true);
  m.def(
      "build_serialized_network",
      [](NetworkDefinition& network, BackendKind backend, int32_t level, std::vector<std::string> inputNames,
         std::vector<std::vector<int64_t>> mins, std::vector<std::vector<int64_t>> opts,
         std::vector<std::vector<int64_t>> maxs) {
        Builder builder;
        auto config = builder.createBuilderConfig();
        config->setBackend(backend);
        config->setBuilderOptimizationLevel(level);
        if (!inputNames.empty()) {
          auto profile = builder.createOptimizationProfile();
          for (size_t i = 0; i < inputNames.size(); ++i) {
            check(profile->setDimensions(inputNames[i].c_str(), OptProfileSelector::kMIN, toDims(mins.at(i))));
            check(profile->setDimensions(inputNames[i].c_str(), OptProfileSelector::kOPT, toDims(opts.at(i))));
            check(profile->setDimensions(inputNames[i].c_str(), OptProfileSelector::kMAX, toDims(maxs.at(i))));
          }
          config->addOptimizationProfile(profile.get());
        }
        auto plan = unwrap(builder.buildSerializedNetwork(network, *config));
        return py::bytes(static_cast<const char*>(plan->data()), plan->size());
      },
      py::arg("network"), py::arg("backend") = BackendKind::kCPU, py::arg("optimization_level") = 3,
      py::arg("input_names") = std::vector<std::string>{}, py::arg("min_shapes") = std::vector<std::vector<int64_t>>{},
      py::arg("opt_shapes") = std::vector<std::vector<int64_t>>{},
      py::arg("max_shapes") = std::vector<std::vector<int64_t>>{});
  m.attr("__kiln_version__") = kilnVersion();
#ifdef KILN_WITH_CUDA
  m.attr("__kiln_has_cuda__") = true;
#else
  m.attr("__kiln_has_cuda__") = false;
#endif
}

}  // namespace python
}  // namespace kiln
