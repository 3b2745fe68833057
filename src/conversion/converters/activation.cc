// ATen activations: relu, relu6, hardtanh, clamp, leaky_relu, gelu, sigmoid, tanh, silu, hardsigmoid, hardswish.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

// Converters of the form out = f(self).
template <StatusOr<ITensor*> (*F)(ConversionCtx&, const impl::Site&, ITensor*)>
Status unaryActivation(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, F(ctx, node, x));
  return impl::setOutput(ctx, node, 0, out, args);
}

template <ActivationType kType>
StatusOr<ITensor*> plain(ConversionCtx& ctx, const impl::Site& site, ITensor* x) {
  return impl::activation(ctx, site, x, kType);
}

StatusOr<ITensor*> relu6(ConversionCtx& ctx, const impl::Site& site, ITensor* x) {
  return impl::clamp(ctx, site, x, ir::Constant::fromInt(0), ir::Constant::fromInt(6));
}

Status hardtanh(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::clamp(ctx, node, x, args[1].constant, args[2].constant));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status clamp(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  if (args[1].isNone() && args[2].isNone()) {
    // clamp() with neither bound is the identity (PyTorch only refuses it in eager mode).
    return impl::setOutput(ctx, node, 0, x, args);
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::clamp(ctx, node, x, args[1].constant, args[2].constant));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status leakyRelu(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(double slope, args[1].asDouble());
  KILN_ASSIGN_OR_RETURN(ITensor * out,
                        impl::activation(ctx, node, x, ActivationType::kLEAKY_RELU, static_cast<float>(slope)));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status gelu(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(std::string approximate, args[1].constant.toString());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::gelu(ctx, node, x, approximate));
  return impl::setOutput(ctx, node, 0, out, args);
}

// Activations of float tensors only: PyTorch refuses (or would return another dtype for) the rest.
bool floatInput(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && impl::categoryOf(meta->dtype) == impl::TypeCategory::kFLOAT;
}

bool clampBoundsAreNumbers(const ir::Node& node, const CompilationSettings&) {
  for (size_t i : {size_t{1}, size_t{2}}) {
    const ir::Constant* c = impl::constantArg(node, i);
    if (c == nullptr || !(c->isNone() || c->isNumber())) return false;  // tensor bounds are clamp.Tensor
  }
  return true;
}

bool geluApproximateKnown(const ir::Node& node, const CompilationSettings&) {
  const ir::Constant* c = impl::constantArg(node, 1);
  if (c == nullptr) return false;
  StatusOr<std::string> text = c->toString();
  return text.isOk() && (text.value() == "none" || text.value() == "tanh");
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::relu(Tensor self) -> Tensor", unaryActivation<impl::relu>})
        .pattern({"aten::relu6(Tensor self) -> Tensor", unaryActivation<relu6>})
        .pattern({"aten::hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> Tensor", hardtanh},
                 {.validator = clampBoundsAreNumbers})
        .pattern({"aten::clamp(Tensor self, Scalar? min=None, Scalar? max=None) -> Tensor", clamp},
                 {.validator = clampBoundsAreNumbers})
        .pattern({"aten::leaky_relu(Tensor self, Scalar negative_slope=0.01) -> Tensor", leakyRelu},
                 {.validator = floatInput})
        .pattern({"aten::gelu(Tensor self, *, str approximate=\"none\") -> Tensor", gelu},
                 {.validator = geluApproximateKnown})
        .pattern({"aten::sigmoid(Tensor self) -> Tensor", unaryActivation<plain<ActivationType::kSIGMOID>>})
        .pattern({"aten::tanh(Tensor self) -> Tensor", unaryActivation<plain<ActivationType::kTANH>>})
        .pattern({"aten::silu(Tensor self) -> Tensor", unaryActivation<impl::silu>}, {.validator = floatInput})
        .pattern({"aten::hardsigmoid(Tensor self) -> Tensor", unaryActivation<impl::hardsigmoid>},
                 {.validator = floatInput})
        .pattern({"aten::hardswish(Tensor self) -> Tensor", unaryActivation<impl::hardswish>},
                 {.validator = floatInput});

}  // namespace
}  // namespace conversion
}  // namespace kiln
