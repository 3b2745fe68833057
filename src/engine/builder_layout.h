// Layout choice: keeps activations channels-last (NHWC) between 2-D convolutions so that tensor-core
// convolutions need no transposes around each call. See the channels_last contract in layers/convolution.cc.
#pragma once

#include <cstdint>
#include <functional>

#include "engine/backend.h"
#include "engine/graph.h"
#include "kiln/builder.h"

namespace kiln {

struct LayoutChoice {
  int32_t layersConverted = 0;     // layers that now see NHWC dims (convolutions and pooling get channels_last=1)
  int32_t transposesInserted = 0;  // kSHUFFLE transposes added at region edges
};

// Finds regions seeded by rank-4 2-D convolutions whose input is float16/bfloat16 (also float32 when
// `float32Seeds`), grows them through layers that run in NHWC with attribute changes only (pooling,
// pointwise, reduce, concatenation, softmax, normalization; pure-transpose shuffles are composed away at the
// edges) and converts each region whose edge transposes do not outnumber its convolutions. Network I/O keeps
// its dims; the graph stays topologically ordered (unreferenced tensors remain until compactTensors).
// `canRun`, when set, is asked about each candidate convolution and pooling layer as it would be converted
// (channels_last=1, NHWC dims in its graph); a layer no kernel can run stays out of every region.
using ChannelsLastProbe = std::function<bool(const LayerInfo& layer, const Graph& graph)>;
LayoutChoice chooseChannelsLastLayout(Graph& graph, bool float32Seeds = false, const ChannelsLastProbe& canRun = {});

// The builder's entry: KILN_CHANNELS_LAST=0 turns the pass off, =1 runs it on every backend with float32
// seeds too; unset, it runs for CUDA builds with float16/bfloat16 seeds only. Only layers the backend has a
// tactic for are converted. Adds its counts to `report`.
void chooseLayoutForBackend(Graph& graph, const Backend& backend, BuildReport& report);

}  // namespace kiln
