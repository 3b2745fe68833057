// CUDA kernels: each layer family registers its tactics here (backends/cuda/<family>.cu or .cc). Every layer
// kind has at least one CUDA tactic; a tactic that cannot run a layer (a dtype, a mode) says so in `supports`,
// so the builder never picks it and never falls back to the CPU silently.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/graph.h"

namespace kiln {

using CudaKernelFn = Status (*)(const LayerParams& layer, KernelIO& io);
using CudaWorkspaceFn = int64_t (*)(const LayerParams& layer, const KernelIO& io);
// Whether the tactic can run this layer with these tensor types/shapes (build-time dims, -1 where dynamic).
using CudaSupportsFn = bool (*)(const LayerInfo& layer, const Graph& graph);
// Tactics that keep per-kernel state (cuBLASLt heuristics, cuDNN plans, compiled NVRTC code) make their own
// Kernel. Kernel::execute must stay callable from several threads: guard caches with a mutex.
using CudaKernelFactory = std::function<StatusOr<std::unique_ptr<Kernel>>(const LayerInfo& layer, const Graph& graph)>;

struct CudaTactic {
  std::string name;                    // "cuda_gemm_cublaslt"; unique within the layer type
  CudaKernelFn run = nullptr;          // stateless tactics
  CudaWorkspaceFn workspace = nullptr; // null: no scratch
  CudaSupportsFn supports = nullptr;   // null: every layer of the type
  CudaKernelFactory factory;           // set instead of `run` for stateful tactics
};

class CudaKernelTable {
 public:
  CudaKernelTable();
  void add(LayerType type, CudaTactic tactic);
  const std::vector<CudaTactic>& tactics(LayerType type) const;  // registration order: the first is the default
  static const CudaKernelTable& instance();

 private:
  std::vector<std::vector<CudaTactic>> byType_;
};

// Status from a CUDA runtime call, naming the call site: KILN_CUDA_CHECK(cudaMemsetAsync(...)).
Status cudaStatus(int error, const char* what, const char* file, int line);
#define KILN_CUDA_CHECK(expr)                                                          \
  do {                                                                                 \
    const int kiln_cuda_err_ = static_cast<int>(expr);                                 \
    if (kiln_cuda_err_ != 0) return ::kiln::cudaStatus(kiln_cuda_err_, #expr, __FILE__, __LINE__); \
  } while (0)
// After a kernel launch: reports a bad launch configuration (never a silent no-op).
#define KILN_CUDA_CHECK_LAUNCH() KILN_CUDA_CHECK(cudaGetLastError())

// Family registration (backends/cuda/<family>.*).
void registerPointwiseCudaKernels(CudaKernelTable& table);     // activation, elementwise, unary, select, cast,
                                                              // identity, fill, shape, one-hot
void registerMatrixMultiplyCudaKernels(CudaKernelTable& table);  // matrix multiply (cuBLASLt)
void registerAttentionCudaKernels(CudaKernelTable& table);
void registerConvolutionCudaKernels(CudaKernelTable& table);   // convolution, deconvolution (cuDNN)
void registerPoolingCudaKernels(CudaKernelTable& table);
void registerResizeCudaKernels(CudaKernelTable& table);
void registerReduceCudaKernels(CudaKernelTable& table);        // reduce, topk, cumulative
void registerSoftMaxCudaKernels(CudaKernelTable& table);       // softmax, normalization
void registerFusedPointwiseCudaKernels(CudaKernelTable& table);  // builder-fused pointwise chains (NVRTC)
void registerDataMovementCudaKernels(CudaKernelTable& table);  // shuffle, slice, concatenation, padding,
                                                              // gather, scatter, non-zero

}  // namespace kiln
