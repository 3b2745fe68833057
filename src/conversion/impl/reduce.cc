// Reductions over dims: sum, mean, amax/amin, prod, any/all; top-k and arg extrema; variance and norms;
// cumulative sums and products; logsumexp.
#include <cmath>
#include <limits>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {
namespace {

StatusOr<uint32_t> axesMask(const Site& site, const std::vector<int64_t>& dims, int32_t rank) {
  if (dims.empty()) return rank == 0 ? 0u : static_cast<uint32_t>((uint64_t{1} << rank) - 1);
  uint32_t mask = 0;
  for (int64_t dim : dims) {
    KILN_ASSIGN_OR_RETURN(int32_t d, normalizeDim(site, dim, rank));
    if (rank == 0) continue;
    if (mask & (1u << d)) return site.error("dim " + std::to_string(d) + " appears more than once in the reduction");
    mask |= 1u << d;
  }
  return mask;
}

}  // namespace

StatusOr<ITensor*> reduce(ConversionCtx& ctx, const Site& site, ITensor* x, ReduceOperation op,
                          const std::vector<int64_t>& dims, bool keepDim) {
  const int32_t rank = x->getDimensions().nbDims;
  const DataType type = x->getType();
  KILN_ASSIGN_OR_RETURN(uint32_t mask, axesMask(site, dims, rank));
  DataType computeType = type;
  DataType resultType = type;
  switch (op) {
    case ReduceOperation::kSUM:
    case ReduceOperation::kPROD:
      // torch.sum/prod of bool and integer tensors accumulate in int64.
      if (categoryOf(type) != TypeCategory::kFLOAT) computeType = resultType = DataType::kINT64;
      break;
    case ReduceOperation::kAVG:
      if (categoryOf(type) != TypeCategory::kFLOAT) {
        return site.error(std::string("mean of ") + dataTypeName(type) +
                          " tensors is not defined (PyTorch asks for a float dtype too)");
      }
      break;
    case ReduceOperation::kMAX:
    case ReduceOperation::kMIN:
      // The engine reduces numbers only: bool max/min is computed on 0/1.
      if (type == DataType::kBOOL) computeType = DataType::kINT32;
      break;
  }
  KILN_ASSIGN_OR_RETURN(ITensor * in, castTo(ctx, site.sub("in"), x, computeType));
  if (rank == 0 || mask == 0) {
    KILN_ASSIGN_OR_RETURN(ITensor * out, castTo(ctx, site.sub("out"), in, resultType));
    return out == x ? identity(ctx, site, x) : out;
  }
  KILN_ASSIGN_OR_RETURN(ITensor * reduced, outputOf(ctx, site, ctx.net->addReduce(*in, op, mask, keepDim)));
  return castTo(ctx, site.sub("out"), reduced, resultType);
}

StatusOr<ITensor*> any(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims,
                       bool keepDim) {
  KILN_ASSIGN_OR_RETURN(ITensor * nonzero, castTo(ctx, site.sub("bool"), x, DataType::kBOOL));
  KILN_ASSIGN_OR_RETURN(ITensor * asInt, castTo(ctx, site.sub("int"), nonzero, DataType::kINT32));
  KILN_ASSIGN_OR_RETURN(ITensor * max, reduce(ctx, site.sub("max"), asInt, ReduceOperation::kMAX, dims, keepDim));
  return castTo(ctx, site, max, DataType::kBOOL);
}

StatusOr<ITensor*> all(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims,
                       bool keepDim) {
  KILN_ASSIGN_OR_RETURN(ITensor * nonzero, castTo(ctx, site.sub("bool"), x, DataType::kBOOL));
  KILN_ASSIGN_OR_RETURN(ITensor * asInt, castTo(ctx, site.sub("int"), nonzero, DataType::kINT32));
  KILN_ASSIGN_OR_RETURN(ITensor * min, reduce(ctx, site.sub("min"), asInt, ReduceOperation::kMIN, dims, keepDim));
  return castTo(ctx, site, min, DataType::kBOOL);
}

namespace {

// Top-k takes float, int32 and int64 data; narrower integers and bools go through int32 (exact).
bool topKNative(DataType type) {
  return categoryOf(type) == TypeCategory::kFLOAT || type == DataType::kINT32 || type == DataType::kINT64;
}

// Half-precision statistics accumulate in float32 as PyTorch's kernels do; the result is cast back.
DataType accumulationType(DataType type) {
  return type == DataType::kHALF || type == DataType::kBF16 ? DataType::kFLOAT : type;
}

StatusOr<std::vector<int32_t>> reducedDims(const Site& site, const std::vector<int64_t>& dims, int32_t rank) {
  std::vector<int32_t> out;
  if (dims.empty()) {
    for (int32_t i = 0; i < rank; ++i) out.push_back(i);
    return out;
  }
  for (int64_t d : dims) {
    KILN_ASSIGN_OR_RETURN(int32_t n, normalizeDim(site, d, rank));
    if (rank > 0) out.push_back(n);
  }
  return out;
}

// Elements per reduction as a tensor of `type` broadcastable against the keepdim result: a constant when the
// reduced extents are static, otherwise a sum of ones (the engine has no product of shape entries as data).
StatusOr<ITensor*> reducedCount(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims,
                                DataType type, double minus) {
  const Dims d = x->getDimensions();
  KILN_ASSIGN_OR_RETURN(std::vector<int32_t> axes, reducedDims(site, dims, d.nbDims));
  double count = 1;
  bool known = true;
  for (int32_t a : axes) {
    if (d.d[a] < 0) known = false;
    count *= static_cast<double>(std::max<int64_t>(d.d[a], 0));
  }
  if (known) {
    ITensor* c = ctx.addScalar(std::max(count - minus, 0.0), type, d.nbDims, site.layerName("Constant"));
    if (c == nullptr) return ctx.status().withContext(site.describe());
    return c;
  }
  KILN_ASSIGN_OR_RETURN(ITensor * ones, fullLike(ctx, site.sub("ones"), x, 1.0, DataType::kFLOAT));
  KILN_ASSIGN_OR_RETURN(ITensor * n, reduce(ctx, site.sub("count"), ones, ReduceOperation::kSUM, dims, true));
  if (minus != 0.0) {
    KILN_ASSIGN_OR_RETURN(n, elementwise(ctx, site.sub("correct"), Operand::of(n),
                                         Operand::of(ir::Constant::fromDouble(minus)), ElementWiseOperation::kSUB));
    KILN_ASSIGN_OR_RETURN(n, elementwise(ctx, site.sub("clamp"), Operand::of(n),
                                         Operand::of(ir::Constant::fromDouble(0.0)), ElementWiseOperation::kMAX));
  }
  return castTo(ctx, site.sub("type"), n, type);
}

}  // namespace

StatusOr<TopK> topk(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t k, int64_t dim, bool largest) {
  const int32_t rank = x->getDimensions().nbDims;
  KILN_ASSIGN_OR_RETURN(int32_t axis, normalizeDim(site, dim, rank));
  ITensor* in = x;
  if (rank == 0) {  // a 0-D tensor behaves as one element along dim 0
    KILN_ASSIGN_OR_RETURN(in, unsqueeze(ctx, site.sub("1d"), x, 0));
  }
  const int64_t extent = in->getDimensions().d[axis];
  if (k < 0 || (extent >= 0 && k > extent)) {
    return site.error("k = " + std::to_string(k) + " is out of range for dim " + std::to_string(axis) + " of extent " +
                      std::to_string(extent));
  }
  const DataType type = x->getType();
  if (!topKNative(type)) {
    KILN_ASSIGN_OR_RETURN(in, castTo(ctx, site.sub("int"), in, DataType::kINT32));
  }
  KILN_ASSIGN_OR_RETURN(ITopKLayer * layer,
                        added(ctx, site,
                              ctx.net->addTopK(*in, largest ? TopKOperation::kMAX : TopKOperation::kMIN,
                                               static_cast<int32_t>(k), 1u << axis)));
  layer->setIndicesType(DataType::kINT64);
  TopK out{layer->getOutput(0), layer->getOutput(1)};
  KILN_ASSIGN_OR_RETURN(out.values, castTo(ctx, site.sub("values"), out.values, type));
  if (rank == 0) {
    KILN_ASSIGN_OR_RETURN(out.values, squeeze(ctx, site.sub("values0d"), out.values, {0}));
    KILN_ASSIGN_OR_RETURN(out.indices, squeeze(ctx, site.sub("indices0d"), out.indices, {0}));
  }
  return out;
}

StatusOr<TopK> extremumAlong(ConversionCtx& ctx, const Site& site, ITensor* x, std::optional<int64_t> dim, bool keepDim,
                             bool largest) {
  const int32_t rank = x->getDimensions().nbDims;
  if (dim.has_value()) {
    KILN_ASSIGN_OR_RETURN(int32_t axis, normalizeDim(site, *dim, rank));
    KILN_ASSIGN_OR_RETURN(TopK out, topk(ctx, site, x, 1, axis, largest));
    if (!keepDim && rank > 0) {
      KILN_ASSIGN_OR_RETURN(out.values, squeeze(ctx, site.sub("values"), out.values, {axis}));
      KILN_ASSIGN_OR_RETURN(out.indices, squeeze(ctx, site.sub("indices"), out.indices, {axis}));
    }
    return out;
  }
  // Over every element: the index is into the flattened tensor.
  KILN_ASSIGN_OR_RETURN(ITensor * flat, reshape(ctx, site.sub("flat"), x, {ShapeItem::number(-1)}));
  KILN_ASSIGN_OR_RETURN(TopK out, topk(ctx, site, flat, 1, 0, largest));
  std::vector<ShapeItem> shape;
  if (keepDim) shape.assign(static_cast<size_t>(rank), ShapeItem::number(1));
  KILN_ASSIGN_OR_RETURN(out.values, reshape(ctx, site.sub("values"), out.values, shape));
  KILN_ASSIGN_OR_RETURN(out.indices, reshape(ctx, site.sub("indices"), out.indices, shape));
  return out;
}

StatusOr<Moments> moments(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims,
                          double correction, bool keepDim) {
  const DataType type = x->getType();
  if (categoryOf(type) != TypeCategory::kFLOAT) {
    return site.error(std::string("variance of ") + dataTypeName(type) + " tensors is not defined; cast to float");
  }
  const DataType acc = accumulationType(type);
  KILN_ASSIGN_OR_RETURN(ITensor * in, castTo(ctx, site.sub("acc"), x, acc));
  KILN_ASSIGN_OR_RETURN(ITensor * mean, reduce(ctx, site.sub("mean"), in, ReduceOperation::kAVG, dims, true));
  KILN_ASSIGN_OR_RETURN(ITensor * centered,
                        elementwiseSameType(ctx, site.sub("center"), in, mean, ElementWiseOperation::kSUB));
  KILN_ASSIGN_OR_RETURN(ITensor * square,
                        elementwiseSameType(ctx, site.sub("square"), centered, centered, ElementWiseOperation::kPROD));
  KILN_ASSIGN_OR_RETURN(ITensor * sum, reduce(ctx, site.sub("sum"), square, ReduceOperation::kSUM, dims, true));
  KILN_ASSIGN_OR_RETURN(ITensor * denominator, reducedCount(ctx, site.sub("n"), in, dims, acc, correction));
  KILN_ASSIGN_OR_RETURN(ITensor * var,
                        elementwiseSameType(ctx, site.sub("var"), sum, denominator, ElementWiseOperation::kDIV));
  if (!keepDim) {
    const int32_t rank = x->getDimensions().nbDims;
    KILN_ASSIGN_OR_RETURN(std::vector<int32_t> axes, reducedDims(site, dims, rank));
    std::vector<int64_t> squeezed(axes.begin(), axes.end());
    if (!squeezed.empty()) {
      KILN_ASSIGN_OR_RETURN(var, squeeze(ctx, site.sub("var.squeeze"), var, squeezed));
      KILN_ASSIGN_OR_RETURN(mean, squeeze(ctx, site.sub("mean.squeeze"), mean, squeezed));
    }
  }
  Moments out;
  KILN_ASSIGN_OR_RETURN(out.var, castTo(ctx, site.sub("var.out"), var, type));
  KILN_ASSIGN_OR_RETURN(out.mean, castTo(ctx, site.sub("mean.out"), mean, type));
  return out;
}

StatusOr<ITensor*> vectorNorm(ConversionCtx& ctx, const Site& site, ITensor* x, double ord,
                              const std::vector<int64_t>& dims, bool keepDim) {
  const DataType type = x->getType();
  if (categoryOf(type) != TypeCategory::kFLOAT) {
    return site.error(std::string("the norm of ") + dataTypeName(type) + " tensors is not defined; cast to float");
  }
  const DataType acc = accumulationType(type);
  KILN_ASSIGN_OR_RETURN(ITensor * in, castTo(ctx, site.sub("acc"), x, acc));
  ITensor* out = nullptr;
  if (ord == 0.0) {  // the number of non-zero elements
    KILN_ASSIGN_OR_RETURN(ITensor * nonzero, castTo(ctx, site.sub("nonzero"), in, DataType::kBOOL));
    KILN_ASSIGN_OR_RETURN(ITensor * counted, castTo(ctx, site.sub("count"), nonzero, acc));
    KILN_ASSIGN_OR_RETURN(out, reduce(ctx, site.sub("sum"), counted, ReduceOperation::kSUM, dims, keepDim));
  } else {
    KILN_ASSIGN_OR_RETURN(ITensor * magnitude, unary(ctx, site.sub("abs"), in, UnaryOperation::kABS));
    if (std::isinf(ord)) {
      const ReduceOperation op = ord > 0 ? ReduceOperation::kMAX : ReduceOperation::kMIN;
      KILN_ASSIGN_OR_RETURN(out, reduce(ctx, site.sub("extremum"), magnitude, op, dims, keepDim));
    } else if (ord == 1.0) {
      KILN_ASSIGN_OR_RETURN(out, reduce(ctx, site.sub("sum"), magnitude, ReduceOperation::kSUM, dims, keepDim));
    } else if (ord == 2.0) {
      KILN_ASSIGN_OR_RETURN(ITensor * square, elementwiseSameType(ctx, site.sub("square"), magnitude, magnitude,
                                                                  ElementWiseOperation::kPROD));
      KILN_ASSIGN_OR_RETURN(ITensor * sum, reduce(ctx, site.sub("sum"), square, ReduceOperation::kSUM, dims, keepDim));
      KILN_ASSIGN_OR_RETURN(out, unary(ctx, site.sub("sqrt"), sum, UnaryOperation::kSQRT));
    } else {
      KILN_ASSIGN_OR_RETURN(ITensor * powered, power(ctx, site.sub("pow"), Operand::of(magnitude),
                                                     Operand::of(ir::Constant::fromDouble(ord))));
      KILN_ASSIGN_OR_RETURN(ITensor * sum, reduce(ctx, site.sub("sum"), powered, ReduceOperation::kSUM, dims, keepDim));
      KILN_ASSIGN_OR_RETURN(
          out, power(ctx, site.sub("root"), Operand::of(sum), Operand::of(ir::Constant::fromDouble(1.0 / ord))));
    }
  }
  return castTo(ctx, site, out, type);
}

StatusOr<ITensor*> cumulative(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim, CumulativeOperation op) {
  const int32_t rank = x->getDimensions().nbDims;
  KILN_ASSIGN_OR_RETURN(int32_t axis, normalizeDim(site, dim, rank));
  // torch.cumsum/cumprod of bool and integer tensors accumulate in int64.
  const DataType type = categoryOf(x->getType()) == TypeCategory::kFLOAT ? x->getType() : DataType::kINT64;
  KILN_ASSIGN_OR_RETURN(ITensor * in, castTo(ctx, site.sub("in"), x, type));
  if (rank == 0) return in == x ? identity(ctx, site, x) : in;
  return outputOf(ctx, site, ctx.net->addCumulative(*in, axis, op, /*exclusive=*/false, /*reverse=*/false));
}

StatusOr<ITensor*> logSumExp(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims,
                             bool keepDim) {
  KILN_ASSIGN_OR_RETURN(ITensor * in, toFloatIfIntegral(ctx, site.sub("float"), x));
  const int32_t rank = in->getDimensions().nbDims;
  KILN_ASSIGN_OR_RETURN(ITensor * max, reduce(ctx, site.sub("max"), in, ReduceOperation::kMAX, dims, true));
  // An infinite maximum would give inf - inf = NaN: shift by 0 there instead, as PyTorch does.
  KILN_ASSIGN_OR_RETURN(ITensor * infinite, unary(ctx, site.sub("isinf"), max, UnaryOperation::kISINF));
  KILN_ASSIGN_OR_RETURN(ITensor * shift, where(ctx, site.sub("shift"), infinite,
                                               Operand::of(ir::Constant::fromDouble(0.0)), Operand::of(max)));
  KILN_ASSIGN_OR_RETURN(ITensor * shifted,
                        elementwiseSameType(ctx, site.sub("sub"), in, shift, ElementWiseOperation::kSUB));
  KILN_ASSIGN_OR_RETURN(ITensor * e, unary(ctx, site.sub("exp"), shifted, UnaryOperation::kEXP));
  KILN_ASSIGN_OR_RETURN(ITensor * sum, reduce(ctx, site.sub("sum"), e, ReduceOperation::kSUM, dims, keepDim));
  KILN_ASSIGN_OR_RETURN(ITensor * log, unary(ctx, site.sub("log"), sum, UnaryOperation::kLOG));
  if (!keepDim) {
    KILN_ASSIGN_OR_RETURN(std::vector<int32_t> axes, reducedDims(site, dims, rank));
    std::vector<int64_t> squeezed(axes.begin(), axes.end());
    if (!squeezed.empty()) {
      KILN_ASSIGN_OR_RETURN(shift, squeeze(ctx, site.sub("shift.squeeze"), shift, squeezed));
    }
  }
  return elementwiseSameType(ctx, site, log, shift, ElementWiseOperation::kSUM);
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
