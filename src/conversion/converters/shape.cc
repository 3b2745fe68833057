// ATen shape ops: view/reshape/_unsafe_view, permute, transpose, t, expand, unsqueeze, squeeze, flatten, and
// sym_size.int of a dynamic dim: a 0-D int64 shape tensor (the engine computes it on the host from the input
// shapes) that the size lists of view/expand/full/slice read. Static extents are the library evaluator's job
// (converters/evaluators.cc), so the two validators split the cases between them.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

Status view(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(std::vector<impl::ShapeItem> size, impl::shapeItemsOf(args[1]));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::reshape(ctx, node, x, size));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status permute(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::permute(ctx, node, x, dims));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status transpose(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t dim0, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(int64_t dim1, args[2].asInt());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::transpose(ctx, node, x, dim0, dim1));
  return impl::setOutput(ctx, node, 0, out, args);
}

// t(): 2-D tensors transpose, 0-D and 1-D ones stay as they are.
Status t(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  const int32_t rank = x->getDimensions().nbDims;
  if (rank > 2)
    return impl::Site(node).error("t() expects a tensor of at most 2 dims, got rank " + std::to_string(rank));
  ITensor* out = x;
  if (rank == 2) {
    KILN_ASSIGN_OR_RETURN(out, impl::transpose(ctx, node, x, 0, 1));
  }
  return impl::setOutput(ctx, node, 0, out, args);
}

Status expand(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(std::vector<impl::ShapeItem> size, impl::shapeItemsOf(args[1]));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::expand(ctx, node, x, size));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status unsqueeze(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::unsqueeze(ctx, node, x, dim));
  return impl::setOutput(ctx, node, 0, out, args);
}

// squeeze.dims(self, int[] dim), squeeze.dim(self, int dim), squeeze(self)
Status squeeze(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  std::vector<int64_t> dims;
  if (args.size() > 1) {
    KILN_ASSIGN_OR_RETURN(dims, args[1].asInts());
    // squeeze.dims with [] squeezes nothing (unlike squeeze() with no dims).
    if (dims.empty()) return impl::setOutput(ctx, node, 0, x, args);
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::squeeze(ctx, node, x, dims));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status flatten(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t start, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(int64_t end, args[2].asInt());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::flatten(ctx, node, x, start, end));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status dynamicSymSize(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, x->getDimensions().nbDims));
  KILN_ASSIGN_OR_RETURN(impl::ShapeItem extent, impl::dimOf(ctx, site, x, d));
  if (extent.isStatic()) {
    ctx.associateValueAndConstant(node.output(0), ir::Constant::fromInt(extent.value));
    return Status::ok();
  }
  // A SymInt is a scalar: a 0-D int64 shape tensor.
  KILN_ASSIGN_OR_RETURN(IShuffleLayer * scalar, impl::added(ctx, site.sub("0d"), ctx.net->addShuffle(*extent.tensor)));
  Dims scalarDims;
  scalarDims.nbDims = 0;
  scalar->setReshapeDimensions(scalarDims);
  return impl::setOutput(ctx, node, 0, scalar->getOutput(0), args);
}

// Size lists whose SymInt items the engine can compute: numbers, or extents read by sym_size.int. Other
// SymInts (Python arithmetic on sizes) are computed by PyTorch and cannot enter an engine.
bool sizeListSupported(const ir::Node& node, const CompilationSettings&) {
  if (node.args().size() < 2 || impl::tensorMetaArg(node, 0) == nullptr) return false;
  const ir::Arg& size = node.args()[1];
  if (size.isConstant()) return true;
  if (!size.isList()) return false;
  for (const ir::Arg& item : size.list) {
    if (item.isConstant()) {
      if (!item.constant.isInt()) return false;
      continue;
    }
    if (!item.isValue() || item.value == nullptr || item.value->node() == nullptr) return false;
    if (item.value->node()->target() != "aten::sym_size.int") return false;
  }
  return true;
}

bool dynamicDim(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  const ir::Constant* dim = impl::constantArg(node, 1);
  if (meta == nullptr || dim == nullptr || !dim->isInt()) return false;
  const auto rank = static_cast<int64_t>(meta->shape.size());
  const int64_t d = dim->toInt().value() < 0 ? dim->toInt().value() + rank : dim->toInt().value();
  return d >= 0 && d < rank && !meta->shape[static_cast<size_t>(d)].isStatic();
}

bool constantArgs(const ir::Node& node, const CompilationSettings&) {
  if (impl::tensorMetaArg(node, 0) == nullptr) return false;
  for (size_t i = 1; i < node.args().size(); ++i) {
    if (impl::constantArg(node, i) == nullptr) return false;
  }
  return true;
}

const ConverterOptions kSizes{.validator = sizeListSupported};
const ConverterOptions kConstants{.validator = constantArgs};

const auto registered =
    RegisterConverters()
        .pattern({"aten::view(Tensor(a) self, SymInt[] size) -> Tensor(a)", view}, kSizes)
        .pattern({"aten::reshape(Tensor(a) self, SymInt[] shape) -> Tensor(a)", view}, kSizes)
        .pattern({"aten::_unsafe_view(Tensor self, SymInt[] size) -> Tensor", view}, kSizes)
        .pattern({"aten::expand(Tensor(a) self, SymInt[] size, *, bool implicit=False) -> Tensor(a)", expand}, kSizes)
        .pattern({"aten::permute(Tensor(a) self, int[] dims) -> Tensor(a)", permute}, kConstants)
        .pattern({"aten::transpose.int(Tensor(a) self, int dim0, int dim1) -> Tensor(a)", transpose}, kConstants)
        .pattern({"aten::t(Tensor(a) self) -> Tensor(a)", t}, kConstants)
        .pattern({"aten::unsqueeze(Tensor(a) self, int dim) -> Tensor(a)", unsqueeze}, kConstants)
        .pattern({"aten::squeeze.dims(Tensor(a) self, int[] dim) -> Tensor(a)", squeeze}, kConstants)
        .pattern({"aten::squeeze.dim(Tensor(a) self, int dim) -> Tensor(a)", squeeze}, kConstants)
        .pattern({"aten::squeeze(Tensor(a) self) -> Tensor(a)", squeeze}, kConstants)
        .pattern({"aten::flatten.using_ints(Tensor(a) self, int start_dim=0, int end_dim=-1) -> Tensor(a)", flatten},
                 kConstants)
        // Registered as an evaluator: it computes a size, a shape tensor the engine evaluates on the host, never
        // activations.
        .evaluator({"aten::sym_size.int(Tensor self, int dim) -> SymInt", dynamicSymSize}, {.validator = dynamicDim});

}  // namespace
}  // namespace conversion
}  // namespace kiln
