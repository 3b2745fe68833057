#include "engine/layers/attention_view.h"

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include "engine/layers/shape_utils.h"

namespace kiln {
namespace {

bool isStatic(const Dims& d) {
  for (int32_t i = 0; i < d.nbDims; ++i) {
    if (d.d[i] < 0) return false;
  }
  return d.nbDims >= 0;
}

AttentionOperand contiguous(const Dims& dims) {
  AttentionOperand v;
  v.dims = dims;
  int64_t stride = 1;
  for (int32_t i = dims.nbDims - 1; i >= 0; --i) {
    v.strides[i] = stride;
    stride *= std::max<int64_t>(dims.d[i], 1);
  }
  return v;
}

// The largest element offset the view reaches (-1 when it is empty), or an error for negative strides or
// extents and for a stride-1 innermost dim that is missing.
StatusOr<int64_t> lastOffset(const AttentionOperand& v, const std::string& what) {
  if (v.offset < 0) return invalidArgument(what + " has a negative offset");
  int64_t last = v.offset;
  for (int32_t i = 0; i < v.dims.nbDims; ++i) {
    if (v.dims.d[i] < 0 || v.strides[i] < 0) return invalidArgument(what + " has a negative extent or stride");
    if (v.dims.d[i] == 0) return int64_t{-1};
    if (v.dims.d[i] > 1 && v.strides[i] > (int64_t{1} << 48) / v.dims.d[i]) {
      return invalidArgument(what + " has strides beyond any tensor");
    }
    last += (v.dims.d[i] - 1) * v.strides[i];
  }
  const int32_t inner = v.dims.nbDims - 1;
  if (inner >= 0 && v.dims.d[inner] > 1 && v.strides[inner] != 1) {
    return invalidArgument(what + " must read its innermost dim contiguously");
  }
  return last;
}

// Whether no two elements of the view share an offset: sorted by stride, each stride must step over the
// whole extent of the dims below it.
bool injective(const AttentionOperand& v) {
  std::vector<int32_t> order;
  for (int32_t i = 0; i < v.dims.nbDims; ++i) {
    if (v.dims.d[i] > 1) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return v.strides[a] < v.strides[b]; });
  int64_t span = 1;
  for (int32_t i : order) {
    if (v.strides[i] < span) return false;
    span = v.strides[i] * v.dims.d[i];
  }
  return true;
}

}  // namespace

StatusOr<AttentionOperand> attentionInputOperand(const Attributes& attrs, int32_t index, const Dims& physical) {
  const char* key = kAttentionInputViewKeys[index];
  if (!attrs.has(key)) return contiguous(physical);
  const std::vector<int64_t> stored = attrs.getInts(key);
  const std::string what = std::string("the attention's ") + key;
  if (stored.size() < 7 || (stored.size() - 1) % 2 != 0 || (stored.size() - 1) / 2 > Dims::kMAX_DIMS) {
    return invalidArgument(what + " is malformed (" + std::to_string(stored.size()) + " values)");
  }
  AttentionOperand v;
  v.offset = stored[0];
  v.dims.nbDims = static_cast<int32_t>((stored.size() - 1) / 2);
  for (int32_t i = 0; i < v.dims.nbDims; ++i) {
    v.dims.d[i] = stored[static_cast<size_t>(1 + i)];
    v.strides[i] = stored[static_cast<size_t>(1 + v.dims.nbDims + i)];
  }
  KILN_ASSIGN_OR_RETURN(const int64_t last, lastOffset(v, what));
  if (isStatic(physical) && last >= volume(physical)) {
    return invalidArgument(what + " reaches element " + std::to_string(last) + " of a tensor " +
                           dimsToString(physical));
  }
  return v;
}

bool hasAttentionOutputView(const Attributes& attrs) { return attrs.has(kAttentionOutputViewKey); }

StatusOr<AttentionOperand> attentionOutputOperand(const Attributes& attrs, const Dims& logical) {
  if (!hasAttentionOutputView(attrs)) return contiguous(logical);
  const std::vector<int64_t> stored = attrs.getInts(kAttentionOutputViewKey);
  const Dims physical = attrs.getDims(kAttentionOutputDimsKey);
  const std::string what = "the attention's output view";
  if (stored.size() != static_cast<size_t>(logical.nbDims) || physical.nbDims < 0 || !isStatic(physical)) {
    return invalidArgument(what + " does not match the output " + dimsToString(logical));
  }
  AttentionOperand v;
  v.dims = logical;
  for (int32_t i = 0; i < logical.nbDims; ++i) v.strides[i] = stored[static_cast<size_t>(i)];
  KILN_ASSIGN_OR_RETURN(const int64_t last, lastOffset(v, what));
  // Every physical element is written exactly once: same volume, in bounds, no two elements on one offset.
  if (volume(logical) != volume(physical) || last >= volume(physical) || !injective(v)) {
    return invalidArgument(what + " does not map " + dimsToString(logical) + " one to one onto " +
                           dimsToString(physical));
  }
  return v;
}

void setAttentionInputView(Attributes& attrs, int32_t index, const AttentionOperand& view) {
  std::vector<int64_t> stored{view.offset};
  for (int32_t i = 0; i < view.dims.nbDims; ++i) stored.push_back(view.dims.d[i]);
  for (int32_t i = 0; i < view.dims.nbDims; ++i) stored.push_back(view.strides[i]);
  attrs.setInts(kAttentionInputViewKeys[index], std::move(stored));
}

void setAttentionOutputView(Attributes& attrs, const AttentionOperand& view, const Dims& physical) {
  std::vector<int64_t> stored;
  for (int32_t i = 0; i < view.dims.nbDims; ++i) stored.push_back(view.strides[i]);
  attrs.setInts(kAttentionOutputViewKey, std::move(stored));
  attrs.setDims(kAttentionOutputDimsKey, physical);
}

}  // namespace kiln
