// Activation memory planning: tensors whose lifetimes do not overlap share arena bytes.
#pragma once

#include <vector>

#include "engine/graph.h"
#include "engine/plan.h"

namespace kiln {

constexpr int64_t kTENSOR_ALIGNMENT = 256;

// tensorBytes: the largest size each tensor takes within the profile, -1 when unknown (data-dependent).
// Graph I/O, constants, host-evaluated shape tensors and unknown sizes stay out of the arena.
MemoryPlan planMemory(const Graph& graph, const std::vector<int64_t>& tensorBytes);

}  // namespace kiln
