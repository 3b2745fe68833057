// Device and host tools shared by the reduce, top-k, cumulative, softmax and normalization kernels:
// warp/block reductions, 16-byte vector loads, and the merge of a tensor's dims into reduced/kept groups.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/backends/cuda/cuda_common.cuh"

namespace kiln {
namespace cuda {

constexpr int kWARP = 32;
constexpr unsigned kFULL_MASK = 0xffffffffu;

// Shuffles any trivially copyable 4- or 8-byte value (double and 64-bit integers go as two halves).
template <typename T>
__device__ __forceinline__ T shuffleXor(T v, int lane) {
  return __shfl_xor_sync(kFULL_MASK, v, lane);
}

// All lanes of the warp end with the combination of every lane's value.
template <typename T, typename Combine>
__device__ __forceinline__ T warpAllReduce(T v, Combine combine) {
#pragma unroll
  for (int offset = kWARP / 2; offset > 0; offset /= 2) v = combine(v, shuffleXor(v, offset));
  return v;
}

// Every thread of the block gets the combination of all threads' values. `scratch` holds one T per warp;
// the call synchronizes, so the scratch may be reused by the next call.
template <typename T, typename Combine>
__device__ __forceinline__ T blockAllReduce(T v, Combine combine, T* scratch) {
  const int lane = threadIdx.x % kWARP, warp = threadIdx.x / kWARP;
  const int nbWarps = (blockDim.x + kWARP - 1) / kWARP;
  v = warpAllReduce(v, combine);
  __syncthreads();  // a previous call may still be reading the scratch
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T r = scratch[0];
  for (int w = 1; w < nbWarps; ++w) r = combine(r, scratch[w]);
  return r;
}

// 16 bytes of T, for vectorized loads of contiguous rows.
template <typename T>
struct alignas(16) Vec16 {
  static constexpr int kN = 16 / static_cast<int>(sizeof(T));
  T v[kN];
};

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// ---- host: dims merged into alternating kept/reduced groups --------------------------------------------

struct DimGroup {
  int64_t extent;
  int64_t stride;  // in the contiguous input
  bool reduced;
};

// Dims of extent 1 dropped, neighbouring dims of one kind merged (contiguous input): the innermost group
// is last. Empty when every dim has extent 1.
inline std::vector<DimGroup> mergeDims(const Dims& dims, uint32_t reducedMask) {
  std::vector<DimGroup> groups;
  int64_t stride = 1;
  std::vector<DimGroup> reversed;
  for (int32_t d = dims.nbDims - 1; d >= 0; --d) {
    const bool reduced = ((reducedMask >> d) & 1u) != 0;
    const int64_t e = dims.d[d];
    if (e != 1) {
      if (!reversed.empty() && reversed.back().reduced == reduced) {
        reversed.back().extent *= e;
      } else {
        reversed.push_back({e, stride, reduced});
      }
    }
    stride *= e;
  }
  groups.assign(reversed.rbegin(), reversed.rend());
  return groups;
}

}  // namespace cuda
}  // namespace kiln
