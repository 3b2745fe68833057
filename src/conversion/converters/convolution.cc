// aten::convolution and its frontend forms (_convolution, conv1d/2d/3d with int or "same"/"valid" padding,
// conv_transpose1d/2d/3d): 1-3 spatial dims, grouped, dilated, transposed. Weights known at conversion time are
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

Status convolve(ConversionCtx& ctx, const ir::Node& node, Args& args, const impl::ConvolutionParams& params,
                ITensor* input) {
  KILN_ASSIGN_OR_RETURN(ITensor * w, args[1].asTensor());
  ITensor* bias = nullptr;
  if (!args[2].isNone()) {
    KILN_ASSIGN_OR_RETURN(bias, args[2].asTensor());
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::convolution(ctx, node, input, w, args[1].weights, bias,
                                                         bias ? args[2].weights : nullptr, params));
  return impl::setOutput(ctx, node, 0, out, args);
}

// conv1d/2d/3d(input, weight, bias, stride, padding, dilation, groups)
Status convNd(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  impl::ConvolutionParams params;
  KILN_ASSIGN_OR_RETURN(params.stride, args[3].asInts());
  KILN_ASSIGN_OR_RETURN(params.padding, args[4].asInts());
  KILN_ASSIGN_OR_RETURN(params.dilation, args[5].asInts());
  KILN_ASSIGN_OR_RETURN(params.groups, args[6].asInt());
  return convolve(ctx, node, args, params, x);
}

// conv1d/2d/3d.padding(input, weight, bias, stride, str padding, dilation, groups): "valid" is no padding;
// "same" pads dilation * (k - 1) in total per dim, the odd element at the end (as PyTorch does), through a
// padding layer when that makes the two sides differ.
Status convNdPadding(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * w, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(std::string mode, args[4].constant.toString());
  impl::ConvolutionParams params;
  KILN_ASSIGN_OR_RETURN(params.stride, args[3].asInts());
  KILN_ASSIGN_OR_RETURN(params.dilation, args[5].asInts());
  KILN_ASSIGN_OR_RETURN(params.groups, args[6].asInt());
  const Dims wd = w->getDimensions();
  const int32_t nbSpatial = wd.nbDims - 2;
  if (mode == "valid") return convolve(ctx, node, args, params, x);
  if (mode != "same") return impl::Site(node).error("padding must be 'same' or 'valid', got '" + mode + "'");
  Dims pre, post;
  pre.nbDims = post.nbDims = nbSpatial;
  bool symmetric = true;
  for (int32_t i = 0; i < nbSpatial; ++i) {
    const size_t at = params.dilation.size() == 1 ? 0 : static_cast<size_t>(i);
    const int64_t dilation = params.dilation.empty() ? 1 : params.dilation[at];
    const int64_t total = dilation * (wd.d[2 + i] - 1);
    pre.d[i] = total / 2;
    post.d[i] = total - pre.d[i];
    symmetric = symmetric && pre.d[i] == post.d[i];
  }
  if (symmetric) {
    params.padding.assign(pre.d, pre.d + nbSpatial);
    return convolve(ctx, node, args, params, x);
  }
  KILN_ASSIGN_OR_RETURN(ITensor * padded,
                        impl::outputOf(ctx, impl::Site(node, "same"), ctx.net->addPaddingNd(*x, pre, post)));
  return convolve(ctx, node, args, params, padded);
}

// conv_transpose1d/2d/3d(input, weight, bias, stride, padding, output_padding, groups, dilation)
Status convTransposeNd(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  impl::ConvolutionParams params;
  params.transposed = true;
  KILN_ASSIGN_OR_RETURN(params.stride, args[3].asInts());
  KILN_ASSIGN_OR_RETURN(params.padding, args[4].asInts());
  KILN_ASSIGN_OR_RETURN(params.outputPadding, args[5].asInts());
  KILN_ASSIGN_OR_RETURN(params.groups, args[6].asInt());
  KILN_ASSIGN_OR_RETURN(params.dilation, args[7].asInts());
  return convolve(ctx, node, args, params, x);
}

// Float inputs, a weight of static shape (of kWeightRank dims, 0 for any of 3-5), and int (not SymInt-valued)
// parameters from index 3 on.
template <size_t kWeightRank>
bool supported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* x = impl::tensorMetaArg(node, 0);
  const ir::TensorMeta* w = impl::tensorMetaArg(node, 1);
  if (x == nullptr || w == nullptr || !w->isStatic()) return false;
  if (impl::categoryOf(x->dtype) != impl::TypeCategory::kFLOAT) return false;
  if (w->shape.size() < 3 || w->shape.size() > 5) return false;
  if (kWeightRank != 0 && w->shape.size() != kWeightRank) return false;
  for (size_t i = 3; i < node.args().size(); ++i) {
    if (impl::constantArg(node, i) == nullptr) return false;
  }
  return true;
}

// "same" needs unit strides (PyTorch raises otherwise); the mode is a known string.
template <size_t kWeightRank>
bool paddingModeSupported(const ir::Node& node, const CompilationSettings& settings) {
  if (!supported<kWeightRank>(node, settings)) return false;
  StatusOr<std::string> mode = impl::constantArg(node, 4)->toString();
  if (!mode.isOk() || (mode.value() != "same" && mode.value() != "valid")) return false;
  StatusOr<std::vector<int64_t>> stride = impl::constantArg(node, 3)->toInts();
  if (!stride.isOk()) return false;
  for (int64_t s : stride.value()) {
    if (mode.value() == "same" && s != 1) return false;
  }
  return true;
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, "
                  "SymInt[] dilation, bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor",
                  convolution},
                 {.validator = supported<0>})
        .pattern({"aten::_convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, "
                  "SymInt[] dilation, bool transposed, SymInt[] output_padding, SymInt groups, bool benchmark, "
                  "bool deterministic, bool cudnn_enabled, bool allow_tf32) -> Tensor",
                  convolution},
                 {.validator = supported<0>})
        .pattern({"aten::_convolution.deprecated(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, "
                  "SymInt[] padding, SymInt[] dilation, bool transposed, int[] output_padding, SymInt groups, "
                  "bool benchmark, bool deterministic, bool cudnn_enabled) -> Tensor",
                  convolution},
                 {.validator = supported<0>})
        .pattern({"aten::conv1d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[1] stride=[1], "
                  "SymInt[1] padding=[0], SymInt[1] dilation=[1], SymInt groups=1) -> Tensor",
                  convNd},
                 {.validator = supported<3>})
        .pattern({"aten::conv2d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] stride=[1, 1], "
                  "SymInt[2] padding=[0, 0], SymInt[2] dilation=[1, 1], SymInt groups=1) -> Tensor",
                  convNd},
                 {.validator = supported<4>})
        .pattern({"aten::conv3d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[3] stride=[1, 1, 1], "
                  "SymInt[3] padding=[0, 0, 0], SymInt[3] dilation=[1, 1, 1], SymInt groups=1) -> Tensor",
                  convNd},
                 {.validator = supported<5>})
        .pattern({"aten::conv1d.padding(Tensor input, Tensor weight, Tensor? bias=None, SymInt[1] stride=[1], "
                  "str padding=\"valid\", SymInt[1] dilation=[1], SymInt groups=1) -> Tensor",
                  convNdPadding},
                 {.validator = paddingModeSupported<3>})
        .pattern({"aten::conv2d.padding(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] stride=[1, 1], "
                  "str padding=\"valid\", SymInt[2] dilation=[1, 1], SymInt groups=1) -> Tensor",
                  convNdPadding},
                 {.validator = paddingModeSupported<4>})
        .pattern({"aten::conv3d.padding(Tensor input, Tensor weight, Tensor? bias=None, SymInt[3] stride=[1, 1, 1], "
                  "str padding=\"valid\", SymInt[3] dilation=[1, 1, 1], SymInt groups=1) -> Tensor",
                  convNdPadding},
                 {.validator = paddingModeSupported<5>})
        .pattern({"aten::conv_transpose1d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[1] stride=[1], "
                  "SymInt[1] padding=[0], SymInt[1] output_padding=[0], SymInt groups=1, SymInt[1] dilation=[1]) -> "
                  "Tensor",
                  convTransposeNd},
                 {.validator = supported<3>})
        .pattern({"aten::conv_transpose2d.input(Tensor input, Tensor weight, Tensor? bias=None, "
                  "SymInt[2] stride=[1, 1], SymInt[2] padding=[0, 0], SymInt[2] output_padding=[0, 0], "
                  "SymInt groups=1, SymInt[2] dilation=[1, 1]) -> Tensor",
                  convTransposeNd},
                 {.validator = supported<4>})
        .pattern({"aten::conv_transpose3d.input(Tensor input, Tensor weight, Tensor? bias=None, "
                  "SymInt[3] stride=[1, 1, 1], SymInt[3] padding=[0, 0, 0], SymInt[3] output_padding=[0, 0, 0], "
                  "SymInt groups=1, SymInt[3] dilation=[1, 1, 1]) -> Tensor",
                  convTransposeNd},
                 {.validator = supported<5>});

}  // namespace
}  // namespace conversion
}  // namespace kiln
