// Scaled dot-product attention on the engine's fused attention layer.
#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {

StatusOr<ITensor*> scaledDotProductAttention(ConversionCtx& ctx, const Site& site, ITensor* q, ITensor* k, ITensor* v,
                                             ITensor* mask, bool causal, std::optional<double> scale) {
  const DataType type = q->getType();
  if (categoryOf(type) != TypeCategory::kFLOAT || k->getType() != type || v->getType() != type) {
    return site.error(std::string("query, key and value must share one float type, got ") + dataTypeName(type) + ", " +
                      dataTypeName(k->getType()) + ", " + dataTypeName(v->getType()));
  }
  const int32_t rank = q->getDimensions().nbDims;
  if (rank < 3 || k->getDimensions().nbDims != rank || v->getDimensions().nbDims != rank) {
    return site.error("query, key and value must share one rank >= 3 ([batch..., heads, seq, dim])");
  }
  // The layer reads a scale of 0 as "1/sqrt(E)"; an explicit 0 (all scores 0) is not representable.
  if (scale.has_value() && *scale == 0.0) return site.error("scale=0 is not supported");
  KILN_ASSIGN_OR_RETURN(IAttentionLayer * layer, added(ctx, site, ctx.net->addAttention(*q, *k, *v)));
  layer->setCausal(causal);
  if (scale.has_value()) layer->setScale(static_cast<float>(*scale));
  if (mask != nullptr) {
    ITensor* m = mask;
    // A float mask is additive in the query's type; bool masks pass as they are.
    if (mask->getType() != DataType::kBOOL) {
      KILN_ASSIGN_OR_RETURN(m, castTo(ctx, site.sub("mask"), mask, type));
    }
    layer->setInput(3, *m);
  }
  return layer->getOutput(0);
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
