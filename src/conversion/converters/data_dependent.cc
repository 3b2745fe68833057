// ATen ops whose output extent depends on the data: nonzero, masked_select, and indexing by one bool mask
// (index.Tensor). All of them go through the engine's non-zero layer, whose count is known only once it ran,
// so they need an output allocator when their result (or anything sized by it) leaves the engine.
// The integer-index forms of index.Tensor stay with indexing.cc; the mask form here is a HIGH priority
// candidate whose validator accepts only a single bool mask.
#include <string>
#include <vector>

#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;
using impl::ShapeItem;

// Two dims are the same extent: equal static extents, or the same symbol.
bool sameExtent(const ir::SymDim& a, const ir::SymDim& b) {
  if (a.isStatic() || b.isStatic()) return a.isStatic() && b.isStatic() && a.extent == b.extent;
  return !a.symbol.empty() && a.symbol == b.symbol;
}

// Flat positions of the true elements of a bool mask of any rank: [count] int64.
StatusOr<ITensor*> truePositions(ConversionCtx& ctx, const impl::Site& site, ITensor* mask) {
  KILN_ASSIGN_OR_RETURN(ITensor * flat, impl::flatten(ctx, site.sub("flat_mask"), mask, 0, -1));
  KILN_ASSIGN_OR_RETURN(ITensor * coords, impl::outputOf(ctx, site.sub("nonzero"), ctx.net->addNonZero(*flat)));
  // [1, count] -> [count]; the count is inferred when the layer has run.
  return impl::reshape(ctx, site.sub("positions"), coords, {ShapeItem::number(-1)});
}

// torch.nonzero: [count, rank] int64 coordinates in row-major order; the layer gives them as [rank, count].
Status nonzero(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(ITensor * coords, impl::outputOf(ctx, site.sub("nonzero"), ctx.net->addNonZero(*x)));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::transpose(ctx, site.sub("transpose"), coords, 0, 1));
  return impl::setOutput(ctx, node, 0, out, args);
}

// x's elements where the mask (broadcast to x's shape) is true, flattened.
Status maskedSelect(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * mask, args[1].asTensor());
  const impl::Site site(node);
  if (mask->getType() != DataType::kBOOL) return site.error("masked_select needs a bool mask");
  KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> shape, impl::dimsOf(ctx, site.sub("shape"), x));
  KILN_ASSIGN_OR_RETURN(ITensor * wide, impl::expand(ctx, site.sub("broadcast"), mask, shape));
  KILN_ASSIGN_OR_RETURN(ITensor * positions, truePositions(ctx, site, wide));
  KILN_ASSIGN_OR_RETURN(ITensor * flat, impl::flatten(ctx, site.sub("flat"), x, 0, -1));
  KILN_ASSIGN_OR_RETURN(ITensor * out,
                        impl::outputOf(ctx, site.sub("gather"), ctx.net->addGather(*flat, *positions, 0)));
  return impl::setOutput(ctx, node, 0, out, args);
}

// x[mask] with a bool mask over x's leading dims: [count, x.shape[mask.dim():]...].
Status maskIndex(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  const impl::Site site(node);
  if (args[1].list.size() != 1) return site.error("mask indexing takes exactly one index");
  KILN_ASSIGN_OR_RETURN(ITensor * mask, args[1].list[0].asTensor());
  const int32_t maskRank = mask->getDimensions().nbDims;
  if (mask->getType() != DataType::kBOOL || maskRank < 1 || maskRank > x->getDimensions().nbDims) {
    return site.error("mask indexing needs a bool mask of rank 1 to the indexed tensor's rank");
  }
  KILN_ASSIGN_OR_RETURN(ITensor * positions, truePositions(ctx, site, mask));
  KILN_ASSIGN_OR_RETURN(ITensor * rows, impl::flatten(ctx, site.sub("rows"), x, 0, maskRank - 1));
  KILN_ASSIGN_OR_RETURN(ITensor * out,
                        impl::outputOf(ctx, site.sub("gather"), ctx.net->addGather(*rows, *positions, 0)));
  return impl::setOutput(ctx, node, 0, out, args);
}

// ---- validators ----------------------------------------------------------------------------------------

// A 0-D input gives [count, 0] in PyTorch, which the layer (coordinates of rank 0) cannot express.
bool nonzeroSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* x = impl::tensorMetaArg(node, 0);
  return x != nullptr && !x->shape.empty();
}

// The mask must broadcast to x's own shape (dims equal, or a static 1); a mask that widens x stays in PyTorch.
bool maskedSelectSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* x = impl::tensorMetaArg(node, 0);
  const ir::TensorMeta* mask = impl::tensorMetaArg(node, 1);
  if (x == nullptr || mask == nullptr || mask->dtype != DataType::kBOOL) return false;
  if (mask->shape.size() > x->shape.size()) return false;
  const size_t lead = x->shape.size() - mask->shape.size();
  for (size_t i = 0; i < mask->shape.size(); ++i) {
    const ir::SymDim& m = mask->shape[i];
    if (!(m.isStatic() && m.extent == 1) && !sameExtent(m, x->shape[lead + i])) return false;
  }
  return true;
}

// index.Tensor with one bool mask (no None entries) covering x's leading dims exactly.
bool maskIndexSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* x = impl::tensorMetaArg(node, 0);
  if (x == nullptr || node.args().size() < 2 || !node.args()[1].isList()) return false;
  const std::vector<ir::Arg>& list = node.args()[1].list;
  if (list.size() != 1 || !list[0].isValue() || list[0].value == nullptr || !list[0].value->isTensor()) return false;
  const ir::TensorMeta& mask = *list[0].value->meta();
  if (mask.dtype != DataType::kBOOL || mask.shape.empty() || mask.shape.size() > x->shape.size()) return false;
  for (size_t i = 0; i < mask.shape.size(); ++i) {
    if (!sameExtent(mask.shape[i], x->shape[i])) return false;
  }
  return true;
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::nonzero(Tensor self) -> Tensor", nonzero},
                 {.validator = nonzeroSupported, .requiresOutputAllocator = true})
        .pattern({"aten::masked_select(Tensor self, Tensor mask) -> Tensor", maskedSelect},
                 {.validator = maskedSelectSupported, .requiresOutputAllocator = true})
        .pattern(
            {"aten::index.Tensor(Tensor self, Tensor?[] indices) -> Tensor", maskIndex},
            {.priority = ConverterPriority::kHIGH, .validator = maskIndexSupported, .requiresOutputAllocator = true});

}  // namespace
}  // namespace conversion
}  // namespace kiln
