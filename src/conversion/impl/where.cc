// torch.where(condition, a, b) with type promotion of a and b (either may be a number).
#include <algorithm>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {

StatusOr<ITensor*> where(ConversionCtx& ctx, const Site& site, ITensor* condition, const Operand& a, const Operand& b) {
  KILN_ASSIGN_OR_RETURN(DataType type, resultType({a, b}));
  int32_t rank = condition->getDimensions().nbDims;
  if (a.isTensor()) rank = std::max(rank, a.tensor->getDimensions().nbDims);
  if (b.isTensor()) rank = std::max(rank, b.tensor->getDimensions().nbDims);
  KILN_ASSIGN_OR_RETURN(ITensor * cond, castTo(ctx, site.sub("condition"), condition, DataType::kBOOL));
  KILN_ASSIGN_OR_RETURN(ITensor * ta, materialize(ctx, site.sub("self"), a, type, rank));
  KILN_ASSIGN_OR_RETURN(ITensor * tb, materialize(ctx, site.sub("other"), b, type, rank));
  return outputOf(ctx, site, ctx.net->addSelect(*cond, *ta, *tb));
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
