// Convolution tactics on cuDNN's graph (backend) API: one operation graph per layer, the convolution followed by
// its fused epilogue (bias, residual add, ReLU) as pointwise operations on virtual tensors.
//
// Tactics (registered after the legacy cuDNN ones, which run every shape):
//   "cuda_conv_graph", "cuda_conv_graph_1", "cuda_conv_graph_2": the 1st/2nd/3rd execution plan that finalizes,
//       in the order of cuDNN's heuristics (mode A, then the fallback list). Tensors in the layer's own layout:
//       NCHW, or NHWC for `channels_last`=1 layers (the layout contract).
//   "cuda_conv_graph_nhwc", "_nhwc_1", "_nhwc_2": float16/bfloat16 NCHW layers run channels-last, the input
//       transposed into the workspace and the output transposed back (a residual and ReLU then join the
//       transpose back, so the residual needs no transpose of its own).
// Float32 runs without TF32 unless the layer's "allow_tf32" is 1 (engines with the tensor-core or down-convert
// numerical notes are dropped); float16/bfloat16 accumulate in float32 (engines with reduced-precision
// reduction are dropped). Only symmetric padding that cuDNN's floor rule maps exactly onto the output is taken.
#pragma once

#include "engine/backends/cuda/cuda_kernels.h"

namespace kiln {

void registerConvolutionGraphCudaKernels(CudaKernelTable& table);
// "cuda_conv_depthwise": channels_last depthwise convolutions on Kiln's own kernels (convolution_depthwise.cu).
void registerConvolutionDepthwiseCudaKernels(CudaKernelTable& table);

}  // namespace kiln
