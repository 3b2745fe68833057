// NetworkDefinition, ITensor and ILayer: ownership, naming, lazy shape inference and export to a Graph.
#include <algorithm>
#include <map>
#include <set>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/layer_kinds.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

// Shape tensors and small constants are evaluated on the host while the network is built; bigger
// results are not needed for shape inference.
constexpr int64_t kMAX_HOST_ELEMENTS = 4096;

std::shared_ptr<const HostTensor> constantHostValue(const LayerParams& params, const Dims& dims, DataType type) {
  const WeightsBlob* weights = params.attrs.getWeights("weights");
  const int64_t count = volume(dims);
  if (weights == nullptr || count < 0 || count > kMAX_HOST_ELEMENTS || weights->count != count ||
      weights->type != type || weights->byteSize() != count * dataTypeSize(type)) {
    return nullptr;
  }
  auto value = std::make_shared<HostTensor>(type, dims);
  std::copy(weights->bytes->begin(), weights->bytes->end(), value->bytes.begin());
  return value;
}

bool defersShapeErrorsAtAdd(LayerType type) {
  return type == LayerType::kCONVOLUTION || type == LayerType::kDECONVOLUTION || type == LayerType::kPOOLING;
}

Dims makeDimsOfRank(int32_t rank) {
  Dims dims;
  dims.nbDims = rank;
  for (int32_t i = 0; i < rank; ++i) dims.d[i] = -1;
  return dims;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// ITensor

ITensor::ITensor(std::unique_ptr<detail::TensorData> data) : data_(std::move(data)) {}
ITensor::~ITensor() = default;

const char* ITensor::getName() const { return data_->name.c_str(); }
void ITensor::setName(const char* name) { data_->name = name ? name : ""; }

Dims ITensor::getDimensions() const {
  data_->network->impl().ensureShapes();
  return data_->dims;
}

void ITensor::setDimensions(const Dims& dims) {
  auto& impl = data_->network->impl();
  if (!data_->isInput) {
    impl.recordError(invalidArgument("setDimensions on tensor '" + data_->name +
                                     "': only network inputs can be reshaped; add a shuffle layer instead"));
    return;
  }
  data_->dims = dims;
  impl.markDirty();
}

DataType ITensor::getType() const {
  data_->network->impl().ensureShapes();
  return data_->type;
}

void ITensor::setType(DataType type) {
  auto& impl = data_->network->impl();
  if (data_->isInput) {
    data_->type = type;
    data_->inferredType = type;
    impl.markDirty();
    return;
  }
  if (impl.flags & (1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED))) {
    impl.recordError(invalidArgument("setType on tensor '" + data_->name +
                                     "': a strongly typed network takes types from its layers; add a cast layer"));
    return;
  }
  data_->hasRequestedType = true;
  data_->requestedType = type;
  impl.markDirty();
}

bool ITensor::isNetworkInput() const { return data_->isInput; }
bool ITensor::isNetworkOutput() const { return data_->isOutput; }
bool ITensor::isShapeTensor() const {
  data_->network->impl().ensureShapes();
  return data_->isShape;
}

// ---------------------------------------------------------------------------------------------------
// ILayer

ILayer::ILayer(std::unique_ptr<detail::LayerData> data) : data_(std::move(data)) {}
ILayer::~ILayer() = default;

LayerType ILayer::getType() const { return data_->params.type; }
void ILayer::setName(const char* name) { data_->params.name = name ? name : ""; }
const char* ILayer::getName() const { return data_->params.name.c_str(); }
int32_t ILayer::getNbInputs() const { return static_cast<int32_t>(data_->inputs.size()); }
ITensor* ILayer::getInput(int32_t index) const {
  if (index < 0 || index >= getNbInputs()) return nullptr;
  return data_->inputs[static_cast<size_t>(index)];
}

void ILayer::setInput(int32_t index, ITensor& tensor) {
  auto& impl = data_->network->impl();
  const LayerKindInfo& info = layerKindInfo(data_->params.type);
  if (index < 0 || index >= info.maxInputs) {
    impl.recordError(invalidArgument("setInput on layer '" + data_->params.name + "': index " +
                                     std::to_string(index) + " is out of range for a " +
                                     layerTypeName(data_->params.type) + " layer"));
    return;
  }
  if (!impl.ownsTensor(&tensor, "setInput")) return;
  if (static_cast<size_t>(index) >= data_->inputs.size()) data_->inputs.resize(static_cast<size_t>(index) + 1, nullptr);
  data_->inputs[static_cast<size_t>(index)] = &tensor;
  impl.markOrderDirty();
}

int32_t ILayer::getNbOutputs() const { return static_cast<int32_t>(data_->outputs.size()); }
ITensor* ILayer::getOutput(int32_t index) const {
  if (index < 0 || index >= getNbOutputs()) return nullptr;
  return data_->outputs[static_cast<size_t>(index)];
}
void ILayer::setPrecision(DataType type) {
  data_->hasPrecision = true;
  data_->precision = type;
}
DataType ILayer::getPrecision() const { return data_->precision; }
bool ILayer::precisionIsSet() const { return data_->hasPrecision; }
void ILayer::resetPrecision() { data_->hasPrecision = false; }
void ILayer::setOutputType(int32_t index, DataType type) {
  ITensor* out = getOutput(index);
  if (out != nullptr) out->setType(type);
}

void touch(ILayer* layer) { layer->data().network->impl().markDirty(); }

// ---------------------------------------------------------------------------------------------------
// NetworkDefinition

NetworkDefinition::NetworkDefinition(uint32_t flags) : impl_(std::make_unique<Impl>()) {
  impl_->self = this;
  impl_->flags = flags;
}
NetworkDefinition::~NetworkDefinition() = default;

bool NetworkDefinition::isStronglyTyped() const {
  return impl_->flags & (1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED));
}

ITensor* NetworkDefinition::addInput(const char* name, DataType type, const Dims& dims) {
  const std::string tensorName = name ? name : "";
  if (tensorName.empty()) {
    impl_->recordError(invalidArgument("addInput: an input needs a name"));
    return nullptr;
  }
  for (ITensor* in : impl_->inputs) {
    if (tensorName == in->getName()) {
      impl_->recordError(invalidArgument("addInput: an input named '" + tensorName + "' already exists"));
      return nullptr;
    }
  }
  if (dims.nbDims < 0 || dims.nbDims > Dims::kMAX_DIMS) {
    impl_->recordError(invalidArgument("addInput '" + tensorName + "': rank must be 0.." +
                                       std::to_string(Dims::kMAX_DIMS)));
    return nullptr;
  }
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < -1) {
      impl_->recordError(invalidArgument("addInput '" + tensorName + "': extent " + std::to_string(dims.d[i]) +
                                         " is invalid (use -1 for dynamic)"));
      return nullptr;
    }
  }
  auto data = std::make_unique<detail::TensorData>();
  data->network = this;
  data->name = tensorName;
  data->type = type;
  data->inferredType = type;
  data->dims = dims;
  data->isInput = true;
  auto tensor = std::make_unique<ITensor>(std::move(data));
  ITensor* raw = tensor.get();
  impl_->tensors.push_back(std::move(tensor));
  impl_->inputs.push_back(raw);
  impl_->markDirty();
  return raw;
}

void NetworkDefinition::markOutput(ITensor& tensor) {
  if (!impl_->ownsTensor(&tensor, "markOutput")) return;
  if (tensor.data().isOutput) return;
  tensor.data().isOutput = true;
  impl_->outputs.push_back(&tensor);
}

void NetworkDefinition::unmarkOutput(ITensor& tensor) {
  if (!impl_->ownsTensor(&tensor, "unmarkOutput")) return;
  tensor.data().isOutput = false;
  impl_->outputs.erase(std::remove(impl_->outputs.begin(), impl_->outputs.end(), &tensor), impl_->outputs.end());
}

int32_t NetworkDefinition::getNbInputs() const { return static_cast<int32_t>(impl_->inputs.size()); }
ITensor* NetworkDefinition::getInput(int32_t index) const {
  return index >= 0 && index < getNbInputs() ? impl_->inputs[static_cast<size_t>(index)] : nullptr;
}
int32_t NetworkDefinition::getNbOutputs() const { return static_cast<int32_t>(impl_->outputs.size()); }
ITensor* NetworkDefinition::getOutput(int32_t index) const {
  return index >= 0 && index < getNbOutputs() ? impl_->outputs[static_cast<size_t>(index)] : nullptr;
}
int32_t NetworkDefinition::getNbLayers() const { return static_cast<int32_t>(impl_->layers.size()); }
ILayer* NetworkDefinition::getLayer(int32_t index) const {
  return index >= 0 && index < getNbLayers() ? impl_->layers[static_cast<size_t>(index)].get() : nullptr;
}

Status NetworkDefinition::status() {
  impl_->ensureShapes();
  if (!impl_->addErrors.empty()) {
    Status first = impl_->addErrors.front();
    if (impl_->addErrors.size() > 1) {
      return Status(first.code(), first.message() + " (and " + std::to_string(impl_->addErrors.size() - 1) +
                                      " more errors)");
    }
    return first;
  }
  return impl_->inferenceError;
}

Status NetworkDefinition::validate() {
  impl_->markDirty();
  return status();
}

// ---------------------------------------------------------------------------------------------------
// Impl

void NetworkDefinition::Impl::recordError(const Status& status) {
  if (!status.isOk()) addErrors.push_back(status);
}

bool NetworkDefinition::Impl::ownsTensor(const ITensor* tensor, const char* what) {
  if (tensor == nullptr) {
    recordError(invalidArgument(std::string(what) + ": tensor is null"));
    return false;
  }
  if (tensor->data().network != self) {
    recordError(invalidArgument(std::string(what) + ": tensor '" + tensor->getName() +
                                "' belongs to another network"));
    return false;
  }
  return true;
}

std::unique_ptr<detail::LayerData> NetworkDefinition::Impl::makeLayerData(LayerType type,
                                                                           std::vector<ITensor*> layerInputs,
                                                                           Attributes attrs) {
  auto data = std::make_unique<detail::LayerData>();
  data->network = self;
  data->params.type = type;
  data->params.name = "(Unnamed Layer* " + std::to_string(unnamedLayers++) + ") [" + layerTypeName(type) + "]";
  data->params.attrs = std::move(attrs);
  data->inputs = std::move(layerInputs);
  return data;
}

ILayer* NetworkDefinition::Impl::commitLayer(std::unique_ptr<ILayer> layer) {
  ensureShapes();
  auto& data = layer->data();
  for (ITensor* in : data.inputs) {
    if (in != nullptr && !ownsTensor(in, layerTypeName(data.params.type))) return nullptr;
  }
  const LayerKindInfo& info = layerKindInfo(data.params.type);
  std::vector<std::unique_ptr<ITensor>> outputTensors;
  for (int32_t i = 0; i < info.nbOutputs; ++i) {
    auto tensorData = std::make_unique<detail::TensorData>();
    tensorData->network = self;
    tensorData->name = data.params.name + "_output" + (i > 0 ? "_" + std::to_string(i) : "");
    tensorData->producer = layer.get();
    tensorData->producerOutput = i;
    outputTensors.push_back(std::make_unique<ITensor>(std::move(tensorData)));
    data.outputs.push_back(outputTensors.back().get());
  }
  Status status = inferLayer(*layer);
  if (!status.isOk() && defersShapeErrorsAtAdd(data.params.type) && status.code() == StatusCode::kOUT_OF_RANGE) {
    // Padding, stride and dilation are set after add* (TensorRT's API), so a window that does not fit yet may
    // fit once they are: keep the layer and re-infer lazily; status() reports what is still wrong then.
    for (ITensor* out : data.outputs) {
      auto& td = out->data();
      const ITensor* in = data.inputs.empty() ? nullptr : data.inputs[0];
      td.dims = makeDimsOfRank(in ? in->data().dims.nbDims : 0);
      td.type = td.inferredType = in ? in->data().type : DataType::kFLOAT;
    }
    markDirty();
  } else if (!status.isOk()) {
    recordError(status);
    return nullptr;
  }
  for (auto& t : outputTensors) tensors.push_back(std::move(t));
  layers.push_back(std::move(layer));
  return layers.back().get();
}

Status NetworkDefinition::Impl::inferLayer(ILayer& layer) {
  auto& data = layer.data();
  std::vector<ShapeInput> shapeInputs(data.inputs.size());
  bool allHostKnown = true;
  bool anyShapeInput = false;
  for (size_t i = 0; i < data.inputs.size(); ++i) {
    ITensor* in = data.inputs[i];
    if (in == nullptr) continue;
    const auto& td = in->data();
    shapeInputs[i] = {true, td.dims, td.type, td.hostValue.get()};
    allHostKnown = allHostKnown && td.hostValue != nullptr;
    anyShapeInput = anyShapeInput || td.isShape;
  }
  std::vector<ShapeOutput> shapeOutputs;
  KILN_RETURN_IF_ERROR(inferLayerShapes(data.params, shapeInputs, shapeOutputs));
  const LayerKindInfo& info = layerKindInfo(data.params.type);
  const bool isShapeLayer = data.params.type == LayerType::kSHAPE;
  // Shape tensors: a Shape layer's output, and host-evaluable arithmetic on shape tensors and constants.
  // Only small rank-0/1 results count: slicing a big weight table by a computed size is data, not a shape.
  bool computesShape = info.hostEvaluable && anyShapeInput && data.params.type != LayerType::kCONSTANT &&
                       data.params.type != LayerType::kFILL;
  for (const ShapeOutput& so : shapeOutputs) {
    computesShape = computesShape && so.dims.nbDims <= 1 && volume(so.dims) >= 0 &&
                    volume(so.dims) <= Dims::kMAX_DIMS * 8;
  }
  for (ITensor* in : data.inputs) {
    if (in == nullptr) continue;
    const auto& td = in->data();
    const bool fromConstant = td.producer != nullptr && td.producer->getType() == LayerType::kCONSTANT;
    computesShape = computesShape && (td.isShape || fromConstant);
  }
  for (size_t i = 0; i < data.outputs.size(); ++i) {
    auto& out = data.outputs[i]->data();
    out.dims = shapeOutputs[i].dims;
    out.inferredType = shapeOutputs[i].type;
    out.type = out.hasRequestedType ? out.requestedType : out.inferredType;
    out.isShape = isShapeLayer || computesShape;
    out.hostValue = nullptr;
  }
  // Host values: constants, shapes of static tensors and arithmetic on them.
  if (data.params.type == LayerType::kCONSTANT) {
    auto& out = data.outputs[0]->data();
    out.hostValue = constantHostValue(data.params, out.dims, out.inferredType);
    return Status::ok();
  }
  const bool inputsReady = isShapeLayer ? !hasDynamicExtent(shapeInputs[0].dims) : allHostKnown;
  if (!info.hostEvaluable || !inputsReady) return Status::ok();
  std::vector<HostTensor> results;
  for (const ShapeOutput& so : shapeOutputs) {
    const int64_t count = volume(so.dims);
    if (count < 0 || count > kMAX_HOST_ELEMENTS) return Status::ok();
    results.emplace_back(so.type, so.dims);
  }
  KernelIO io;
  for (size_t i = 0; i < data.inputs.size(); ++i) {
    TensorView view;
    if (data.inputs[i] != nullptr) {
      const auto& td = data.inputs[i]->data();
      view.dims = td.dims;
      view.type = td.type;
      if (td.hostValue) view.data = const_cast<void*>(td.hostValue->data());
    }
    io.inputs.push_back(view);
  }
  for (HostTensor& r : results) io.outputs.push_back({r.data(), r.dims, r.type});
  Status evaluated = runCpuLayer(data.params, io);
  if (!evaluated.isOk()) return Status::ok();  // left for run time, where the error is reported with data
  for (size_t i = 0; i < data.outputs.size(); ++i) {
    data.outputs[i]->data().hostValue = std::make_shared<const HostTensor>(std::move(results[i]));
  }
  return Status::ok();
}

void NetworkDefinition::Impl::ensureShapes() {
  if (!dirty) return;
  dirty = false;
  inferenceError = Status::ok();
  if (orderDirty) {
    orderDirty = false;
    // setInput may have made a layer depend on a later one: restore a topological order (stable).
    std::map<const ILayer*, size_t> position;
    for (size_t i = 0; i < layers.size(); ++i) position[layers[i].get()] = i;
    std::vector<std::unique_ptr<ILayer>> sorted;
    std::set<const ILayer*> placed;
    std::vector<bool> done(layers.size(), false);
    bool progress = true;
    while (sorted.size() < layers.size() && progress) {
      progress = false;
      for (size_t i = 0; i < layers.size(); ++i) {
        if (done[i]) continue;
        bool ready = true;
        for (ITensor* in : layers[i]->data().inputs) {
          if (in && in->data().producer && !placed.count(in->data().producer)) ready = false;
        }
        if (!ready) continue;
        placed.insert(layers[i].get());
        done[i] = true;
        sorted.push_back(std::move(layers[i]));
        progress = true;
      }
    }
    if (sorted.size() < layers.size()) {
      for (size_t i = 0; i < layers.size(); ++i) {
        if (!done[i]) sorted.push_back(std::move(layers[i]));
      }
      layers = std::move(sorted);
      inferenceError = invalidArgument("the network has a cycle (setInput made a layer depend on its own output)");
      return;
    }
    layers = std::move(sorted);
  }
  for (auto& layer : layers) {
    Status status = inferLayer(*layer);
    if (!status.isOk() && inferenceError.isOk()) inferenceError = status;
  }
}

StatusOr<Graph> NetworkDefinition::Impl::toGraph() {
  ensureShapes();
  KILN_RETURN_IF_ERROR(self->status());
  if (outputs.empty()) return invalidArgument("the network has no outputs: mark at least one with markOutput");
  Graph graph;
  std::map<const ITensor*, int32_t> index;
  auto addTensor = [&](const ITensor* t, DataType type) {
    TensorInfo info;
    info.name = t->data().name;
    info.type = type;
    info.dims = t->data().dims;
    info.isShapeTensor = t->data().isShape;
    graph.tensors.push_back(info);
    return static_cast<int32_t>(graph.tensors.size() - 1);
  };
  std::set<std::string> ioNames;
  for (ITensor* in : inputs) {
    index[in] = addTensor(in, in->data().type);
    graph.inputs.push_back(index[in]);
    ioNames.insert(in->data().name);
  }
  for (auto& layer : layers) {
    const auto& data = layer->data();
    LayerInfo info;
    info.params = data.params;
    info.hasPrecision = data.hasPrecision;
    info.precision = data.precision;
    for (ITensor* in : data.inputs) info.inputs.push_back(in ? index.at(in) : -1);
    std::vector<LayerInfo> casts;
    for (ITensor* out : data.outputs) {
      const auto& td = out->data();
      if (td.type == td.inferredType) {
        index[out] = addTensor(out, td.type);
        info.outputs.push_back(index[out]);
        continue;
      }
      // A requested output type (weakly typed networks): the layer writes its own type, a cast converts.
      const int32_t raw = addTensor(out, td.inferredType);
      graph.tensors[static_cast<size_t>(raw)].name += "_uncast";
      info.outputs.push_back(raw);
      index[out] = addTensor(out, td.type);
      LayerInfo cast;
      cast.params.type = LayerType::kCAST;
      cast.params.name = data.params.name + "_output_cast";
      cast.params.attrs.setInt("to_type", static_cast<int64_t>(td.type));
      cast.inputs = {raw};
      cast.outputs = {index[out]};
      casts.push_back(std::move(cast));
    }
    graph.layers.push_back(std::move(info));
    for (auto& c : casts) graph.layers.push_back(std::move(c));
  }
  for (ITensor* out : outputs) {
    if (out->data().isInput) {
      return invalidArgument("network input '" + out->data().name +
                             "' is also marked as an output; add an identity layer to output it");
    }
    if (!ioNames.insert(out->data().name).second) {
      return invalidArgument("two network inputs/outputs are named '" + out->data().name +
                             "'; I/O tensors are bound by name, so names must be unique");
    }
    graph.outputs.push_back(index.at(out));
  }
  return graph;
}

}  // namespace kiln
