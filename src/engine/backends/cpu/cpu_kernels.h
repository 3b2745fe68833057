// CPU kernels: each layer family registers its kernels (tactics) here. The CPU backend is the
// reference implementation of every layer kind and the host evaluator of shape tensors.
#pragma once

#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/graph.h"

namespace kiln {

using CpuKernelFn = Status (*)(const LayerParams& layer, KernelIO& io);
using CpuWorkspaceFn = int64_t (*)(const LayerParams& layer, const KernelIO& io);

struct CpuTactic {
  std::string name;  // "cpu_conv_im2col_gemm"
  CpuKernelFn run;
  CpuWorkspaceFn workspace = nullptr;  // null: no scratch
};

class CpuKernelTable {
 public:
  CpuKernelTable();
  void add(LayerType type, CpuTactic tactic);
  // Tactics in registration order (the first is the default).
  const std::vector<CpuTactic>& tactics(LayerType type) const;
  static const CpuKernelTable& instance();

 private:
  std::vector<std::vector<CpuTactic>> byType_;
};

// Runs the layer's default CPU tactic (host evaluation of shape tensors, constant folding).
Status runCpuLayer(const LayerParams& layer, KernelIO& io);

// Family registration (backends/cpu/<family>.cc).
void registerActivationCpuKernels(CpuKernelTable& table);
void registerElementWiseCpuKernels(CpuKernelTable& table);   // elementwise, select
void registerUnaryCpuKernels(CpuKernelTable& table);
void registerConvolutionCpuKernels(CpuKernelTable& table);   // convolution, deconvolution
void registerPoolingCpuKernels(CpuKernelTable& table);
void registerMatrixMultiplyCpuKernels(CpuKernelTable& table);
void registerReduceCpuKernels(CpuKernelTable& table);        // reduce, topk, cumulative
void registerSoftMaxCpuKernels(CpuKernelTable& table);       // softmax, normalization
void registerShuffleCpuKernels(CpuKernelTable& table);       // shuffle, slice, concatenation, padding
void registerGatherCpuKernels(CpuKernelTable& table);        // gather, scatter, one-hot, non-zero
void registerDataCpuKernels(CpuKernelTable& table);          // constant, cast, identity, shape, fill
void registerResizeCpuKernels(CpuKernelTable& table);
void registerAttentionCpuKernels(CpuKernelTable& table);
void registerPointwiseFusedCpuKernels(CpuKernelTable& table);  // builder-fused pointwise chains

}  // namespace kiln
