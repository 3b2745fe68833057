// Helpers of the graph-API convolution tactics (convolution_graph.cc): which layers they take, the layer's
// geometry in either layout, operand checks, weight upload and the cuDNN handle the graph plans live on.
#pragma once

#include <cudnn.h>

#include <mutex>

#include "engine/backend.h"
#include "engine/backends/cuda/convolution_cudnn.h"
#include "engine/backends/cuda/convolution_geometry.h"
#include "engine/graph.h"

namespace kiln {
namespace cuda {

struct GraphConvOptions {
  int planIndex = 0;         // which finalized plan, in heuristic order
  bool nhwcVariant = false;  // NCHW layer run channels-last with transposes
};

// One handle per device for every graph plan: plans are built and executed on the handle they were made with,
// and a handle serves one thread at a time, hence the mutex (held only while building or enqueuing).
struct SharedCudnnHandle {
  std::mutex mutex;
  cudnnHandle_t handle = nullptr;
};
StatusOr<SharedCudnnHandle*> sharedGraphCudnnHandle();

bool isStaticDims(const Dims& dims);

// The layer's geometry against concrete dims (logical NHWC ones for channels_last layers), as NCHW. Fails with
// an unimplemented Status for what the graph tactics do not run: other than 2-D, or padding cuDNN's symmetric
// floor rule does not map onto the output extent.
Status readGraphConvGeometry(const LayerParams& layer, const Dims& x, const Dims& y, bool channelsLast,
                             ConvGeometry& g);

// Kernel, bias and residual operands against the geometry (counts, types, shapes).
Status checkGraphConvOperands(const LayerParams& layer, const KernelIO& io, const ConvGeometry& g, bool ownWeights,
                              int64_t weightCount, bool ownBias, int64_t biasCount, bool residual);

// The "kernel" weights in `type`, transposed to [K, R, S, C/g] when `nhwc`; nothing when the kernel comes from
// input 1 or the layer has none.
Status uploadGraphConvWeights(const LayerParams& layer, DataType type, bool nhwc, DeviceBuffer& out, int64_t& count);
// The "bias" weights as float32; nothing when the bias comes from input 2 or the layer has none.
Status uploadGraphConvBias(const LayerParams& layer, bool biasFromInput, DeviceBuffer& out, int64_t& count);

bool graphConvSupports(const LayerInfo& layer, const Graph& graph);
bool graphConvSupportsNhwcVariant(const LayerInfo& layer, const Graph& graph);

}  // namespace cuda
}  // namespace kiln
