// Embedding lookup: rows of the weight table gathered by index.
#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {

StatusOr<ITensor*> embedding(ConversionCtx& ctx, const Site& site, ITensor* weight, ITensor* indices) {
  const DataType indexType = indices->getType();
  if (indexType != DataType::kINT32 && indexType != DataType::kINT64) {
    return site.error(std::string("embedding indices must be int32 or int64, got ") + dataTypeName(indexType));
  }
  const int32_t rank = weight->getDimensions().nbDims;
  if (rank != 2) return site.error("the embedding weight must be 2-D, got rank " + std::to_string(rank));
  // padding_idx only changes gradients: inference reads its row like any other.
  return outputOf(ctx, site, ctx.net->addGather(*weight, *indices, 0));
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
