// Patch-embedding convolutions as one GEMM: a vision transformer cuts its image into non-overlapping p x q
// patches with a convolution whose kernel equals its stride (ViT-B/16: 16x16, stride 16, [64,3,224,224] in,
// 768 maps). Each output pixel is then the dot product of one patch with each kernel, and im2col reads every
// input element exactly once: the convolution is a rearrangement of the input followed by a
// [N*(H/p)*(W/q), C*p*q] x [C*p*q, K] product. On the H100, cuDNN runs ViT-B/16's in 0.77 ms (10% of the
// model) although the GEMM is 7.4 GFLOP (about 20 us). Any backend; the result differs from the
// convolution's by summation order, and for a float16/bfloat16 convolution with float32 weights by their
// rounding to its type (which its CUDA kernels do to the kernel too, not to the bias).
#pragma once

#include <cstdint>

#include "engine/graph.h"

namespace kiln {

// Rewrites each kCONVOLUTION with a 2-D kernel [p, q] equal to its stride, zero padding, dilation 1, one
// group, kernel and bias as weights (not inputs), NCHW (not channels_last) and not fused with anything, on a
// static float [N, C, H, W] input with H % p == 0 and W % q == 0, into
//   shuffle:  reshape [N, C, H/p, p, W/q, q], transpose to [N, H/p, W/q, C, p, q]
//   shuffle:  reshape [N, (H/p)*(W/q), C*p*q] (moves no bytes)
//   matrix multiply by the constant kernel [K, C*p*q] (operation kTRANSPOSE) -> [N, (H/p)*(W/q), K]
//   elementwise kSUM of the constant bias [1, K] (when there is one; the CUDA epilogue fusion absorbs it)
//   shuffle:  transpose to [N, K, (H/p)*(W/q)], reshape [N, K, H/p, W/q] -> the convolution's output tensor,
// with the weights in the activation type. Only where the GEMM is worth it: K >= 64 output maps,
// C*p*q >= 64, and patches of at least 16 pixels (not a CNN's 1x1 or 2x2 layers). The new layers take the
// convolution's place, so the order stays topological. Returns how many convolutions were rewritten.
int32_t convertPatchConvolutions(Graph& graph);

// On unless KILN_PATCH_GEMM=0 (to compare).
bool patchConvolutionsEnabled();

}  // namespace kiln
