// ATen activations: relu, relu6, hardtanh, clamp, leaky_relu, gelu, sigmoid, tanh, silu, hardsigmoid, hardswish,
// elu, selu, celu, softplus, mish, log_sigmoid, hard/soft shrink, threshold, prelu, glu, logit.
#include <initializer_list>
#include <optional>

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

// clamp_min/clamp_max with a number bound: the other side stays open.
template <bool kMin>
Status clampOneSide(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  const ir::Constant open = ir::Constant::none();
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::clamp(ctx, node, x, kMin ? args[1].constant : open,
                                                   kMin ? open : args[1].constant));
  return impl::setOutput(ctx, node, 0, out, args);
}

// clamp.Tensor(self, min?, max?) and clamp_min.Tensor/clamp_max.Tensor(self, bound).
template <int kSides>  // 0: both arguments, 1: min only, 2: max only
Status clampTensor(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  ITensor* min = nullptr;
  ITensor* max = nullptr;
  if (kSides == 0) {
    min = args[1].tensor;
    max = args[2].tensor;
  } else {
    (kSides == 1 ? min : max) = args[1].tensor;
  }
  if (min == nullptr && max == nullptr) return impl::setOutput(ctx, node, 0, x, args);
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::clampTensor(ctx, node, x, min, max));
  return impl::setOutput(ctx, node, 0, out, args);
}

// Number arguments read by index (validators checked they are numbers).
StatusOr<double> number(const Args& args, size_t index) { return args[index].asDouble(); }

Status elu(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(double alpha, number(args, 1));
  KILN_ASSIGN_OR_RETURN(double scale, number(args, 2));
  KILN_ASSIGN_OR_RETURN(double inputScale, number(args, 3));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::elu(ctx, node, x, alpha, scale, inputScale));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status celu(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(double alpha, number(args, 1));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::elu(ctx, node, x, alpha, 1.0, 1.0 / alpha));
  return impl::setOutput(ctx, node, 0, out, args);
}

StatusOr<ITensor*> selu(ConversionCtx& ctx, const impl::Site& site, ITensor* x) {
  constexpr float kAlpha = 1.6732632423543772f, kScale = 1.0507009873554805f;
  return impl::activation(ctx, site, x, ActivationType::kSELU, kAlpha, kScale);
}

Status softplus(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(double beta, number(args, 1));
  KILN_ASSIGN_OR_RETURN(double threshold, number(args, 2));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::softplus(ctx, node, x, beta, threshold));
  return impl::setOutput(ctx, node, 0, out, args);
}

// log_sigmoid_forward's second output is a buffer for the backward pass, unused in inference.
Status logSigmoidForward(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::logSigmoid(ctx, node, x));
  KILN_RETURN_IF_ERROR(impl::setOutput(ctx, node, 0, out, args));
  impl::setUnusedOutputs(ctx, node, 1);
  return Status::ok();
}

template <bool kSoft>
Status shrink(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(double lambda, number(args, 1));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::shrink(ctx, node, x, lambda, kSoft));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status threshold(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(double t, number(args, 1));
  KILN_ASSIGN_OR_RETURN(double value, number(args, 2));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::threshold(ctx, node, x, t, value));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status preluKernel(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * weight, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::prelu(ctx, node, x, weight));
  return impl::setOutput(ctx, node, 0, out, args);
}

// prelu: a per-channel weight [C] applies along dim 1, so it becomes [C, 1, ...] for inputs of rank >= 2.
Status prelu(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * weight, args[1].asTensor());
  const int32_t rank = x->getDimensions().nbDims;
  const Dims w = weight->getDimensions();
  if (w.nbDims == 1 && rank >= 2) {
    std::vector<impl::ShapeItem> shape(static_cast<size_t>(rank - 1), impl::ShapeItem::number(1));
    shape[0] = impl::ShapeItem::number(w.d[0]);
    KILN_ASSIGN_OR_RETURN(weight, impl::reshape(ctx, impl::Site(node, "weight"), weight, shape));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::prelu(ctx, node, x, weight));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status glu(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::glu(ctx, node, x, dim));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status logit(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  std::optional<double> eps;
  if (!args[1].isNone()) {
    KILN_ASSIGN_OR_RETURN(eps, args[1].asDouble());
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::logit(ctx, node, x, eps));
  return impl::setOutput(ctx, node, 0, out, args);
}

// The arguments at `indices` are numbers (None allowed where `noneOk`).
bool numbersAt(const ir::Node& node, std::initializer_list<size_t> indices, bool noneOk = false) {
  for (size_t i : indices) {
    const ir::Constant* c = impl::constantArg(node, i);
    if (c == nullptr || !(c->isNumber() || (noneOk && c->isNone()))) return false;
  }
  return true;
}

double numberAt(const ir::Node& node, size_t index) {
  const ir::Constant* c = impl::constantArg(node, index);
  StatusOr<double> v = c != nullptr ? c->toDouble() : StatusOr<double>(invalidArgument("not a number"));
  return v.isOk() ? v.value() : 0.0;
}

bool notBoolInput(const ir::Node& node) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && meta->dtype != DataType::kBOOL;
}

bool clampOneSideSupported(const ir::Node& node, const CompilationSettings&) {
  return notBoolInput(node) && numbersAt(node, {1});
}

// Tensor bounds: each a tensor (or None for clamp.Tensor), no bool anywhere.
bool clampTensorSupported(const ir::Node& node, const CompilationSettings&) {
  if (!notBoolInput(node)) return false;
  for (size_t i = 1; i < node.args().size(); ++i) {
    const ir::Constant* c = impl::constantArg(node, i);
    if (c != nullptr) {
      if (!c->isNone()) return false;
      continue;
    }
    const ir::TensorMeta* meta = impl::tensorMetaArg(node, i);
    if (meta == nullptr || meta->dtype == DataType::kBOOL) return false;
  }
  return true;
}

bool eluSupported(const ir::Node& node, const CompilationSettings& settings) {
  if (!floatInput(node, settings) || !numbersAt(node, {1, 2, 3})) return false;
  // A non-positive input_scale flips which side of zero gets the exponential: not expressible with kELU.
  return numberAt(node, 3) > 0.0 || (numberAt(node, 2) == 1.0 && numberAt(node, 3) == 1.0);
}

bool celuSupported(const ir::Node& node, const CompilationSettings& settings) {
  return floatInput(node, settings) && numbersAt(node, {1}) && numberAt(node, 1) > 0.0;
}

bool softplusSupported(const ir::Node& node, const CompilationSettings& settings) {
  return floatInput(node, settings) && numbersAt(node, {1, 2}) && numberAt(node, 1) != 0.0;
}

bool lambdaSupported(const ir::Node& node, const CompilationSettings& settings) {
  return floatInput(node, settings) && numbersAt(node, {1});
}

bool thresholdSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && meta->dtype != DataType::kBOOL && numbersAt(node, {1, 2});
}

bool logSigmoidForwardSupported(const ir::Node& node, const CompilationSettings& settings) {
  return floatInput(node, settings) && impl::outputsUnusedOrEmpty(node, 1);
}

// PyTorch's prelu kernels take float tensors of one dtype; the weight's shape must be known to reshape it.
bool preluSupported(const ir::Node& node, const CompilationSettings& settings) {
  const ir::TensorMeta* x = impl::tensorMetaArg(node, 0);
  const ir::TensorMeta* w = impl::tensorMetaArg(node, 1);
  return floatInput(node, settings) && w != nullptr && w->dtype == x->dtype && w->isStatic();
}

bool gluSupported(const ir::Node& node, const CompilationSettings& settings) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  const ir::Constant* dim = impl::constantArg(node, 1);
  if (!floatInput(node, settings) || dim == nullptr || !dim->isInt()) return false;
  const Dims dims = meta->toDims();
  const int64_t rank = dims.nbDims;
  int64_t d = dim->toInt().value();
  if (d < 0) d += rank;
  return d >= 0 && d < rank && dims.d[d] >= 0 && dims.d[d] % 2 == 0;
}

bool logitSupported(const ir::Node& node, const CompilationSettings& settings) {
  return floatInput(node, settings) && numbersAt(node, {1}, /*noneOk=*/true);
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
                 {.validator = floatInput})
        .pattern({"aten::elu(Tensor self, Scalar alpha=1, Scalar scale=1, Scalar input_scale=1) -> Tensor", elu},
                 {.validator = eluSupported})
        .pattern({"aten::selu(Tensor self) -> Tensor", unaryActivation<selu>}, {.validator = floatInput})
        .pattern({"aten::celu(Tensor self, Scalar alpha=1.) -> Tensor", celu}, {.validator = celuSupported})
        .pattern({"aten::softplus(Tensor self, Scalar beta=1, Scalar threshold=20) -> Tensor", softplus},
                 {.validator = softplusSupported})
        .pattern({"aten::mish(Tensor self) -> Tensor", unaryActivation<impl::mish>}, {.validator = floatInput})
        .pattern({"aten::log_sigmoid(Tensor self) -> Tensor", unaryActivation<impl::logSigmoid>},
                 {.validator = floatInput})
        .pattern({"aten::log_sigmoid_forward(Tensor self) -> (Tensor output, Tensor buffer)", logSigmoidForward},
                 {.validator = logSigmoidForwardSupported})
        .pattern({"aten::hardshrink(Tensor self, Scalar lambd=0.5) -> Tensor", shrink<false>},
                 {.validator = lambdaSupported})
        .pattern({"aten::softshrink(Tensor self, Scalar lambd=0.5) -> Tensor", shrink<true>},
                 {.validator = lambdaSupported})
        .pattern({"aten::threshold(Tensor self, Scalar threshold, Scalar value) -> Tensor", threshold},
                 {.validator = thresholdSupported})
        .pattern({"aten::prelu(Tensor self, Tensor weight) -> Tensor", prelu}, {.validator = preluSupported})
        .pattern({"aten::_prelu_kernel(Tensor self, Tensor weight) -> Tensor", preluKernel},
                 {.validator = preluSupported})
        .pattern({"aten::glu(Tensor self, int dim=-1) -> Tensor", glu}, {.validator = gluSupported})
        .pattern({"aten::logit(Tensor self, float? eps=None) -> Tensor", logit}, {.validator = logitSupported})
        .pattern({"aten::clamp_min(Tensor self, Scalar min) -> Tensor", clampOneSide<true>},
                 {.validator = clampOneSideSupported})
        .pattern({"aten::clamp_max(Tensor self, Scalar max) -> Tensor", clampOneSide<false>},
                 {.validator = clampOneSideSupported})
        .pattern({"aten::clamp.Tensor(Tensor self, Tensor? min=None, Tensor? max=None) -> Tensor", clampTensor<0>},
                 {.validator = clampTensorSupported})
        .pattern({"aten::clamp_min.Tensor(Tensor self, Tensor min) -> Tensor", clampTensor<1>},
                 {.validator = clampTensorSupported})
        .pattern({"aten::clamp_max.Tensor(Tensor self, Tensor max) -> Tensor", clampTensor<2>},
                 {.validator = clampTensorSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
