// Sibling GEMM merging: a transformer projects one activation three times (query, key and value, each
// x W^T + b). At small batch each of those GEMMs is too small to fill the GPU, so three launches cost
// about three times one. Matrix multiplies that read the same activation with constant weights of the same
// inner size and the same epilogue become one GEMM with the weights (and biases) concatenated, followed by a
// slice per original output, which the attention-view pass then absorbs. Runs after the CUDA epilogue fusion
// (on the CPU, biases stay separate layers between the GEMM and the attention, so nothing merges there).
#pragma once

#include <cstdint>

#include "engine/graph.h"

namespace kiln {

// Merges groups of kMATRIX_MULTIPLY layers that share input 0 (operation kNONE) and whose input 1 is a
// 2-D constant (kNONE [K, N] or kTRANSPOSE [N, K], the same for the group), with equal output types,
// fused activation and TF32 permission, each with a constant fused bias or none, and no fused residual.
// Each output must reach an attention layer through shuffles and slices only (so that the slices become
// views, not copies). Static shapes only. Returns how many layers were merged away.
int32_t mergeSiblingGemms(Graph& graph);

// On unless KILN_MERGE_GEMMS=0 (to compare).
bool gemmMergeEnabled();

}  // namespace kiln
