// Builder fusions: fewer layers and fewer passes over memory. Each keeps the graph topologically ordered and
// its tensor indices valid (fused-away tensors stay in the table until compactTensors).
#pragma once

#include <cstdint>

#include "engine/graph.h"

namespace kiln {

// Convolution followed by a per-channel multiply and/or add of constants (an inference batch norm, as the
// converters emit it) becomes one convolution with scaled kernel and shifted bias. Any backend: the result
// differs from the unfused one by rounding only. Returns how many multiply/add layers were folded.
int32_t foldChannelAffineIntoConvolution(Graph& graph);

// MatrixMultiply with constant weights [+ ElementWise kSUM of a constant bias along the last dim] followed by
// ElementWise kPROD with a constant along the last dim (ConvNeXt's layer scale, any per-column scale): the
// scale moves into the weights and the bias, and the multiply disappears. Any backend; differs from the
// unfolded network by rounding only. Returns how many multiplies were folded.
int32_t foldColumnScaleIntoGemm(Graph& graph);

// CUDA epilogues (the CUDA kernels read these attributes; the CPU never sees them):
//  - Convolution [+ ElementWise kSUM of a same-shape tensor produced earlier] [+ Activation kRELU]
//    -> attrs fused_residual=1 (input 3 is the residual) and fused_activation.
//  - MatrixMultiply [+ ElementWise kSUM of a constant bias along the last dim] [+ ElementWise kSUM of a
//    same-shape tensor produced earlier] [+ Activation kRELU/kGELU_*]
//    (or the tanh GELU written out as GPT-2 does: 0.5 x (1 + tanh(0.79788456 (x + 0.044715 x^3))))
//    -> attrs fused_bias=1 (input 2 is the bias), fused_residual=1 (input 3) and fused_activation:
//    out = act(A*B + residual + bias).
// Returns how many layers were fused away.
int32_t fuseEpilogues(Graph& graph);

}  // namespace kiln
