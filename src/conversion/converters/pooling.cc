// ATen pooling: max_pool2d (with unused indices), avg_pool2d, adaptive_avg_pool2d.
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
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::pooling(ctx, node, x, PoolingType::kAVERAGE, params));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status adaptiveAvgPool(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> outputSize, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::adaptiveAvgPool(ctx, node, x, outputSize));
  return impl::setOutput(ctx, node, 0, out, args);
}

bool floatInput(const ir::Node& node) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && impl::categoryOf(meta->dtype) == impl::TypeCategory::kFLOAT;
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

bool avgPoolSupported(const ir::Node& node, const CompilationSettings&) {
  if (!floatInput(node)) return false;
  for (size_t i = 1; i <= 6; ++i) {
    if (impl::constantArg(node, i) == nullptr) return false;
  }
  return impl::constantArg(node, 6)->isNone();  // divisor_override
}

bool adaptiveSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  const ir::Constant* size = impl::constantArg(node, 1);
  if (meta == nullptr || size == nullptr || !floatInput(node)) return false;
  StatusOr<std::vector<int64_t>> outputSize = size->toInts();
  return outputSize.isOk() && impl::adaptivePoolSupported(meta->toDims(), outputSize.value());
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
        .pattern({"aten::adaptive_avg_pool2d(Tensor self, SymInt[2] output_size) -> Tensor", adaptiveAvgPool},
                 {.validator = adaptiveSupported})
        .pattern({"aten::_adaptive_avg_pool2d(Tensor self, SymInt[2] output_size) -> Tensor", adaptiveAvgPool},
                 {.validator = adaptiveSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
