// Shape builders: view/reshape, permute, expand, squeeze/unsqueeze, flatten. Dynamic extents travel as shape
// tensors (IShapeLayer -> gather -> concat), which the engine evaluates on the host; a single unknown extent
// becomes the reshape's -1 instead, which needs no shape arithmetic at all.
#include <algorithm>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {
namespace {

// Every dim of x as a shape item (static extents as numbers).
StatusOr<std::vector<ShapeItem>> dimsAsItems(ConversionCtx& ctx, const Site& site, ITensor* x) {
  const Dims dims = x->getDimensions();
  std::vector<ShapeItem> items;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    KILN_ASSIGN_OR_RETURN(ShapeItem item, dimOf(ctx, site.sub("dim" + std::to_string(i)), x, i));
    items.push_back(item);
  }
  return items;
}

}  // namespace

StatusOr<std::vector<ShapeItem>> dimsOf(ConversionCtx& ctx, const Site& site, ITensor* x) {
  return dimsAsItems(ctx, site, x);
}

namespace {

Permutation identityPermutation() { return Permutation(); }

// The extents the items fix at build time (-1 for computed ones and for an inferred -1).
Dims knownDims(const std::vector<ShapeItem>& items) {
  Dims dims;
  dims.nbDims = static_cast<int32_t>(items.size());
  for (size_t i = 0; i < items.size(); ++i) dims.d[i] = items[i].isStatic() ? items[i].value : -1;
  return dims;
}

}  // namespace

StatusOr<ShapeItem> shapeItemOf(const ConverterArg& arg) {
  if (arg.isTensor()) return ShapeItem::fromTensor(arg.tensor);
  if (arg.isList || !(arg.constant.isInt() || arg.constant.isBool())) {
    return invalidArgument(arg.describe() + ": expected an int (or a SymInt computed in the engine), got " +
                           (arg.isList ? std::string("a list") : arg.constant.repr()));
  }
  KILN_ASSIGN_OR_RETURN(int64_t v, arg.asInt());
  return ShapeItem::number(v);
}

StatusOr<std::vector<ShapeItem>> shapeItemsOf(const ConverterArg& arg) {
  std::vector<ShapeItem> items;
  if (arg.isList) {
    for (const ConverterArg& item : arg.list) {
      KILN_ASSIGN_OR_RETURN(ShapeItem s, shapeItemOf(item));
      items.push_back(s);
    }
    return items;
  }
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> values, arg.asInts());
  for (int64_t v : values) items.push_back(ShapeItem::number(v));
  return items;
}

StatusOr<ShapeItem> dimOf(ConversionCtx& ctx, const Site& site, ITensor* x, int32_t dim) {
  const Dims dims = x->getDimensions();
  if (dim < 0 || dim >= dims.nbDims) {
    return internalError(site.describe() + ": dim " + std::to_string(dim) + " of a rank-" +
                         std::to_string(dims.nbDims) + " tensor");
  }
  if (dims.d[dim] >= 0) return ShapeItem::number(dims.d[dim]);
  KILN_ASSIGN_OR_RETURN(ITensor * shape, outputOf(ctx, site.sub("shape"), ctx.net->addShape(*x)));
  KILN_ASSIGN_OR_RETURN(ITensor * index, int64Vector(ctx, site.sub("index"), {dim}));
  KILN_ASSIGN_OR_RETURN(ITensor * extent, outputOf(ctx, site.sub("gather"), ctx.net->addGather(*shape, *index, 0)));
  return ShapeItem::fromTensor(extent);
}

StatusOr<ITensor*> asShapeScalar(ConversionCtx& ctx, const Site& site, ITensor* t) {
  const DataType type = t->getType();
  if (type != DataType::kINT32 && type != DataType::kINT64) {
    return site.error(std::string("a size must be an int tensor, got ") + dataTypeName(type));
  }
  const Dims dims = t->getDimensions();
  if (!(dims.nbDims == 0 || (dims.nbDims == 1 && dims.d[0] == 1))) {
    return site.error("a size tensor must hold one int (0-D or [1]), got " + dimsToString(dims));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * wide, castTo(ctx, site.sub("int64"), t, DataType::kINT64));
  if (dims.nbDims == 1) return wide;
  KILN_ASSIGN_OR_RETURN(IShuffleLayer * layer, added(ctx, site.sub("as1d"), ctx.net->addShuffle(*wide)));
  layer->setReshapeDimensions(Dims{1});
  return layer->getOutput(0);
}

StatusOr<ITensor*> shapeTensor(ConversionCtx& ctx, const Site& site, const std::vector<ShapeItem>& items) {
  const bool allStatic = std::all_of(items.begin(), items.end(), [](const ShapeItem& s) { return s.isStatic(); });
  if (allStatic) {
    std::vector<int64_t> values;
    for (const ShapeItem& s : items) values.push_back(s.value);
    return int64Vector(ctx, site, values);
  }
  std::vector<ITensor*> parts;
  for (size_t i = 0; i < items.size(); ++i) {
    const Site part = site.sub("item" + std::to_string(i));
    if (items[i].isStatic()) {
      KILN_ASSIGN_OR_RETURN(ITensor * c, int64Vector(ctx, part, {items[i].value}));
      parts.push_back(c);
    } else {
      KILN_ASSIGN_OR_RETURN(ITensor * t, asShapeScalar(ctx, part, items[i].tensor));
      parts.push_back(t);
    }
  }
  KILN_ASSIGN_OR_RETURN(IConcatenationLayer * concat,
                        added(ctx, site, ctx.net->addConcatenation(parts.data(), static_cast<int32_t>(parts.size()))));
  concat->setAxis(0);
  return concat->getOutput(0);
}

StatusOr<ITensor*> reshape(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<ShapeItem>& shape) {
  if (shape.size() > static_cast<size_t>(Dims::kMAX_DIMS)) {
    return site.error("reshape to " + std::to_string(shape.size()) + " dims: Kiln tensors have at most " +
                      std::to_string(Dims::kMAX_DIMS));
  }
  int32_t inferred = 0, dynamic = 0;
  bool anyZero = false;
  for (const ShapeItem& s : shape) {
    if (!s.isStatic()) {
      ++dynamic;
    } else if (s.value == -1) {
      ++inferred;
    } else if (s.value < -1) {
      return site.error("reshape size " + std::to_string(s.value) + " is negative");
    } else if (s.value == 0) {
      anyZero = true;
    }
  }
  if (inferred > 1) return site.error("reshape sizes have more than one -1");
  std::vector<ShapeItem> items = shape;
  // One extent computed in the engine and no -1: the element count determines it, so it can be the -1.
  if (dynamic == 1 && inferred == 0 && !anyZero) {
    for (ShapeItem& s : items) {
      if (!s.isStatic()) s = ShapeItem::number(-1);
    }
    dynamic = 0;
  }
  if (dynamic == 0) {
    KILN_ASSIGN_OR_RETURN(IShuffleLayer * layer, added(ctx, site, ctx.net->addShuffle(*x)));
    layer->setZeroIsPlaceholder(false);  // torch's 0 is a real zero extent
    Dims dims;
    dims.nbDims = static_cast<int32_t>(items.size());
    for (size_t i = 0; i < items.size(); ++i) dims.d[i] = items[i].value;
    layer->setReshapeDimensions(dims);
    return layer->getOutput(0);
  }
  KILN_ASSIGN_OR_RETURN(ITensor * spec, shapeTensor(ctx, site.sub("shape"), items));
  KILN_ASSIGN_OR_RETURN(ITensor * data, dataInput(ctx, site, x));
  KILN_ASSIGN_OR_RETURN(IShuffleLayer * layer, added(ctx, site, ctx.net->addShuffle(*data)));
  layer->setZeroIsPlaceholder(false);
  layer->setInput(1, *spec);
  return withKnownDims(ctx, site, layer->getOutput(0), knownDims(items));
}

StatusOr<ITensor*> permute(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims) {
  const int32_t rank = x->getDimensions().nbDims;
  if (static_cast<int32_t>(dims.size()) != rank) {
    return site.error("permute dims have " + std::to_string(dims.size()) + " entries for a tensor of rank " +
                      std::to_string(rank));
  }
  Permutation perm = identityPermutation();
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int32_t i = 0; i < rank; ++i) {
    KILN_ASSIGN_OR_RETURN(int32_t d, normalizeDim(site, dims[static_cast<size_t>(i)], rank));
    if (seen[static_cast<size_t>(d)]) return site.error("permute dims repeat dim " + std::to_string(d));
    seen[static_cast<size_t>(d)] = true;
    perm.order[i] = d;
  }
  KILN_ASSIGN_OR_RETURN(IShuffleLayer * layer, added(ctx, site, ctx.net->addShuffle(*x)));
  layer->setFirstTranspose(perm);
  return layer->getOutput(0);
}

StatusOr<ITensor*> transpose(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim0, int64_t dim1) {
  const int32_t rank = x->getDimensions().nbDims;
  if (rank == 0) return identity(ctx, site, x);
  KILN_ASSIGN_OR_RETURN(int32_t a, normalizeDim(site, dim0, rank, "dim0"));
  KILN_ASSIGN_OR_RETURN(int32_t b, normalizeDim(site, dim1, rank, "dim1"));
  std::vector<int64_t> order(static_cast<size_t>(rank));
  for (int32_t i = 0; i < rank; ++i) order[static_cast<size_t>(i)] = i;
  std::swap(order[static_cast<size_t>(a)], order[static_cast<size_t>(b)]);
  return permute(ctx, site, x, order);
}

StatusOr<ITensor*> expand(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<ShapeItem>& size) {
  const int32_t inRank = x->getDimensions().nbDims;
  const auto outRank = static_cast<int32_t>(size.size());
  if (outRank < inRank) {
    return site.error("expand to " + std::to_string(outRank) + " dims from a tensor of rank " + std::to_string(inRank) +
                      ": the size must have at least the tensor's rank");
  }
  if (outRank > Dims::kMAX_DIMS) return site.error("expand to more than " + std::to_string(Dims::kMAX_DIMS) + " dims");
  const int32_t lead = outRank - inRank;
  ITensor* in = x;
  if (lead > 0) {
    std::vector<ShapeItem> items(static_cast<size_t>(lead), ShapeItem::number(1));
    KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> own, dimsAsItems(ctx, site.sub("in"), x));
    items.insert(items.end(), own.begin(), own.end());
    KILN_ASSIGN_OR_RETURN(in, reshape(ctx, site.sub("rank"), x, items));
  }
  const Dims dims = in->getDimensions();
  std::vector<ShapeItem> outItems(static_cast<size_t>(outRank));
  Dims start, stride, staticSize;
  start.nbDims = stride.nbDims = staticSize.nbDims = outRank;
  bool broadcasts = false, sizeStatic = true;
  for (int32_t i = 0; i < outRank; ++i) {
    const ShapeItem& target = size[static_cast<size_t>(i)];
    const int64_t extent = dims.d[i];
    start.d[i] = 0;
    stride.d[i] = 1;
    const bool keep = (target.isStatic() && (target.value == -1 || target.value == extent)) || extent != 1;
    if (target.isStatic() && target.value == -1 && i < lead) {
      return site.error("expand size -1 at new leading dim " + std::to_string(i) + " is not allowed");
    }
    if (keep) {
      if (target.isStatic() && target.value != -1 && extent >= 0 && target.value != extent) {
        return site.error("cannot expand dim " + std::to_string(i) + " of extent " + std::to_string(extent) + " to " +
                          std::to_string(target.value) + " (only extent-1 dims broadcast)");
      }
      KILN_ASSIGN_OR_RETURN(outItems[static_cast<size_t>(i)], dimOf(ctx, site.sub("d" + std::to_string(i)), in, i));
    } else {
      outItems[static_cast<size_t>(i)] = target;
      stride.d[i] = 0;  // every output index reads element 0 of the extent-1 dim
      broadcasts = true;
    }
    const ShapeItem& item = outItems[static_cast<size_t>(i)];
    sizeStatic = sizeStatic && item.isStatic();
    staticSize.d[i] = item.isStatic() ? item.value : 0;
  }
  if (!broadcasts) return in == x ? identity(ctx, site, x) : in;
  if (sizeStatic) return outputOf(ctx, site, ctx.net->addSlice(*in, start, staticSize, stride));
  KILN_ASSIGN_OR_RETURN(ITensor * sizeTensor, shapeTensor(ctx, site.sub("size"), outItems));
  KILN_ASSIGN_OR_RETURN(ITensor * data, dataInput(ctx, site, in));
  KILN_ASSIGN_OR_RETURN(ISliceLayer * layer, added(ctx, site, ctx.net->addSlice(*data, start, staticSize, stride)));
  layer->setInput(2, *sizeTensor);
  return withKnownDims(ctx, site, layer->getOutput(0), knownDims(outItems));
}

StatusOr<ITensor*> unsqueeze(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim) {
  const int32_t rank = x->getDimensions().nbDims;
  KILN_ASSIGN_OR_RETURN(int32_t d, normalizeDim(site, dim, rank + 1));
  KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> items, dimsAsItems(ctx, site, x));
  items.insert(items.begin() + d, ShapeItem::number(1));
  return reshape(ctx, site, x, items);
}

StatusOr<ITensor*> squeeze(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims) {
  const Dims in = x->getDimensions();
  std::vector<bool> listed(static_cast<size_t>(in.nbDims), dims.empty());
  for (int64_t dim : dims) {
    KILN_ASSIGN_OR_RETURN(int32_t d, normalizeDim(site, dim, in.nbDims));
    if (in.nbDims > 0) listed[static_cast<size_t>(d)] = true;
  }
  std::vector<ShapeItem> items;
  for (int32_t i = 0; i < in.nbDims; ++i) {
    if (listed[static_cast<size_t>(i)] && in.d[i] == 1) continue;
    KILN_ASSIGN_OR_RETURN(ShapeItem item, dimOf(ctx, site.sub("d" + std::to_string(i)), x, i));
    items.push_back(item);
  }
  if (static_cast<int32_t>(items.size()) == in.nbDims) return identity(ctx, site, x);
  return reshape(ctx, site, x, items);
}

StatusOr<ITensor*> flatten(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t startDim, int64_t endDim) {
  const Dims in = x->getDimensions();
  if (in.nbDims == 0) return reshape(ctx, site, x, {ShapeItem::number(1)});
  KILN_ASSIGN_OR_RETURN(int32_t start, normalizeDim(site, startDim, in.nbDims, "start_dim"));
  KILN_ASSIGN_OR_RETURN(int32_t end, normalizeDim(site, endDim, in.nbDims, "end_dim"));
  if (start > end)
    return site.error("flatten start_dim " + std::to_string(startDim) + " is after end_dim " + std::to_string(endDim));
  if (start == end) return identity(ctx, site, x);
  std::vector<ShapeItem> items;
  for (int32_t i = 0; i < start; ++i) {
    KILN_ASSIGN_OR_RETURN(ShapeItem item, dimOf(ctx, site.sub("d" + std::to_string(i)), x, i));
    items.push_back(item);
  }
  int64_t product = 1;
  ITensor* dynamicProduct = nullptr;
  for (int32_t i = start; i <= end; ++i) {
    if (in.d[i] >= 0) {
      product *= in.d[i];
      continue;
    }
    KILN_ASSIGN_OR_RETURN(ShapeItem item, dimOf(ctx, site.sub("d" + std::to_string(i)), x, i));
    if (dynamicProduct == nullptr) {
      dynamicProduct = item.tensor;
    } else {
      KILN_ASSIGN_OR_RETURN(dynamicProduct,
                            elementwiseSameType(ctx, site.sub("prod" + std::to_string(i)), dynamicProduct, item.tensor,
                                                ElementWiseOperation::kPROD));
    }
  }
  if (dynamicProduct == nullptr) {
    items.push_back(ShapeItem::number(product));
  } else if (product == 1) {
    items.push_back(ShapeItem::fromTensor(dynamicProduct));
  } else {
    KILN_ASSIGN_OR_RETURN(ITensor * factor, int64Vector(ctx, site.sub("factor"), {product}));
    KILN_ASSIGN_OR_RETURN(
        ITensor * all, elementwiseSameType(ctx, site.sub("prod"), dynamicProduct, factor, ElementWiseOperation::kPROD));
    items.push_back(ShapeItem::fromTensor(all));
  }
  for (int32_t i = end + 1; i < in.nbDims; ++i) {
    KILN_ASSIGN_OR_RETURN(ShapeItem item, dimOf(ctx, site.sub("d" + std::to_string(i)), x, i));
    items.push_back(item);
  }
  return reshape(ctx, site, x, items);
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
