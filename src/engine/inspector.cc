// EngineInspector: the layers of an engine as text and JSON.
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/engine_impl.h"

namespace kiln {
namespace {

std::string describeTensor(const TensorInfo& t) { return t.name + ":" + dataTypeName(t.type) + dimsToString(t.dims); }

std::string describeAttrs(const Attributes& attrs) {
  std::ostringstream out;
  out.precision(6);
  bool first = true;
  for (const auto& [key, value] : attrs.all()) {
    if (!first) out << " ";
    first = false;
    out << key << "=";
    if (const auto* i = std::get_if<int64_t>(&value)) out << *i;
    if (const auto* f = std::get_if<double>(&value)) out << *f;
    if (const auto* is = std::get_if<std::vector<int64_t>>(&value)) {
      out << "[";
      for (size_t k = 0; k < is->size(); ++k) out << (k ? "," : "") << (*is)[k];
      out << "]";
    }
    if (const auto* fs = std::get_if<std::vector<double>>(&value)) {
      out << "[";
      for (size_t k = 0; k < fs->size(); ++k) out << (k ? "," : "") << (*fs)[k];
      out << "]";
    }
    if (const auto* s = std::get_if<std::string>(&value)) out << *s;
    if (const auto* w = std::get_if<WeightsBlob>(&value)) out << "<" << w->count << " x " << dataTypeName(w->type) << ">";
  }
  return out.str();
}

}  // namespace

int32_t EngineInspector::getNbLayers() const { return engine_.getNbLayers(); }

LayerDescription EngineInspector::getLayerInformation(int32_t layerIndex) const {
  LayerDescription d;
  const Graph& g = engine_.impl().plan.graph;
  if (layerIndex < 0 || layerIndex >= getNbLayers()) return d;
  const LayerInfo& layer = g.layers[static_cast<size_t>(layerIndex)];
  d.name = layer.params.name;
  d.type = layerTypeName(layer.params.type);
  d.kernel = layer.params.type == LayerType::kCONSTANT ? "constant" : layer.kernel;
  for (int32_t t : layer.inputs) d.inputs.push_back(t < 0 ? "(none)" : describeTensor(g.tensors[static_cast<size_t>(t)]));
  for (int32_t t : layer.outputs) d.outputs.push_back(describeTensor(g.tensors[static_cast<size_t>(t)]));
  d.parameters = describeAttrs(layer.params.attrs);
  return d;
}

std::string EngineInspector::getEngineInformationText() const {
  std::ostringstream out;
  const Engine::Impl& e = engine_.impl();
  out << "Kiln engine: backend " << backendKindName(e.plan.backend) << ", device " << e.plan.deviceName
      << ", built by Kiln " << e.plan.kilnVersion << "\n";
  for (int32_t i = 0; i < engine_.getNbIOTensors(); ++i) {
    const char* name = engine_.getIOTensorName(i);
    out << (engine_.getTensorIOMode(name) == TensorIOMode::kINPUT ? "  input  " : "  output ") << name << ": "
        << dataTypeName(engine_.getTensorDataType(name)) << dimsToString(engine_.getTensorShape(name)) << "\n";
  }
  for (int32_t p = 0; p < engine_.getNbOptimizationProfiles(); ++p) {
    out << "  profile " << p << ":";
    for (size_t i = 0; i < e.plan.graph.inputs.size(); ++i) {
      const ProfileShapes& s = e.plan.profiles[static_cast<size_t>(p)];
      out << " " << e.plan.graph.tensors[static_cast<size_t>(e.plan.graph.inputs[i])].name << " min"
          << dimsToString(s.min[i]) << " opt" << dimsToString(s.opt[i]) << " max" << dimsToString(s.max[i]);
    }
    out << "; activation memory " << engine_.getDeviceMemorySize(p) << " bytes\n";
  }
  out << getNbLayers() << " layers:\n";
  for (int32_t l = 0; l < getNbLayers(); ++l) {
    const LayerDescription d = getLayerInformation(l);
    out << "  [" << l << "] " << d.type << " '" << d.name << "' kernel=" << d.kernel << "\n      in:";
    for (const auto& s : d.inputs) out << " " << s;
    out << "\n      out:";
    for (const auto& s : d.outputs) out << " " << s;
    if (!d.parameters.empty()) out << "\n      " << d.parameters;
    out << "\n";
  }
  return out.str();
}

std::string EngineInspector::getEngineInformationJson() const {
  const Engine::Impl& e = engine_.impl();
  nlohmann::json doc;
  doc["backend"] = backendKindName(e.plan.backend);
  doc["device"] = e.plan.deviceName;
  doc["kiln_version"] = e.plan.kilnVersion;
  doc["io"] = nlohmann::json::array();
  for (int32_t i = 0; i < engine_.getNbIOTensors(); ++i) {
    const char* name = engine_.getIOTensorName(i);
    const Dims dims = engine_.getTensorShape(name);
    doc["io"].push_back({{"name", name},
                         {"mode", engine_.getTensorIOMode(name) == TensorIOMode::kINPUT ? "input" : "output"},
                         {"dtype", dataTypeName(engine_.getTensorDataType(name))},
                         {"shape", std::vector<int64_t>(dims.d, dims.d + dims.nbDims)}});
  }
  doc["layers"] = nlohmann::json::array();
  for (int32_t l = 0; l < getNbLayers(); ++l) {
    const LayerDescription d = getLayerInformation(l);
    doc["layers"].push_back({{"name", d.name},
                             {"type", d.type},
                             {"kernel", d.kernel},
                             {"inputs", d.inputs},
                             {"outputs", d.outputs},
                             {"parameters", d.parameters}});
  }
  return doc.dump(2);
}

}  // namespace kiln
