// Unary layers: math on float types; abs/neg/sign on integers too; not on bool; isinf/isnan yield bool.
#include "engine/layer_kinds.h"
#include "engine/network_impl.h"

namespace kiln {

Status inferUnaryShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                        std::vector<ShapeOutput>& outputs) {
  const int64_t op = layer.attrs.getInt("operation", -1);
  if (op < 0 || op > static_cast<int64_t>(UnaryOperation::kISNAN)) {
    return invalidArgument("unknown unary operation " + std::to_string(op));
  }
  const auto operation = static_cast<UnaryOperation>(op);
  const DataType type = inputs[0].type;
  DataType outType = type;
  switch (operation) {
    case UnaryOperation::kNOT:
      if (type != DataType::kBOOL) return invalidArgument(std::string("not takes bool, got ") + dataTypeName(type));
      break;
    case UnaryOperation::kABS:
    case UnaryOperation::kNEG:
    case UnaryOperation::kSIGN:
      if (type == DataType::kBOOL) return invalidArgument("abs/neg/sign do not take bool");
      break;
    case UnaryOperation::kISINF:
    case UnaryOperation::kISNAN:
      if (!isFloatType(type)) return invalidArgument(std::string("isinf/isnan take float types, got ") + dataTypeName(type));
      outType = DataType::kBOOL;
      break;
    case UnaryOperation::kEXP:
    case UnaryOperation::kLOG:
    case UnaryOperation::kSQRT:
    case UnaryOperation::kRECIP:
    case UnaryOperation::kSIN:
    case UnaryOperation::kCOS:
    case UnaryOperation::kTAN:
    case UnaryOperation::kSINH:
    case UnaryOperation::kCOSH:
    case UnaryOperation::kASIN:
    case UnaryOperation::kACOS:
    case UnaryOperation::kATAN:
    case UnaryOperation::kASINH:
    case UnaryOperation::kACOSH:
    case UnaryOperation::kATANH:
    case UnaryOperation::kCEIL:
    case UnaryOperation::kFLOOR:
    case UnaryOperation::kERF:
    case UnaryOperation::kROUND:
      if (!isFloatType(type)) {
        return invalidArgument(std::string("this unary operation takes float types, got ") + dataTypeName(type) +
                               "; add a cast layer");
      }
      break;
  }
  outputs[0] = {inputs[0].dims, outType};
  return Status::ok();
}

IUnaryLayer* NetworkDefinition::addUnary(ITensor& input, UnaryOperation operation) {
  if (!impl_->ownsTensor(&input, "addUnary input")) return nullptr;
  Attributes attrs;
  attrs.setInt("operation", static_cast<int64_t>(operation));
  return impl_->addLayer<IUnaryLayer>(LayerType::kUNARY, {&input}, std::move(attrs));
}

void IUnaryLayer::setOperation(UnaryOperation op) {
  attrsOf(this).setInt("operation", static_cast<int64_t>(op));
  touch(this);
}
UnaryOperation IUnaryLayer::getOperation() const {
  return static_cast<UnaryOperation>(attrsOf(this).getInt("operation"));
}

}  // namespace kiln
