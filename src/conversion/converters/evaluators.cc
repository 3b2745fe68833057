// Evaluators: ops whose result is known at conversion time from the IR's tensor metadata (sizes of static
// dims, ranks, element counts, dtypes). They associate constants and add no layers; converters reading
// their outputs get plain ints. Each validator refuses the node when the answer depends on a dynamic dim, so
// such nodes stay in PyTorch.
#include <optional>
#include <vector>

#include "conversion/conversion_ctx.h"
#include "conversion/registry.h"
#include "ir/dtype.h"

namespace kiln {
namespace conversion {
namespace {

// The metadata of the node's tensor argument `index`, when it is a value with one.
const ir::TensorMeta* tensorMeta(const ir::Node& node, size_t index) {
  if (index >= node.args().size()) return nullptr;
  const ir::Arg& arg = node.args()[index];
  if (!arg.isValue() || arg.value == nullptr || !arg.value->isTensor()) return nullptr;
  return &*arg.value->meta();
}

// The extent of dim args[1] of tensor args[0] when both are known at conversion time (negative dims count
// from the end, as in PyTorch).
std::optional<int64_t> staticExtent(const ir::Node& node) {
  const ir::TensorMeta* meta = tensorMeta(node, 0);
  if (meta == nullptr || node.args().size() < 2 || !node.args()[1].isConstant()) return std::nullopt;
  StatusOr<int64_t> dim = node.args()[1].constant.toInt();
  if (!dim.isOk()) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(meta->shape.size());
  const int64_t d = dim.value() < 0 ? dim.value() + rank : dim.value();
  if (d < 0 || d >= rank) return std::nullopt;
  const ir::SymDim& sym = meta->shape[static_cast<size_t>(d)];
  if (!sym.isStatic()) return std::nullopt;
  return sym.extent;
}

std::optional<std::vector<int64_t>> staticShape(const ir::Node& node) {
  const ir::TensorMeta* meta = tensorMeta(node, 0);
  if (meta == nullptr || !meta->isStatic()) return std::nullopt;
  std::vector<int64_t> shape;
  shape.reserve(meta->shape.size());
  for (const ir::SymDim& d : meta->shape) shape.push_back(d.extent);
  return shape;
}

Status needsOneOutput(const ir::Node& node) {
  if (node.output(0) == nullptr) return internalError("%" + node.name() + " (" + node.target() + ") has no output");
  return Status::ok();
}

// Validators run at partitioning and again at conversion, on the same metadata; the evaluators still check,
// since a caller may pass a registry entry to convertSegment without consulting the validator.
Status evaluateSize(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
  KILN_RETURN_IF_ERROR(needsOneOutput(node));
  std::optional<int64_t> extent = staticExtent(node);
  if (!extent) {
    return invalidArgument("the size of dim " + (node.args().size() > 1 ? node.args()[1].repr() : "?") +
                           " is not known at conversion time (dynamic, or the dim is out of range)");
  }
  ctx.associateValueAndConstant(node.output(0), ir::Constant::fromInt(*extent));
  return Status::ok();
}

Status evaluateShape(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
  KILN_RETURN_IF_ERROR(needsOneOutput(node));
  std::optional<std::vector<int64_t>> shape = staticShape(node);
  if (!shape) return invalidArgument("the shape of the input is not known at conversion time (dynamic dims)");
  ctx.associateValueAndConstant(node.output(0), ir::Constant::fromInts(*shape));
  return Status::ok();
}

Status evaluateNumel(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
  KILN_RETURN_IF_ERROR(needsOneOutput(node));
  std::optional<std::vector<int64_t>> shape = staticShape(node);
  if (!shape) return invalidArgument("the element count is not known at conversion time (dynamic dims)");
  int64_t count = 1;
  for (int64_t e : *shape) count *= e;
  ctx.associateValueAndConstant(node.output(0), ir::Constant::fromInt(count));
  return Status::ok();
}

Status evaluateDim(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
  KILN_RETURN_IF_ERROR(needsOneOutput(node));
  const ir::TensorMeta* meta = tensorMeta(node, 0);
  if (meta == nullptr) return invalidArgument("the input has no tensor metadata, so its rank is unknown");
  ctx.associateValueAndConstant(node.output(0), ir::Constant::fromInt(static_cast<int64_t>(meta->shape.size())));
  return Status::ok();
}

Status evaluateDtype(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
  KILN_RETURN_IF_ERROR(needsOneOutput(node));
  const ir::TensorMeta* meta = tensorMeta(node, 0);
  if (meta == nullptr) return invalidArgument("the input has no tensor metadata, so its dtype is unknown");
  ctx.associateValueAndConstant(node.output(0), ir::Constant::fromInt(ir::torchScalarTypeOf(meta->dtype)));
  return Status::ok();
}

bool hasStaticExtent(const ir::Node& node, const CompilationSettings&) { return staticExtent(node).has_value(); }
bool hasStaticShape(const ir::Node& node, const CompilationSettings&) { return staticShape(node).has_value(); }
bool hasMeta(const ir::Node& node, const CompilationSettings&) { return tensorMeta(node, 0) != nullptr; }

ConverterOptions when(CapabilityValidator validator) {
  ConverterOptions options;
  options.validator = std::move(validator);
  // The validators look at the very dims they need: sym_size of a static dim of a dynamic tensor is fine.
  options.supportsDynamicShapes = true;
  return options;
}

// clang-format off
const auto kRegistered = RegisterConverters()
    .evaluator({"aten::sym_size.int(Tensor self, int dim) -> SymInt", evaluateSize}, when(hasStaticExtent))
    .evaluator({"aten::size.int(Tensor self, int dim) -> int", evaluateSize}, when(hasStaticExtent))
    .evaluator({"aten::size(Tensor self) -> int[]", evaluateShape}, when(hasStaticShape))
    .evaluator({"aten::sym_numel(Tensor self) -> SymInt", evaluateNumel}, when(hasStaticShape))
    .evaluator({"aten::numel(Tensor self) -> int", evaluateNumel}, when(hasStaticShape))
    .evaluator({"aten::dim(Tensor self) -> int", evaluateDim}, when(hasMeta))
    .evaluator({"prim::dtype(Tensor a) -> int", evaluateDtype}, when(hasMeta));
// clang-format on

}  // namespace
}  // namespace conversion
}  // namespace kiln
