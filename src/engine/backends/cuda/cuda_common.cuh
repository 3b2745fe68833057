// Device-side tools shared by Kiln's CUDA kernels: typed loads and stores through float/double/int64,
// dtype dispatch, broadcast indexing and launch sizes. Include only from .cu files.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/backend.h"
#include "engine/backends/cuda/cuda_kernels.h"

namespace kiln {
namespace cuda {

// Element types as kernels see them.
template <typename T> struct Acc { using type = float; };  // the type a kernel computes T in
template <> struct Acc<double> { using type = double; };
template <> struct Acc<int64_t> { using type = int64_t; };
template <> struct Acc<int32_t> { using type = int64_t; };

template <typename T> __device__ __forceinline__ float toFloat(T v) { return static_cast<float>(v); }
template <> __device__ __forceinline__ float toFloat<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float toFloat<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <> __device__ __forceinline__ float toFloat<bool>(bool v) { return v ? 1.f : 0.f; }

template <typename T> __device__ __forceinline__ T fromFloat(float v) { return static_cast<T>(v); }
template <> __device__ __forceinline__ __half fromFloat<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 fromFloat<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <> __device__ __forceinline__ bool fromFloat<bool>(float v) { return v != 0.f; }

// Runtime-typed element access (for kernels where a template per dtype pair would explode).
__device__ __forceinline__ double loadAsDouble(const void* p, DataType t, int64_t i) {
  switch (t) {
    case DataType::kFLOAT: return static_cast<const float*>(p)[i];
    case DataType::kHALF: return __half2float(static_cast<const __half*>(p)[i]);
    case DataType::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DataType::kINT8: return static_cast<const int8_t*>(p)[i];
    case DataType::kINT32: return static_cast<const int32_t*>(p)[i];
    case DataType::kINT64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case DataType::kBOOL: return static_cast<const uint8_t*>(p)[i] ? 1.0 : 0.0;
    case DataType::kUINT8: return static_cast<const uint8_t*>(p)[i];
  }
  return 0.0;
}
__device__ __forceinline__ int64_t loadAsInt(const void* p, DataType t, int64_t i) {
  switch (t) {
    case DataType::kINT64: return static_cast<const int64_t*>(p)[i];
    case DataType::kINT32: return static_cast<const int32_t*>(p)[i];
    case DataType::kINT8: return static_cast<const int8_t*>(p)[i];
    case DataType::kUINT8:
    case DataType::kBOOL: return static_cast<const uint8_t*>(p)[i];
    default: return static_cast<int64_t>(loadAsDouble(p, t, i));
  }
}
// Stores like a C++ cast (float to int truncates, to bool is != 0).
__device__ __forceinline__ void storeFromDouble(void* p, DataType t, int64_t i, double v) {
  switch (t) {
    case DataType::kFLOAT: static_cast<float*>(p)[i] = static_cast<float>(v); break;
    case DataType::kHALF: static_cast<__half*>(p)[i] = __double2half(v); break;
    case DataType::kBF16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(static_cast<float>(v)); break;
    case DataType::kINT8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(v); break;
    case DataType::kINT32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
    case DataType::kINT64: static_cast<int64_t*>(p)[i] = static_cast<int64_t>(v); break;
    case DataType::kBOOL: static_cast<uint8_t*>(p)[i] = v != 0.0; break;
    case DataType::kUINT8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
  }
}
__device__ __forceinline__ void storeFromInt(void* p, DataType t, int64_t i, int64_t v) {
  switch (t) {
    case DataType::kINT64: static_cast<int64_t*>(p)[i] = v; break;
    case DataType::kINT32: static_cast<int32_t*>(p)[i] = static_cast<int32_t>(v); break;
    case DataType::kINT8: static_cast<int8_t*>(p)[i] = static_cast<int8_t>(v); break;
    case DataType::kUINT8: static_cast<uint8_t*>(p)[i] = static_cast<uint8_t>(v); break;
    case DataType::kBOOL: static_cast<uint8_t*>(p)[i] = v != 0; break;
    default: storeFromDouble(p, t, i, static_cast<double>(v));
  }
}

// Calls f(T{}) with T the C++ type of `type` (bool is stored as uint8_t-sized bool).
// Usage: return dispatchType(view.type, [&](auto tag) { using T = decltype(tag); ... });
template <typename F>
Status dispatchType(DataType type, F&& f) {
  switch (type) {
    case DataType::kFLOAT: return f(float{});
    case DataType::kHALF: return f(__half{});
    case DataType::kBF16: return f(__nv_bfloat16{});
    case DataType::kINT8: return f(int8_t{});
    case DataType::kINT32: return f(int32_t{});
    case DataType::kINT64: return f(int64_t{});
    case DataType::kBOOL: return f(bool{});
    case DataType::kUINT8: return f(uint8_t{});
  }
  return invalidArgument("unknown data type");
}
template <typename F>
Status dispatchFloatType(DataType type, F&& f) {
  switch (type) {
    case DataType::kFLOAT: return f(float{});
    case DataType::kHALF: return f(__half{});
    case DataType::kBF16: return f(__nv_bfloat16{});
    default: return invalidArgument(std::string("expects float32, float16 or bfloat16, got ") + dataTypeName(type));
  }
}

// Up to 8 dims by value, for passing shapes and strides to kernels.
struct Shape8 {
  int32_t rank = 0;
  int64_t d[Dims::kMAX_DIMS] = {};
};
inline Shape8 toShape8(const Dims& dims) {
  Shape8 s;
  s.rank = dims.nbDims;
  for (int32_t i = 0; i < dims.nbDims; ++i) s.d[i] = dims.d[i];
  return s;
}
// Row-major strides; with `broadcastTo`, strides of `in` read while iterating over `out` (0 on broadcast
// dims; `in` may have lower rank).
inline Shape8 contiguousStrides(const Dims& dims) {
  Shape8 s;
  s.rank = dims.nbDims;
  int64_t stride = 1;
  for (int32_t i = dims.nbDims - 1; i >= 0; --i) {
    s.d[i] = stride;
    stride *= dims.d[i];
  }
  return s;
}
inline Shape8 broadcastStrides(const Dims& in, const Dims& out) {
  Shape8 s;
  s.rank = out.nbDims;
  int64_t stride = 1;
  for (int32_t i = out.nbDims - 1; i >= 0; --i) {
    const int32_t j = i - (out.nbDims - in.nbDims);
    if (j < 0) {
      s.d[i] = 0;
      continue;
    }
    s.d[i] = in.d[j] == 1 && out.d[i] != 1 ? 0 : stride;
    stride *= in.d[j];
  }
  return s;
}
// Offset through `strides` of flat index `linear` over `shape`.
__host__ __device__ __forceinline__ int64_t offsetOf(int64_t linear, const Shape8& shape, const Shape8& strides) {
  int64_t offset = 0;
  for (int32_t i = shape.rank - 1; i >= 0; --i) {
    const int64_t extent = shape.d[i];
    offset += (linear % extent) * strides.d[i];
    linear /= extent;
  }
  return offset;
}

inline cudaStream_t streamOf(const KernelIO& io) { return static_cast<cudaStream_t>(io.stream); }

// A 1-D grid for n elements; grid-stride loops cover the rest.
constexpr int kBLOCK = 256;
inline unsigned int gridFor(int64_t n, int block = kBLOCK) {
  const int64_t blocks = (n + block - 1) / block;
  return static_cast<unsigned int>(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}
#define KILN_GRID_STRIDE_LOOP(i, n) \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n); i += static_cast<int64_t>(blockDim.x) * gridDim.x)

}  // namespace cuda
}  // namespace kiln
