// Attention operand views: models split heads with view + transpose ([B, S, H*D] -> [B, H, S, D]), pick
// Q, K and V out of a packed projection with select or slice, and merge heads back with transpose + view
// after the attention. Each of those layers is a full copy of the tensor. This pass lets the attention
// read its inputs through strided views of the tensors those copies start from, and write its output
// directly in the layout the merge produces (engine/layers/attention_view.h); the copies then die.
// Any backend; static shapes only (a view's strides are fixed when the engine is built).
#pragma once

#include <cstdint>

#include "engine/graph.h"

namespace kiln {

// Gives attention layers input views through chains of shuffles (when the shuffle is a strided view of its
// input), slices (strict bounds, positive steps) and selects (gathers of one constant index), and an output
// view through a single reading shuffle. Removes the layers nothing reads afterwards. Returns how many
// layers were removed.
int32_t absorbAttentionViews(Graph& graph);

// On unless KILN_ATTENTION_VIEWS=0 (which keeps the copies, to compare).
bool attentionViewsEnabled();

}  // namespace kiln
