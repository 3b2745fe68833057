// ATen copies and casts: _to_copy, to.dtype, to.dtype_layout (dtype changes only), type_as, clone, dropout in
// eval mode, alias/detach/contiguous.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

Status toCopy(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(std::optional<DataType> dtype, impl::scalarTypeOf(args[1]));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::castTo(ctx, node, x, dtype.value_or(x->getType())));
  return impl::setOutput(ctx, node, 0, out, args);  // an identity when nothing changes
}

// to.dtype(self, dtype, non_blocking, copy, memory_format)
Status toDtype(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(std::optional<DataType> dtype, impl::scalarTypeOf(args[1]));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::castTo(ctx, node, x, dtype.value_or(x->getType())));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status typeAs(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * other, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::castTo(ctx, node, x, other->getType()));
  return impl::setOutput(ctx, node, 0, out, args);
}

// The output is the input (setOutput adds the identity layer that keeps them apart); unused extra outputs
// (native_dropout's mask) are left unread.
Status passThrough(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_RETURN_IF_ERROR(impl::setOutput(ctx, node, 0, x, args));
  impl::setUnusedOutputs(ctx, node, 1);
  return Status::ok();
}

// A dtype change only: no device move (the engine's tensors stay where it runs), no layout change.
bool toCopySupported(const ir::Node& node, const CompilationSettings&) {
  if (impl::tensorMetaArg(node, 0) == nullptr || !impl::scalarTypeArgSupported(node, 1)) return false;
  const ir::Constant* layout = impl::constantArg(node, 2);
  const ir::Constant* device = impl::constantArg(node, 3);
  if (layout == nullptr || device == nullptr || !device->isNone()) return false;
  if (layout->isNone()) return true;
  StatusOr<std::string> text = layout->toString();
  return text.isOk() && text.value() == "torch.strided";
}

bool toDtypeSupported(const ir::Node& node, const CompilationSettings&) {
  return impl::tensorMetaArg(node, 0) != nullptr && impl::constantArg(node, 1) != nullptr &&
         !impl::constantArg(node, 1)->isNone() && impl::scalarTypeArgSupported(node, 1);
}

// to.dtype_layout(self, *, dtype, layout, device, pin_memory, ...): the same arguments as _to_copy at the front.
bool toLayoutSupported(const ir::Node& node, const CompilationSettings& settings) { return toCopySupported(node, settings); }

// dropout in eval mode is the identity; in training it is random, which stays in PyTorch.
bool notTraining(const ir::Node& node, const CompilationSettings&) {
  const ir::Constant* train = impl::constantArg(node, 2);
  if (train == nullptr || !(train->isNone() || train->isBool())) return false;
  return (train->isNone() || !train->toBool().value()) && impl::outputUnused(node, 1);
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::_to_copy(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
                  "bool? pin_memory=None, bool non_blocking=False, MemoryFormat? memory_format=None) -> Tensor",
                  toCopy},
                 {.validator = toCopySupported})
        .pattern({"aten::to.dtype(Tensor(a) self, ScalarType dtype, bool non_blocking=False, bool copy=False, "
                  "MemoryFormat? memory_format=None) -> Tensor(a)",
                  toDtype},
                 {.validator = toDtypeSupported})
        .pattern({"aten::to.dtype_layout(Tensor(a) self, *, ScalarType? dtype=None, Layout? layout=None, "
                  "Device? device=None, bool? pin_memory=None, bool non_blocking=False, bool copy=False, "
                  "MemoryFormat? memory_format=None) -> Tensor(a)",
                  toCopy},
                 {.validator = toLayoutSupported})
        .pattern({"aten::type_as(Tensor self, Tensor other) -> Tensor", typeAs},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) {
                    return impl::tensorMetaArg(n, 0) != nullptr && impl::tensorMetaArg(n, 1) != nullptr;
                  }})
        .pattern({"aten::clone(Tensor self, *, MemoryFormat? memory_format=None) -> Tensor", passThrough})
        .pattern({"aten::alias(Tensor(a) self) -> Tensor(a)", passThrough})
        .pattern({"aten::detach(Tensor(a) self) -> Tensor(a)", passThrough})
        .pattern({"aten::contiguous(Tensor(a) self, *, MemoryFormat memory_format=0) -> Tensor(a)", passThrough})
        .pattern({"aten::dropout(Tensor input, float p, bool train) -> Tensor", passThrough},
                 {.validator = notTraining})
        .pattern({"aten::native_dropout(Tensor input, float p, bool? train) -> (Tensor, Tensor)", passThrough},
                 {.validator = notTraining});

}  // namespace
}  // namespace conversion
}  // namespace kiln
