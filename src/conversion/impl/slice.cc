// Slicing and joining: slice (x[a:b:c]), select, cat, split. Bounds follow PyTorch: negative values count
// from the end and everything clamps to the extent. Dynamic extents and SymInt bounds are computed in shape
// tensors (host-evaluated int64 arithmetic).
#include <algorithm>
#include <limits>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {
namespace {

StatusOr<ITensor*> itemTensor(ConversionCtx& ctx, const Site& site, const ShapeItem& item) {
  if (item.isStatic()) return int64Vector(ctx, site, {item.value});
  return asShapeScalar(ctx, site, item.tensor);
}

int64_t floorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace

// a op b on shape items: computed now when both are known, else an int64 [1] shape tensor.
StatusOr<ShapeItem> shapeArith(ConversionCtx& ctx, const Site& site, const ShapeItem& a, const ShapeItem& b,
                          ElementWiseOperation op) {
  if (a.isStatic() && b.isStatic()) {
    switch (op) {
      case ElementWiseOperation::kSUM:
        return ShapeItem::number(a.value + b.value);
      case ElementWiseOperation::kSUB:
        return ShapeItem::number(a.value - b.value);
      case ElementWiseOperation::kMIN:
        return ShapeItem::number(std::min(a.value, b.value));
      case ElementWiseOperation::kMAX:
        return ShapeItem::number(std::max(a.value, b.value));
      case ElementWiseOperation::kFLOOR_DIV:
        if (b.value == 0) return site.error("shape arithmetic divides by zero");
        return ShapeItem::number(floorDiv(a.value, b.value));
      case ElementWiseOperation::kPROD:
        return ShapeItem::number(a.value * b.value);
      case ElementWiseOperation::kDIV:
      case ElementWiseOperation::kPOW:
      case ElementWiseOperation::kAND:
      case ElementWiseOperation::kOR:
      case ElementWiseOperation::kXOR:
      case ElementWiseOperation::kEQUAL:
      case ElementWiseOperation::kGREATER:
      case ElementWiseOperation::kLESS:
        break;
    }
    return internalError(site.describe() + ": unsupported shape arithmetic");
  }
  KILN_ASSIGN_OR_RETURN(ITensor * ta, itemTensor(ctx, site.sub("a"), a));
  KILN_ASSIGN_OR_RETURN(ITensor * tb, itemTensor(ctx, site.sub("b"), b));
  KILN_ASSIGN_OR_RETURN(ITensor * r, elementwiseSameType(ctx, site, ta, tb, op));
  return ShapeItem::fromTensor(r);
}

namespace {

StatusOr<ShapeItem> arith(ConversionCtx& ctx, const Site& site, const ShapeItem& a, const ShapeItem& b,
                          ElementWiseOperation op) {
  return shapeArith(ctx, site, a, b, op);
}

// A bound of x[a:b] as an index into [0, extent]: negative values count from the end, then clamp to [lo, extent].
StatusOr<ShapeItem> normalizeBound(ConversionCtx& ctx, const Site& site, const ShapeItem& bound, const ShapeItem& lo,
                                   const ShapeItem& extent) {
  ShapeItem b = bound;
  if (bound.isStatic()) {
    if (bound.value < 0) {
      KILN_ASSIGN_OR_RETURN(b, arith(ctx, site.sub("wrap"), extent, bound, ElementWiseOperation::kSUM));
    }
  } else {
    // Sign known only at run time: select(b < 0, b + extent, b), all in shape tensors.
    KILN_ASSIGN_OR_RETURN(ITensor * t, asShapeScalar(ctx, site.sub("bound"), bound.tensor));
    KILN_ASSIGN_OR_RETURN(ITensor * zero, int64Vector(ctx, site.sub("zero"), {0}));
    KILN_ASSIGN_OR_RETURN(ITensor * negative,
                          elementwiseSameType(ctx, site.sub("negative"), t, zero, ElementWiseOperation::kLESS));
    KILN_ASSIGN_OR_RETURN(ITensor * e, itemTensor(ctx, site.sub("extent"), extent));
    KILN_ASSIGN_OR_RETURN(ITensor * wrapped,
                          elementwiseSameType(ctx, site.sub("wrap"), t, e, ElementWiseOperation::kSUM));
    KILN_ASSIGN_OR_RETURN(ITensor * chosen,
                          outputOf(ctx, site.sub("select"), ctx.net->addSelect(*negative, *wrapped, *t)));
    b = ShapeItem::fromTensor(chosen);
  }
  KILN_ASSIGN_OR_RETURN(ShapeItem upper, arith(ctx, site.sub("upper"), b, extent, ElementWiseOperation::kMIN));
  return arith(ctx, site.sub("lower"), upper, lo, ElementWiseOperation::kMAX);
}

}  // namespace

StatusOr<ITensor*> slice(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim,
                         const std::optional<ShapeItem>& start, const std::optional<ShapeItem>& end, int64_t step) {
  const Dims dims = x->getDimensions();
  if (dims.nbDims == 0) return site.error("slice of a 0-D tensor");
  if (step < 1) return site.error("slice step " + std::to_string(step) + " must be positive");
  KILN_ASSIGN_OR_RETURN(int32_t d, normalizeDim(site, dim, dims.nbDims));
  KILN_ASSIGN_OR_RETURN(ShapeItem extent, dimOf(ctx, site.sub("extent"), x, d));
  const ShapeItem zero = ShapeItem::number(0);
  KILN_ASSIGN_OR_RETURN(ShapeItem s, normalizeBound(ctx, site.sub("start"), start.value_or(zero), zero, extent));
  const ShapeItem endItem = end.value_or(ShapeItem::number(std::numeric_limits<int64_t>::max()));
  KILN_ASSIGN_OR_RETURN(ShapeItem e, normalizeBound(ctx, site.sub("end"), endItem, s, extent));
  // len = ceil((e - s) / step)
  KILN_ASSIGN_OR_RETURN(ShapeItem span, arith(ctx, site.sub("span"), e, s, ElementWiseOperation::kSUB));
  KILN_ASSIGN_OR_RETURN(ShapeItem padded,
                        arith(ctx, site.sub("round"), span, ShapeItem::number(step - 1), ElementWiseOperation::kSUM));
  KILN_ASSIGN_OR_RETURN(ShapeItem length, arith(ctx, site.sub("length"), padded, ShapeItem::number(step),
                                                ElementWiseOperation::kFLOOR_DIV));
  if (s.isStatic() && s.value == 0 && step == 1 && extent.isStatic() && length.isStatic() &&
      length.value == extent.value) {
    return identity(ctx, site, x);
  }

  std::vector<ShapeItem> startItems(static_cast<size_t>(dims.nbDims), zero), sizeItems;
  startItems[static_cast<size_t>(d)] = s;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (i == d) {
      sizeItems.push_back(length);
      continue;
    }
    KILN_ASSIGN_OR_RETURN(ShapeItem item, dimOf(ctx, site.sub("d" + std::to_string(i)), x, i));
    sizeItems.push_back(item);
  }
  Dims startDims, sizeDims, strideDims;
  startDims.nbDims = sizeDims.nbDims = strideDims.nbDims = dims.nbDims;
  bool sizeStatic = true;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    startDims.d[i] = startItems[static_cast<size_t>(i)].isStatic() ? startItems[static_cast<size_t>(i)].value : 0;
    sizeDims.d[i] = sizeItems[static_cast<size_t>(i)].isStatic() ? sizeItems[static_cast<size_t>(i)].value : 0;
    sizeStatic = sizeStatic && sizeItems[static_cast<size_t>(i)].isStatic();
    strideDims.d[i] = i == d ? step : 1;
  }
  ITensor* data = x;
  if (!s.isStatic() || !sizeStatic) {
    KILN_ASSIGN_OR_RETURN(data, dataInput(ctx, site, x));
  }
  KILN_ASSIGN_OR_RETURN(ISliceLayer * layer,
                        added(ctx, site, ctx.net->addSlice(*data, startDims, sizeDims, strideDims)));
  if (!s.isStatic()) {
    KILN_ASSIGN_OR_RETURN(ITensor * startTensor, shapeTensor(ctx, site.sub("starts"), startItems));
    layer->setInput(1, *startTensor);
  }
  if (!sizeStatic) {
    KILN_ASSIGN_OR_RETURN(ITensor * sizeTensor, shapeTensor(ctx, site.sub("sizes"), sizeItems));
    layer->setInput(2, *sizeTensor);
    Dims known = sizeDims;
    for (int32_t i = 0; i < dims.nbDims; ++i) {
      if (!sizeItems[static_cast<size_t>(i)].isStatic()) known.d[i] = -1;
    }
    return withKnownDims(ctx, site, layer->getOutput(0), known);
  }
  return layer->getOutput(0);
}

StatusOr<ITensor*> select(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim, const ShapeItem& index) {
  const Dims dims = x->getDimensions();
  if (dims.nbDims == 0) return site.error("select on a 0-D tensor");
  KILN_ASSIGN_OR_RETURN(int32_t d, normalizeDim(site, dim, dims.nbDims));
  ITensor* indexTensor = nullptr;
  if (index.isStatic()) {
    const int64_t extent = dims.d[d];
    if (extent >= 0 && (index.value < -extent || index.value >= extent)) {
      return site.error("select index " + std::to_string(index.value) + " is out of range for dim " +
                        std::to_string(d) + " of extent " + std::to_string(extent));
    }
    // A 0-D index removes the dim; the gather layer counts negative indices from the end like PyTorch.
    KILN_ASSIGN_OR_RETURN(
        indexTensor, constantOf(ctx, site.sub("index"), DataType::kINT64, Dims{}, {static_cast<double>(index.value)}));
  } else {
    KILN_ASSIGN_OR_RETURN(ITensor * t, asShapeScalar(ctx, site.sub("index"), index.tensor));
    KILN_ASSIGN_OR_RETURN(IShuffleLayer * scalar, added(ctx, site.sub("index0d"), ctx.net->addShuffle(*t)));
    Dims scalarDims;
    scalarDims.nbDims = 0;
    scalar->setReshapeDimensions(scalarDims);
    indexTensor = scalar->getOutput(0);
  }
  return outputOf(ctx, site, ctx.net->addGather(*x, *indexTensor, d));
}

StatusOr<ITensor*> concat(ConversionCtx& ctx, const Site& site, const std::vector<ITensor*>& tensors, int64_t dim) {
  if (tensors.empty()) return site.error("cat of an empty list of tensors");
  std::vector<Operand> operands;
  int32_t rank = 0;
  for (ITensor* t : tensors) {
    operands.push_back(Operand::of(t));
    rank = std::max(rank, t->getDimensions().nbDims);
  }
  KILN_ASSIGN_OR_RETURN(DataType type, resultType(operands));
  std::vector<ITensor*> parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Dims dims = tensors[i]->getDimensions();
    // PyTorch skips legacy empty tensors (1-D, extent 0) when concatenating tensors of another rank.
    if (dims.nbDims == 1 && dims.d[0] == 0 && rank > 1) continue;
    KILN_ASSIGN_OR_RETURN(ITensor * cast, castTo(ctx, site.sub("in" + std::to_string(i)), tensors[i], type));
    parts.push_back(cast);
  }
  if (parts.empty()) return identity(ctx, site, tensors[0]);
  KILN_ASSIGN_OR_RETURN(int32_t d, normalizeDim(site, dim, parts[0]->getDimensions().nbDims));
  if (parts.size() == 1) return identity(ctx, site, parts[0]);
  KILN_ASSIGN_OR_RETURN(IConcatenationLayer * layer,
                        added(ctx, site, ctx.net->addConcatenation(parts.data(), static_cast<int32_t>(parts.size()))));
  layer->setAxis(d);
  return layer->getOutput(0);
}

StatusOr<std::vector<ITensor*>> split(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t size, int64_t dim) {
  const Dims dims = x->getDimensions();
  if (dims.nbDims == 0) return site.error("split of a 0-D tensor");
  KILN_ASSIGN_OR_RETURN(int32_t d, normalizeDim(site, dim, dims.nbDims));
  const int64_t extent = dims.d[d];
  if (extent < 0) return site.error("split along dim " + std::to_string(d) + " needs a static extent");
  if (size < 1 && !(size == 0 && extent == 0)) {
    return site.error("split size " + std::to_string(size) + " must be positive");
  }
  std::vector<ITensor*> pieces;
  const int64_t count = size == 0 ? 1 : std::max<int64_t>(1, (extent + size - 1) / size);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t from = i * size;
    KILN_ASSIGN_OR_RETURN(ITensor * piece,
                          slice(ctx, site.sub("piece" + std::to_string(i)), x, d, ShapeItem::number(from),
                                ShapeItem::number(std::min(extent, from + size)), 1));
    pieces.push_back(piece);
  }
  return pieces;
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
