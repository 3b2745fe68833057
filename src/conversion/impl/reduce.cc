// Reductions over dims: sum, mean, amax/amin, prod, any.
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

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
