// More ATen normalizations: the other batch norm forms (_native_batch_norm_legit with and without stats,
// batch_norm, cudnn_batch_norm, _batch_norm_no_update), group norm, instance norm and RMS norm. Batch norms run
// in inference form with running statistics, or with batch statistics when there are none to update; a node
// that would update running statistics stays in PyTorch. Saved statistics outputs must be unused.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

// Every dim but the channels: batch statistics.
uint32_t allButChannels(int32_t rank) {
  uint32_t mask = 0;
  for (int32_t i = 0; i < rank; ++i) {
    if (i != 1) mask |= 1u << i;
  }
  return mask;
}

// The spatial dims (2..): per-sample, per-channel (or per-group) statistics.
uint32_t spatial(int32_t rank) {
  uint32_t mask = 0;
  for (int32_t i = 2; i < rank; ++i) mask |= 1u << i;
  return mask;
}

Status finish(ConversionCtx& ctx, const ir::Node& node, ITensor* out, Args& args) {
  KILN_RETURN_IF_ERROR(impl::setOutput(ctx, node, 0, out, args));
  impl::setUnusedOutputs(ctx, node, 1);
  return Status::ok();
}

// Running statistics at meanIndex/meanIndex+1 when `training` is false, else batch statistics.
Status batchNorm(ConversionCtx& ctx, const ir::Node& node, Args& args, bool training, size_t meanIndex,
                 size_t epsIndex) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(double eps, args[epsIndex].asDouble());
  ITensor* out = nullptr;
  if (training) {
    KILN_ASSIGN_OR_RETURN(
        out, impl::channelNorm(ctx, node, x, allButChannels(x->getDimensions().nbDims), 1, args[1], args[2], eps));
  } else {
    impl::BatchNormParams params{args[1], args[2], args[meanIndex], args[meanIndex + 1], eps};
    KILN_ASSIGN_OR_RETURN(out, impl::batchNorm(ctx, node, x, params));
  }
  return finish(ctx, node, out, args);
}

// _native_batch_norm_legit.no_stats(input, weight, bias, training, momentum, eps)
Status legitNoStats(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  return batchNorm(ctx, node, args, true, 0, 5);
}

// _native_batch_norm_legit(input, weight, bias, running_mean, running_var, training, momentum, eps)
// cudnn_batch_norm(input, weight, bias, running_mean, running_var, training, factor, epsilon)
// batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps, cudnn_enabled)
Status withTrainingFlag(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(bool training, args[5].asBool());
  return batchNorm(ctx, node, args, training, 3, 7);
}

// _batch_norm_no_update(input, weight, bias, running_mean, running_var, momentum, eps)
Status noUpdate(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  return batchNorm(ctx, node, args, false, 3, 6);
}

Status groupNorm(ConversionCtx& ctx, const ir::Node& node, Args& args, int64_t groups, const ConverterArg& weight,
                 const ConverterArg& bias, double eps) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  const int32_t rank = x->getDimensions().nbDims;
  // One group normalizes the channels together with the spatial dims.
  const uint32_t axes = groups == 1 ? spatial(rank) | 2u : spatial(rank);
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::channelNorm(ctx, node, x, axes, groups, weight, bias, eps));
  return finish(ctx, node, out, args);
}

// group_norm(input, num_groups, weight, bias, eps, cudnn_enabled)
Status groupNormOp(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(int64_t groups, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(double eps, args[4].asDouble());
  return groupNorm(ctx, node, args, groups, args[2], args[3], eps);
}

// native_group_norm(input, weight, bias, N, C, HxW, group, eps)
Status nativeGroupNorm(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(int64_t groups, args[6].asInt());
  KILN_ASSIGN_OR_RETURN(double eps, args[7].asDouble());
  return groupNorm(ctx, node, args, groups, args[1], args[2], eps);
}

// instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps, cudnn_enabled)
Status instanceNorm(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(bool useInputStats, args[5].asBool());
  KILN_ASSIGN_OR_RETURN(double eps, args[7].asDouble());
  if (!useInputStats) return batchNorm(ctx, node, args, false, 3, 7);
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out,
                        impl::channelNorm(ctx, node, x, spatial(x->getDimensions().nbDims), 1, args[1], args[2], eps));
  return finish(ctx, node, out, args);
}

// rms_norm(input, normalized_shape, weight=None, eps=None), _fused_rms_norm(same) -> (output, rstd)
Status rmsNorm(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> normalizedShape, args[1].asInts());
  ITensor* weight = nullptr;
  if (!args[2].isNone()) {
    KILN_ASSIGN_OR_RETURN(weight, args[2].asTensor());
  }
  std::optional<double> eps;
  if (!args[3].isNone()) {
    KILN_ASSIGN_OR_RETURN(eps, args[3].asDouble());
  }
  const Dims dims = x->getDimensions();
  const auto k = static_cast<int32_t>(normalizedShape.size());
  for (int32_t i = 0; i < k && k <= dims.nbDims; ++i) {
    const int64_t extent = dims.d[dims.nbDims - k + i];
    if (extent >= 0 && extent != normalizedShape[static_cast<size_t>(i)]) {
      return impl::Site(node).error("normalized_shape does not match the input's last dims " + dimsToString(dims));
    }
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::rmsNorm(ctx, node, x, k, weight, eps));
  return finish(ctx, node, out, args);
}

// ---- validators -------------------------------------------------------------------------------------

// A float input of rank >= kMinRank with a static channel count, saved statistics unused.
template <size_t kMinRank>
bool channelInput(const ir::Node& node) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  if (meta == nullptr || impl::categoryOf(meta->dtype) != impl::TypeCategory::kFLOAT) return false;
  const Dims dims = meta->toDims();
  return dims.nbDims >= static_cast<int32_t>(kMinRank) && dims.d[1] > 0 && impl::outputsUnusedOrEmpty(node, 1);
}

bool boolArg(const ir::Node& node, size_t index, bool expected) {
  const ir::Constant* c = impl::constantArg(node, index);
  return c != nullptr && c->isBool() && c->toBool().value() == expected;
}

bool hasRunningStats(const ir::Node& node) {
  return impl::tensorMetaArg(node, 3) != nullptr && impl::tensorMetaArg(node, 4) != nullptr;
}

// Batch statistics over at least two values per channel (one would divide 0 by 0, which PyTorch raises on).
bool noStatsSupported(const ir::Node& node, const CompilationSettings&) {
  return channelInput<2>(node) && boolArg(node, 3, true);
}

// Inference with running statistics, or batch statistics when no running statistics would be updated.
bool trainingFlagSupported(const ir::Node& node, const CompilationSettings&) {
  if (!channelInput<2>(node)) return false;
  if (boolArg(node, 5, false)) return hasRunningStats(node);
  return boolArg(node, 5, true) && impl::constantArg(node, 3) != nullptr && impl::constantArg(node, 3)->isNone() &&
         impl::constantArg(node, 4) != nullptr && impl::constantArg(node, 4)->isNone();
}

// _native_batch_norm_legit updates its running statistics in training: inference only.
bool legitSupported(const ir::Node& node, const CompilationSettings&) {
  return channelInput<2>(node) && boolArg(node, 5, false) && hasRunningStats(node);
}

bool noUpdateSupported(const ir::Node& node, const CompilationSettings&) {
  return channelInput<2>(node) && hasRunningStats(node);
}

template <size_t kGroupsIndex>
bool groupNormSupported(const ir::Node& node, const CompilationSettings&) {
  if (!channelInput<3>(node)) return false;
  const ir::Constant* groups = impl::constantArg(node, kGroupsIndex);
  if (groups == nullptr || !groups->isInt()) return false;
  const int64_t g = groups->toInt().value();
  return g >= 1 && impl::tensorMetaArg(node, 0)->toDims().d[1] % g == 0;
}

bool instanceNormSupported(const ir::Node& node, const CompilationSettings&) {
  if (!channelInput<3>(node)) return false;
  if (boolArg(node, 5, true)) return true;
  return boolArg(node, 5, false) && hasRunningStats(node);
}

bool rmsNormSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && impl::categoryOf(meta->dtype) == impl::TypeCategory::kFLOAT &&
         impl::constantArg(node, 1) != nullptr && impl::constantArg(node, 3) != nullptr &&
         impl::outputsUnusedOrEmpty(node, 1);
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::_native_batch_norm_legit.no_stats(Tensor input, Tensor? weight, Tensor? bias, bool training, "
                  "float momentum, float eps) -> (Tensor, Tensor, Tensor)",
                  legitNoStats},
                 {.validator = noStatsSupported})
        .pattern({"aten::_native_batch_norm_legit(Tensor input, Tensor? weight, Tensor? bias, Tensor(a!) running_mean, "
                  "Tensor(b!) running_var, bool training, float momentum, float eps) -> (Tensor, Tensor, Tensor)",
                  withTrainingFlag},
                 {.validator = legitSupported})
        .pattern({"aten::batch_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, "
                  "Tensor? running_var, bool training, float momentum, float eps, bool cudnn_enabled) -> Tensor",
                  withTrainingFlag},
                 {.validator = trainingFlagSupported})
        .pattern({"aten::cudnn_batch_norm(Tensor input, Tensor weight, Tensor? bias, Tensor? running_mean, "
                  "Tensor? running_var, bool training, float exponential_average_factor, float epsilon) -> "
                  "(Tensor, Tensor, Tensor, Tensor)",
                  withTrainingFlag},
                 {.validator = trainingFlagSupported})
        .pattern({"aten::_batch_norm_no_update(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, "
                  "Tensor? running_var, float momentum, float eps) -> (Tensor, Tensor, Tensor, Tensor)",
                  noUpdate},
                 {.validator = noUpdateSupported})
        .pattern({"aten::group_norm(Tensor input, int num_groups, Tensor? weight=None, Tensor? bias=None, "
                  "float eps=1.0000000000000001e-05, bool cudnn_enabled=True) -> Tensor",
                  groupNormOp},
                 {.validator = groupNormSupported<1>})
        .pattern({"aten::native_group_norm(Tensor input, Tensor? weight, Tensor? bias, SymInt N, SymInt C, "
                  "SymInt HxW, int group, float eps) -> (Tensor, Tensor, Tensor)",
                  nativeGroupNorm},
                 {.validator = groupNormSupported<6>})
        .pattern({"aten::instance_norm(Tensor input, Tensor? weight, Tensor? bias, Tensor? running_mean, "
                  "Tensor? running_var, bool use_input_stats, float momentum, float eps, bool cudnn_enabled) -> "
                  "Tensor",
                  instanceNorm},
                 {.validator = instanceNormSupported})
        .pattern({"aten::rms_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight=None, float? eps=None) -> "
                  "Tensor",
                  rmsNorm},
                 {.validator = rmsNormSupported})
        .pattern({"aten::_fused_rms_norm(Tensor input, int[] normalized_shape, Tensor? weight, float? eps) -> "
                  "(Tensor, Tensor)",
                  rmsNorm},
                 {.validator = rmsNormSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
