// Registration entry points of the pointwise CUDA kernel files; registerPointwiseCudaKernels
// (pointwise_register.cu) calls each of them. One function per file so every file owns its layer kinds:
// activation, unary, elementwise + select, cast + identity + shape, fill + one-hot; plus the integer
// arithmetic launcher that pointwise_elementwise.cu calls across files.
// Host-only declarations: safe to include from .cc and .cu files alike.
#pragma once

#include "engine/backends/cuda/cuda_kernels.h"

namespace kiln {
namespace cuda {

void registerActivationCudaTactics(CudaKernelTable& table);   // pointwise_activation.cu
void registerUnaryCudaTactics(CudaKernelTable& table);        // pointwise_unary.cu
void registerElementWiseCudaTactics(CudaKernelTable& table);  // pointwise_elementwise.cu (+ _int.cu), select
void registerDataCudaTactics(CudaKernelTable& table);         // pointwise_data.cu: cast, identity, shape
void registerGenerateCudaTactics(CudaKernelTable& table);     // pointwise_generate.cu: fill, one-hot

// Integer sum/prod/max/min/sub/div/pow/floor_div (pointwise_elementwise_int.cu), launched on `stream`.
Status launchIntArithmetic(ElementWiseOperation op, const TensorView& a, const TensorView& b, TensorView& out,
                           void* stream);

}  // namespace cuda
}  // namespace kiln
