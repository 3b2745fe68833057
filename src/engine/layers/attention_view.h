// Strided operand views of an attention layer.
//
// Models split heads with view + transpose ([B, S, H*D] -> [B, H, S, D]) and merge them back after the
// attention; each of those is a full copy of the tensor. The builder (builder_attention_views.cc) instead
// lets the attention read its query, key and value through a strided view of the tensor the copies started
// from, and write its output straight into the layout the merge produced. The views live in the layer's
// attributes; a layer without them reads and writes contiguous tensors as before.
//
//  - "view_q", "view_k", "view_v": [offset, dims[0..r), strides[0..r)] in elements of the physical input
//    tensor: the logical [batch..., heads, seq, dim] operand the layer computes with. The innermost stride
//    is 1.
//  - "view_out": strides[0..r) of the logical output [batch..., Hq, Sq, Ev] in the physical output, whose
//    dims are "view_out_dims". The innermost stride is 1; distinct elements never share an offset.
#pragma once

#include <cstdint>

#include "engine/attributes.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {

constexpr const char* kAttentionInputViewKeys[3] = {"view_q", "view_k", "view_v"};
constexpr const char* kAttentionOutputViewKey = "view_out";
constexpr const char* kAttentionOutputDimsKey = "view_out_dims";

// An operand as the attention computes with it: logical dims, element strides into the physical tensor and
// the offset of element 0. Strides of extent-1 dims are meaningless (kernels set them to 0 to broadcast).
struct AttentionOperand {
  Dims dims;
  int64_t strides[Dims::kMAX_DIMS] = {};
  int64_t offset = 0;
};

// Input `index` (0 query, 1 key, 2 value) read from a physical tensor of dims `physical`: its view when the
// layer has one (checked to stay inside the tensor when `physical` is static), else the tensor itself,
// contiguous.
StatusOr<AttentionOperand> attentionInputOperand(const Attributes& attrs, int32_t index, const Dims& physical);

// Whether the layer writes its output through a view.
bool hasAttentionOutputView(const Attributes& attrs);

// The output written for the logical output dims `logical`: strides into the physical output (offset 0),
// contiguous when the layer has no output view. Checks that the view fits and never overlaps itself.
StatusOr<AttentionOperand> attentionOutputOperand(const Attributes& attrs, const Dims& logical);

// Stores a view (for the builder).
void setAttentionInputView(Attributes& attrs, int32_t index, const AttentionOperand& view);
void setAttentionOutputView(Attributes& attrs, const AttentionOperand& view, const Dims& physical);

}  // namespace kiln
