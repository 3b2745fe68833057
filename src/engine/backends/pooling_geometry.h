// Pooling geometry shared by the CPU and CUDA kernels: the window, stride and padding of the innermost 1-3
// dims, with SAME padding resolved, read from a pooling layer and its concrete I/O shapes.
#pragma once

#include <cstdint>

#include "engine/backend.h"
#include "engine/graph.h"

namespace kiln {

// Spatial dims as 3D (missing leading ones of extent 1); every dim before them is an independent plane.
// Passed by value to CUDA kernels: plain data only.
struct PoolGeometry {
  int64_t planes = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, window[3] = {1, 1, 1}, stride[3] = {1, 1, 1};
  int64_t pre[3] = {0, 0, 0}, post[3] = {0, 0, 0};
};

Status readPoolGeometry(const LayerParams& layer, const KernelIO& io, PoolGeometry& g);

}  // namespace kiln
