// The graph's text form. It is stable (node order, positional args, fixed spacing) so tests and debug logs
// can compare it verbatim.
#include "ir/graph.h"

namespace kiln {
namespace ir {
namespace {

std::string valueDecl(const Value& value) {
  std::string out = "%" + value.name();
  if (value.meta().has_value()) {
    out += " : " + value.meta()->str();
  } else if (value.isList()) {
    out += " : Tensor[]";
  }
  return out;
}

std::string joinArgs(const std::vector<Arg>& args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ", ";
    out += args[i].repr();
  }
  return out;
}

}  // namespace

std::string TensorMeta::str() const {
  std::string out = std::string(dataTypeName(dtype)) + "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ",";
    const SymDim& d = shape[i];
    out += d.isStatic() ? std::to_string(d.extent) : (d.symbol.empty() ? "?" : d.symbol);
  }
  return out + "]";
}

std::string Arg::repr() const {
  switch (kind) {
    case Kind::kVALUE:
      return value != nullptr ? "%" + value->name() : "%<null>";
    case Kind::kCONSTANT:
      return constant.repr();
    case Kind::kLIST:
      return "[" + joinArgs(list) + "]";
  }
  return "?";
}

std::string Graph::print() const {
  std::string out;
  for (const auto& node : nodes_) {
    std::string lhs;
    for (size_t i = 0; i < node->outputs().size(); ++i) {
      if (i > 0) lhs += ", ";
      lhs += valueDecl(*node->outputs()[i]);
    }
    if (!lhs.empty()) lhs += " = ";
    switch (node->op()) {
      case NodeOp::kPLACEHOLDER:
      case NodeOp::kGET_ATTR:
        out += lhs + nodeOpName(node->op()) + "[target=" + node->target() + "]\n";
        break;
      case NodeOp::kCALL_FUNCTION:
        out += lhs + node->target() + "(" + joinArgs(node->args()) + ")\n";
        break;
      case NodeOp::kOUTPUT:
        out += "return (" + joinArgs(node->args()) + ")\n";
        break;
    }
  }
  return out;
}

}  // namespace ir
}  // namespace kiln
