// Sibling GEMM merging: a transformer projects one activation three times (query, key and value, each
// x W^T + b). At small batch each of those GEMMs is too small to fill the GPU, so three launches cost
// about three times one. Matrix multiplies that read the same activation with constant weights of the same
// inner size and the same epilogue become one GEMM with the weights (and biases) concatenated, followed by a
// slice per original output; the attention-view pass then usually absorbs those slices. Any backend (on the
// CPU, where biases stay separate layers, the bare GEMMs merge).
#pragma once

#include <cstdint>

#include "engine/graph.h"

namespace kiln {

// Merges groups of kMATRIX_MULTIPLY layers that share input 0 (operation kNONE) and whose input 1 is a
// 2-D constant (kNONE [K, N] or kTRANSPOSE [N, K], the same for the group), with equal output types,
// fused activation and TF32 permission, each with a constant fused bias or none, and no fused residual.
// Static shapes only. Returns how many layers were merged away.
int32_t mergeSiblingGemms(Graph& graph);

}  // namespace kiln
