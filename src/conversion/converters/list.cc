// List items: prim::list_get reads one tensor of a Tensor[] value (split, unbind, chunk ... computed earlier
// in the segment). It adds no layer: the item already is an engine tensor, which the output now also names.
#include <string>

#include "conversion/converters/arg_checks.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

Status listGet(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
  const ConverterArg& list = args[0];
  if (!list.isList) {
    return invalidArgument(list.describe() + " must be a list of tensors computed in this segment, got " +
                           (list.isTensor() ? std::string("a tensor") : list.constant.repr()));
  }
  KILN_ASSIGN_OR_RETURN(int64_t index, args[1].asInt());
  const auto size = static_cast<int64_t>(list.list.size());
  const int64_t wrapped = index < 0 ? index + size : index;
  if (wrapped < 0 || wrapped >= size) {
    return invalidArgument("list index " + std::to_string(index) + " is out of range for a list of " +
                           std::to_string(size) + " tensors");
  }
  KILN_ASSIGN_OR_RETURN(ITensor * item, list.list[static_cast<size_t>(wrapped)].asTensor());
  ctx.associateValueAndTensor(node.output(0), item);
  return ctx.status();
}

// The list must come from a node (the partitioner keeps it in the same segment, or both in PyTorch); the index
// must be known when the engine is built.
bool listGetSupported(const ir::Node& node, const CompilationSettings&) {
  if (node.args().size() < 2 || !checks::intArg(node, 1)) return false;
  const ir::Arg& list = node.args()[0];
  return list.isValue() && list.value != nullptr && list.value->isList();
}

const auto registered = RegisterConverters().pattern({ir::kLIST_GET_SCHEMA, listGet}, {.validator = listGetSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
