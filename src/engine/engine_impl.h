// Internals of Engine and ExecutionContext.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/plan.h"
#include "engine/shape_resolution.h"
#include "kiln/runtime.h"

namespace kiln {

struct Engine::Impl {
  PlanContents plan;
  std::shared_ptr<Backend> backend;
  std::vector<std::unique_ptr<Kernel>> kernels;            // per layer; null for host-evaluated and constants
  std::vector<std::shared_ptr<const HostTensor>> hostConstants;  // small constants, per tensor
  std::vector<void*> constantData;                          // per tensor: device memory of constant outputs
  std::vector<void*> ownedConstants;                        // device allocations to free
  std::vector<int32_t> ioTensors;                           // graph inputs then outputs
  std::vector<int32_t> consumers;                           // per tensor: number of layers reading it

  ~Impl();
  int32_t findIO(const char* name) const;  // index into ioTensors, -1 when absent
  bool isInput(int32_t ioIndex) const { return ioIndex < static_cast<int32_t>(plan.graph.inputs.size()); }
};

}  // namespace kiln
