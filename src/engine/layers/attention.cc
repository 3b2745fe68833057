// Scaled dot-product attention: out = softmax(scale * Q K^T + mask) V over [batch..., H, S, E] tensors.
//
// Leading batch dims of Q, K, V broadcast (numpy rules, like the matmuls of PyTorch's math backend); K and V
// share their heads and sequence length; Hq is a multiple of Hk (grouped-query attention: query head h reads
// key/value head h / (Hq / Hk), like PyTorch's enable_gqa repeat_interleave). Input 3, the optional mask, is
// bool (true = attend) or float (added to the scores) and broadcasts to [batch..., Hq, Sq, Sk].
// The builder may give Q, K, V and the output strided views (attention_view.h).
#include <cmath>

#include "engine/layer_kinds.h"
#include "engine/layers/attention_view.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

Dims leadingDims(const Dims& dims, int32_t count) {
  Dims out = makeDims(count, 1);
  for (int32_t i = 0; i < count; ++i) out.d[i] = dims.d[i];
  return out;
}

Status checkMask(const ShapeInput& mask, const Dims& scores) {
  if (mask.type != DataType::kBOOL && !isFloatType(mask.type)) {
    return invalidArgument(std::string("the attention mask must be bool or a float type, got ") +
                           dataTypeName(mask.type));
  }
  if (mask.dims.nbDims > scores.nbDims) {
    return invalidArgument("the attention mask " + dimsToString(mask.dims) + " has a higher rank than the scores " +
                           dimsToString(scores));
  }
  // Each mask extent is 1 or the score extent: the mask broadcasts to the scores, never the other way.
  const int32_t shift = scores.nbDims - mask.dims.nbDims;
  for (int32_t i = 0; i < mask.dims.nbDims; ++i) {
    const int64_t m = mask.dims.d[i];
    const int64_t s = scores.d[i + shift];
    if (m != 1 && !extentsCompatible(m, s)) {
      return invalidArgument("the attention mask " + dimsToString(mask.dims) + " does not broadcast to the scores " +
                             dimsToString(scores));
    }
  }
  return Status::ok();
}

}  // namespace

Status inferAttentionShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                            std::vector<ShapeOutput>& outputs) {
  // Q, K and V as the layer computes with them: through their views when the builder gave them some.
  ShapeInput logical[3];
  for (int32_t i = 0; i < 3; ++i) {
    logical[i] = inputs[static_cast<size_t>(i)];
    KILN_ASSIGN_OR_RETURN(const AttentionOperand view, attentionInputOperand(layer.attrs, i, logical[i].dims));
    logical[i].dims = view.dims;
  }
  const ShapeInput& q = logical[0];
  const ShapeInput& k = logical[1];
  const ShapeInput& v = logical[2];
  if (!isFloatType(q.type) || k.type != q.type || v.type != q.type) {
    return invalidArgument(std::string("query, key and value must share one float type, got ") + dataTypeName(q.type) +
                           ", " + dataTypeName(k.type) + ", " + dataTypeName(v.type));
  }
  const int32_t rank = q.dims.nbDims;
  if (rank < 3 || k.dims.nbDims != rank || v.dims.nbDims != rank) {
    return invalidArgument("query, key and value must have one rank >= 3 ([batch..., heads, seq, dim]), got " +
                           dimsToString(q.dims) + ", " + dimsToString(k.dims) + ", " + dimsToString(v.dims));
  }
  const double scale = layer.attrs.getFloat("scale", 0.0);
  if (!std::isfinite(scale)) return invalidArgument("the attention scale is not finite");
  const int64_t causal = layer.attrs.getInt("causal", 0);
  if (causal != 0 && causal != 1) return invalidArgument("invalid causal flag " + std::to_string(causal));

  const int32_t batchRank = rank - 3;
  KILN_ASSIGN_OR_RETURN(Dims batch, broadcastShapes(leadingDims(q.dims, batchRank), leadingDims(k.dims, batchRank)));
  KILN_ASSIGN_OR_RETURN(batch, broadcastShapes(batch, leadingDims(v.dims, batchRank)));
  const int64_t hq = q.dims.d[rank - 3], sq = q.dims.d[rank - 2], e = q.dims.d[rank - 1];
  const int64_t hk = k.dims.d[rank - 3], sk = k.dims.d[rank - 2], ek = k.dims.d[rank - 1];
  const int64_t hv = v.dims.d[rank - 3], sv = v.dims.d[rank - 2], ev = v.dims.d[rank - 1];
  if (!extentsCompatible(e, ek)) {
    return invalidArgument("query and key embedding sizes differ: " + dimsToString(q.dims) + " vs " +
                           dimsToString(k.dims));
  }
  if (!extentsCompatible(hk, hv) || !extentsCompatible(sk, sv)) {
    return invalidArgument("key " + dimsToString(k.dims) + " and value " + dimsToString(v.dims) +
                           " must have the same heads and sequence length");
  }
  const int64_t kvHeads = hk >= 0 ? hk : hv;
  if (hq >= 0 && kvHeads >= 0) {
    if (kvHeads == 0 ? hq != 0 : hq % kvHeads != 0) {
      return invalidArgument("query heads (" + std::to_string(hq) + ") must be a multiple of key/value heads (" +
                             std::to_string(kvHeads) + ")");
    }
  }
  Dims out = makeDims(rank, -1);
  for (int32_t i = 0; i < batchRank; ++i) out.d[i] = batch.d[i];
  out.d[rank - 3] = hq;
  out.d[rank - 2] = sq;
  out.d[rank - 1] = ev;
  if (inputs.size() > 3 && inputs[3].present) {
    Dims scores = out;
    scores.d[rank - 1] = sk >= 0 ? sk : sv;
    KILN_RETURN_IF_ERROR(checkMask(inputs[3], scores));
  }
  KILN_RETURN_IF_ERROR(checkedVolume(out).status());
  if (hasAttentionOutputView(layer.attrs)) {
    // Written through a view: the output tensor has the view's physical dims.
    KILN_RETURN_IF_ERROR(attentionOutputOperand(layer.attrs, out).status());
    out = layer.attrs.getDims(kAttentionOutputDimsKey);
  }
  outputs[0] = {out, q.type};
  return Status::ok();
}

IAttentionLayer* NetworkDefinition::addAttention(ITensor& query, ITensor& key, ITensor& value) {
  if (!impl_->ownsTensor(&query, "addAttention query") || !impl_->ownsTensor(&key, "addAttention key") ||
      !impl_->ownsTensor(&value, "addAttention value")) {
    return nullptr;
  }
  Attributes attrs;
  attrs.setInt("causal", 0);
  attrs.setFloat("scale", 0.0);  // 0: 1/sqrt(E)
  return impl_->addLayer<IAttentionLayer>(LayerType::kATTENTION, {&query, &key, &value}, std::move(attrs));
}

void IAttentionLayer::setCausal(bool causal) {
  attrsOf(this).setInt("causal", causal ? 1 : 0);
  touch(this);
}
bool IAttentionLayer::getCausal() const { return attrsOf(this).getInt("causal") != 0; }
void IAttentionLayer::setScale(float scale) {
  if (!std::isfinite(scale)) {
    data().network->impl().recordError(
        invalidArgument(std::string("attention layer '") + getName() + "': setScale: the scale must be finite"));
    return;
  }
  attrsOf(this).setFloat("scale", scale);
  touch(this);
}
float IAttentionLayer::getScale() const { return static_cast<float>(attrsOf(this).getFloat("scale")); }

}  // namespace kiln
