// aten::convolution (1-3 spatial dims, grouped, dilated, transposed). Weights known at conversion time are
// stored in the layer; computed ones feed its kernel/bias inputs.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

Status convolution(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * w, args[1].asTensor());
  ITensor* bias = nullptr;
  if (!args[2].isNone()) {
    KILN_ASSIGN_OR_RETURN(bias, args[2].asTensor());
  }
  impl::ConvolutionParams params;
  KILN_ASSIGN_OR_RETURN(params.stride, args[3].asInts());
  KILN_ASSIGN_OR_RETURN(params.padding, args[4].asInts());
  KILN_ASSIGN_OR_RETURN(params.dilation, args[5].asInts());
  KILN_ASSIGN_OR_RETURN(params.transposed, args[6].asBool());
  KILN_ASSIGN_OR_RETURN(params.outputPadding, args[7].asInts());
  KILN_ASSIGN_OR_RETURN(params.groups, args[8].asInt());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::convolution(ctx, node, x, w, args[1].weights, bias,
                                                         bias ? args[2].weights : nullptr, params));
  return impl::setOutput(ctx, node, 0, out, args);
}

// Float inputs, a weight of static shape, and int (not SymInt-valued) parameters.
bool convolutionSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* x = impl::tensorMetaArg(node, 0);
  const ir::TensorMeta* w = impl::tensorMetaArg(node, 1);
  if (x == nullptr || w == nullptr || !w->isStatic()) return false;
  if (impl::categoryOf(x->dtype) != impl::TypeCategory::kFLOAT) return false;
  if (w->shape.size() < 3 || w->shape.size() > 5) return false;
  for (size_t i : {size_t{3}, size_t{4}, size_t{5}, size_t{7}, size_t{8}}) {
    if (impl::constantArg(node, i) == nullptr) return false;
  }
  return true;
}

const auto registered = RegisterConverters().pattern(
    {"aten::convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, "
     "SymInt[] dilation, bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor",
     convolution},
    {.validator = convolutionSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
