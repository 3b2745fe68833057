// Internals of NetworkDefinition, ITensor and ILayer, shared by network.cc and the layer family files
// (layers/<family>.cc define their add* method, their typed accessors and their shape inference).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "engine/host_tensor.h"
#include "kiln/network.h"

namespace kiln {
namespace detail {

struct TensorData {
  NetworkDefinition* network = nullptr;
  std::string name;
  DataType type = DataType::kFLOAT;  // the requested type when one is set, else the inferred one
  DataType inferredType = DataType::kFLOAT;
  Dims dims;
  ILayer* producer = nullptr;
  int32_t producerOutput = 0;
  bool isInput = false;
  bool isOutput = false;
  bool isShape = false;
  bool hasRequestedType = false;  // setType on a layer output (weakly typed networks)
  DataType requestedType = DataType::kFLOAT;
  std::shared_ptr<const HostTensor> hostValue;  // known on the host at build time
};

struct LayerData {
  NetworkDefinition* network = nullptr;
  LayerParams params;
  std::vector<ITensor*> inputs;   // null: absent optional input
  std::vector<ITensor*> outputs;
  bool hasPrecision = false;
  DataType precision = DataType::kFLOAT;
  std::vector<std::pair<bool, DataType>> outputTypes;
};

}  // namespace detail

struct NetworkDefinition::Impl {
  NetworkDefinition* self = nullptr;
  uint32_t flags = 0;
  std::vector<std::unique_ptr<ITensor>> tensors;
  std::vector<std::unique_ptr<ILayer>> layers;
  std::vector<ITensor*> inputs;
  std::vector<ITensor*> outputs;
  std::vector<Status> addErrors;   // from add* calls and setters: sticky
  Status inferenceError;           // from the last full shape inference: recomputed when parameters change
  int32_t unnamedLayers = 0;
  bool dirty = false;
  bool orderDirty = false;

  // Creates a layer of `type` with the given inputs and parameters, names it and its outputs, and runs
  // shape inference. On invalid arguments records an error and returns null (the layer is not added).
  template <typename LayerT>
  LayerT* addLayer(LayerType type, std::vector<ITensor*> layerInputs, Attributes attrs) {
    auto layer = std::make_unique<LayerT>(makeLayerData(type, std::move(layerInputs), std::move(attrs)));
    return static_cast<LayerT*>(commitLayer(std::move(layer)));
  }

  std::unique_ptr<detail::LayerData> makeLayerData(LayerType type, std::vector<ITensor*> layerInputs, Attributes attrs);
  ILayer* commitLayer(std::unique_ptr<ILayer> layer);
  // True when the tensor belongs to this network; records an error naming `what` otherwise.
  bool ownsTensor(const ITensor* tensor, const char* what);

  void recordError(const Status& status);
  // Parameters changed: shapes are re-inferred on the next query.
  void markDirty() { dirty = true; }
  void markOrderDirty() { dirty = true; orderDirty = true; }
  // Re-runs shape inference for every layer (in topological order) when something changed.
  void ensureShapes();
  // Infers one layer's outputs from its inputs' current shapes; evaluates shape tensors on the host.
  Status inferLayer(ILayer& layer);

  // The graph the builder consumes: layers in topological order, unused layers kept (the builder prunes).
  StatusOr<Graph> toGraph();
};

// Accessors for the typed layer classes.
inline Attributes& attrsOf(ILayer* layer) { return layer->data().params.attrs; }
inline const Attributes& attrsOf(const ILayer* layer) { return layer->data().params.attrs; }
// Records a changed parameter so shapes are re-inferred.
void touch(ILayer* layer);

}  // namespace kiln
