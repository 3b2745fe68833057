// ATen normalization: inference batch norm (its saved statistics are empty) and layer norm (mean/rstd
// outputs unsupported: the validator keeps such nodes in PyTorch).
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

Status batchNorm(ConversionCtx& ctx, const ir::Node& node, Args& args, size_t momentumIndex) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  impl::BatchNormParams params;
  params.weight = args[1];
  params.bias = args[2];
  params.mean = args[3];
  params.var = args[4];
  KILN_ASSIGN_OR_RETURN(params.eps, args[momentumIndex + 1].asDouble());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::batchNorm(ctx, node, x, params));
  KILN_RETURN_IF_ERROR(impl::setOutput(ctx, node, 0, out, args));
  impl::setUnusedOutputs(ctx, node, 1);
  return Status::ok();
}

// _native_batch_norm_legit_no_training(input, weight, bias, mean, var, momentum, eps)
Status batchNormNoTraining(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  return batchNorm(ctx, node, args, 5);
}

// native_batch_norm(input, weight, bias, mean, var, training, momentum, eps)
Status nativeBatchNorm(ConversionCtx& ctx, const ir::Node& node, Args& args) { return batchNorm(ctx, node, args, 6); }

bool floatInput(const ir::Node& node) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && impl::categoryOf(meta->dtype) == impl::TypeCategory::kFLOAT && meta->shape.size() >= 2;
}

bool noTrainingSupported(const ir::Node& node, const CompilationSettings&) {
  return floatInput(node) && impl::outputsUnusedOrEmpty(node, 1);
}

// Eval mode with running statistics: training mode computes batch statistics, which this converter does not.
bool nativeBatchNormSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::Constant* training = impl::constantArg(node, 5);
  if (training == nullptr || !training->isBool() || training->toBool().value()) return false;
  if (impl::tensorMetaArg(node, 3) == nullptr || impl::tensorMetaArg(node, 4) == nullptr) return false;
  return floatInput(node) && impl::outputsUnusedOrEmpty(node, 1);
}

Status layerNorm(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> normalizedShape, args[1].asInts());
  ITensor* weight = nullptr;
  ITensor* bias = nullptr;
  if (!args[2].isNone()) {
    KILN_ASSIGN_OR_RETURN(weight, args[2].asTensor());
  }
  if (!args[3].isNone()) {
    KILN_ASSIGN_OR_RETURN(bias, args[3].asTensor());
  }
  KILN_ASSIGN_OR_RETURN(double eps, args[4].asDouble());
  const Dims dims = x->getDimensions();
  const auto k = static_cast<int32_t>(normalizedShape.size());
  for (int32_t i = 0; i < k && k <= dims.nbDims; ++i) {
    const int64_t extent = dims.d[dims.nbDims - k + i];
    if (extent >= 0 && extent != normalizedShape[static_cast<size_t>(i)]) {
      return impl::Site(node).error("normalized_shape does not match the input's last dims " + dimsToString(dims));
    }
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::layerNorm(ctx, node, x, k, weight, bias, eps));
  KILN_RETURN_IF_ERROR(impl::setOutput(ctx, node, 0, out, args));
  impl::setUnusedOutputs(ctx, node, 1);
  return Status::ok();
}

bool layerNormSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && impl::categoryOf(meta->dtype) == impl::TypeCategory::kFLOAT &&
         impl::constantArg(node, 1) != nullptr && impl::outputUnused(node, 1) && impl::outputUnused(node, 2);
}

bool layerNormSingleSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && impl::categoryOf(meta->dtype) == impl::TypeCategory::kFLOAT &&
         impl::constantArg(node, 1) != nullptr;
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::_native_batch_norm_legit_no_training(Tensor input, Tensor? weight, Tensor? bias, "
                  "Tensor running_mean, Tensor running_var, float momentum, float eps) -> (Tensor, Tensor, Tensor)",
                  batchNormNoTraining},
                 {.validator = noTrainingSupported})
        .pattern({"aten::native_batch_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, "
                  "Tensor? running_var, bool training, float momentum, float eps) -> (Tensor, Tensor, Tensor)",
                  nativeBatchNorm},
                 {.validator = nativeBatchNormSupported})
        .pattern({"aten::native_layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias, "
                  "float eps) -> (Tensor, Tensor, Tensor)",
                  layerNorm},
                 {.validator = layerNormSupported})
        .pattern({"aten::layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight=None, Tensor? bias=None, "
                  "float eps=1.0000000000000001e-05, bool cudnn_enable=True) -> Tensor",
                  layerNorm},
                 {.validator = layerNormSingleSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
