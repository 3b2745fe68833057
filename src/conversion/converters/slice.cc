// ATen slicing and joining: slice.Tensor, select.int, cat, split.Tensor.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

StatusOr<std::optional<impl::ShapeItem>> optionalItem(const ConverterArg& arg) {
  if (arg.isNone()) return std::optional<impl::ShapeItem>();
  KILN_ASSIGN_OR_RETURN(impl::ShapeItem item, impl::shapeItemOf(arg));
  return std::optional<impl::ShapeItem>(item);
}

Status slice(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(std::optional<impl::ShapeItem> start, optionalItem(args[2]));
  KILN_ASSIGN_OR_RETURN(std::optional<impl::ShapeItem> end, optionalItem(args[3]));
  KILN_ASSIGN_OR_RETURN(int64_t step, args[4].asInt());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::slice(ctx, node, x, dim, start, end, step));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status select(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(impl::ShapeItem index, impl::shapeItemOf(args[2]));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::select(ctx, node, x, dim, index));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status cat(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  std::vector<ITensor*> tensors;
  for (const ConverterArg& item : args[0].list) {
    KILN_ASSIGN_OR_RETURN(ITensor * t, item.asTensor());
    tensors.push_back(t);
  }
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::concat(ctx, node, tensors, dim));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status split(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t size, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[2].asInt());
  KILN_ASSIGN_OR_RETURN(std::vector<ITensor*> pieces, impl::split(ctx, node, x, size, dim));
  ctx.associateValueAndTensors(node.output(0), pieces);
  return ctx.status();
}

// A SymInt argument the engine can have: a number, None, or an extent read by sym_size.int.
bool symIntSupported(const ir::Arg& arg) {
  if (arg.isConstant()) return arg.constant.isNone() || arg.constant.isInt();
  return arg.isValue() && arg.value != nullptr && arg.value->node() != nullptr &&
         arg.value->node()->target() == "aten::sym_size.int";
}

bool sliceSupported(const ir::Node& node, const CompilationSettings&) {
  if (impl::tensorMetaArg(node, 0) == nullptr || node.args().size() < 5) return false;
  const ir::Constant* step = impl::constantArg(node, 4);
  return impl::constantArg(node, 1) != nullptr && symIntSupported(node.args()[2]) && symIntSupported(node.args()[3]) &&
         step != nullptr && step->isInt() && step->toInt().value() >= 1;
}

bool selectSupported(const ir::Node& node, const CompilationSettings&) {
  return impl::tensorMetaArg(node, 0) != nullptr && node.args().size() >= 3 && impl::constantArg(node, 1) != nullptr &&
         symIntSupported(node.args()[2]);
}

// The tensors: a list of tensor values, or one Tensor[] value (split's output read as a whole).
bool catSupported(const ir::Node& node, const CompilationSettings&) {
  if (node.args().empty() || impl::constantArg(node, 1) == nullptr) return false;
  const ir::Arg& tensors = node.args()[0];
  if (tensors.isValue()) return tensors.value != nullptr && tensors.value->isList();
  if (!tensors.isList() || tensors.list.empty()) return false;
  for (const ir::Arg& item : tensors.list) {
    if (!item.isValue() || item.value == nullptr || !item.value->isTensor()) return false;
  }
  return true;
}

// The split dim must be static: the number of pieces is fixed when the engine is built.
bool splitSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  const ir::Constant* size = impl::constantArg(node, 1);
  const ir::Constant* dim = impl::constantArg(node, 2);
  if (meta == nullptr || size == nullptr || dim == nullptr || !size->isInt() || !dim->isInt()) return false;
  const auto rank = static_cast<int64_t>(meta->shape.size());
  int64_t d = dim->toInt().value();
  if (d < 0) d += rank;
  return d >= 0 && d < rank && meta->shape[static_cast<size_t>(d)].isStatic() && size->toInt().value() >= 1;
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, "
                  "SymInt step=1) -> Tensor(a)",
                  slice},
                 {.validator = sliceSupported})
        .pattern({"aten::select.int(Tensor(a) self, int dim, SymInt index) -> Tensor(a)", select},
                 {.validator = selectSupported})
        .pattern({"aten::cat(Tensor[] tensors, int dim=0) -> Tensor", cat}, {.validator = catSupported})
        .pattern({"aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]", split},
                 {.validator = splitSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
