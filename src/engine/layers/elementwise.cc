// Elementwise binary layers (numpy broadcasting) and select (where).
#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

bool isComparison(ElementWiseOperation op) {
  return op == ElementWiseOperation::kEQUAL || op == ElementWiseOperation::kGREATER ||
         op == ElementWiseOperation::kLESS;
}
bool isLogical(ElementWiseOperation op) {
  return op == ElementWiseOperation::kAND || op == ElementWiseOperation::kOR || op == ElementWiseOperation::kXOR;
}

}  // namespace

Status inferElementWiseShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                              std::vector<ShapeOutput>& outputs) {
  const int64_t op = layer.attrs.getInt("operation", -1);
  if (op < 0 || op > static_cast<int64_t>(ElementWiseOperation::kLESS)) {
    return invalidArgument("unknown elementwise operation " + std::to_string(op));
  }
  const auto operation = static_cast<ElementWiseOperation>(op);
  if (inputs[0].type != inputs[1].type) {
    return invalidArgument(std::string("both inputs must have one type (got ") + dataTypeName(inputs[0].type) +
                           " and " + dataTypeName(inputs[1].type) + "); add a cast layer");
  }
  const DataType type = inputs[0].type;
  if (isLogical(operation) && type != DataType::kBOOL) {
    return invalidArgument(std::string("and/or/xor take bool inputs, got ") + dataTypeName(type));
  }
  if (!isLogical(operation) && type == DataType::kBOOL && !isComparison(operation)) {
    return invalidArgument("arithmetic on bool inputs is not defined; cast to an integer type first");
  }
  KILN_ASSIGN_OR_RETURN(Dims dims, broadcastShapes(inputs[0].dims, inputs[1].dims));
  outputs[0] = {dims, isComparison(operation) || isLogical(operation) ? DataType::kBOOL : type};
  return Status::ok();
}

Status inferSelectShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                         std::vector<ShapeOutput>& outputs) {
  if (inputs[0].type != DataType::kBOOL) {
    return invalidArgument(std::string("the condition must be bool, got ") + dataTypeName(inputs[0].type));
  }
  if (inputs[1].type != inputs[2].type) {
    return invalidArgument(std::string("then and else must have one type (got ") + dataTypeName(inputs[1].type) +
                           " and " + dataTypeName(inputs[2].type) + ")");
  }
  KILN_ASSIGN_OR_RETURN(Dims partial, broadcastShapes(inputs[1].dims, inputs[2].dims));
  KILN_ASSIGN_OR_RETURN(Dims dims, broadcastShapes(inputs[0].dims, partial));
  outputs[0] = {dims, inputs[1].type};
  return Status::ok();
}

IElementWiseLayer* NetworkDefinition::addElementWise(ITensor& input1, ITensor& input2, ElementWiseOperation op) {
  if (!impl_->ownsTensor(&input1, "addElementWise input1") || !impl_->ownsTensor(&input2, "addElementWise input2")) {
    return nullptr;
  }
  Attributes attrs;
  attrs.setInt("operation", static_cast<int64_t>(op));
  return impl_->addLayer<IElementWiseLayer>(LayerType::kELEMENTWISE, {&input1, &input2}, std::move(attrs));
}

ISelectLayer* NetworkDefinition::addSelect(ITensor& condition, ITensor& thenInput, ITensor& elseInput) {
  if (!impl_->ownsTensor(&condition, "addSelect condition") || !impl_->ownsTensor(&thenInput, "addSelect then") ||
      !impl_->ownsTensor(&elseInput, "addSelect else")) {
    return nullptr;
  }
  return impl_->addLayer<ISelectLayer>(LayerType::kSELECT, {&condition, &thenInput, &elseInput}, Attributes());
}

void IElementWiseLayer::setOperation(ElementWiseOperation op) {
  attrsOf(this).setInt("operation", static_cast<int64_t>(op));
  touch(this);
}
ElementWiseOperation IElementWiseLayer::getOperation() const {
  return static_cast<ElementWiseOperation>(attrsOf(this).getInt("operation"));
}

}  // namespace kiln
