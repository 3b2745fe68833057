// The conversion context (TorchScript seed): the network being built, the maps from IR values to engine
// tensors and to constants, weights that live until the build ends, and layer naming from node info.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "conversion/settings.h"
#include "engine/host_tensor.h"
#include "ir/graph.h"
#include "kiln/network.h"

namespace kiln {
namespace conversion {

// One converter argument, in schema order: an engine tensor, a constant, or a list of either.
struct ConverterArg {
  ITensor* tensor = nullptr;
  ir::Constant constant;
  std::vector<ConverterArg> list;
  bool isList = false;
  // Set by convertSegment so that errors can say which argument is wrong: the schema's argument name
  // ("self") and position; list items are named after the list and their index ("tensors[2]").
  std::string name;
  int32_t position = -1;
  // For tensors whose data is known at conversion time (get_attr weights, constants made by the context):
  // the data, so converters can fold weights (batch norm into convolution ...) instead of adding layers.
  std::shared_ptr<const HostTensor> weights;

  bool isTensor() const { return tensor != nullptr; }
  bool isNone() const { return !isTensor() && !isList && constant.isNone(); }
  // Checked accessors; errors name the argument ("argument 'min_val' (#1): expected a number, got None").
  StatusOr<ITensor*> asTensor() const;
  StatusOr<int64_t> asInt() const;
  StatusOr<double> asDouble() const;
  StatusOr<bool> asBool() const;
  StatusOr<std::vector<int64_t>> asInts() const;  // also from a list of int constants
  // "argument 'self' (#0)"; "argument #2" when the name is unknown, "argument 'size'" when the position is.
  std::string describe() const;
};

class ConversionCtx {
 public:
  ConversionCtx(NetworkDefinition* network, CompilationSettings settings);
  ConversionCtx(const ConversionCtx&) = delete;
  ConversionCtx& operator=(const ConversionCtx&) = delete;

  NetworkDefinition* net;
  const CompilationSettings settings;

  // Associating a tensor names it after the value (the seed: "name your tensors"), unless it is a network
  // input or already carries another value's name. A null tensor records an error naming the value (a
  // converter passed on a failed add* call) and returns null. Associating replaces an earlier association.
  ITensor* associateValueAndTensor(const ir::Value* value, ITensor* tensor);
  void associateValueAndConstant(const ir::Value* value, ir::Constant constant);
  // Ops returning Tensor[] (split, unbind, chunk): their single list value stands for several tensors; a
  // consumer receives them as a list argument.
  void associateValueAndTensors(const ir::Value* value, std::vector<ITensor*> tensors);
  ITensor* findTensor(const ir::Value* value) const;
  const std::vector<ITensor*>* findTensors(const ir::Value* value) const;
  const ir::Constant* findConstant(const ir::Value* value) const;

  // A constant layer holding `data`, named `name`; the bytes are copied into the context and live until the
  // build ends. Null (and an error recorded) when the data's size does not match its dims and type.
  ITensor* addConstantTensor(const HostTensor& data, const std::string& name);
  // A rank-`rank` tensor holding one scalar of `type` (all dims 1: broadcasts against anything of that rank).
  // Integer types truncate toward zero; bool is value != 0.
  ITensor* addScalar(double value, DataType type, int32_t rank, const std::string& name);
  // The data of a tensor made by addConstantTensor/addScalar; null for any other tensor.
  std::shared_ptr<const HostTensor> constantData(const ITensor* tensor) const;

  // "[Activation]-[aten::gelu.default]-[%gelu_1]" (the node-info naming of the seed); a converter that makes
  // several layers tells them apart with a suffix: "[ElementWise]-[aten::gelu.default]-[%gelu_1]-[mul_1]".
  static std::string layerName(const char* kind, const ir::Node& node, const std::string& suffix = "");
  // Converters that cannot return a Status at the point of failure (helpers returning ITensor*) record it here;
  // convertSegment checks it after every node. Only the first error is kept.
  void recordError(Status status);
  // The first recorded converter error (OK when none).
  Status status() const;

 private:
  std::map<const ir::Value*, ITensor*> valueTensors_;
  std::map<const ir::Value*, std::vector<ITensor*>> valueTensorLists_;
  std::map<const ir::Value*, ir::Constant> valueConstants_;
  std::set<const ITensor*> namedTensors_;  // tensors already named after a value
  std::map<const ITensor*, std::shared_ptr<const HostTensor>> weights_;
  Status firstError_;
};

}  // namespace conversion
}  // namespace kiln
