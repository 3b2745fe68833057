// Builder fusion of pointwise chains: connected activation / float elementwise / float unary / float cast
// layers become one LayerType::kPOINTWISE layer carrying a PointwiseProgram (one generated kernel on CUDA).
#pragma once

#include <cstdint>

#include "engine/graph.h"
#include "kiln/types.h"

namespace kiln {

// A group has one output (its last layer's); every other tensor it produces is read only inside the group and
// is not a network output, and every member's output has the group output's dims (only group inputs
// broadcast). Single-element float constants become immediates. Groups of one layer stay as they are.
// Keeps the graph topological (the fused layer takes its last member's place). Returns how many layers were
// fused away (members minus one per group).
int32_t fusePointwiseChains(Graph& graph);

// On CUDA builds by default; KILN_FUSE_POINTWISE=0 turns it off, =1 turns it on for every backend.
bool pointwiseFusionEnabled(BackendKind backend);

}  // namespace kiln
