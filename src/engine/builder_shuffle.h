// Shuffle merging: converters emit one shuffle per view/permute/transpose, so a head split such as
// view(B,S,H,D) + transpose(1,2) is two copies of the tensor. Consecutive shuffles become one where the
// combination is exact, and shuffles that change nothing disappear. Any backend.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/graph.h"

namespace kiln {

// Merges shuffle A -> shuffle B (A's output read only by B, not a graph output, both with static reshape
// attributes) when at most one of them reshapes:
//  - B does not reshape: B's transposes fold into A's second transpose;
//  - A does not reshape: A's transposes fold into B's first transpose (B's reshape still sees the same dims,
//    so "0 copies the input extent" keeps its meaning).
// Removes shuffles whose output equals their input (identity transposes and no reshape, or a reshape to the
// same static dims), unless the output leaves the graph. Returns how many shuffle layers were removed.
int32_t mergeShuffles(Graph& graph);

// Moves reshape-only shuffles (static dims) below the elementwise, activation, unary and cast layer that
// alone reads them, reshaping that layer's other operand alike (or leaving a per-last-dim/scalar operand
// that broadcasts the same either way). A GEMM's bias, residual add and activation then follow it directly
// (HF's Conv1D views its output between them), and a reshape that meets its inverse cancels in
// mergeShuffles. Returns how many moves it made.
int32_t sinkReshapes(Graph& graph);

// Moves shuffles that only permute or regroup leading dims across row-wise GEMMs (x @ W, W 2-D, plus a
// per-column bias) toward an attention layer that reads or produces them through views: a transpose before an
// input projection sinks below it, a shuffle after an output projection rises above it. The attention then
// absorbs them (builder_attention_views.h). Static shapes. Returns how many moves it made.
int32_t moveShufflesAcrossGemms(Graph& graph);

// The first `rank` entries of a shuffle's stored permutation `key` ("first_transpose", "second_transpose"),
// the identity when absent; false when malformed (the layer is then left for shape inference to report).
bool readShufflePermutation(const LayerInfo& layer, const char* key, int32_t rank, std::vector<int32_t>& perm);

}  // namespace kiln
