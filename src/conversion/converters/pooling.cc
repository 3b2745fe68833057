// ATen pooling in 1-3 spatial dims: max pooling (indices only when unused), average pooling (ceil_mode,
// count_include_pad, divisor_override), adaptive average and max pooling (indices only when unused).
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

Status maxPool(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  impl::PoolingParams params;
  KILN_ASSIGN_OR_RETURN(params.kernel, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(params.stride, args[2].asInts());
  KILN_ASSIGN_OR_RETURN(params.padding, args[3].asInts());
  KILN_ASSIGN_OR_RETURN(params.ceilMode, args[5].asBool());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::pooling(ctx, node, x, PoolingType::kMAX, params));
  KILN_RETURN_IF_ERROR(impl::setOutput(ctx, node, 0, out, args));
  impl::setUnusedOutputs(ctx, node, 1);  // the indices: the validator made sure nobody reads them
  return Status::ok();
}

Status avgPool(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  impl::PoolingParams params;
  KILN_ASSIGN_OR_RETURN(params.kernel, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(params.stride, args[2].asInts());
  KILN_ASSIGN_OR_RETURN(params.padding, args[3].asInts());
  KILN_ASSIGN_OR_RETURN(params.ceilMode, args[4].asBool());
  KILN_ASSIGN_OR_RETURN(params.countIncludePad, args[5].asBool());
  const bool divisorOverride = args.size() > 6 && !args[6].isNone();
  // With a divisor, the window sum is the padded average times the full window (the validator makes sure no
  // window is clipped, which ceil_mode could do), then divided by the divisor.
  if (divisorOverride) params.countIncludePad = true;
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::pooling(ctx, divisorOverride ? impl::Site(node, "avg") : impl::Site(node),
                                                     x, PoolingType::kAVERAGE, params));
  if (divisorOverride) {
    KILN_ASSIGN_OR_RETURN(int64_t divisor, args[6].asInt());
    if (divisor == 0) return impl::Site(node).error("divisor_override must not be 0");
    double window = 1;
    for (int64_t k : params.kernel) window *= static_cast<double>(k);
    KILN_ASSIGN_OR_RETURN(out, impl::elementwise(ctx, node, impl::Operand::of(out),
                                                 impl::Operand::of(ir::Constant::fromDouble(window / divisor)),
                                                 ElementWiseOperation::kPROD));
  }
  return impl::setOutput(ctx, node, 0, out, args);
}

template <PoolingType kType>
Status adaptivePool(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> outputSize, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::adaptivePool(ctx, node, x, outputSize, kType));
  KILN_RETURN_IF_ERROR(impl::setOutput(ctx, node, 0, out, args));
  impl::setUnusedOutputs(ctx, node, 1);  // adaptive max pooling's indices: the validator made sure nobody reads them
  return Status::ok();
}

bool floatInput(const ir::Node& node) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && impl::categoryOf(meta->dtype) == impl::TypeCategory::kFLOAT;
}

// Batched input of kSpatial spatial dims ([N, C, spatial...]).
template <int kSpatial>
bool batched(const ir::Node& node) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && static_cast<int>(meta->shape.size()) == kSpatial + 2;
}

// The engine's pooling has no dilation; kernel/stride/padding must be compile-time ints.
bool maxPoolSupported(const ir::Node& node, const CompilationSettings&) {
  if (!floatInput(node)) return false;
  for (size_t i : {size_t{1}, size_t{2}, size_t{3}, size_t{4}, size_t{5}}) {
    if (impl::constantArg(node, i) == nullptr) return false;
  }
  StatusOr<std::vector<int64_t>> dilation = impl::constantArg(node, 4)->toInts();
  if (!dilation.isOk()) return false;
  for (int64_t d : dilation.value()) {
    if (d != 1) return false;
  }
  return true;
}

bool maxPoolWithIndicesSupported(const ir::Node& node, const CompilationSettings& settings) {
  return maxPoolSupported(node, settings) && impl::outputUnused(node, 1);
}

// divisor_override (avg_pool2d/3d only) needs windows that are never clipped: ceil_mode off.
bool avgPoolSupported(const ir::Node& node, const CompilationSettings&) {
  if (!floatInput(node)) return false;
  for (size_t i = 1; i < node.args().size(); ++i) {
    if (impl::constantArg(node, i) == nullptr) return false;
  }
  if (node.args().size() <= 6 || impl::constantArg(node, 6)->isNone()) return true;
  StatusOr<int64_t> divisor = impl::constantArg(node, 6)->toInt();
  StatusOr<bool> ceil = impl::constantArg(node, 4)->toBool();
  return divisor.isOk() && divisor.value() != 0 && ceil.isOk() && !ceil.value();
}

bool adaptiveSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  const ir::Constant* size = impl::constantArg(node, 1);
  if (meta == nullptr || size == nullptr || !floatInput(node)) return false;
  StatusOr<std::vector<int64_t>> outputSize = size->toInts();
  return outputSize.isOk() && impl::adaptivePoolSeparableSupported(meta->toDims(), outputSize.value());
}

template <int kSpatial>
bool maxPoolNd(const ir::Node& node, const CompilationSettings& settings) {
  return batched<kSpatial>(node) && maxPoolSupported(node, settings);
}

template <int kSpatial>
bool maxPoolNdWithIndices(const ir::Node& node, const CompilationSettings& settings) {
  return batched<kSpatial>(node) && maxPoolWithIndicesSupported(node, settings);
}

template <int kSpatial>
bool avgPoolNd(const ir::Node& node, const CompilationSettings& settings) {
  return batched<kSpatial>(node) && avgPoolSupported(node, settings);
}

template <int kSpatial>
bool adaptiveNd(const ir::Node& node, const CompilationSettings& settings) {
  return batched<kSpatial>(node) && adaptiveSupported(node, settings);
}

template <int kSpatial>
bool adaptiveMaxNd(const ir::Node& node, const CompilationSettings& settings) {
  return adaptiveNd<kSpatial>(node, settings) && impl::outputUnused(node, 1);
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::max_pool2d_with_indices(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, "
                  "int[2] dilation=1, bool ceil_mode=False) -> (Tensor, Tensor)",
                  maxPool},
                 {.validator = maxPoolWithIndicesSupported})
        .pattern({"aten::max_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, "
                  "int[2] dilation=1, bool ceil_mode=False) -> Tensor",
                  maxPool},
                 {.validator = maxPoolSupported})
        .pattern({"aten::avg_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, "
                  "bool ceil_mode=False, bool count_include_pad=True, int? divisor_override=None) -> Tensor",
                  avgPool},
                 {.validator = avgPoolSupported})
        .pattern({"aten::adaptive_avg_pool2d(Tensor self, SymInt[2] output_size) -> Tensor",
                  adaptivePool<PoolingType::kAVERAGE>},
                 {.validator = adaptiveSupported})
        .pattern({"aten::_adaptive_avg_pool2d(Tensor self, SymInt[2] output_size) -> Tensor",
                  adaptivePool<PoolingType::kAVERAGE>},
                 {.validator = adaptiveSupported})
        .pattern({"aten::max_pool1d(Tensor self, int[1] kernel_size, int[1] stride=[], int[1] padding=[0], "
                  "int[1] dilation=[1], bool ceil_mode=False) -> Tensor",
                  maxPool},
                 {.validator = maxPoolNd<1>})
        .pattern({"aten::max_pool1d_with_indices(Tensor self, int[1] kernel_size, int[1] stride=[], "
                  "int[1] padding=[0], int[1] dilation=[1], bool ceil_mode=False) -> (Tensor, Tensor)",
                  maxPool},
                 {.validator = maxPoolNdWithIndices<1>})
        .pattern({"aten::max_pool3d(Tensor self, int[3] kernel_size, int[3] stride=[], int[3] padding=0, "
                  "int[3] dilation=1, bool ceil_mode=False) -> Tensor",
                  maxPool},
                 {.validator = maxPoolNd<3>})
        .pattern({"aten::max_pool3d_with_indices(Tensor self, int[3] kernel_size, int[3] stride=[], int[3] padding=0, "
                  "int[3] dilation=1, bool ceil_mode=False) -> (Tensor, Tensor)",
                  maxPool},
                 {.validator = maxPoolNdWithIndices<3>})
        .pattern({"aten::avg_pool1d(Tensor self, int[1] kernel_size, int[1] stride=[], int[1] padding=[0], "
                  "bool ceil_mode=False, bool count_include_pad=True) -> Tensor",
                  avgPool},
                 {.validator = avgPoolNd<1>})
        .pattern({"aten::avg_pool3d(Tensor self, int[3] kernel_size, int[3] stride=[], int[3] padding=0, "
                  "bool ceil_mode=False, bool count_include_pad=True, int? divisor_override=None) -> Tensor",
                  avgPool},
                 {.validator = avgPoolNd<3>})
        .pattern({"aten::adaptive_avg_pool1d(Tensor self, int[1] output_size) -> Tensor",
                  adaptivePool<PoolingType::kAVERAGE>},
                 {.validator = adaptiveNd<1>})
        .pattern({"aten::adaptive_avg_pool3d(Tensor self, SymInt[3] output_size) -> Tensor",
                  adaptivePool<PoolingType::kAVERAGE>},
                 {.validator = adaptiveNd<3>})
        .pattern({"aten::_adaptive_avg_pool3d(Tensor self, SymInt[3] output_size) -> Tensor",
                  adaptivePool<PoolingType::kAVERAGE>},
                 {.validator = adaptiveNd<3>})
        .pattern({"aten::adaptive_max_pool1d(Tensor self, int[1] output_size) -> (Tensor, Tensor)",
                  adaptivePool<PoolingType::kMAX>},
                 {.validator = adaptiveMaxNd<1>})
        .pattern({"aten::adaptive_max_pool2d(Tensor self, int[2] output_size) -> (Tensor, Tensor)",
                  adaptivePool<PoolingType::kMAX>},
                 {.validator = adaptiveMaxNd<2>})
        .pattern({"aten::adaptive_max_pool3d(Tensor self, int[3] output_size) -> (Tensor, Tensor)",
                  adaptivePool<PoolingType::kMAX>},
                 {.validator = adaptiveMaxNd<3>});
}  // namespace
}  // namespace conversion
}  // namespace kiln
