// ATen factories: full, zeros, ones, empty (as zeros), full_like, zeros_like, ones_like, empty_like (as zeros),
// new_full/new_zeros/new_ones/new_empty, scalar_tensor, arange, eye, linspace. The engine decides
// where tensors live, so the device/layout/pin_memory arguments of these factories do not matter.
#include <cmath>

#include "conversion/converters/arg_checks.h"
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

// zeros / ones / empty.memory_format(size, *, dtype, ...): float32 unless told otherwise; empty is zeros (its
// contents are unspecified, and zeros are a valid choice).
template <int kValue>
Status constantOfSize(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(std::vector<impl::ShapeItem> size, impl::shapeItemsOf(args[0]));
  KILN_ASSIGN_OR_RETURN(DataType type, typeOr(args[1], DataType::kFLOAT));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::full(ctx, node, size, kValue, type));
  return impl::setOutput(ctx, node, 0, out, args);
}

// new_zeros / new_ones / new_empty(self, size, *, dtype, ...): self's dtype unless told otherwise.
template <int kValue>
Status newConstant(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * self, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(std::vector<impl::ShapeItem> size, impl::shapeItemsOf(args[1]));
  KILN_ASSIGN_OR_RETURN(DataType type, typeOr(args[2], self->getType()));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::full(ctx, node, size, kValue, type));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status newFull(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * self, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(std::vector<impl::ShapeItem> size, impl::shapeItemsOf(args[1]));
  KILN_ASSIGN_OR_RETURN(double value, args[2].asDouble());
  KILN_ASSIGN_OR_RETURN(DataType type, typeOr(args[3], self->getType()));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::full(ctx, node, size, value, type));
  return impl::setOutput(ctx, node, 0, out, args);
}

// eye(n) / eye.m(n, m): a constant identity (float32 unless told otherwise).
template <bool kM>
Status eye(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(int64_t n, args[0].asInt());
  int64_t m = n;
  if (kM) {
    KILN_ASSIGN_OR_RETURN(m, args[1].asInt());
  }
  KILN_ASSIGN_OR_RETURN(DataType type, typeOr(args[kM ? 2 : 1], DataType::kFLOAT));
  const impl::Site site(node);
  if (n < 0 || m < 0) return site.error("eye extents must be non-negative");
  std::vector<double> values(static_cast<size_t>(n * m), 0.0);
  for (int64_t i = 0; i < std::min(n, m); ++i) values[static_cast<size_t>(i * m + i)] = 1.0;
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::constantOf(ctx, site, type, Dims{n, m}, values));
  return impl::setOutput(ctx, node, 0, out, args);
}

// linspace(start, end, steps): ATen fills the first half forwards from start and the second half backwards
// from end, so both ends are exact; the same is computed here in double and stored as the dtype.
Status linspace(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(double start, args[0].asDouble());
  KILN_ASSIGN_OR_RETURN(double end, args[1].asDouble());
  KILN_ASSIGN_OR_RETURN(int64_t steps, args[2].asInt());
  KILN_ASSIGN_OR_RETURN(DataType type, typeOr(args[3], DataType::kFLOAT));
  const impl::Site site(node);
  if (steps < 0) return site.error("linspace steps must be non-negative");
  std::vector<double> values(static_cast<size_t>(steps));
  if (steps == 1) values[0] = start;
  if (steps > 1) {
    const double step = (end - start) / static_cast<double>(steps - 1);
    const int64_t half = steps / 2;
    for (int64_t i = 0; i < steps; ++i) {
      values[static_cast<size_t>(i)] =
          i < half ? start + step * static_cast<double>(i) : end - step * static_cast<double>(steps - 1 - i);
    }
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::constantOf(ctx, site, type, Dims{steps}, values));
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

// A size list (argument sizeIndex) of numbers or engine-computed extents, a known dtype and a strided layout.
bool sizedFactorySupported(const ir::Node& node, size_t sizeIndex, size_t dtypeIndex) {
  return node.args().size() > dtypeIndex + 1 && checks::symIntList(node.args()[sizeIndex]) &&
         impl::scalarTypeArgSupported(node, dtypeIndex) && layoutStrided(impl::constantArg(node, dtypeIndex + 1));
}

template <size_t kSize, size_t kDtype>
bool sized(const ir::Node& node, const CompilationSettings&) {
  return sizedFactorySupported(node, kSize, kDtype);
}

bool newFullSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::Constant* value = impl::constantArg(node, 2);
  return impl::tensorMetaArg(node, 0) != nullptr && value != nullptr && value->isNumber() &&
         sizedFactorySupported(node, 1, 3);
}

template <size_t kDtype>
bool newSized(const ir::Node& node, const CompilationSettings&) {
  return impl::tensorMetaArg(node, 0) != nullptr && sizedFactorySupported(node, 1, kDtype);
}

template <bool kM>
bool eyeSupported(const ir::Node& node, const CompilationSettings&) {
  const size_t dtype = kM ? 2 : 1;
  const std::optional<int64_t> n = checks::intArg(node, 0);
  const std::optional<int64_t> m = kM ? checks::intArg(node, 1) : n;
  return n && m && *n >= 0 && *m >= 0 && *n * *m <= (int64_t{1} << 24) && impl::scalarTypeArgSupported(node, dtype) &&
         layoutStrided(impl::constantArg(node, dtype + 1));
}

// Float results only: for integer dtypes ATen rounds its float steps in its own way.
bool linspaceSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::Constant* start = impl::constantArg(node, 0);
  const ir::Constant* end = impl::constantArg(node, 1);
  const std::optional<int64_t> steps = checks::intArg(node, 2);
  const ir::Constant* dtype = impl::constantArg(node, 3);
  if (start == nullptr || end == nullptr || !start->isNumber() || !end->isNumber() || !steps || *steps < 0 ||
      *steps > (int64_t{1} << 24) || dtype == nullptr || !impl::scalarTypeArgSupported(node, 3)) {
    return false;
  }
  if (!layoutStrided(impl::constantArg(node, 4))) return false;
  if (dtype->isNone()) return true;
  ConverterArg arg;
  arg.constant = *dtype;
  StatusOr<std::optional<DataType>> type = impl::scalarTypeOf(arg);
  return type.isOk() && type.value().has_value() && checks::isFloat(*type.value());
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
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return likeSupported(n, 1); }})
        .pattern({"aten::empty_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
                  "bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
                  constantLike<0>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return likeSupported(n, 1); }})
        .pattern({"aten::zeros(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
                  "bool? pin_memory=None) -> Tensor",
                  constantOfSize<0>},
                 {.validator = sized<0, 1>})
        .pattern({"aten::ones(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
                  "bool? pin_memory=None) -> Tensor",
                  constantOfSize<1>},
                 {.validator = sized<0, 1>})
        .pattern({"aten::empty.memory_format(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, "
                  "Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
                  constantOfSize<0>},
                 {.validator = sized<0, 1>})
        .pattern({"aten::new_zeros(Tensor self, SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, "
                  "Device? device=None, bool? pin_memory=None) -> Tensor",
                  newConstant<0>},
                 {.validator = newSized<2>})
        .pattern({"aten::new_ones(Tensor self, SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, "
                  "Device? device=None, bool? pin_memory=None) -> Tensor",
                  newConstant<1>},
                 {.validator = newSized<2>})
        .pattern({"aten::new_empty(Tensor self, SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, "
                  "Device? device=None, bool? pin_memory=None) -> Tensor",
                  newConstant<0>},
                 {.validator = newSized<2>})
        .pattern({"aten::new_full(Tensor self, SymInt[] size, Scalar fill_value, *, ScalarType? dtype=None, "
                  "Layout? layout=None, Device? device=None, bool? pin_memory=None) -> Tensor",
                  newFull},
                 {.validator = newFullSupported})
        .pattern({"aten::eye(SymInt n, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
                  "bool? pin_memory=None) -> Tensor",
                  eye<false>},
                 {.validator = eyeSupported<false>})
        .pattern({"aten::eye.m(SymInt n, SymInt m, *, ScalarType? dtype=None, Layout? layout=None, "
                  "Device? device=None, bool? pin_memory=None) -> Tensor",
                  eye<true>},
                 {.validator = eyeSupported<true>})
        .pattern({"aten::linspace(Scalar start, Scalar end, int steps, *, ScalarType? dtype=None, Layout? layout=None, "
                  "Device? device=None, bool? pin_memory=None) -> Tensor",
                  linspace},
                 {.validator = linspaceSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
