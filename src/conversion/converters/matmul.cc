// ATen matrix products: mm, bmm, matmul, addmm, linear.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

Status matmul(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * a, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * b, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::matmul(ctx, node, a, b));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status addmm(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * bias, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * a, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * b, args[2].asTensor());
  KILN_ASSIGN_OR_RETURN(double beta, args[3].asDouble());
  KILN_ASSIGN_OR_RETURN(double alpha, args[4].asDouble());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::addmm(ctx, node, bias, a, b, beta, alpha));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status linear(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * w, args[1].asTensor());
  ITensor* bias = nullptr;
  if (!args[2].isNone()) {
    KILN_ASSIGN_OR_RETURN(bias, args[2].asTensor());
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::linear(ctx, node, x, w, bias));
  return impl::setOutput(ctx, node, 0, out, args);
}

// The engine multiplies float and 32/64-bit integer matrices.
bool matmulTypes(const ir::Node& node, const CompilationSettings&) {
  for (size_t i = 0; i < node.args().size(); ++i) {
    const ir::TensorMeta* meta = impl::tensorMetaArg(node, i);
    if (meta == nullptr) continue;
    const DataType t = meta->dtype;
    if (t == DataType::kBOOL || t == DataType::kINT8 || t == DataType::kUINT8) return false;
  }
  return true;
}

const ConverterOptions kTypes{.validator = matmulTypes};

const auto registered =
    RegisterConverters()
        .pattern({"aten::mm(Tensor self, Tensor mat2) -> Tensor", matmul}, kTypes)
        .pattern({"aten::bmm(Tensor self, Tensor mat2) -> Tensor", matmul}, kTypes)
        .pattern({"aten::matmul(Tensor self, Tensor other) -> Tensor", matmul}, kTypes)
        .pattern(
            {"aten::addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor", addmm},
            kTypes)
        .pattern({"aten::linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor", linear}, kTypes);

}  // namespace
}  // namespace conversion
}  // namespace kiln
