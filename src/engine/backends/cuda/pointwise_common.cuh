// Shared pieces of the pointwise CUDA kernels (activation, unary, elementwise, select, cast, fill, one-hot):
// value conversions that round and saturate exactly like the CPU reference (backends/cpu/cpu_util.cc),
// a storage-typed dispatch where bool is a byte (never a C++ bool, so a stray non-0/1 byte reads as true),
// flat kernels with 128-bit vector accesses, and broadcast plans whose dims are collapsed on the host.
// Include only from the pointwise_*.cu files.
#pragma once

#include <cstdint>
#include <type_traits>

#include "engine/backends/cuda/cuda_common.cuh"

namespace kiln {
namespace cuda {
namespace pw {

// bool as stored: one byte, 0 or 1 when written by Kiln; any non-zero byte reads as true (as on the CPU).
struct Bool8 {
  uint8_t v;
};

template <typename T>
constexpr bool kIsFloat = std::is_same_v<T, float> || std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

template <typename T> struct IntLimits;
template <> struct IntLimits<int8_t> { static constexpr int8_t kMin = -128, kMax = 127; };
template <> struct IntLimits<uint8_t> { static constexpr uint8_t kMin = 0, kMax = 255; };
template <> struct IntLimits<int32_t> { static constexpr int32_t kMin = INT32_MIN, kMax = INT32_MAX; };
template <> struct IntLimits<int64_t> { static constexpr int64_t kMin = INT64_MIN, kMax = INT64_MAX; };

// ---- loads (cpu::loadFloat / loadDouble / loadInt) --------------------------------------------------------

template <typename T> __device__ __forceinline__ float toF(T v) { return static_cast<float>(v); }
template <> __device__ __forceinline__ float toF<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float toF<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __device__ __forceinline__ float toF<Bool8>(Bool8 v) { return v.v ? 1.f : 0.f; }

// 32/64-bit integers widen to double exactly; every other type goes through float first, like the CPU.
template <typename T> __device__ __forceinline__ double toD(T v) {
  if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, int32_t>) {
    return static_cast<double>(v);
  } else {
    return static_cast<double>(toF(v));
  }
}

template <typename T> __device__ __forceinline__ int64_t toI(T v) {
  if constexpr (kIsFloat<T>) {
    const float f = toF(v);
    if (isnan(f)) return 0;
    if (f >= 9.2e18f) return INT64_MAX;
    if (f <= -9.2e18f) return INT64_MIN;
    return static_cast<int64_t>(f);
  } else if constexpr (std::is_same_v<T, Bool8>) {
    return v.v ? 1 : 0;
  } else {
    return static_cast<int64_t>(v);
  }
}

// ---- stores (cpu::storeDouble / storeInt): float->int saturates, NaN -> 0, to bool is != 0 ----------------

template <typename T> __device__ __forceinline__ T fromD(double v) {
  if constexpr (std::is_same_v<T, float>) {
    return static_cast<float>(v);
  } else if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(static_cast<float>(v));  // double -> float -> half, as the CPU rounds twice
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(static_cast<float>(v));
  } else if constexpr (std::is_same_v<T, Bool8>) {
    return Bool8{static_cast<uint8_t>(v != 0.0 ? 1 : 0)};
  } else {
    if (isnan(v)) return T(0);
    if (v >= static_cast<double>(IntLimits<T>::kMax)) return IntLimits<T>::kMax;
    if (v <= static_cast<double>(IntLimits<T>::kMin)) return IntLimits<T>::kMin;
    return static_cast<T>(v);
  }
}

// float results of the "compute in float32" kernels (cpu::FloatOutput::commit stores through double).
template <typename T> __device__ __forceinline__ T fromF(float v) {
  if constexpr (std::is_same_v<T, float>) {
    return v;
  } else if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(v);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __float2bfloat16_rn(v);
  } else {
    return fromD<T>(static_cast<double>(v));
  }
}

// Integers wrap (keep the low bits, like a C++ conversion); float types round from double.
template <typename T> __device__ __forceinline__ T fromI(int64_t v) {
  if constexpr (std::is_same_v<T, Bool8>) {
    return Bool8{static_cast<uint8_t>(v != 0 ? 1 : 0)};
  } else if constexpr (kIsFloat<T>) {
    return fromD<T>(static_cast<double>(v));
  } else {
    return static_cast<T>(static_cast<uint64_t>(v));
  }
}

// ---- dispatch ------------------------------------------------------------------------------------------

template <typename T> struct Tag { using type = T; };

// Calls f(Tag<S>{}) with S the storage type of `type` (Bool8 for bool).
template <typename F>
Status dispatchStorage(DataType type, F&& f) {
  switch (type) {
    case DataType::kFLOAT: return f(Tag<float>{});
    case DataType::kHALF: return f(Tag<__half>{});
    case DataType::kBF16: return f(Tag<__nv_bfloat16>{});
    case DataType::kINT8: return f(Tag<int8_t>{});
    case DataType::kINT32: return f(Tag<int32_t>{});
    case DataType::kINT64: return f(Tag<int64_t>{});
    case DataType::kBOOL: return f(Tag<Bool8>{});
    case DataType::kUINT8: return f(Tag<uint8_t>{});
  }
  return invalidArgument("unknown data type " + std::to_string(static_cast<int>(type)));
}

template <typename F>
Status dispatchFloatStorage(DataType type, F&& f) {
  switch (type) {
    case DataType::kFLOAT: return f(Tag<float>{});
    case DataType::kHALF: return f(Tag<__half>{});
    case DataType::kBF16: return f(Tag<__nv_bfloat16>{});
    case DataType::kINT8:
    case DataType::kINT32:
    case DataType::kINT64:
    case DataType::kBOOL:
    case DataType::kUINT8: break;
  }
  return invalidArgument(std::string("expects float32, float16 or bfloat16, got ") + dataTypeName(type));
}

// Raw element of 1, 2, 4 or 8 bytes, for kernels that only move data (select, one-hot).
template <int N> struct RawOf;
template <> struct RawOf<1> { using type = uint8_t; };
template <> struct RawOf<2> { using type = uint16_t; };
template <> struct RawOf<4> { using type = uint32_t; };
template <> struct RawOf<8> { using type = uint64_t; };

template <typename F>
Status dispatchElementBytes(DataType type, F&& f) {
  switch (dataTypeSize(type)) {
    case 1: return f(Tag<uint8_t>{});
    case 2: return f(Tag<uint16_t>{});
    case 4: return f(Tag<uint32_t>{});
    case 8: return f(Tag<uint64_t>{});
    default: break;
  }
  return invalidArgument(std::string("unsupported element size of ") + dataTypeName(type));
}

// ---- flat (same-shape, contiguous) kernels -------------------------------------------------------------

template <typename T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

// V elements per access: 16 bytes of the narrower-aligned operand when every pointer allows it, else 1.
template <typename T>
constexpr int kVEC = sizeof(T) >= 16 ? 1 : static_cast<int>(16 / sizeof(T));

inline bool aligned(const void* p, int64_t bytes) { return reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(bytes) == 0; }

// Grid for nVec vectors plus a tail of fewer than V elements (the first threads of the grid take the tail).
inline unsigned int flatGrid(int64_t nVec, int64_t tail) { return gridFor(nVec > tail ? nVec : tail); }

// out[i] = f(in[i]).
template <typename TIn, typename TOut, int V, typename F>
__global__ void mapKernel(const TIn* __restrict__ in, TOut* __restrict__ out, int64_t n, F f) {
  const int64_t nVec = n / V;
  KILN_GRID_STRIDE_LOOP(i, nVec) {
    const Vec<TIn, V> a = reinterpret_cast<const Vec<TIn, V>*>(in)[i];
    Vec<TOut, V> r;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = f(a.v[k]);
    reinterpret_cast<Vec<TOut, V>*>(out)[i] = r;
  }
  if constexpr (V > 1) {
    const int64_t t = nVec * V + blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (t < n) out[t] = f(in[t]);
  }
}

template <typename TIn, typename TOut, typename F>
Status launchMap(const void* in, void* out, int64_t n, F f, cudaStream_t stream) {
  if (n <= 0) return Status::ok();
  constexpr int V = kVEC<TIn>;
  const auto* src = static_cast<const TIn*>(in);
  auto* dst = static_cast<TOut*>(out);
  if (V > 1 && aligned(in, V * sizeof(TIn)) && aligned(out, V * sizeof(TOut))) {
    mapKernel<TIn, TOut, V, F><<<flatGrid(n / V, n % V), kBLOCK, 0, stream>>>(src, dst, n, f);
  } else {
    mapKernel<TIn, TOut, 1, F><<<gridFor(n), kBLOCK, 0, stream>>>(src, dst, n, f);
  }
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

// ---- broadcast plans -----------------------------------------------------------------------------------

// Output extents and per-input element strides (0 on broadcast dims) after dropping extent-1 dims and
// merging neighbours that every input walks contiguously: [2,3,4] + [4] becomes [6,4] with strides (4,1),(0,1).
template <int N>
struct BroadcastPlan {
  int32_t rank = 0;
  int64_t extent[Dims::kMAX_DIMS] = {};
  int64_t stride[N][Dims::kMAX_DIMS] = {};

  // Every input is read at the output's flat index (a single collapsed dim with unit strides, or a scalar output).
  bool flat() const {
    if (rank == 0) return true;
    if (rank != 1) return false;
    for (int k = 0; k < N; ++k) {
      if (stride[k][0] != 1) return false;
    }
    return true;
  }
};

template <int N>
BroadcastPlan<N> makeBroadcastPlan(const Dims& out, const Dims* const (&ins)[N]) {
  Shape8 strides[N];
  for (int k = 0; k < N; ++k) strides[k] = broadcastStrides(*ins[k], out);
  BroadcastPlan<N> plan;
  // Walk from the innermost dim outwards, appending to the plan, then reverse.
  int32_t r = 0;
  int64_t extent[Dims::kMAX_DIMS] = {};
  int64_t stride[N][Dims::kMAX_DIMS] = {};
  for (int32_t d = out.nbDims - 1; d >= 0; --d) {
    if (out.d[d] == 1) continue;
    bool merge = r > 0;
    for (int k = 0; k < N && merge; ++k) merge = strides[k].d[d] == stride[k][r - 1] * extent[r - 1];
    if (merge) {
      extent[r - 1] *= out.d[d];
      continue;
    }
    extent[r] = out.d[d];
    for (int k = 0; k < N; ++k) stride[k][r] = strides[k].d[d];
    ++r;
  }
  plan.rank = r;
  for (int32_t i = 0; i < r; ++i) {
    plan.extent[i] = extent[r - 1 - i];
    for (int k = 0; k < N; ++k) plan.stride[k][i] = stride[k][r - 1 - i];
  }
  return plan;
}

// Offsets into each input of flat output index `linear`; I is uint32_t when every index fits, else int64_t.
template <typename I, int N>
__device__ __forceinline__ void broadcastOffsets(const BroadcastPlan<N>& plan, I linear, I (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
#pragma unroll
  for (int d = Dims::kMAX_DIMS - 1; d >= 0; --d) {
    if (d < plan.rank) {
      const I e = static_cast<I>(plan.extent[d]);
      const I idx = linear % e;
      linear /= e;
#pragma unroll
      for (int k = 0; k < N; ++k) off[k] += idx * static_cast<I>(plan.stride[k][d]);
    }
  }
}

constexpr int64_t kMAX_U32_INDEX = int64_t{1} << 31;

}  // namespace pw
}  // namespace cuda
}  // namespace kiln
