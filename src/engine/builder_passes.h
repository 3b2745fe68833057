// The builder's graph passes, in the order the builder runs them. Each keeps the graph topologically
// ordered and its tensor indices valid (removed tensors stay in the table, unreferenced).
#pragma once

#include <memory>
#include <vector>

#include "engine/graph.h"
#include "engine/host_tensor.h"
#include "kiln/builder.h"
#include "kiln/status.h"

namespace kiln {

// Whether environment variable `name` is set to "0" (the builder's switches for comparing a pass on and off).
bool envSwitchedOff(const char* name);

// Drops layers whose outputs no graph output needs. Returns how many were removed.
int32_t eliminateDeadLayers(Graph& graph);

// Evaluates layers whose inputs are all constants, and fills without inputs, (up to maxElements outputs) and
// replaces them with constant layers. Shape-tensor layers stay (they depend on input shapes). Returns how many were folded.
StatusOr<int32_t> foldConstants(Graph& graph, int64_t maxElements);

// Weakly typed networks: runs float32 layers in float16/bfloat16 where the config allows and the layer
// asks (setPrecision) or the backend benefits, inserting casts at the boundaries.
Status assignPrecisions(Graph& graph, const BuilderConfig& config, bool backendPrefersReducedPrecision);

// Removes cast pairs X->Y->X that are exact (Y represents every X value) and casts to the same type.
int32_t removeRedundantCasts(Graph& graph);

// Marks layers that compute shape tensors so the runtime evaluates them on the host.
void markHostEvaluatedLayers(Graph& graph);

// Compacts the tensor table, dropping tensors no layer or graph I/O references.
void compactTensors(Graph& graph);

// Restores a topological order where fusions left a layer before the producer of an input it took over (a
// fused bias whose constant the converter defined after the GEMM): layers move only as far as they must,
// otherwise keeping their order.
void sortLayersTopologically(Graph& graph);

}  // namespace kiln
