// The CPU backend: kernels from CpuKernelTable, host memory, synchronous execution.
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "engine/backends/cpu/cpu_kernels.h"

namespace kiln {

CpuKernelTable::CpuKernelTable() : byType_(static_cast<size_t>(kNB_LAYER_TYPES)) {}

void CpuKernelTable::add(LayerType type, CpuTactic tactic) {
  byType_[static_cast<size_t>(type)].push_back(std::move(tactic));
}

const std::vector<CpuTactic>& CpuKernelTable::tactics(LayerType type) const {
  return byType_[static_cast<size_t>(type)];
}

const CpuKernelTable& CpuKernelTable::instance() {
  static const CpuKernelTable table = [] {
    CpuKernelTable t;
    registerActivationCpuKernels(t);
    registerElementWiseCpuKernels(t);
    registerUnaryCpuKernels(t);
    registerConvolutionCpuKernels(t);
    registerPoolingCpuKernels(t);
    registerMatrixMultiplyCpuKernels(t);
    registerReduceCpuKernels(t);
    registerSoftMaxCpuKernels(t);
    registerShuffleCpuKernels(t);
    registerGatherCpuKernels(t);
    registerDataCpuKernels(t);
    registerResizeCpuKernels(t);
    registerAttentionCpuKernels(t);
    registerPointwiseFusedCpuKernels(t);
    return t;
  }();
  return table;
}

namespace {

class CpuKernel : public Kernel {
 public:
  CpuKernel(LayerParams params, CpuTactic tactic) : params_(std::move(params)), tactic_(std::move(tactic)) {}
  Status execute(KernelIO& io) const override {
    Status status = tactic_.run(params_, io);
    if (!status.isOk()) {
      return status.withContext(std::string(layerTypeName(params_.type)) + " layer '" + params_.name + "'");
    }
    return status;
  }
  int64_t workspaceSize(const KernelIO& io) const override {
    return tactic_.workspace ? tactic_.workspace(params_, io) : 0;
  }

 private:
  LayerParams params_;
  CpuTactic tactic_;
};

class CpuBackend : public Backend {
 public:
  BackendKind kind() const override { return BackendKind::kCPU; }
  std::string deviceName() const override { return "cpu"; }

  std::vector<TacticCandidate> tactics(const LayerInfo& layer, const Graph& graph) const override {
    std::vector<TacticCandidate> result;
    for (const CpuTactic& tactic : CpuKernelTable::instance().tactics(layer.params.type)) {
      result.push_back({tactic.name, [tactic](const LayerInfo& l, const Graph&) -> StatusOr<std::unique_ptr<Kernel>> {
                          return std::unique_ptr<Kernel>(std::make_unique<CpuKernel>(l.params, tactic));
                        }});
    }
    return result;
  }

  StatusOr<void*> createMark() override { return static_cast<void*>(new std::chrono::steady_clock::time_point()); }
  // CPU kernels run synchronously, so the time a mark is recorded is when the stream reaches it.
  Status recordMark(void* mark, void*) override {
    *static_cast<std::chrono::steady_clock::time_point*>(mark) = std::chrono::steady_clock::now();
    return Status::ok();
  }
  StatusOr<float> elapsedMs(void* from, void* to) override {
    const auto& a = *static_cast<std::chrono::steady_clock::time_point*>(from);
    const auto& b = *static_cast<std::chrono::steady_clock::time_point*>(to);
    return std::chrono::duration<float, std::milli>(b - a).count();
  }
  void destroyMark(void* mark) override { delete static_cast<std::chrono::steady_clock::time_point*>(mark); }

  StatusOr<void*> allocateBytes(int64_t bytes) override {
    if (bytes <= 0) return static_cast<void*>(nullptr);
    // 64-byte alignment suits SIMD loads; aligned_alloc needs a multiple of the alignment.
    const auto rounded = static_cast<size_t>((bytes + 63) / 64 * 64);
    void* ptr = std::aligned_alloc(64, rounded);
    if (ptr == nullptr) return resourceExhausted("cannot allocate " + std::to_string(bytes) + " bytes of host memory");
    return ptr;
  }
  void deallocateBytes(void* ptr) override { std::free(ptr); }
  Status copyToDevice(void* dst, const void* src, int64_t bytes, void*) override {
    if (bytes > 0) std::memcpy(dst, src, static_cast<size_t>(bytes));
    return Status::ok();
  }
  Status copyToHost(void* dst, const void* src, int64_t bytes, void*) override {
    if (bytes > 0) std::memcpy(dst, src, static_cast<size_t>(bytes));
    return Status::ok();
  }
  Status synchronize(void*) override { return Status::ok(); }
};

}  // namespace

Status runCpuLayer(const LayerParams& layer, KernelIO& io) {
  const auto& tactics = CpuKernelTable::instance().tactics(layer.type);
  if (tactics.empty()) return unimplemented(std::string("no CPU kernel for ") + layerTypeName(layer.type));
  const CpuTactic& tactic = tactics.front();
  std::vector<uint8_t> workspace;
  if (tactic.workspace) {
    const int64_t bytes = tactic.workspace(layer, io);
    workspace.resize(static_cast<size_t>(bytes > 0 ? bytes : 0));
    io.workspace = workspace.data();
    io.workspaceSize = bytes;
  }
  Status status = tactic.run(layer, io);
  io.workspace = nullptr;
  io.workspaceSize = 0;
  return status;
}

StatusOr<std::shared_ptr<Backend>> getBackend(BackendKind kind) {
  switch (kind) {
    case BackendKind::kCPU: {
      static std::shared_ptr<Backend> cpu = std::make_shared<CpuBackend>();
      return cpu;
    }
    case BackendKind::kCUDA:
#ifdef KILN_WITH_CUDA
      return getCudaBackend();
#else
      return unimplemented(
          "this build of Kiln has no CUDA backend; build plans with BackendKind::kCPU, or build Kiln with CUDA");
#endif
  }
  return invalidArgument("unknown backend kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace kiln
