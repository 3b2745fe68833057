// Registration of the tactics that registerReduceCudaKernels (reduce.cu) and registerSoftMaxCudaKernels
// (softmax.cu) gather from their sibling files.
#pragma once

#include "engine/backends/cuda/cuda_kernels.h"

namespace kiln {

void addTopKCudaTactics(CudaKernelTable& table);           // topk.cu
void addCumulativeCudaTactics(CudaKernelTable& table);     // cumulative.cu
void addNormalizationCudaTactics(CudaKernelTable& table);  // normalization.cu

}  // namespace kiln
