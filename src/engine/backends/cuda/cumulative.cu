// CUDA cumulative sums and products along one axis (forward or reverse, inclusive or exclusive), with the
// CPU reference's accumulators: double for float types, uint64 wrapping like two's complement for integers.
//
// The axis splits the tensor into [outer, n, inner]. With inner == 1 the rows are contiguous: a warp per
// short row, a block per long row, scanning chunks of one element per thread with a carry between chunks.
// Otherwise a thread per (outer, inner) lane walks the axis, neighbouring threads on neighbouring elements.
// Every element is read and written by the same thread, so the output may alias the input (as on the CPU).
#include <string>

#include "engine/backends/cuda/reduce_family.h"
#include "engine/backends/cuda/reduce_ops.cuh"

namespace kiln {
namespace cuda {
namespace {

constexpr int kSCAN_BLOCK = 512;
constexpr int64_t kWARP_SCAN_MAX = 256;  // rows up to this length get a warp each

template <typename A, bool kProd>
__device__ __forceinline__ A combine(A a, A b) {
  if constexpr (kProd) {
    return a * b;
  } else {
    return a + b;
  }
}
template <typename A, bool kProd>
__device__ __forceinline__ A identity() {
  return kProd ? A(1) : A(0);
}

template <typename A, bool kProd>
__device__ __forceinline__ A warpInclusiveScan(A v, int lane) {
#pragma unroll
  for (int offset = 1; offset < kWARP; offset *= 2) {
    const A other = __shfl_up_sync(kFULL_MASK, v, offset);
    if (lane >= offset) v = combine<A, kProd>(other, v);
  }
  return v;
}

// A row per group of kThreads threads (a warp, or the whole block). Scan position q reads element
// reverse ? n - 1 - q : q.
template <typename T, bool kProd, int kThreads>
__global__ void cumulativeRowsKernel(const T* in, T* out, int64_t rows, int64_t n, bool exclusive, bool reverse) {
  using A = WideOf<T>;
  constexpr int kWarps = kThreads / kWARP;
  __shared__ A warpTotals[kSCAN_BLOCK / kWARP];
  const int t = threadIdx.x % kThreads, lane = threadIdx.x % kWARP, warp = t / kWARP;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kThreads) + threadIdx.x / kThreads;
  const bool active = row < rows;  // uniform per group
  const T* src = in + (active ? row : 0) * n;
  T* dst = out + (active ? row : 0) * n;
  A carry = identity<A, kProd>();
  for (int64_t q0 = 0; q0 < n; q0 += kThreads) {  // uniform trip count within the group
    const int64_t q = q0 + t;
    const int64_t j = reverse ? n - 1 - q : q;
    const bool inRange = active && q < n;
    const A x = inRange ? toWide(src[j]) : identity<A, kProd>();
    A incl = warpInclusiveScan<A, kProd>(x, lane);
    A before = __shfl_up_sync(kFULL_MASK, incl, 1);
    if (lane == 0) before = identity<A, kProd>();
    A chunkTotal;
    if constexpr (kWarps == 1) {
      chunkTotal = __shfl_sync(kFULL_MASK, incl, kWARP - 1);
    } else {
      if (lane == kWARP - 1) warpTotals[warp] = incl;
      __syncthreads();
      if (warp == 0) {
        const A total = warpInclusiveScan<A, kProd>(lane < kWarps ? warpTotals[lane] : identity<A, kProd>(), lane);
        __syncwarp();
        if (lane < kWarps) warpTotals[lane] = total;
      }
      __syncthreads();
      const A warpPrefix = warp > 0 ? warpTotals[warp - 1] : identity<A, kProd>();
      incl = combine<A, kProd>(warpPrefix, incl);
      before = combine<A, kProd>(warpPrefix, before);
      chunkTotal = warpTotals[kWarps - 1];
      __syncthreads();  // the next chunk rewrites warpTotals
    }
    if (inRange) dst[j] = fromAcc<T>(combine<A, kProd>(carry, exclusive ? before : incl));
    carry = combine<A, kProd>(carry, chunkTotal);
  }
}

template <typename T, bool kProd>
__global__ void cumulativeLanesKernel(const T* in, T* out, int64_t outer, int64_t n, int64_t inner, bool exclusive,
                                      bool reverse) {
  using A = WideOf<T>;
  KILN_GRID_STRIDE_LOOP(lane, outer * inner) {
    const int64_t o = lane / inner, i = lane % inner;
    const int64_t base = o * n * inner + i;
    A acc = identity<A, kProd>();
    for (int64_t step = 0; step < n; ++step) {
      const int64_t at = base + (reverse ? n - 1 - step : step) * inner;
      const A next = combine<A, kProd>(acc, toWide(in[at]));
      out[at] = fromAcc<T>(exclusive ? acc : next);
      acc = next;
    }
  }
}

template <typename T, bool kProd>
Status launchCumulative(const TensorView& in, TensorView& out, int64_t outer, int64_t n, int64_t inner,
                        bool exclusive, bool reverse, cudaStream_t stream) {
  const T* x = in.as<const T>();
  T* y = out.as<T>();
  if (inner == 1) {
    if (n <= kWARP_SCAN_MAX) {
      constexpr int kRowsPerBlock = kBLOCK / kWARP;
      cumulativeRowsKernel<T, kProd, kWARP><<<static_cast<unsigned int>((outer + kRowsPerBlock - 1) / kRowsPerBlock),
                                              kBLOCK, 0, stream>>>(x, y, outer, n, exclusive, reverse);
    } else {
      cumulativeRowsKernel<T, kProd, kSCAN_BLOCK><<<static_cast<unsigned int>(outer), kSCAN_BLOCK, 0, stream>>>(
          x, y, outer, n, exclusive, reverse);
    }
  } else {
    cumulativeLanesKernel<T, kProd><<<gridFor(outer * inner), kBLOCK, 0, stream>>>(x, y, outer, n, inner, exclusive,
                                                                                   reverse);
  }
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

Status runCumulative(const LayerParams& layer, KernelIO& io) {
  const int64_t opValue = layer.attrs.getInt("operation");
  if (opValue != static_cast<int64_t>(CumulativeOperation::kSUM) &&
      opValue != static_cast<int64_t>(CumulativeOperation::kPROD)) {
    return invalidArgument("cumulative '" + layer.name + "': unknown operation " + std::to_string(opValue));
  }
  const bool product = static_cast<CumulativeOperation>(opValue) == CumulativeOperation::kPROD;
  const bool exclusive = layer.attrs.getInt("exclusive") != 0;
  const bool reverse = layer.attrs.getInt("reverse") != 0;
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  int64_t axis = layer.attrs.getInt("axis");
  if (axis < 0) axis += in.dims.nbDims;
  if (axis < 0 || axis >= in.dims.nbDims) {
    return invalidArgument("cumulative '" + layer.name + "': axis " + std::to_string(layer.attrs.getInt("axis")) +
                           " is outside the input's rank " + std::to_string(in.dims.nbDims));
  }
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < in.dims.nbDims; ++d) {
    if (d < axis) outer *= in.dims.d[d];
    if (d > axis) inner *= in.dims.d[d];
  }
  const int64_t n = in.dims.d[axis];
  if (in.count() == 0) return Status::ok();
  const cudaStream_t stream = streamOf(io);
  const auto typed = [&](auto tag) -> Status {
    using T = decltype(tag);
    return product ? launchCumulative<T, true>(in, out, outer, n, inner, exclusive, reverse, stream)
                   : launchCumulative<T, false>(in, out, outer, n, inner, exclusive, reverse, stream);
  };
  const auto dispatch = [&]() -> Status {
    switch (in.type) {
      case DataType::kFLOAT: return typed(float{});
      case DataType::kHALF: return typed(__half{});
      case DataType::kBF16: return typed(__nv_bfloat16{});
      case DataType::kINT8: return typed(int8_t{});
      case DataType::kUINT8: return typed(uint8_t{});
      case DataType::kINT32: return typed(int32_t{});
      case DataType::kINT64: return typed(int64_t{});
      case DataType::kBOOL: break;
    }
    return invalidArgument("cumulative has no kernel for bool (cast to an integer type first)");
  };
  const Status status = dispatch();
  return status.isOk() ? status : status.withContext("cumulative '" + layer.name + "'");
}

// Every numeric type, as on the CPU (bool is refused there too).
bool cumulativeSupports(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.empty() || layer.inputs[0] < 0) return false;
  return graph.tensors[static_cast<size_t>(layer.inputs[0])].type != DataType::kBOOL;
}

}  // namespace
}  // namespace cuda

void addCumulativeCudaTactics(CudaKernelTable& table) {
  table.add(LayerType::kCUMULATIVE, {"cuda_cumulative", cuda::runCumulative, nullptr, cuda::cumulativeSupports, {}});
}

}  // namespace kiln
