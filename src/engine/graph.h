// The engine's internal graph: what the builder optimizes, the plan stores and the runtime executes.
// Tensors and layers refer to each other by index; layers are kept in topological order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/attributes.h"
#include "kiln/layers.h"
#include "kiln/types.h"

namespace kiln {

// What a kernel and a shape-inference function need to know of a layer.
struct LayerParams {
  LayerType type = LayerType::kIDENTITY;
  std::string name;
  Attributes attrs;
};

struct TensorInfo {
  std::string name;
  DataType type = DataType::kFLOAT;
  Dims dims;                   // build-time shape, -1 where dynamic
  bool isShapeTensor = false;  // computed on the host in the shape pass
};

struct LayerInfo {
  LayerParams params;
  std::vector<int32_t> inputs;   // -1 for an absent optional input
  std::vector<int32_t> outputs;
  std::string kernel;            // backend tactic chosen by the builder
  bool hostEvaluated = false;    // runs on the host during shape resolution (shape-tensor arithmetic)
  bool hasPrecision = false;     // weakly typed networks: the precision the layer was asked to run in
  DataType precision = DataType::kFLOAT;
};

// Every extent known (no -1) and a valid rank.
inline bool isStaticShape(const Dims& d) { return d.nbDims >= 0 && !hasDynamicExtent(d); }

struct Graph {
  std::vector<TensorInfo> tensors;
  std::vector<LayerInfo> layers;
  std::vector<int32_t> inputs;
  std::vector<int32_t> outputs;

  // Index of the layer producing each tensor (-1 for network inputs).
  std::vector<int32_t> producers() const;
  // Appends a tensor (for builder passes) and returns its index.
  int32_t addTensor(std::string name, DataType type, const Dims& dims);
  int32_t findTensor(const std::string& name) const;  // -1 if absent
};

}  // namespace kiln
