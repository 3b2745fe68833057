// ATen scaled dot-product attention and its backend-specific overloads (only output 0 is computed: the
// log-sum-exp, RNG state and debug outputs must be unused, which the validators check).
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

struct AttentionArgs {
  size_t mask = SIZE_MAX;  // index of the mask argument, SIZE_MAX when the overload has none
  size_t causal;
  size_t scale;
};

Status attention(ConversionCtx& ctx, const ir::Node& node, Args& args, const AttentionArgs& where) {
  KILN_ASSIGN_OR_RETURN(ITensor * q, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * k, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * v, args[2].asTensor());
  ITensor* mask = nullptr;
  if (where.mask != SIZE_MAX && !args[where.mask].isNone()) {
    KILN_ASSIGN_OR_RETURN(mask, args[where.mask].asTensor());
  }
  KILN_ASSIGN_OR_RETURN(bool causal, args[where.causal].asBool());
  std::optional<double> scale;
  if (!args[where.scale].isNone()) {
    KILN_ASSIGN_OR_RETURN(scale, args[where.scale].asDouble());
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::scaledDotProductAttention(ctx, node, q, k, v, mask, causal, scale));
  KILN_RETURN_IF_ERROR(impl::setOutput(ctx, node, 0, out, args));
  impl::setUnusedOutputs(ctx, node, 1);
  return Status::ok();
}

// sdpa(q, k, v, attn_mask, dropout_p, is_causal, *, scale, enable_gqa)
constexpr AttentionArgs kSdpa{3, 5, 6};
// _scaled_dot_product_efficient_attention(q, k, v, attn_bias, compute_log_sumexp, dropout_p, is_causal, *, scale)
constexpr AttentionArgs kEfficient{3, 6, 7};
// _scaled_dot_product_flash_attention(q, k, v, dropout_p, is_causal, return_debug_mask, *, scale)
constexpr AttentionArgs kFlash{SIZE_MAX, 4, 6};
// _scaled_dot_product_cudnn_attention(q, k, v, attn_bias, compute_log_sumexp, dropout_p, is_causal,
//                                     return_debug_mask, *, scale)
constexpr AttentionArgs kCudnn{3, 6, 8};
// _scaled_dot_product_flash_attention_for_cpu(q, k, v, dropout_p, is_causal, *, attn_mask, scale)
constexpr AttentionArgs kFlashCpu{5, 4, 6};

template <const AttentionArgs& kWhere>
Status attentionOf(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  return attention(ctx, node, args, kWhere);
}

// No dropout, float q/k/v of one rank >= 3, a constant causal flag and scale != 0, and only output 0 read.
bool supported(const ir::Node& node, size_t dropoutIndex, const AttentionArgs& where) {
  const ir::Constant* dropout = impl::constantArg(node, dropoutIndex);
  if (dropout == nullptr || !dropout->isNumber() || dropout->toDouble().value() != 0.0) return false;
  const ir::Constant* causal = impl::constantArg(node, where.causal);
  const ir::Constant* scale = impl::constantArg(node, where.scale);
  if (causal == nullptr || !causal->isBool() || scale == nullptr) return false;
  if (!scale->isNone() && (!scale->isNumber() || scale->toDouble().value() == 0.0)) return false;
  const ir::TensorMeta* q = impl::tensorMetaArg(node, 0);
  if (q == nullptr || impl::categoryOf(q->dtype) != impl::TypeCategory::kFLOAT || q->shape.size() < 3) return false;
  for (size_t i : {size_t{1}, size_t{2}}) {
    const ir::TensorMeta* t = impl::tensorMetaArg(node, i);
    if (t == nullptr || t->dtype != q->dtype || t->shape.size() != q->shape.size()) return false;
  }
  if (where.mask != SIZE_MAX) {
    const ir::Arg& mask = node.args()[where.mask];
    if (!(mask.isConstant() && mask.constant.isNone())) {
      const ir::TensorMeta* m = impl::tensorMetaArg(node, where.mask);
      if (m == nullptr || !(m->dtype == DataType::kBOOL || impl::categoryOf(m->dtype) == impl::TypeCategory::kFLOAT)) {
        return false;
      }
    }
  }
  for (size_t i = 1; i < node.outputs().size(); ++i) {
    if (!impl::outputUnused(node, i)) return false;
  }
  return true;
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_mask=None, "
                  "float dropout_p=0., bool is_causal=False, *, float? scale=None, bool enable_gqa=False) -> Tensor",
                  attentionOf<kSdpa>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return supported(n, 4, kSdpa); }})
        .pattern(
            {"aten::_scaled_dot_product_efficient_attention(Tensor query, Tensor key, Tensor value, "
             "Tensor? attn_bias, bool compute_log_sumexp, float dropout_p=0., bool is_causal=False, *, "
             "float? scale=None) -> (Tensor output, Tensor log_sumexp, Tensor philox_seed, Tensor philox_offset)",
             attentionOf<kEfficient>},
            {.validator = [](const ir::Node& n, const CompilationSettings&) { return supported(n, 5, kEfficient); }})
        .pattern({"aten::_scaled_dot_product_flash_attention(Tensor query, Tensor key, Tensor value, "
                  "float dropout_p=0., bool is_causal=False, bool return_debug_mask=False, *, float? scale=None) -> "
                  "(Tensor output, Tensor logsumexp, Tensor cum_seq_q, Tensor cum_seq_k, SymInt max_q, SymInt max_k, "
                  "Tensor rng_state, Tensor unused, Tensor debug_attn_mask)",
                  attentionOf<kFlash>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return supported(n, 3, kFlash); }})
        .pattern({"aten::_scaled_dot_product_cudnn_attention(Tensor query, Tensor key, Tensor value, "
                  "Tensor? attn_bias, bool compute_log_sumexp, float dropout_p=0., bool is_causal=False, "
                  "bool return_debug_mask=False, *, float? scale=None) -> (Tensor output, Tensor logsumexp, "
                  "Tensor cum_seq_q, Tensor cum_seq_k, SymInt max_q, SymInt max_k, Tensor philox_seed, "
                  "Tensor philox_offset, Tensor debug_attn_mask)",
                  attentionOf<kCudnn>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return supported(n, 5, kCudnn); }})
        .pattern(
            {"aten::_scaled_dot_product_flash_attention_for_cpu(Tensor query, Tensor key, Tensor value, "
             "float dropout_p=0., bool is_causal=False, *, Tensor? attn_mask=None, float? scale=None) -> "
             "(Tensor output, Tensor logsumexp)",
             attentionOf<kFlashCpu>},
            {.validator = [](const ir::Node& n, const CompilationSettings&) { return supported(n, 3, kFlashCpu); }});

}  // namespace
}  // namespace conversion
}  // namespace kiln
