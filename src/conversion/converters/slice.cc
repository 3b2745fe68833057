// ATen slicing and joining: slice.Tensor, select.int, narrow, cat, stack, split.Tensor, split_with_sizes, chunk,
// unbind.int.
#include "conversion/converters/arg_checks.h"
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

Status stack(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  const impl::Site site(node);
  std::vector<ITensor*> tensors;
  for (size_t i = 0; i < args[0].list.size(); ++i) {
    KILN_ASSIGN_OR_RETURN(ITensor * t, args[0].list[i].asTensor());
    // The new dim may be one past the inputs' last.
    KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, t->getDimensions().nbDims + 1));
    KILN_ASSIGN_OR_RETURN(ITensor * u, impl::unsqueeze(ctx, site.sub("in" + std::to_string(i)), t, d));
    tensors.push_back(u);
  }
  if (tensors.empty()) return site.error("stack of an empty list of tensors");
  KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, tensors[0]->getDimensions().nbDims));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::concat(ctx, node, tensors, d));
  return impl::setOutput(ctx, node, 0, out, args);
}

// narrow(dim, start, length) = x[start:start+length] along dim; a negative start counts from the end first.
Status narrow(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(impl::ShapeItem start, impl::shapeItemOf(args[2]));
  KILN_ASSIGN_OR_RETURN(impl::ShapeItem length, impl::shapeItemOf(args[3]));
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, x->getDimensions().nbDims));
  if (start.isStatic() && start.value < 0) {
    KILN_ASSIGN_OR_RETURN(impl::ShapeItem extent, impl::dimOf(ctx, site.sub("extent"), x, d));
    KILN_ASSIGN_OR_RETURN(start, impl::shapeArith(ctx, site.sub("wrap"), extent, start, ElementWiseOperation::kSUM));
  }
  KILN_ASSIGN_OR_RETURN(impl::ShapeItem end,
                        impl::shapeArith(ctx, site.sub("end"), start, length, ElementWiseOperation::kSUM));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::slice(ctx, node, x, d, start, end, 1));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status splitWithSizes(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> sizes, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[2].asInt());
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, x->getDimensions().nbDims));
  std::vector<ITensor*> pieces;
  int64_t from = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0) return site.error("split size " + std::to_string(sizes[i]) + " is negative");
    KILN_ASSIGN_OR_RETURN(ITensor * piece, impl::slice(ctx, site.sub("piece" + std::to_string(i)), x, d,
                                                       impl::ShapeItem::number(from),
                                                       impl::ShapeItem::number(from + sizes[i]), 1));
    pieces.push_back(piece);
    from += sizes[i];
  }
  const int64_t extent = x->getDimensions().d[d];
  if (extent >= 0 && from != extent) {
    return site.error("split sizes add up to " + std::to_string(from) + ", but dim " + std::to_string(d) + " has " +
                      std::to_string(extent));
  }
  ctx.associateValueAndTensors(node.output(0), pieces);
  return ctx.status();
}

// chunk(n): pieces of ceil(extent / n), as torch.chunk (fewer than n pieces when they run out).
Status chunk(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t chunks, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[2].asInt());
  const impl::Site site(node);
  if (chunks < 1) return site.error("chunk count " + std::to_string(chunks) + " must be positive");
  KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, x->getDimensions().nbDims));
  const int64_t extent = x->getDimensions().d[d];
  if (extent < 0) return site.error("chunk along dim " + std::to_string(d) + " needs a static extent");
  KILN_ASSIGN_OR_RETURN(std::vector<ITensor*> pieces,
                        impl::split(ctx, node, x, extent == 0 ? 0 : (extent + chunks - 1) / chunks, d));
  ctx.associateValueAndTensors(node.output(0), pieces);
  return ctx.status();
}

Status unbind(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, x->getDimensions().nbDims));
  const int64_t extent = x->getDimensions().d[d];
  if (extent < 0) return site.error("unbind along dim " + std::to_string(d) + " needs a static extent");
  std::vector<ITensor*> pieces;
  for (int64_t i = 0; i < extent; ++i) {
    KILN_ASSIGN_OR_RETURN(ITensor * piece, impl::select(ctx, site.sub("item" + std::to_string(i)), x, d,
                                                        impl::ShapeItem::number(i)));
    pieces.push_back(piece);
  }
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

bool stackSupported(const ir::Node& node, const CompilationSettings& settings) {
  if (!catSupported(node, settings)) return false;
  return node.args()[0].isList();  // the inputs' ranks decide where the new dim goes
}

bool narrowSupported(const ir::Node& node, const CompilationSettings&) {
  if (impl::tensorMetaArg(node, 0) == nullptr || node.args().size() < 4 || !checks::intArg(node, 1)) return false;
  const std::optional<int64_t> start = checks::intArg(node, 2);
  // A negative start counts from the end, which needs a number; a computed start is an extent (never negative).
  return (start || checks::symInt(node.args()[2])) && checks::symInt(node.args()[3]);
}

bool splitSizesSupported(const ir::Node& node, const CompilationSettings&) {
  return impl::tensorMetaArg(node, 0) != nullptr && checks::intsArg(node, 1) && checks::intArg(node, 2);
}

// The number of pieces is fixed when the engine is built: the dim must be static.
bool staticPieces(const ir::Node& node, size_t dimIndex) {
  return checks::staticDimArg(node, dimIndex);
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
                 {.validator = splitSupported})
        .pattern({"aten::stack(Tensor[] tensors, int dim=0) -> Tensor", stack}, {.validator = stackSupported})
        .pattern({"aten::narrow(Tensor(a) self, int dim, SymInt start, SymInt length) -> Tensor(a)", narrow},
                 {.validator = narrowSupported})
        .pattern({"aten::split_with_sizes(Tensor(a -> *) self, SymInt[] split_sizes, int dim=0) -> Tensor(a)[]",
                  splitWithSizes},
                 {.validator = splitSizesSupported})
        .pattern({"aten::chunk(Tensor(a -> *) self, int chunks, int dim=0) -> Tensor(a)[]", chunk},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) {
                    const std::optional<int64_t> chunks = checks::intArg(n, 1);
                    return chunks && *chunks >= 1 && staticPieces(n, 2);
                  }})
        .pattern({"aten::unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]", unbind},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return staticPieces(n, 1); }});

}  // namespace
}  // namespace conversion
}  // namespace kiln
