// Shape resolution: concrete extents of every tensor of a graph from its input shapes, with shape-tensor
// arithmetic evaluated on the host. The builder runs it against profile shapes; the runtime before
// every execution whose input shapes changed.
#pragma once

#include <memory>
#include <vector>

#include "engine/graph.h"
#include "engine/host_tensor.h"
#include "kiln/status.h"

namespace kiln {

// Constants and shape tensors up to this many elements are kept on the host for shape inference.
constexpr int64_t kMAX_HOST_ELEMENTS = 4096;

struct ShapeState {
  std::vector<Dims> dims;        // per tensor; -1 extents only downstream of data-dependent layers
  std::vector<DataType> types;
  std::vector<std::shared_ptr<const HostTensor>> values;  // host values (constants, shape tensors)
};

// Host values of the graph's small constants, per tensor (null elsewhere).
std::vector<std::shared_ptr<const HostTensor>> constantHostValues(const Graph& graph);

// Resolves all shapes. `inputDims` follows graph.inputs. Layers marked hostEvaluated are run on the host.
// Errors name the layer; `stage` ("profile 0 max", "execution") prefixes them.
Status resolveShapes(const Graph& graph, const std::vector<Dims>& inputDims,
                     const std::vector<std::shared_ptr<const HostTensor>>& constants, ShapeState& state);

// True when a host-evaluated layer's inputs are all known (concrete dims and host values).
bool hostInputsReady(const Graph& graph, const LayerInfo& layer, const ShapeState& state);
// Runs a host-evaluated layer on the host, storing its outputs in state.values.
Status evaluateHostLayer(const Graph& graph, size_t layerIndex, ShapeState& state);

// Re-infers one layer from the (now concrete) dims in `state` (used downstream of data-dependent layers).
Status inferLayerInState(const Graph& graph, size_t layerIndex, ShapeState& state);

}  // namespace kiln
