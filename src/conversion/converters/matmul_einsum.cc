// aten::einsum: summations of one operand, then pairwise batched matrix products, then the output order.
// torch.export decomposes einsum while tracing (it is CompositeImplicitAutograd), so this converter serves
// graphs from frontends that keep it.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

Status einsum(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(std::string equation, args[0].constant.toString());
  if (!args[1].isList) return impl::Site(node).error(args[1].describe() + " must be a list of tensors");
  std::vector<ITensor*> operands;
  for (const ConverterArg& item : args[1].list) {
    KILN_ASSIGN_OR_RETURN(ITensor * t, item.asTensor());
    operands.push_back(t);
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::einsum(ctx, node, equation, operands));
  return impl::setOutput(ctx, node, 0, out, args);
}

// A known equation the builder takes, float operands of static shapes (the path hint is irrelevant).
bool einsumSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::Constant* equation = impl::constantArg(node, 0);
  if (equation == nullptr || !equation->isString() || node.args().size() < 2 || !node.args()[1].isList()) return false;
  std::vector<Dims> shapes;
  for (const ir::Arg& item : node.args()[1].list) {
    if (!item.isValue() || !item.value->meta().has_value()) return false;
    const ir::TensorMeta& meta = *item.value->meta();
    if (!meta.isStatic() || impl::categoryOf(meta.dtype) != impl::TypeCategory::kFLOAT) return false;
    shapes.push_back(meta.toDims());
  }
  return impl::einsumSupported(equation->toString().value(), shapes);
}

const auto registered = RegisterConverters().pattern(
    {"aten::einsum(str equation, Tensor[] tensors, *, int[]? path=None) -> Tensor", einsum},
    {.validator = einsumSupported, .supportsDynamicShapes = false});

}  // namespace
}  // namespace conversion
}  // namespace kiln
