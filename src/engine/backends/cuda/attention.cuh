// Shared pieces of the CUDA attention kernels (attention.cu: SIMT flash attention for every float type and
// head size; attention_mma.cu: tensor-core flash attention for float16/bfloat16).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <limits>

#include "engine/backends/cuda/cuda_common.cuh"

namespace kiln {
namespace cuda {

// One attention layer with concrete shapes, passed by value to the kernels. Element offsets throughout.
struct AttentionArgs {
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* out = nullptr;
  int64_t hq = 0, hk = 0, sq = 0, sk = 0, e = 0, ev = 0;
  int64_t group = 1;  // query heads per key/value head
  float scale = 1.f;
  bool causal = false;
  // Leading (batch) dims of the logical output [batch..., Hq, Sq, Ev]. Each operand's element strides walk
  // [batch..., head, row, col] of its logical view (attention_view.h), 0 on every dim of extent 1 (so batch
  // dims broadcast); the innermost stride is 1. The base pointers include the views' offsets.
  Shape8 batch;
  Shape8 qStrides, kStrides, vStrides, oStrides;
  // Optional mask over the scores [batch..., Hq, Sq, Sk]: bool keep flags or additive floats.
  const void* mask = nullptr;
  DataType maskType = DataType::kBOOL;
  Shape8 maskStrides;  // rank of the scores
  int32_t rank = 0;
  float* workspace = nullptr;  // float accumulators of the generic kernel

  __device__ __forceinline__ int64_t batchOffset(int64_t b, const Shape8& strides) const {
    return offsetOf(b, batch, strides);
  }
};

constexpr float kATTN_NEG_INF = -std::numeric_limits<float>::infinity();

// max that keeps a NaN, so that a NaN score poisons its row as it does in PyTorch (fmaxf would drop it).
__device__ __forceinline__ float maxKeepNan(float a, float b) { return (a > b || a != a) ? a : b; }

__device__ __forceinline__ float warpMaxKeepNan(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v = maxKeepNan(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}
__device__ __forceinline__ float warpSum(float v) {
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// The mask's effect on one score: -inf for a masked key, else the score plus the additive value.
__device__ __forceinline__ float applyMask(const AttentionArgs& a, int64_t offset, float score) {
  switch (a.maskType) {
    case DataType::kBOOL: return static_cast<const uint8_t*>(a.mask)[offset] != 0 ? score : kATTN_NEG_INF;
    case DataType::kFLOAT: return score + static_cast<const float*>(a.mask)[offset];
    case DataType::kHALF: return score + __half2float(static_cast<const __half*>(a.mask)[offset]);
    case DataType::kBF16: return score + __bfloat162float(static_cast<const __nv_bfloat16*>(a.mask)[offset]);
    case DataType::kINT8:
    case DataType::kINT32:
    case DataType::kINT64:
    case DataType::kUINT8:
      break;  // refused by the layer's shape inference
  }
  return score;
}

// Tensor-core path for float16/bfloat16 (attention_mma.cu). Returns false when it does not take the shape.
bool mmaAttentionTakes(const AttentionArgs& a, DataType type);
Status launchMmaAttention(const AttentionArgs& a, DataType type, int64_t batchCount, cudaStream_t stream);

}  // namespace cuda
}  // namespace kiln
