// CUDA softmax along one axis in float32 (float16/bfloat16 loaded and stored rounded), with the CPU
// reference's special values: the row max ignores NaN, exp(x - max) then makes a NaN row all NaN; a -inf
// entry gets 0; a +inf entry (or an all -inf row) gives NaN through exp(inf - inf), as in torch.
//
// Contiguous rows are held in registers (one pass over memory): a warp per row up to 1024 elements, a
// block per row up to 16384; longer rows run an online max/sum pass and a write pass. A strided axis gets
// a thread per lane with the same two passes, neighbouring threads on neighbouring elements.
#include <string>

#include "engine/backends/cuda/reduce_common.cuh"
#include "engine/backends/cuda/reduce_family.h"

namespace kiln {
namespace cuda {
namespace {

constexpr int kROWS_BLOCK = 512;
constexpr int64_t kWARP_ROW_MAX = 1024;
constexpr int64_t kBLOCK_ROW_MAX = kROWS_BLOCK * 32;

__device__ __forceinline__ float negInf() { return -__int_as_float(0x7f800000); }
__device__ __forceinline__ float posInf() { return __int_as_float(0x7f800000); }

// Running max and sum of exp(x - max) over a stream of values, with the row semantics of the header.
struct OnlineSoftmax {
  float m = negInf(), s = 0.f;
  __device__ void add(float x) {
    if (x > m) {
      s = s * expf(m - x) + (x == posInf() ? __int_as_float(0x7fc00000) : 1.f);
      m = x;
    } else if (x != negInf()) {  // -inf contributes exp(-inf) = 0; NaN lands here and poisons s
      s += expf(x - m);
    }
  }
  // Rescales the sum to a (larger or equal) max shared by the whole row.
  __device__ float sumAt(float rowMax) const { return s == 0.f ? 0.f : s * expf(m - rowMax); }
};

__device__ __forceinline__ float maxOp(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ float sumOp(float a, float b) { return a + b; }

// A row per warp (kThreads == 32) or per block, kPer elements per thread held in registers.
template <typename T, int kPer, int kThreads>
__global__ void softmaxRegisterKernel(const T* __restrict__ in, T* __restrict__ out, int64_t rows, int64_t n) {
  __shared__ float scratch[kROWS_BLOCK / kWARP];
  const int t = threadIdx.x % kThreads;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kThreads) + threadIdx.x / kThreads;
  if (row >= rows) return;  // uniform per row group: whole warps (or the whole block) leave together
  const T* src = in + row * n;
  T* dst = out + row * n;
  float v[kPer];
  float m = negInf();
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int64_t j = t + static_cast<int64_t>(e) * kThreads;
    v[e] = j < n ? toFloat(src[j]) : negInf();
    m = fmaxf(m, v[e]);
  }
  const auto reduce = [&](float x, auto op) {
    if constexpr (kThreads == kWARP) {
      return warpAllReduce(x, op);
    } else {
      return blockAllReduce(x, op, scratch);
    }
  };
  m = reduce(m, [](float a, float b) { return maxOp(a, b); });
  float s = 0.f;
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int64_t j = t + static_cast<int64_t>(e) * kThreads;
    v[e] = expf(v[e] - m);
    if (j < n) s += v[e];
  }
  s = reduce(s, [](float a, float b) { return sumOp(a, b); });
  const float inv = 1.f / s;
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int64_t j = t + static_cast<int64_t>(e) * kThreads;
    if (j < n) dst[j] = fromFloat<T>(v[e] * inv);
  }
}

// Rows too long for registers: a block per row, an online pass then a write pass.
template <typename T>
__global__ void softmaxLongRowKernel(const T* __restrict__ in, T* __restrict__ out, int64_t n) {
  __shared__ float scratch[kROWS_BLOCK / kWARP];
  const T* src = in + static_cast<int64_t>(blockIdx.x) * n;
  T* dst = out + static_cast<int64_t>(blockIdx.x) * n;
  OnlineSoftmax acc;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) acc.add(toFloat(src[j]));
  const float m = blockAllReduce(acc.m, [](float a, float b) { return maxOp(a, b); }, scratch);
  const float s = blockAllReduce(acc.sumAt(m), [](float a, float b) { return sumOp(a, b); }, scratch);
  const float inv = 1.f / s;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) dst[j] = fromFloat<T>(expf(toFloat(src[j]) - m) * inv);
}

// [outer, n, inner] with inner > 1: a thread per (outer, inner) lane.
template <typename T>
__global__ void softmaxStridedKernel(const T* __restrict__ in, T* __restrict__ out, int64_t outer, int64_t n,
                                     int64_t inner) {
  KILN_GRID_STRIDE_LOOP(lane, outer * inner) {
    const int64_t base = (lane / inner) * n * inner + lane % inner;
    OnlineSoftmax acc;
    for (int64_t j = 0; j < n; ++j) acc.add(toFloat(in[base + j * inner]));
    const float inv = 1.f / acc.s;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t at = base + j * inner;
      out[at] = fromFloat<T>(expf(toFloat(in[at]) - acc.m) * inv);
    }
  }
}

template <typename T, int kPer>
void launchWarpRows(const T* x, T* y, int64_t rows, int64_t n, cudaStream_t stream) {
  constexpr int kRowsPerBlock = kBLOCK / kWARP;
  softmaxRegisterKernel<T, kPer, kWARP>
      <<<static_cast<unsigned int>((rows + kRowsPerBlock - 1) / kRowsPerBlock), kBLOCK, 0, stream>>>(x, y, rows, n);
}
template <typename T, int kPer>
void launchBlockRows(const T* x, T* y, int64_t rows, int64_t n, cudaStream_t stream) {
  softmaxRegisterKernel<T, kPer, kROWS_BLOCK><<<static_cast<unsigned int>(rows), kROWS_BLOCK, 0, stream>>>(x, y, rows,
                                                                                                        n);
}

template <typename T>
Status launchSoftmax(const TensorView& in, TensorView& out, int64_t outer, int64_t n, int64_t inner,
                     cudaStream_t stream) {
  const T* x = in.as<const T>();
  T* y = out.as<T>();
  if (inner > 1) {
    softmaxStridedKernel<T><<<gridFor(outer * inner), kBLOCK, 0, stream>>>(x, y, outer, n, inner);
  } else if (n <= kWARP_ROW_MAX) {
    if (n <= 32) {
      launchWarpRows<T, 1>(x, y, outer, n, stream);
    } else if (n <= 64) {
      launchWarpRows<T, 2>(x, y, outer, n, stream);
    } else if (n <= 128) {
      launchWarpRows<T, 4>(x, y, outer, n, stream);
    } else if (n <= 256) {
      launchWarpRows<T, 8>(x, y, outer, n, stream);
    } else if (n <= 512) {
      launchWarpRows<T, 16>(x, y, outer, n, stream);
    } else {
      launchWarpRows<T, 32>(x, y, outer, n, stream);
    }
  } else if (n <= kBLOCK_ROW_MAX) {
    if (n <= kROWS_BLOCK * 4) {
      launchBlockRows<T, 4>(x, y, outer, n, stream);
    } else if (n <= kROWS_BLOCK * 8) {
      launchBlockRows<T, 8>(x, y, outer, n, stream);
    } else if (n <= kROWS_BLOCK * 16) {
      launchBlockRows<T, 16>(x, y, outer, n, stream);
    } else {
      launchBlockRows<T, 32>(x, y, outer, n, stream);
    }
  } else {
    softmaxLongRowKernel<T><<<static_cast<unsigned int>(outer), kROWS_BLOCK, 0, stream>>>(x, y, n);
  }
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

Status runSoftMax(const LayerParams& layer, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  const Dims& dims = in.dims;
  if (dims.nbDims < 1) return invalidArgument("softmax '" + layer.name + "' needs an input of rank >= 1");
  // As the CPU: no "axes" means the last dim; otherwise the lowest set bit.
  int32_t axis = dims.nbDims - 1;
  if (layer.attrs.has("axes")) {
    const auto mask = static_cast<uint32_t>(layer.attrs.getInt("axes"));
    for (axis = 0; axis < dims.nbDims - 1 && ((mask >> axis) & 1u) == 0;) ++axis;
  }
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < axis; ++d) outer *= dims.d[d];
  for (int32_t d = axis + 1; d < dims.nbDims; ++d) inner *= dims.d[d];
  const int64_t n = dims.d[axis];
  if (in.count() == 0) return Status::ok();
  const Status status = dispatchFloatType(in.type, [&](auto tag) -> Status {
    using T = decltype(tag);
    return launchSoftmax<T>(in, io.outputs[0], outer, n, inner, streamOf(io));
  });
  return status.isOk() ? status : status.withContext("softmax '" + layer.name + "'");
}

bool softMaxSupports(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.empty() || layer.inputs[0] < 0) return false;
  return isFloatType(graph.tensors[static_cast<size_t>(layer.inputs[0])].type);
}

}  // namespace
}  // namespace cuda

void registerSoftMaxCudaKernels(CudaKernelTable& table) {
  table.add(LayerType::kSOFTMAX, {"cuda_softmax", cuda::runSoftMax, nullptr, cuda::softMaxSupports, {}});
  addNormalizationCudaTactics(table);
}

}  // namespace kiln
