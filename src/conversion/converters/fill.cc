// ATen factories: full, full_like, zeros_like, ones_like, scalar_tensor, arange. The engine decides
// where tensors live, so the device/layout/pin_memory arguments of these factories do not matter.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

StatusOr<DataType> typeOr(const ConverterArg& dtype, DataType fallback) {
  KILN_ASSIGN_OR_RETURN(std::optional<DataType> type, impl::scalarTypeOf(dtype));
  return type.value_or(fallback);
}

// full(size, fill_value, *, dtype, layout, device, pin_memory)
Status full(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(std::vector<impl::ShapeItem> size, impl::shapeItemsOf(args[0]));
  KILN_ASSIGN_OR_RETURN(double value, args[1].asDouble());
  KILN_ASSIGN_OR_RETURN(DataType type, typeOr(args[2], impl::defaultTypeOf(args[1].constant)));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::full(ctx, node, size, value, type));
  return impl::setOutput(ctx, node, 0, out, args);
}

// scalar_tensor(s, *, dtype, ...): 0-D, float32 unless told otherwise.
Status scalarTensor(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(double value, args[0].asDouble());
  KILN_ASSIGN_OR_RETURN(DataType type, typeOr(args[1], DataType::kFLOAT));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::full(ctx, node, {}, value, type));
  return impl::setOutput(ctx, node, 0, out, args);
}

// full_like(self, fill_value, *, dtype, ...)
Status fullLike(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * like, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(double value, args[1].asDouble());
  KILN_ASSIGN_OR_RETURN(DataType type, typeOr(args[2], like->getType()));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::fullLike(ctx, node, like, value, type));
  return impl::setOutput(ctx, node, 0, out, args);
}

// zeros_like / ones_like(self, *, dtype, ...)
template <int kValue>
Status constantLike(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * like, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(DataType type, typeOr(args[1], like->getType()));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::fullLike(ctx, node, like, kValue, type));
  return impl::setOutput(ctx, node, 0, out, args);
}

// arange(end) / arange.start(start, end) / arange.start_step(start, end, step), then dtype and layout. Without a
// dtype the values are int64 when every bound is an int, else float32.
template <size_t kBounds>
Status arange(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  double bounds[3] = {0.0, 0.0, 1.0};
  bool integral = true;
  const size_t first = kBounds == 1 ? 1 : 0;  // arange(end) fills in end only
  for (size_t i = 0; i < kBounds; ++i) {
    KILN_ASSIGN_OR_RETURN(bounds[first + i], args[i].asDouble());
    integral = integral && !args[i].constant.isDouble();
  }
  KILN_ASSIGN_OR_RETURN(DataType type, typeOr(args[kBounds], integral ? DataType::kINT64 : DataType::kFLOAT));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::arange(ctx, node, bounds[0], bounds[1], bounds[2], type));
  return impl::setOutput(ctx, node, 0, out, args);
}

bool layoutStrided(const ir::Constant* layout) {
  if (layout == nullptr) return false;
  if (layout->isNone()) return true;
  StatusOr<std::string> text = layout->toString();
  return text.isOk() && text.value() == "torch.strided";
}

// A known dtype, a strided layout and a number as the value (dtype at dtypeIndex, layout right after).
bool factorySupported(const ir::Node& node, size_t valueIndex, size_t dtypeIndex) {
  const ir::Constant* value = impl::constantArg(node, valueIndex);
  return value != nullptr && value->isNumber() && impl::scalarTypeArgSupported(node, dtypeIndex) &&
         layoutStrided(impl::constantArg(node, dtypeIndex + 1));
}

bool fullSupported(const ir::Node& node, const CompilationSettings&) {
  if (node.args().empty() || !factorySupported(node, 1, 2)) return false;
  const ir::Arg& size = node.args()[0];
  if (size.isConstant()) return true;
  if (!size.isList()) return false;
  for (const ir::Arg& item : size.list) {
    const bool ok = item.isConstant() ? item.constant.isInt()
                                      : (item.isValue() && item.value != nullptr && item.value->node() != nullptr &&
                                         item.value->node()->target() == "aten::sym_size.int");
    if (!ok) return false;
  }
  return true;
}

template <size_t kBounds>
bool arangeSupported(const ir::Node& node, const CompilationSettings&) {
  for (size_t i = 0; i < kBounds; ++i) {
    const ir::Constant* bound = impl::constantArg(node, i);
    if (bound == nullptr || !bound->isNumber() || bound->isBool()) return false;
  }
  return impl::scalarTypeArgSupported(node, kBounds) && layoutStrided(impl::constantArg(node, kBounds + 1));
}

bool likeSupported(const ir::Node& node, size_t dtypeIndex) {
  return impl::tensorMetaArg(node, 0) != nullptr && impl::scalarTypeArgSupported(node, dtypeIndex) &&
         layoutStrided(impl::constantArg(node, dtypeIndex + 1));
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::full(SymInt[] size, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, "
                  "Device? device=None, bool? pin_memory=None) -> Tensor",
                  full},
                 {.validator = fullSupported})
        .pattern({"aten::scalar_tensor(Scalar s, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
                  "bool? pin_memory=None) -> Tensor",
                  scalarTensor},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return factorySupported(n, 0, 1); }})
        .pattern({"aten::arange(Scalar end, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
                  "bool? pin_memory=None) -> Tensor",
                  arange<1>},
                 {.validator = arangeSupported<1>})
        .pattern({"aten::arange.start(Scalar start, Scalar end, *, ScalarType? dtype=None, Layout? layout=None, "
                  "Device? device=None, bool? pin_memory=None) -> Tensor",
                  arange<2>},
                 {.validator = arangeSupported<2>})
        .pattern({"aten::arange.start_step(Scalar start, Scalar end, Scalar step=1, *, ScalarType? dtype=None, "
                  "Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor",
                  arange<3>},
                 {.validator = arangeSupported<3>})
        .pattern({"aten::full_like(Tensor self, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, "
                  "Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
                  fullLike},
                 {.validator =
                      [](const ir::Node& n, const CompilationSettings&) {
                        const ir::Constant* value = impl::constantArg(n, 1);
                        return value != nullptr && value->isNumber() && likeSupported(n, 2);
                      }})
        .pattern({"aten::zeros_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
                  "bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
                  constantLike<0>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return likeSupported(n, 1); }})
        .pattern({"aten::ones_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
                  "bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
                  constantLike<1>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return likeSupported(n, 1); }});

}  // namespace
}  // namespace conversion
}  // namespace kiln
