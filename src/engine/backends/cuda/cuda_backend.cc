// The CUDA backend: kernels from CudaKernelTable, device memory from cudaMalloc, copies and launches on the
// caller's stream. Every layer kind has CUDA tactics; a layer no tactic supports fails the build by name.
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <mutex>
#include <string>

#include "engine/backends/cuda/cuda_kernels.h"

namespace kiln {

CudaKernelTable::CudaKernelTable() : byType_(static_cast<size_t>(kNB_LAYER_TYPES)) {}

void CudaKernelTable::add(LayerType type, CudaTactic tactic) {
  byType_[static_cast<size_t>(type)].push_back(std::move(tactic));
}

const std::vector<CudaTactic>& CudaKernelTable::tactics(LayerType type) const {
  return byType_[static_cast<size_t>(type)];
}

const CudaKernelTable& CudaKernelTable::instance() {
  static const CudaKernelTable table = [] {
    CudaKernelTable t;
    registerPointwiseCudaKernels(t);
    registerMatrixMultiplyCudaKernels(t);
    registerAttentionCudaKernels(t);
    registerConvolutionCudaKernels(t);
    registerPoolingCudaKernels(t);
    registerResizeCudaKernels(t);
    registerReduceCudaKernels(t);
    registerSoftMaxCudaKernels(t);
    registerDataMovementCudaKernels(t);
    registerFusedPointwiseCudaKernels(t);
    return t;
  }();
  return table;
}

Status cudaStatus(int error, const char* what, const char* file, int line) {
  const auto code = static_cast<cudaError_t>(error);
  std::string where = file;
  const size_t slash = where.find_last_of('/');
  if (slash != std::string::npos) where = where.substr(slash + 1);
  return internalError(std::string("CUDA error ") + cudaGetErrorName(code) + " (" + cudaGetErrorString(code) +
                       ") from " + what + " at " + where + ":" + std::to_string(line));
}

namespace {

// A stateless tactic bound to its layer's parameters.
class CudaFunctionKernel : public Kernel {
 public:
  CudaFunctionKernel(LayerParams params, CudaKernelFn run, CudaWorkspaceFn workspace)
      : params_(std::move(params)), run_(run), workspace_(workspace) {}
  Status execute(KernelIO& io) const override { return run_(params_, io); }
  int64_t workspaceSize(const KernelIO& io) const override { return workspace_ ? workspace_(params_, io) : 0; }

 private:
  LayerParams params_;
  CudaKernelFn run_;
  CudaWorkspaceFn workspace_;
};

// Adds the layer's name to every failure, so a user sees which layer of their network broke.
class NamedKernel : public Kernel {
 public:
  NamedKernel(std::unique_ptr<Kernel> inner, const LayerParams& params)
      : inner_(std::move(inner)), where_(std::string(layerTypeName(params.type)) + " layer '" + params.name + "'") {}
  Status execute(KernelIO& io) const override {
    Status status = inner_->execute(io);
    return status.isOk() ? status : status.withContext(where_);
  }
  int64_t workspaceSize(const KernelIO& io) const override { return inner_->workspaceSize(io); }

 private:
  std::unique_ptr<Kernel> inner_;
  std::string where_;
};

class CudaBackend : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device) == cudaSuccess) {
      name_ = "sm_" + std::to_string(prop.major) + std::to_string(prop.minor);
    } else {
      name_ = "sm_unknown";
    }
  }

  BackendKind kind() const override { return BackendKind::kCUDA; }
  std::string deviceName() const override { return name_; }

  std::vector<TacticCandidate> tactics(const LayerInfo& layer, const Graph& graph) const override {
    std::vector<TacticCandidate> result;
    const std::vector<CudaTactic>& table = CudaKernelTable::instance().tactics(layer.params.type);
    // KILN_CUDA_TACTIC_FILTER=<substring> (tests, tactic triage): a layer type with a tactic whose name contains
    // it offers only those; other layer types keep all of theirs.
    const char* filter = std::getenv("KILN_CUDA_TACTIC_FILTER");
    bool filtered = false;
    if (filter != nullptr && *filter != '\0') {
      for (const CudaTactic& tactic : table) filtered = filtered || tactic.name.find(filter) != std::string::npos;
    }
    for (const CudaTactic& tactic : table) {
      if (filtered && tactic.name.find(filter) == std::string::npos) continue;
      if (tactic.supports != nullptr && !tactic.supports(layer, graph)) continue;
      result.push_back({tactic.name, [tactic](const LayerInfo& l, const Graph& g) -> StatusOr<std::unique_ptr<Kernel>> {
                          std::unique_ptr<Kernel> inner;
                          if (tactic.factory) {
                            KILN_ASSIGN_OR_RETURN(inner, tactic.factory(l, g));
                          } else if (tactic.run != nullptr) {
                            inner = std::make_unique<CudaFunctionKernel>(l.params, tactic.run, tactic.workspace);
                          } else {
                            return internalError("CUDA tactic '" + tactic.name + "' has neither a kernel nor a factory");
                          }
                          return std::unique_ptr<Kernel>(std::make_unique<NamedKernel>(std::move(inner), l.params));
                        }});
    }
    return result;
  }

  StatusOr<void*> allocateBytes(int64_t bytes) override {
    if (bytes <= 0) return static_cast<void*>(nullptr);
    KILN_RETURN_IF_ERROR(useDevice());
    void* ptr = nullptr;
    const cudaError_t error = cudaMalloc(&ptr, static_cast<size_t>(bytes));
    if (error != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error so later calls are not blamed
      return resourceExhausted("cudaMalloc of " + std::to_string(bytes) + " bytes failed: " + cudaGetErrorString(error));
    }
    return ptr;
  }
  void deallocateBytes(void* ptr) override {
    if (ptr != nullptr) cudaFree(ptr);
  }
  // cudaMemcpyDefault: unified addressing tells host from device pointers, so the same call serves uploads of
  // weights, device-to-device copies of outputs and host-evaluated shape values.
  Status copyToDevice(void* dst, const void* src, int64_t bytes, void* stream) override {
    if (bytes <= 0) return Status::ok();
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyDefault,
                                    static_cast<cudaStream_t>(stream)));
    return Status::ok();
  }
  Status copyToHost(void* dst, const void* src, int64_t bytes, void* stream) override {
    if (bytes <= 0) return Status::ok();
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyDefault,
                                    static_cast<cudaStream_t>(stream)));
    return Status::ok();
  }
  Status synchronize(void* stream) override {
    KILN_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)));
    return Status::ok();
  }

  StatusOr<void*> createMark() override {
    cudaEvent_t event = nullptr;
    KILN_CUDA_CHECK(cudaEventCreate(&event));
    return static_cast<void*>(event);
  }
  Status recordMark(void* mark, void* stream) override {
    KILN_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(mark), static_cast<cudaStream_t>(stream)));
    return Status::ok();
  }
  StatusOr<float> elapsedMs(void* from, void* to) override {
    KILN_CUDA_CHECK(cudaEventSynchronize(static_cast<cudaEvent_t>(to)));
    float ms = 0.f;
    KILN_CUDA_CHECK(cudaEventElapsedTime(&ms, static_cast<cudaEvent_t>(from), static_cast<cudaEvent_t>(to)));
    return ms;
  }
  void destroyMark(void* mark) override { cudaEventDestroy(static_cast<cudaEvent_t>(mark)); }

  bool supportsGraphs() const override { return true; }
  Status beginCapture(void** captureStream) override {
    // One capture stream per thread: contexts on one thread record one at a time; threads never share one.
    thread_local cudaStream_t stream = nullptr;
    if (stream == nullptr) KILN_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    // Thread-local mode: other threads' CUDA calls (another context, PyTorch) do not break this capture.
    const cudaError_t error = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
    if (error != cudaSuccess) {
      cudaGetLastError();
      return cudaStatus(error, "cudaStreamBeginCapture", __FILE__, __LINE__);
    }
    *captureStream = stream;
    return Status::ok();
  }
  Status endCapture(void* captureStream, void** exec) override {
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(static_cast<cudaStream_t>(captureStream), &graph);
    if (ended != cudaSuccess) {
      cudaGetLastError();  // a kernel broke the capture; its own Status says why
      if (graph != nullptr) cudaGraphDestroy(graph);
      return cudaStatus(ended, "cudaStreamEndCapture", __FILE__, __LINE__);
    }
    cudaGraphExec_t current = static_cast<cudaGraphExec_t>(*exec);
    if (current != nullptr) {
      // Same topology with new addresses: updating in place is much cheaper than instantiating.
      cudaGraphExecUpdateResultInfo info{};
      if (cudaGraphExecUpdate(current, graph, &info) == cudaSuccess) {
        cudaGraphDestroy(graph);
        return Status::ok();
      }
      cudaGetLastError();
      cudaGraphExecDestroy(current);
      *exec = nullptr;
    }
    cudaGraphExec_t created = nullptr;
    const cudaError_t error = cudaGraphInstantiate(&created, graph, 0);
    cudaGraphDestroy(graph);
    if (error != cudaSuccess) {
      cudaGetLastError();
      return cudaStatus(error, "cudaGraphInstantiate", __FILE__, __LINE__);
    }
    *exec = created;
    return Status::ok();
  }
  Status launchGraph(void* exec, void* stream) override {
    KILN_CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec), static_cast<cudaStream_t>(stream)));
    return Status::ok();
  }
  void destroyGraph(void* exec) override {
    if (exec != nullptr) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec));
  }

 private:
  Status useDevice() const {
    int current = -1;
    KILN_CUDA_CHECK(cudaGetDevice(&current));
    if (current != device_) KILN_CUDA_CHECK(cudaSetDevice(device_));
    return Status::ok();
  }

  int device_;
  std::string name_;
};

}  // namespace

StatusOr<std::shared_ptr<Backend>> getCudaBackend() {
  static std::mutex mutex;
  static std::shared_ptr<Backend> backend;
  std::lock_guard<std::mutex> lock(mutex);
  if (backend) return backend;
  int count = 0;
  const cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess || count == 0) {
    cudaGetLastError();
    return failedPrecondition(std::string("the CUDA backend needs a GPU, and none is usable here (") +
                              (error != cudaSuccess ? cudaGetErrorString(error) : "no CUDA device") +
                              "); build plans with BackendKind::kCPU");
  }
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  backend = std::make_shared<CudaBackend>(device);
  return backend;
}

}  // namespace kiln
