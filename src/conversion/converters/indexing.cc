// ATen indexing: index_select, gather, scatter (.src, .value, .reduce, .value_reduce), scatter_add,
// scatter_reduce.two, index.Tensor and index_put with integer index tensors on leading dims, masked_fill
// (.Scalar, .Tensor), one_hot. Gathers and scatters map to the engine's gather/scatter layers; bool masks used
// as indices have data-dependent shapes and stay in PyTorch (their validators refuse them).
#include <cmath>
#include <limits>

#include "conversion/converters/arg_checks.h"
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;
using impl::ShapeItem;

StatusOr<ITensor*> indexTensor(ConversionCtx& ctx, const impl::Site& site, const ConverterArg& arg) {
  KILN_ASSIGN_OR_RETURN(ITensor * index, arg.asTensor());
  const DataType type = index->getType();
  if (type != DataType::kINT32 && type != DataType::kINT64) {
    return site.error(std::string("index tensors must be int32 or int64, got ") + dataTypeName(type));
  }
  return index;
}

Status indexSelect(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(ITensor * index, indexTensor(ctx, site, args[2]));
  const int32_t rank = x->getDimensions().nbDims;
  KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, rank));
  if (rank == 0) return impl::setOutput(ctx, node, 0, x, args);
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::outputOf(ctx, site, ctx.net->addGather(*x, *index, d)));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status gather(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(ITensor * index, indexTensor(ctx, site, args[2]));
  KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, x->getDimensions().nbDims));
  KILN_ASSIGN_OR_RETURN(IGatherLayer * layer, impl::added(ctx, site, ctx.net->addGather(*x, *index, d)));
  layer->setMode(GatherMode::kELEMENT);
  return impl::setOutput(ctx, node, 0, layer->getOutput(0), args);
}

StatusOr<ScatterReduction> reductionNamed(const impl::Site& site, const std::string& name) {
  if (name == "add" || name == "sum") return ScatterReduction::kSUM;
  if (name == "multiply" || name == "prod") return ScatterReduction::kPROD;
  if (name == "amax") return ScatterReduction::kMAX;
  if (name == "amin") return ScatterReduction::kMIN;
  if (name == "mean") return ScatterReduction::kMEAN;
  return site.error("unknown scatter reduction '" + name + "'");
}

// out = x with out[.., index[i], ..] (along dim) combined with updates[i]; updates are src cut to index's
// shape (PyTorch reads only that part of src).
StatusOr<ITensor*> scatterElements(ConversionCtx& ctx, const impl::Site& site, ITensor* x, int64_t dim,
                                   ITensor* index, ITensor* updates, ScatterReduction reduction) {
  const Dims indexDims = index->getDimensions();
  const Dims updateDims = updates->getDimensions();
  if (indexDims != updateDims) {
    std::vector<ShapeItem> start(static_cast<size_t>(indexDims.nbDims), ShapeItem::number(0));
    KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> size, impl::dimsOf(ctx, site.sub("isize"), index));
    KILN_ASSIGN_OR_RETURN(updates, impl::sampledSlice(ctx, site.sub("src"), updates, start, size,
                                                      std::vector<int64_t>(start.size(), 1),
                                                      SampleMode::kSTRICT_BOUNDS));
  }
  KILN_ASSIGN_OR_RETURN(updates, impl::castTo(ctx, site.sub("cast"), updates, x->getType()));
  KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, x->getDimensions().nbDims));
  KILN_ASSIGN_OR_RETURN(IScatterLayer * layer,
                        impl::added(ctx, site, ctx.net->addScatter(*x, *index, *updates, ScatterMode::kELEMENT)));
  layer->setAxis(d);
  layer->setReduction(reduction);
  return layer->getOutput(0);
}

// scatter(.src | .value)[.reduce](self, dim, index, src | value[, reduce]); scatter_add(self, dim, index, src).
template <bool kValue, int kReduceArg, ScatterReduction kFixed>
Status scatter(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(ITensor * index, indexTensor(ctx, site, args[2]));
  ITensor* updates = nullptr;
  if (kValue) {
    KILN_ASSIGN_OR_RETURN(double value, args[3].asDouble());
    KILN_ASSIGN_OR_RETURN(updates, impl::fullLike(ctx, site.sub("value"), index, value, x->getType()));
  } else {
    KILN_ASSIGN_OR_RETURN(updates, args[3].asTensor());
  }
  ScatterReduction reduction = kFixed;
  if (kReduceArg >= 0) {
    KILN_ASSIGN_OR_RETURN(std::string name, args[kReduceArg].constant.toString());
    KILN_ASSIGN_OR_RETURN(reduction, reductionNamed(site, name));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, scatterElements(ctx, site, x, dim, index, updates, reduction));
  return impl::setOutput(ctx, node, 0, out, args);
}

// scatter_reduce.two(self, dim, index, src, reduce, include_self). Without include_self the targeted
// positions first get the reduction's identity, so that only src values combine there.
Status scatterReduce(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(ITensor * index, indexTensor(ctx, site, args[2]));
  KILN_ASSIGN_OR_RETURN(ITensor * src, args[3].asTensor());
  KILN_ASSIGN_OR_RETURN(std::string name, args[4].constant.toString());
  KILN_ASSIGN_OR_RETURN(ScatterReduction reduction, reductionNamed(site, name));
  KILN_ASSIGN_OR_RETURN(bool includeSelf, args[5].asBool());
  ITensor* base = x;
  if (!includeSelf) {
    double identity = 0.0;
    switch (reduction) {
      case ScatterReduction::kSUM:
        identity = 0.0;
        break;
      case ScatterReduction::kPROD:
        identity = 1.0;
        break;
      case ScatterReduction::kMAX:
        identity = -std::numeric_limits<double>::infinity();
        break;
      case ScatterReduction::kMIN:
        identity = std::numeric_limits<double>::infinity();
        break;
      case ScatterReduction::kNONE:
      case ScatterReduction::kMEAN:
        return site.error("scatter_reduce '" + name + "' without include_self is not supported");
    }
    if (!checks::isFloat(x->getType()) && std::isinf(identity)) {
      return site.error("scatter_reduce amax/amin without include_self needs a float tensor");
    }
    KILN_ASSIGN_OR_RETURN(ITensor * fill, impl::fullLike(ctx, site.sub("identity"), index, identity, x->getType()));
    KILN_ASSIGN_OR_RETURN(base, scatterElements(ctx, site.sub("reset"), x, dim, index, fill, ScatterReduction::kNONE));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, scatterElements(ctx, site, base, dim, index, src, reduction));
  return impl::setOutput(ctx, node, 0, out, args);
}

// masked_fill: select(mask, value, self) in self's dtype (the value is converted like PyTorch does).
template <bool kTensorValue>
Status maskedFill(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(ITensor * mask, args[1].asTensor());
  const impl::Site site(node);
  if (mask->getType() != DataType::kBOOL) return site.error("masked_fill needs a bool mask");
  const int32_t rank = std::max(x->getDimensions().nbDims, mask->getDimensions().nbDims);
  ITensor* value = nullptr;
  if (kTensorValue) {
    KILN_ASSIGN_OR_RETURN(ITensor * v, args[2].asTensor());
    KILN_ASSIGN_OR_RETURN(v, impl::castTo(ctx, site.sub("cast"), v, x->getType()));
    std::vector<ShapeItem> ones(static_cast<size_t>(rank), ShapeItem::number(1));
    KILN_ASSIGN_OR_RETURN(value, impl::reshape(ctx, site.sub("value"), v, ones));
  } else {
    KILN_ASSIGN_OR_RETURN(double v, args[2].asDouble());
    value = ctx.addScalar(v, x->getType(), rank, site.sub("value").layerName("Constant"));
    if (value == nullptr) return ctx.status().withContext(site.describe());
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::outputOf(ctx, site, ctx.net->addSelect(*mask, *value, *x)));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status oneHot(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * indices, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t classes, args[1].asInt());
  const impl::Site site(node);
  if (classes < 1) return site.error("one_hot needs num_classes >= 1 (inferring it reads the data)");
  KILN_ASSIGN_OR_RETURN(ITensor * values, impl::constantOf(ctx, site.sub("values"), DataType::kINT64, Dims{2}, {0, 1}));
  KILN_ASSIGN_OR_RETURN(ITensor * depth, impl::constantOf(ctx, site.sub("depth"), DataType::kINT64, Dims{},
                                                          {static_cast<double>(classes)}));
  KILN_ASSIGN_OR_RETURN(IOneHotLayer * layer,
                        impl::added(ctx, site, ctx.net->addOneHot(*indices, *values, *depth, -1)));
  layer->setAxis(indices->getDimensions().nbDims);
  return impl::setOutput(ctx, node, 0, layer->getOutput(0), args);
}

// The index tensors of index/index_put on the leading dims, broadcast against each other and stacked on a
// new last dim: the coordinates of an ND gather or scatter.
StatusOr<ITensor*> coordinates(ConversionCtx& ctx, const impl::Site& site, const ConverterArg& list) {
  std::vector<ITensor*> indices;
  int32_t rank = 0;
  for (size_t i = 0; i < list.list.size(); ++i) {
    KILN_ASSIGN_OR_RETURN(ITensor * t, indexTensor(ctx, site, list.list[i]));
    KILN_ASSIGN_OR_RETURN(t, impl::castTo(ctx, site.sub("i64_" + std::to_string(i)), t, DataType::kINT64));
    indices.push_back(t);
    rank = std::max(rank, t->getDimensions().nbDims);
  }
  if (indices.empty()) return site.error("indexing with no index tensors");
  // The broadcast shape (static: the validator makes sure).
  std::vector<ShapeItem> shape(static_cast<size_t>(rank), ShapeItem::number(1));
  for (ITensor* t : indices) {
    const Dims d = t->getDimensions();
    for (int32_t k = 0; k < d.nbDims; ++k) {
      ShapeItem& s = shape[static_cast<size_t>(rank - d.nbDims + k)];
      if (d.d[k] != 1) s = ShapeItem::number(d.d[k]);
    }
  }
  std::vector<ITensor*> parts;
  for (size_t i = 0; i < indices.size(); ++i) {
    KILN_ASSIGN_OR_RETURN(ITensor * e, impl::expand(ctx, site.sub("bcast" + std::to_string(i)), indices[i], shape));
    KILN_ASSIGN_OR_RETURN(ITensor * u, impl::unsqueeze(ctx, site.sub("coord" + std::to_string(i)), e, rank));
    parts.push_back(u);
  }
  return impl::concat(ctx, site.sub("coords"), parts, rank);
}

Status index(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  const impl::Site site(node);
  const ConverterArg& list = args[1];
  // One index tensor after None entries: a plain gather along that dim.
  size_t nonNone = 0, at = 0;
  for (size_t i = 0; i < list.list.size(); ++i) {
    if (!list.list[i].isNone()) {
      ++nonNone;
      at = i;
    }
  }
  ITensor* out = nullptr;
  if (nonNone == 1) {
    KILN_ASSIGN_OR_RETURN(ITensor * idx, indexTensor(ctx, site, list.list[at]));
    KILN_ASSIGN_OR_RETURN(out, impl::outputOf(ctx, site, ctx.net->addGather(*x, *idx, static_cast<int32_t>(at))));
  } else {
    KILN_ASSIGN_OR_RETURN(ITensor * coords, coordinates(ctx, site, list));
    KILN_ASSIGN_OR_RETURN(IGatherLayer * layer, impl::added(ctx, site, ctx.net->addGather(*x, *coords, 0)));
    layer->setMode(GatherMode::kND);
    out = layer->getOutput(0);
  }
  return impl::setOutput(ctx, node, 0, out, args);
}

// index_put(self, indices, values, accumulate): an ND scatter at the coordinates, summing when accumulating.
Status indexPut(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(ITensor * values, args[2].asTensor());
  KILN_ASSIGN_OR_RETURN(bool accumulate, args[3].asBool());
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(ITensor * coords, coordinates(ctx, site, args[1]));
  // Updates have the shape coords[:-1] + x.shape[k:]; values broadcast to it.
  const Dims c = coords->getDimensions();
  const Dims xd = x->getDimensions();
  const int32_t k = static_cast<int32_t>(c.d[c.nbDims - 1]);
  std::vector<ShapeItem> shape;
  for (int32_t i = 0; i + 1 < c.nbDims; ++i) shape.push_back(ShapeItem::number(c.d[i]));
  for (int32_t i = k; i < xd.nbDims; ++i) {
    KILN_ASSIGN_OR_RETURN(ShapeItem s, impl::dimOf(ctx, site.sub("d" + std::to_string(i)), x, i));
    shape.push_back(s);
  }
  KILN_ASSIGN_OR_RETURN(ITensor * cast, impl::castTo(ctx, site.sub("cast"), values, x->getType()));
  KILN_ASSIGN_OR_RETURN(ITensor * updates, impl::expand(ctx, site.sub("values"), cast, shape));
  KILN_ASSIGN_OR_RETURN(IScatterLayer * layer,
                        impl::added(ctx, site, ctx.net->addScatter(*x, *coords, *updates, ScatterMode::kND)));
  layer->setReduction(accumulate ? ScatterReduction::kSUM : ScatterReduction::kNONE);
  return impl::setOutput(ctx, node, 0, layer->getOutput(0), args);
}

// ---- validators ----

bool indexArg(const ir::Node& node, size_t i) {
  const ir::TensorMeta* m = impl::tensorMetaArg(node, i);
  return m != nullptr && checks::isIndexType(m->dtype);
}

bool dimIndexSupported(const ir::Node& node, const CompilationSettings&) {
  return impl::tensorMetaArg(node, 0) != nullptr && checks::intArg(node, 1) && indexArg(node, 2);
}

bool indexSelectSupported(const ir::Node& node, const CompilationSettings& s) {
  const ir::TensorMeta* index = impl::tensorMetaArg(node, 2);
  return dimIndexSupported(node, s) && index->shape.size() <= 1;
}

// Scatter updates: src with index's rank; where their shapes differ both must be static (src is cut to index).
bool scatterSupported(const ir::Node& node, const CompilationSettings& s, bool value, int reduceArg) {
  if (!dimIndexSupported(node, s)) return false;
  const ir::TensorMeta* x = impl::tensorMetaArg(node, 0);
  const ir::TensorMeta* index = impl::tensorMetaArg(node, 2);
  if (index->shape.size() != x->shape.size()) return false;
  if (value) {
    const ir::Constant* v = impl::constantArg(node, 3);
    if (v == nullptr || !v->isNumber()) return false;
  } else {
    const ir::TensorMeta* src = impl::tensorMetaArg(node, 3);
    if (src == nullptr || src->shape.size() != index->shape.size()) return false;
    bool same = true;
    for (size_t i = 0; i < src->shape.size(); ++i) {
      same = same && src->shape[i].extent == index->shape[i].extent;
    }
    if (!same && !(src->isStatic() && index->isStatic())) return false;
  }
  if (reduceArg >= 0) {
    const ir::Constant* r = impl::constantArg(node, static_cast<size_t>(reduceArg));
    if (r == nullptr || !r->isString()) return false;
    const std::string name = r->toString().value();
    if (name != "add" && name != "multiply") return false;
  }
  return true;
}

bool scatterReduceSupported(const ir::Node& node, const CompilationSettings& s) {
  if (!scatterSupported(node, s, false, -1)) return false;
  const ir::Constant* r = impl::constantArg(node, 4);
  const ir::Constant* self = impl::constantArg(node, 5);
  if (r == nullptr || !r->isString() || self == nullptr || !self->isBool()) return false;
  const std::string name = r->toString().value();
  if (name != "sum" && name != "prod" && name != "amax" && name != "amin" && name != "mean") return false;
  if (self->toBool().value()) return true;
  if (name == "mean") return false;
  return name == "sum" || name == "prod" || checks::isFloat(impl::tensorMetaArg(node, 0)->dtype);
}

bool maskedFillSupported(const ir::Node& node, bool tensorValue) {
  const ir::TensorMeta* x = impl::tensorMetaArg(node, 0);
  const ir::TensorMeta* mask = impl::tensorMetaArg(node, 1);
  if (x == nullptr || mask == nullptr || mask->dtype != DataType::kBOOL) return false;
  if (tensorValue) {
    const ir::TensorMeta* v = impl::tensorMetaArg(node, 2);
    return v != nullptr && v->shape.empty();
  }
  const ir::Constant* v = impl::constantArg(node, 2);
  return v != nullptr && v->isNumber();
}

// Integer index tensors with static shapes, either one of them (after None entries) or several on the leading
// dims without gaps. Bool masks make data-dependent shapes (nonzero), which stay in PyTorch here.
bool indicesSupported(const ir::Node& node, bool put) {
  const ir::TensorMeta* x = impl::tensorMetaArg(node, 0);
  if (x == nullptr || node.args().size() < 2 || !node.args()[1].isList()) return false;
  const std::vector<ir::Arg>& list = node.args()[1].list;
  size_t nonNone = 0;
  bool gap = false, seenNone = false;
  for (const ir::Arg& item : list) {
    if (item.isConstant() && item.constant.isNone()) {
      seenNone = true;
      continue;
    }
    if (!item.isValue() || item.value == nullptr || !item.value->isTensor()) return false;
    const ir::TensorMeta& m = *item.value->meta();
    if (!checks::isIndexType(m.dtype) || !m.isStatic()) return false;
    gap = gap || seenNone;
    ++nonNone;
  }
  if (nonNone == 0 || list.size() > x->shape.size()) return false;
  if (nonNone == 1 && !put) return true;
  return !gap && !seenNone;
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::index_select(Tensor self, int dim, Tensor index) -> Tensor", indexSelect},
                 {.validator = indexSelectSupported})
        .pattern({"aten::gather(Tensor self, int dim, Tensor index, *, bool sparse_grad=False) -> Tensor", gather},
                 {.validator = dimIndexSupported})
        .pattern({"aten::scatter.src(Tensor self, int dim, Tensor index, Tensor src) -> Tensor",
                  scatter<false, -1, ScatterReduction::kNONE>},
                 {.validator = [](const ir::Node& n, const CompilationSettings& s) {
                    return scatterSupported(n, s, false, -1);
                  }})
        .pattern({"aten::scatter.value(Tensor self, int dim, Tensor index, Scalar value) -> Tensor",
                  scatter<true, -1, ScatterReduction::kNONE>},
                 {.validator = [](const ir::Node& n, const CompilationSettings& s) {
                    return scatterSupported(n, s, true, -1);
                  }})
        .pattern({"aten::scatter.reduce(Tensor self, int dim, Tensor index, Tensor src, *, str reduce) -> Tensor",
                  scatter<false, 4, ScatterReduction::kNONE>},
                 {.validator = [](const ir::Node& n, const CompilationSettings& s) {
                    return scatterSupported(n, s, false, 4);
                  }})
        .pattern({"aten::scatter.value_reduce(Tensor self, int dim, Tensor index, Scalar value, *, str reduce) -> "
                  "Tensor",
                  scatter<true, 4, ScatterReduction::kNONE>},
                 {.validator = [](const ir::Node& n, const CompilationSettings& s) {
                    return scatterSupported(n, s, true, 4);
                  }})
        .pattern({"aten::scatter_add(Tensor self, int dim, Tensor index, Tensor src) -> Tensor",
                  scatter<false, -1, ScatterReduction::kSUM>},
                 {.validator = [](const ir::Node& n, const CompilationSettings& s) {
                    return scatterSupported(n, s, false, -1);
                  }})
        .pattern({"aten::scatter_reduce.two(Tensor self, int dim, Tensor index, Tensor src, str reduce, *, "
                  "bool include_self=True) -> Tensor",
                  scatterReduce},
                 {.validator = scatterReduceSupported})
        .pattern({"aten::masked_fill.Scalar(Tensor self, Tensor mask, Scalar value) -> Tensor", maskedFill<false>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) {
                    return maskedFillSupported(n, false);
                  }})
        .pattern({"aten::masked_fill.Tensor(Tensor self, Tensor mask, Tensor value) -> Tensor", maskedFill<true>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) {
                    return maskedFillSupported(n, true);
                  }})
        .pattern({"aten::one_hot(Tensor self, int num_classes=-1) -> Tensor", oneHot},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) {
                    const std::optional<int64_t> classes = checks::intArg(n, 1);
                    return indexArg(n, 0) && classes && *classes >= 1;
                  }})
        .pattern({"aten::index.Tensor(Tensor self, Tensor?[] indices) -> Tensor", index},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return indicesSupported(n, false); }})
        .pattern({"aten::index_put(Tensor self, Tensor?[] indices, Tensor values, bool accumulate=False) -> Tensor",
                  indexPut},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) {
                    const ir::Constant* acc = impl::constantArg(n, 3);
                    return indicesSupported(n, true) && impl::tensorMetaArg(n, 2) != nullptr && acc != nullptr &&
                           acc->isBool();
                  }});

}  // namespace
}  // namespace conversion
}  // namespace kiln
