// Own CUDA kernels around the cuDNN convolutions (backends/cuda/convolution_cudnn.cc): input staging with
// asymmetric or out-of-range padding, the output epilogue (crop, bias, residual, ReLU), NCHW <-> NHWC
// transposes and weight type conversion. Host-callable launchers, so the cuDNN code stays plain C++.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {
namespace cuda {

// Spatial extents as 3D (missing leading dims are 1) of a [planes, d, h, w] tensor.
struct ConvExtent3 {
  int64_t d[3] = {1, 1, 1};
  __host__ __device__ int64_t volume() const { return d[0] * d[1] * d[2]; }
};

// What to do to each output element after the convolution: y = act(y + bias[c] + residual).
struct ConvEpilogue {
  const void* bias = nullptr;  // [channels], any float type; null: none
  DataType biasType = DataType::kFLOAT;
  const void* residual = nullptr;  // output-shaped, the output's type; null: none
  bool relu = false;
  bool any() const { return bias != nullptr || residual != nullptr || relu; }
};

// dst[p, o] = src[p, o + shift] where that lies inside src's extents, else 0, then the epilogue (channel of
// plane p is p % channels). src and dst have the same element type; src == dst works (in place) when the
// extents are equal and the shift is 0.
Status launchConvWindow(const void* src, void* dst, DataType type, int64_t planes, int64_t channels,
                        const ConvExtent3& srcExt, const ConvExtent3& dstExt, const int64_t shift[3],
                        const ConvEpilogue& epilogue, cudaStream_t stream);

// dst[n, o, c] (NHWC) = src[n, c, o + shift] (NCHW) inside src's extents, else 0.
Status launchNchwToNhwc(const void* src, void* dst, DataType type, int64_t batch, int64_t channels,
                        const ConvExtent3& srcExt, const ConvExtent3& dstExt, const int64_t shift[3],
                        cudaStream_t stream);

// dst[n, c, p] (NCHW) = epilogue(src[n, p, c]) (NHWC), same spatial extents.
Status launchNhwcToNchw(const void* src, void* dst, DataType type, int64_t batch, int64_t channels, int64_t spatial,
                        const ConvEpilogue& epilogue, cudaStream_t stream);

// Element-wise conversion between float types (float32, float16, bfloat16).
Status launchConvertFloats(const void* src, DataType srcType, void* dst, DataType dstType, int64_t count,
                           cudaStream_t stream);

}  // namespace cuda
}  // namespace kiln
