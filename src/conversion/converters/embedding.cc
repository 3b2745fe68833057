// aten::embedding: a gather of weight rows. padding_idx, scale_grad_by_freq and sparse only affect training.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

Status embedding(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * weight, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * indices, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::embedding(ctx, node, weight, indices));
  return impl::setOutput(ctx, node, 0, out, args);
}

bool indicesSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* weight = impl::tensorMetaArg(node, 0);
  const ir::TensorMeta* indices = impl::tensorMetaArg(node, 1);
  return weight != nullptr && weight->shape.size() == 2 && indices != nullptr &&
         (indices->dtype == DataType::kINT32 || indices->dtype == DataType::kINT64);
}

const auto registered = RegisterConverters().pattern(
    {"aten::embedding(Tensor weight, Tensor indices, SymInt padding_idx=-1, bool scale_grad_by_freq=False, "
     "bool sparse=False) -> Tensor",
     embedding},
    {.validator = indicesSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
