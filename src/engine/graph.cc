#include "engine/graph.h"

namespace kiln {

std::vector<int32_t> Graph::producers() const {
  std::vector<int32_t> result(tensors.size(), -1);
  for (size_t l = 0; l < layers.size(); ++l) {
    for (int32_t t : layers[l].outputs) {
      if (t >= 0 && static_cast<size_t>(t) < result.size()) result[static_cast<size_t>(t)] = static_cast<int32_t>(l);
    }
  }
  return result;
}

int32_t Graph::addTensor(std::string name, DataType type, const Dims& dims) {
  TensorInfo t;
  t.name = std::move(name);
  t.type = type;
  t.dims = dims;
  tensors.push_back(std::move(t));
  return static_cast<int32_t>(tensors.size() - 1);
}

int32_t Graph::findTensor(const std::string& name) const {
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].name == name) return static_cast<int32_t>(i);
  }
  return -1;
}

}  // namespace kiln
