// CUDA pooling (max, average) over the innermost 1-3 dims, or over H and W of a channels_last [N, H, W, C]
// tensor, computed in float32, one thread per output element.
// Semantics follow the CPU kernel exactly: spatial dims as 3D (missing leading ones of extent 1), every dim
// before them an independent plane; max never sees padding and propagates NaN; average divides by the input
// elements in the window (exclusive) or by the window clipped to the padded input (count_include_pad).
#include <algorithm>
#include <string>

#include "engine/backends/cuda/cuda_common.cuh"
#include "engine/backends/pooling_geometry.h"
#include "engine/channels_last.h"

namespace kiln {
namespace {

struct Span {
  int64_t lo, hi, padded;
};

__device__ __forceinline__ Span spanOf(const PoolGeometry& g, int j, int64_t o) {
  const int64_t start = o * g.stride[j] - g.pre[j];
  const int64_t end = start + g.window[j];
  return {start > 0 ? start : 0, end < g.in[j] ? end : g.in[j],
          (end < g.in[j] + g.post[j] ? end : g.in[j] + g.post[j]) - start};
}

template <typename T, bool kMax>
__global__ void poolKernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, PoolGeometry g, bool exclusive) {
  const int64_t inPlane = g.in[0] * g.in[1] * g.in[2];
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int64_t ow = i % g.out[2];
    int64_t t = i / g.out[2];
    const int64_t oh = t % g.out[1];
    t /= g.out[1];
    const int64_t od = t % g.out[0];
    const int64_t p = t / g.out[0];
    const Span d = spanOf(g, 0, od), h = spanOf(g, 1, oh), w = spanOf(g, 2, ow);
    const T* src = x + p * inPlane;
    float acc = kMax ? -INFINITY : 0.f;
    for (int64_t id = d.lo; id < d.hi; ++id) {
      for (int64_t ih = h.lo; ih < h.hi; ++ih) {
        const T* line = src + (id * g.in[1] + ih) * g.in[2];
        for (int64_t iw = w.lo; iw < w.hi; ++iw) {
          const float v = cuda::toFloat(line[iw]);
          if (kMax) {
            if (v > acc || isnan(v)) acc = v;  // NaN propagates, as in PyTorch
          } else {
            acc += v;
          }
        }
      }
    }
    if (!kMax) {
      const int64_t count = exclusive ? (d.hi - d.lo) * (h.hi - h.lo) * (w.hi - w.lo) : d.padded * h.padded * w.padded;
      acc = count > 0 ? acc / static_cast<float>(count) : 0.f;
    }
    y[i] = cuda::fromFloat<T>(acc);
  }
}

// channels_last: [N, H, W, C] with a 2-D window. Consecutive threads take consecutive channels, so every
// window tap is one coalesced read across the warp.
template <typename T, bool kMax>
__global__ void poolNhwcKernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, PoolGeometry g,
                               int64_t channels, bool exclusive) {
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int64_t c = i % channels;
    int64_t t = i / channels;
    const int64_t ow = t % g.out[2];
    t /= g.out[2];
    const int64_t oh = t % g.out[1];
    const int64_t n = t / g.out[1];
    const Span h = spanOf(g, 1, oh), w = spanOf(g, 2, ow);
    const T* src = x + n * g.in[1] * g.in[2] * channels + c;
    float acc = kMax ? -INFINITY : 0.f;
    for (int64_t ih = h.lo; ih < h.hi; ++ih) {
      for (int64_t iw = w.lo; iw < w.hi; ++iw) {
        const float v = cuda::toFloat(src[(ih * g.in[2] + iw) * channels]);
        if (kMax) {
          if (v > acc || isnan(v)) acc = v;
        } else {
          acc += v;
        }
      }
    }
    if (!kMax) {
      const int64_t count = exclusive ? (h.hi - h.lo) * (w.hi - w.lo) : h.padded * w.padded;
      acc = count > 0 ? acc / static_cast<float>(count) : 0.f;
    }
    y[i] = cuda::fromFloat<T>(acc);
  }
}

bool isChannelsLast(const LayerParams& layer) { return layer.attrs.getInt("channels_last", 0) == 1; }

Status runPooling(const LayerParams& layer, KernelIO& io) {
  PoolGeometry g;
  const bool channelsLast = isChannelsLast(layer);
  int64_t channels = 1;
  if (channelsLast) {
    if (io.inputs.empty() || io.outputs.empty() || io.inputs[0].dims.nbDims != 4 || io.outputs[0].dims.nbDims != 4 ||
        layer.attrs.getDims("window_size").nbDims != 2) {
      return invalidArgument("pooling '" + layer.name + "': channels_last needs a 2-D window and rank-4 I/O");
    }
    // The geometry of the NCHW view: the same window over H and W, planes = N * C.
    KernelIO nchw;
    nchw.inputs = {io.inputs[0]};
    nchw.outputs = {io.outputs[0]};
    nchw.inputs[0].dims = channelsLastToFirst(io.inputs[0].dims);
    nchw.outputs[0].dims = channelsLastToFirst(io.outputs[0].dims);
    KILN_RETURN_IF_ERROR(readPoolGeometry(layer, nchw, g));
    channels = io.inputs[0].dims.d[3];
  } else {
    KILN_RETURN_IF_ERROR(readPoolGeometry(layer, io, g));
  }
  const int64_t total = io.outputs[0].count();
  if (total == 0) return Status::ok();
  if (io.inputs[0].type != io.outputs[0].type) {
    return invalidArgument("pooling '" + layer.name + "': input and output types differ");
  }
  const int64_t typeValue = layer.attrs.getInt("pooling_type", 0);
  if (typeValue != static_cast<int64_t>(PoolingType::kMAX) &&
      typeValue != static_cast<int64_t>(PoolingType::kAVERAGE)) {
    return invalidArgument("pooling '" + layer.name + "': unknown pooling type " + std::to_string(typeValue));
  }
  const bool isMax = typeValue == static_cast<int64_t>(PoolingType::kMAX);
  const bool exclusive = layer.attrs.getInt("exclusive", 1) != 0;
  const cudaStream_t stream = cuda::streamOf(io);
  Status status = cuda::dispatchFloatType(io.inputs[0].type, [&](auto tag) -> Status {
    using T = decltype(tag);
    const T* x = io.inputs[0].as<const T>();
    T* y = io.outputs[0].as<T>();
    if (channelsLast) {
      if (isMax) {
        poolNhwcKernel<T, true><<<cuda::gridFor(total), cuda::kBLOCK, 0, stream>>>(x, y, total, g, channels, exclusive);
      } else {
        poolNhwcKernel<T, false>
            <<<cuda::gridFor(total), cuda::kBLOCK, 0, stream>>>(x, y, total, g, channels, exclusive);
      }
    } else if (isMax) {
      poolKernel<T, true><<<cuda::gridFor(total), cuda::kBLOCK, 0, stream>>>(x, y, total, g, exclusive);
    } else {
      poolKernel<T, false><<<cuda::gridFor(total), cuda::kBLOCK, 0, stream>>>(x, y, total, g, exclusive);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  });
  return status.isOk() ? status : status.withContext("pooling '" + layer.name + "'");
}

bool supportsPooling(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.empty() || layer.inputs[0] < 0) return false;
  const TensorInfo& input = graph.tensors[static_cast<size_t>(layer.inputs[0])];
  const int64_t channelsLast = layer.params.attrs.getInt("channels_last", 0);
  if (channelsLast != 0 && channelsLast != 1) return false;
  if (channelsLast == 1 && (input.dims.nbDims != 4 || layer.params.attrs.getDims("window_size").nbDims != 2)) {
    return false;
  }
  return isFloatType(input.type);
}

}  // namespace

void registerPoolingCudaKernels(CudaKernelTable& table) {
  CudaTactic tactic;
  tactic.name = "cuda_pooling";
  tactic.run = runPooling;
  tactic.supports = supportsPooling;
  table.add(LayerType::kPOOLING, std::move(tactic));
}

}  // namespace kiln
