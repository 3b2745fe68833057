// Constant attention masks that say nothing a flag cannot. Models exported with static shapes often build
// their mask from aranges and comparisons (GPT-2's causal mask, BERT's all-ones padding mask); once constant
// folding has turned that chain into a constant, the attention would still read a [Sq, Sk] mask per tile
// and, for a causal one, compute every tile the mask then discards. This pass drops a mask that allows every
// key, and turns one that allows exactly the keys j <= i into the causal flag, whose kernels skip the tiles
// above the diagonal. Any backend; it needs the mask constant and the sequence lengths static.
#pragma once

#include <cstdint>

#include "engine/graph.h"

namespace kiln {

// Rewrites the attention layers whose mask is such a constant. Returns how many masks it removed.
int32_t simplifyConstantAttentionMasks(Graph& graph);

// On unless KILN_SIMPLIFY_ATTENTION_MASKS=0 (which keeps the masks, to compare).
bool attentionMaskSimplificationEnabled();

}  // namespace kiln
