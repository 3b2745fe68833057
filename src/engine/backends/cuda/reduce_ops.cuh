// The reduce layer's operations as device functors, with the CPU reference's accumulators: float sums,
// products and averages in double (float16/bfloat16 staged through float32), integer sums and products in
// uint64 wrapping like two's complement, max/min in the element type (floats as float32) with NaN sticky.
#pragma once

#include <cstdint>
#include <type_traits>

#include "engine/backends/cuda/reduce_common.cuh"

namespace kiln {
namespace cuda {

template <typename T>
constexpr bool kIsFloatElement = std::is_same_v<T, float> || std::is_same_v<T, __half> ||
                                 std::is_same_v<T, __nv_bfloat16>;

// Extremes of the integer element types (device code avoids std::numeric_limits).
template <typename T> struct IntRange;
template <> struct IntRange<int8_t> { static constexpr int8_t kLow = -128, kHigh = 127; };
template <> struct IntRange<uint8_t> { static constexpr uint8_t kLow = 0, kHigh = 255; };
template <> struct IntRange<int32_t> { static constexpr int32_t kLow = INT32_MIN, kHigh = INT32_MAX; };
template <> struct IntRange<int64_t> { static constexpr int64_t kLow = INT64_MIN, kHigh = INT64_MAX; };

// Accumulator of sums and products.
template <typename T>
using WideOf = std::conditional_t<kIsFloatElement<T>, double, uint64_t>;
// Accumulator of max and min (and the value compared by top-k).
template <typename T>
using NarrowOf = std::conditional_t<kIsFloatElement<T>, float, T>;

template <typename T>
__device__ __forceinline__ WideOf<T> toWide(T x) {
  if constexpr (kIsFloatElement<T>) {
    return static_cast<double>(toFloat(x));
  } else {
    return static_cast<uint64_t>(static_cast<int64_t>(x));
  }
}
template <typename T>
__device__ __forceinline__ NarrowOf<T> toNarrow(T x) {
  if constexpr (kIsFloatElement<T>) {
    return toFloat(x);
  } else {
    return x;
  }
}
// Float results round through float32 (as the CPU's float32 staging does); integers wrap to T's width.
template <typename T, typename A>
__device__ __forceinline__ T fromAcc(A a) {
  if constexpr (kIsFloatElement<T>) {
    return fromFloat<T>(static_cast<float>(a));
  } else {
    return static_cast<T>(static_cast<int64_t>(a));
  }
}

template <typename T>
struct SumOp {
  using Acc = WideOf<T>;
  __device__ Acc init() const { return Acc(0); }
  __device__ Acc add(Acc a, T x) const { return a + toWide(x); }
  __device__ Acc merge(Acc a, Acc b) const { return a + b; }
  __device__ T finish(Acc a, int64_t) const { return fromAcc<T>(a); }
};
template <typename T>
struct ProdOp {
  using Acc = WideOf<T>;
  __device__ Acc init() const { return Acc(1); }
  __device__ Acc add(Acc a, T x) const { return a * toWide(x); }
  __device__ Acc merge(Acc a, Acc b) const { return a * b; }
  __device__ T finish(Acc a, int64_t) const { return fromAcc<T>(a); }
};
template <typename T>
struct AvgOp {  // float types only: shape inference rejects integer averages
  using Acc = double;
  __device__ Acc init() const { return 0.0; }
  __device__ Acc add(Acc a, T x) const { return a + static_cast<double>(toFloat(x)); }
  __device__ Acc merge(Acc a, Acc b) const { return a + b; }
  // An empty reduction gives 0/0 = NaN, as on the CPU.
  __device__ T finish(Acc a, int64_t n) const { return fromAcc<T>(a / static_cast<double>(n)); }
};
// Once a NaN is seen it sticks (torch semantics); the `x != x` test is false for integers.
template <typename T>
struct MaxOp {
  using Acc = NarrowOf<T>;
  __device__ Acc init() const {
    if constexpr (kIsFloatElement<T>) {
      return -__int_as_float(0x7f800000);
    } else {
      return IntRange<T>::kLow;
    }
  }
  __device__ Acc add(Acc a, T x) const { return merge(a, toNarrow(x)); }
  __device__ Acc merge(Acc a, Acc b) const { return (b > a || b != b) ? b : a; }
  __device__ T finish(Acc a, int64_t) const { return fromAcc<T>(a); }
};
template <typename T>
struct MinOp {
  using Acc = NarrowOf<T>;
  __device__ Acc init() const {
    if constexpr (kIsFloatElement<T>) {
      return __int_as_float(0x7f800000);
    } else {
      return IntRange<T>::kHigh;
    }
  }
  __device__ Acc add(Acc a, T x) const { return merge(a, toNarrow(x)); }
  __device__ Acc merge(Acc a, Acc b) const { return (b < a || b != b) ? b : a; }
  __device__ T finish(Acc a, int64_t) const { return fromAcc<T>(a); }
};

}  // namespace cuda
}  // namespace kiln
