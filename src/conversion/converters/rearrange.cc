// ATen ops that rearrange elements without arithmetic: flip (negative-stride slices), roll and repeat/tile
// (wrap-around slices), pixel_shuffle/unshuffle (reshape-permute-reshape), expand_as, unflatten, movedim and
// as_strided on static shapes (a gather of the flat input at the strided offsets).
#include <algorithm>

#include "conversion/converters/arg_checks.h"
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;
using impl::ShapeItem;

Status flip(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, args[1].asInts());
  const impl::Site site(node);
  const int32_t rank = x->getDimensions().nbDims;
  KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> size, impl::dimsOf(ctx, site.sub("size"), x));
  std::vector<ShapeItem> start(static_cast<size_t>(rank), ShapeItem::number(0));
  std::vector<int64_t> stride(static_cast<size_t>(rank), 1);
  for (int64_t dim : dims) {
    KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, rank));
    if (rank == 0) continue;
    const auto k = static_cast<size_t>(d);
    if (stride[k] == -1) return site.error("flip dims repeat dim " + std::to_string(d));
    if (size[k].isStatic() && size[k].value == 0) continue;
    stride[k] = -1;
    KILN_ASSIGN_OR_RETURN(start[k], impl::shapeArith(ctx, site.sub("last" + std::to_string(d)), size[k],
                                                     ShapeItem::number(1), ElementWiseOperation::kSUB));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out,
                        impl::sampledSlice(ctx, site, x, start, size, stride, SampleMode::kSTRICT_BOUNDS));
  return impl::setOutput(ctx, node, 0, out, args);
}

// out[i] = x[(i - shift) mod n]: a wrap-around slice starting at -shift. Without dims the flattened tensor rolls.
Status roll(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> shifts, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, args[2].asInts());
  const impl::Site site(node);
  ITensor* in = x;
  std::vector<ShapeItem> original;
  if (dims.empty()) {
    if (shifts.size() != 1) return site.error("roll without dims takes one shift, got " + std::to_string(shifts.size()));
    KILN_ASSIGN_OR_RETURN(original, impl::dimsOf(ctx, site.sub("orig"), x));
    KILN_ASSIGN_OR_RETURN(in, impl::reshape(ctx, site.sub("flat"), x, {ShapeItem::number(-1)}));
    dims = {0};
  }
  if (shifts.size() != dims.size()) {
    return site.error("roll has " + std::to_string(shifts.size()) + " shifts for " + std::to_string(dims.size()) +
                      " dims");
  }
  const int32_t rank = in->getDimensions().nbDims;
  KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> size, impl::dimsOf(ctx, site.sub("size"), in));
  std::vector<int64_t> offset(static_cast<size_t>(rank), 0);
  for (size_t i = 0; i < dims.size(); ++i) {
    KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dims[i], rank));
    offset[static_cast<size_t>(d)] -= shifts[i];
  }
  std::vector<ShapeItem> start;
  for (int32_t i = 0; i < rank; ++i) {
    const auto k = static_cast<size_t>(i);
    // An empty dim has nothing to roll, and wrap mode refuses to sample it.
    const bool empty = size[k].isStatic() && size[k].value == 0;
    int64_t s = empty ? 0 : offset[k];
    if (size[k].isStatic() && size[k].value > 0) s = ((s % size[k].value) + size[k].value) % size[k].value;
    start.push_back(ShapeItem::number(s));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::sampledSlice(ctx, site, in, start, size, std::vector<int64_t>(
                                                                                          static_cast<size_t>(rank), 1),
                                                          SampleMode::kWRAP));
  if (!original.empty() || x->getDimensions().nbDims != rank) {
    KILN_ASSIGN_OR_RETURN(out, impl::reshape(ctx, site.sub("unflat"), out, original));
  }
  return impl::setOutput(ctx, node, 0, out, args);
}

// repeat and tile: x (with leading 1 dims added) read cyclically into extent * count per dim.
StatusOr<ITensor*> tileBy(ConversionCtx& ctx, const impl::Site& site, ITensor* x, std::vector<int64_t> counts) {
  const int32_t rank = x->getDimensions().nbDims;
  if (static_cast<int32_t>(counts.size()) < rank) counts.insert(counts.begin(), rank - counts.size(), 1);
  if (counts.size() > static_cast<size_t>(Dims::kMAX_DIMS)) return site.error("repeat to more than 8 dims");
  for (int64_t c : counts) {
    if (c < 0) return site.error("repeat count " + std::to_string(c) + " is negative");
  }
  ITensor* in = x;
  KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> dims, impl::dimsOf(ctx, site.sub("in"), x));
  if (static_cast<int32_t>(counts.size()) > rank) {
    dims.insert(dims.begin(), counts.size() - static_cast<size_t>(rank), ShapeItem::number(1));
    KILN_ASSIGN_OR_RETURN(in, impl::reshape(ctx, site.sub("rank"), x, dims));
  }
  std::vector<ShapeItem> size;
  bool anyEmpty = false;
  for (size_t i = 0; i < counts.size(); ++i) {
    KILN_ASSIGN_OR_RETURN(ShapeItem s, impl::shapeArith(ctx, site.sub("size" + std::to_string(i)), dims[i],
                                                        ShapeItem::number(counts[i]), ElementWiseOperation::kPROD));
    anyEmpty = anyEmpty || (dims[i].isStatic() && dims[i].value == 0) || counts[i] == 0;
    size.push_back(s);
  }
  // Wrap mode cannot sample an empty dim; the result is empty anyway (zeros of the right shape).
  const SampleMode mode = anyEmpty ? SampleMode::kFILL : SampleMode::kWRAP;
  return impl::sampledSlice(ctx, site, in, std::vector<ShapeItem>(counts.size(), ShapeItem::number(0)), size,
                            std::vector<int64_t>(counts.size(), 1), mode);
}

Status repeat(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> counts, args[1].asInts());
  const impl::Site site(node);
  if (counts.size() < static_cast<size_t>(x->getDimensions().nbDims)) {
    return site.error("repeat needs at least as many counts as the tensor has dims");
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, tileBy(ctx, site, x, counts));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status tile(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> counts, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(ITensor * out, tileBy(ctx, node, x, counts));
  return impl::setOutput(ctx, node, 0, out, args);
}

// pixel_shuffle: [*, C*r*r, H, W] -> [*, C, r, r, H, W] -> [*, C, H, r, W, r] -> [*, C, H*r, W*r].
// pixel_unshuffle is the inverse.
template <bool kShuffle>
Status pixelShuffle(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t r, args[1].asInt());
  const impl::Site site(node);
  const int32_t rank = x->getDimensions().nbDims;
  if (rank < 3) return site.error("pixel (un)shuffle needs a tensor of rank >= 3");
  if (r < 1) return site.error("the pixel (un)shuffle factor must be positive, got " + std::to_string(r));
  if (rank + 3 > Dims::kMAX_DIMS) return site.error("pixel (un)shuffle of a rank-" + std::to_string(rank) + " tensor");
  KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> dims, impl::dimsOf(ctx, site.sub("in"), x));
  const auto lead = static_cast<size_t>(rank - 3);
  std::vector<ShapeItem> split(dims.begin(), dims.begin() + static_cast<std::ptrdiff_t>(lead));
  const ShapeItem c = dims[lead], h = dims[lead + 1], w = dims[lead + 2];
  const ShapeItem factor = ShapeItem::number(r);
  std::vector<int64_t> order;
  for (size_t i = 0; i < lead; ++i) order.push_back(static_cast<int64_t>(i));
  std::vector<ShapeItem> merged = split;
  const auto l = static_cast<int64_t>(lead);
  if (kShuffle) {
    if (!c.isStatic() || c.value % (r * r) != 0) {
      return site.error("pixel_shuffle needs a static channel count divisible by " + std::to_string(r * r));
    }
    split.insert(split.end(), {ShapeItem::number(c.value / (r * r)), factor, factor, h, w});
    order.insert(order.end(), {l, l + 3, l + 1, l + 4, l + 2});
    KILN_ASSIGN_OR_RETURN(ShapeItem hr, impl::shapeArith(ctx, site.sub("h"), h, factor, ElementWiseOperation::kPROD));
    KILN_ASSIGN_OR_RETURN(ShapeItem wr, impl::shapeArith(ctx, site.sub("w"), w, factor, ElementWiseOperation::kPROD));
    merged.insert(merged.end(), {ShapeItem::number(c.value / (r * r)), hr, wr});
  } else {
    if ((h.isStatic() && h.value % r != 0) || (w.isStatic() && w.value % r != 0) || !c.isStatic()) {
      return site.error("pixel_unshuffle needs a static channel count and spatial extents divisible by " +
                        std::to_string(r));
    }
    KILN_ASSIGN_OR_RETURN(ShapeItem hr, impl::shapeArith(ctx, site.sub("h"), h, factor, ElementWiseOperation::kFLOOR_DIV));
    KILN_ASSIGN_OR_RETURN(ShapeItem wr, impl::shapeArith(ctx, site.sub("w"), w, factor, ElementWiseOperation::kFLOOR_DIV));
    split.insert(split.end(), {c, hr, factor, wr, factor});
    order.insert(order.end(), {l, l + 2, l + 4, l + 1, l + 3});
    merged.insert(merged.end(), {ShapeItem::number(c.value * r * r), hr, wr});
  }
  KILN_ASSIGN_OR_RETURN(ITensor * expanded, impl::reshape(ctx, site.sub("split"), x, split));
  KILN_ASSIGN_OR_RETURN(ITensor * permuted, impl::permute(ctx, site.sub("permute"), expanded, order));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::reshape(ctx, site, permuted, merged));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status expandAs(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(ITensor * other, impl::tensorArg(ctx, node, args, 1));
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> size, impl::dimsOf(ctx, site.sub("like"), other));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::expand(ctx, site, x, size));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status unflatten(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> sizes, impl::shapeItemsOf(args[2]));
  const impl::Site site(node);
  const int32_t rank = x->getDimensions().nbDims;
  KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, rank));
  KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> dims, impl::dimsOf(ctx, site.sub("in"), x));
  std::vector<ShapeItem> shape(dims.begin(), dims.begin() + d);
  shape.insert(shape.end(), sizes.begin(), sizes.end());
  shape.insert(shape.end(), dims.begin() + d + 1, dims.end());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::reshape(ctx, site, x, shape));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status movedim(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t source, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(int64_t destination, args[2].asInt());
  const impl::Site site(node);
  const int32_t rank = x->getDimensions().nbDims;
  KILN_ASSIGN_OR_RETURN(int32_t s, impl::normalizeDim(site, source, rank, "source"));
  KILN_ASSIGN_OR_RETURN(int32_t t, impl::normalizeDim(site, destination, rank, "destination"));
  std::vector<int64_t> order;
  for (int32_t i = 0; i < rank; ++i) {
    if (i != s) order.push_back(i);
  }
  if (rank > 0) order.insert(order.begin() + t, s);
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::permute(ctx, site, x, order));
  return impl::setOutput(ctx, node, 0, out, args);
}

// as_strided reads the input's storage; a value in the graph is contiguous, so the storage is the flattened
// input and the result gathers it at offset + sum(index_i * stride_i).
Status asStrided(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> size, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> stride, args[2].asInts());
  int64_t offset = 0;
  if (!args[3].isNone()) {
    KILN_ASSIGN_OR_RETURN(offset, args[3].asInt());
  }
  const impl::Site site(node);
  const int64_t numel = volume(x->getDimensions());
  if (numel < 0) return site.error("as_strided needs a static input shape");
  if (size.size() != stride.size() || size.size() > static_cast<size_t>(Dims::kMAX_DIMS)) {
    return site.error("as_strided size and stride differ in length or exceed 8 dims");
  }
  Dims outDims;
  outDims.nbDims = static_cast<int32_t>(size.size());
  int64_t count = 1;
  for (size_t i = 0; i < size.size(); ++i) {
    if (size[i] < 0 || stride[i] < 0) return site.error("as_strided sizes and strides must be non-negative");
    outDims.d[i] = size[i];
    count *= size[i];
  }
  std::vector<double> indices(static_cast<size_t>(count));
  std::vector<int64_t> position(size.size(), 0);
  for (int64_t n = 0; n < count; ++n) {
    int64_t at = offset;
    for (size_t i = 0; i < size.size(); ++i) at += position[i] * stride[i];
    if (at < 0 || at >= numel) {
      return site.error("as_strided reads element " + std::to_string(at) + " of a " + std::to_string(numel) +
                        "-element input");
    }
    indices[static_cast<size_t>(n)] = static_cast<double>(at);
    for (size_t i = size.size(); i-- > 0;) {
      if (++position[i] < size[i]) break;
      position[i] = 0;
    }
  }
  KILN_ASSIGN_OR_RETURN(ITensor * flat, impl::reshape(ctx, site.sub("flat"), x, {ShapeItem::number(numel)}));
  KILN_ASSIGN_OR_RETURN(ITensor * index, impl::constantOf(ctx, site.sub("index"), DataType::kINT64, outDims, indices));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::outputOf(ctx, site, ctx.net->addGather(*flat, *index, 0)));
  return impl::setOutput(ctx, node, 0, out, args);
}

bool hasTensor(const ir::Node& node) { return impl::tensorMetaArg(node, 0) != nullptr; }

bool constantTail(const ir::Node& node, const CompilationSettings&) {
  if (!hasTensor(node)) return false;
  for (size_t i = 1; i < node.args().size(); ++i) {
    if (impl::constantArg(node, i) == nullptr) return false;
  }
  return true;
}

bool pixelSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  const std::optional<int64_t> r = checks::intArg(node, 1);
  if (meta == nullptr || !r || *r < 1 || meta->shape.size() < 3 || meta->shape.size() > 5) return false;
  const ir::SymDim& c = meta->shape[meta->shape.size() - 3];
  if (!c.isStatic()) return false;
  if (node.target().find("unshuffle") == std::string::npos) return c.extent % (*r * *r) == 0;
  for (size_t i = meta->shape.size() - 2; i < meta->shape.size(); ++i) {
    if (meta->shape[i].isStatic() && meta->shape[i].extent % *r != 0) return false;
  }
  return true;
}

bool asStridedSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  if (meta == nullptr || !meta->isStatic()) return false;
  const auto size = checks::intsArg(node, 1);
  const auto stride = checks::intsArg(node, 2);
  const ir::Constant* offset = impl::constantArg(node, 3);
  if (!size || !stride || offset == nullptr || !(offset->isNone() || offset->isInt())) return false;
  int64_t count = 1;
  for (int64_t s : *size) count *= std::max<int64_t>(s, 0);
  return size->size() == stride->size() && count <= (int64_t{1} << 24);  // the index table is a weight
}

bool unflattenSupported(const ir::Node& node, const CompilationSettings&) {
  return hasTensor(node) && checks::intArg(node, 1) && checks::symIntList(node.args()[2]);
}

const ConverterOptions kConstantTail{.validator = constantTail};

const auto registered =
    RegisterConverters()
        .pattern({"aten::flip(Tensor self, int[] dims) -> Tensor", flip}, kConstantTail)
        .pattern({"aten::roll(Tensor self, SymInt[1] shifts, int[1] dims=[]) -> Tensor", roll}, kConstantTail)
        .pattern({"aten::repeat(Tensor self, SymInt[] repeats) -> Tensor", repeat}, kConstantTail)
        .pattern({"aten::tile(Tensor self, SymInt[] dims) -> Tensor", tile}, kConstantTail)
        .pattern({"aten::pixel_shuffle(Tensor self, int upscale_factor) -> Tensor", pixelShuffle<true>},
                 {.validator = pixelSupported})
        .pattern({"aten::pixel_unshuffle(Tensor self, int downscale_factor) -> Tensor", pixelShuffle<false>},
                 {.validator = pixelSupported})
        .pattern({"aten::expand_as(Tensor(a) self, Tensor other) -> Tensor(a)", expandAs},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) {
                    return hasTensor(n) && impl::tensorMetaArg(n, 1) != nullptr;
                  }})
        .pattern({"aten::unflatten.int(Tensor(a) self, int dim, SymInt[] sizes) -> Tensor(a)", unflatten},
                 {.validator = unflattenSupported})
        .pattern({"aten::movedim.int(Tensor(a) self, int source, int destination) -> Tensor(a)", movedim},
                 kConstantTail)
        .pattern({"aten::as_strided(Tensor(a) self, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None) -> "
                  "Tensor(a)",
                  asStrided},
                 {.validator = asStridedSupported, .supportsDynamicShapes = false});

}  // namespace
}  // namespace conversion
}  // namespace kiln
