// Helpers shared by the CUDA data-movement kernels (shuffle, slice, padding, concatenation, gather, scatter,
// non-zero). Like the CPU reference they move elements as opaque units of 1..16 bytes, so every dtype goes
// through the same code and wide units turn contiguous runs into vector loads. Include only from .cu files.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "engine/backends/cuda/cuda_common.cuh"

namespace kiln {
namespace cuda {

// Per-family registration, called by registerDataMovementCudaKernels (data_movement.cu).
void registerShuffleDataMovementCudaKernels(CudaKernelTable& table);      // shuffle (data_movement_shuffle.cu)
void registerConcatenationDataMovementCudaKernels(CudaKernelTable& table);  // data_movement_concat.cu
void registerSliceDataMovementCudaKernels(CudaKernelTable& table);        // slice, padding
void registerGatherDataMovementCudaKernels(CudaKernelTable& table);       // gather
void registerScatterDataMovementCudaKernels(CudaKernelTable& table);      // scatter
void registerNonZeroDataMovementCudaKernels(CudaKernelTable& table);      // non-zero

// dst (contiguous, extents outDims) = src read through srcStrides (in elements; any sign, 0 repeats).
// Simplifies the dims, then copies with cudaMemcpyAsync, a wide-unit row copy, a tiled transpose or a general
// strided kernel (data_movement_shuffle.cu).
Status stridedGather(void* dst, const void* src, const Dims& outDims, const int64_t* srcStrides, int64_t elemSize,
                     cudaStream_t stream);

// The native type that moves N bytes in one access.
template <int N> struct UnitOf;
template <> struct UnitOf<1> { using type = uint8_t; };
template <> struct UnitOf<2> { using type = uint16_t; };
template <> struct UnitOf<4> { using type = uint32_t; };
template <> struct UnitOf<8> { using type = uint2; };
template <> struct UnitOf<16> { using type = uint4; };

// Calls f(U{}) with U the unit type of `bytes` (1, 2, 4, 8 or 16).
template <typename F>
Status dispatchUnit(int64_t bytes, F&& f) {
  switch (bytes) {
    case 1: return f(UnitOf<1>::type{});
    case 2: return f(UnitOf<2>::type{});
    case 4: return f(UnitOf<4>::type{});
    case 8: return f(UnitOf<8>::type{});
    case 16: return f(UnitOf<16>::type{});
    default: return internalError("no " + std::to_string(bytes) + "-byte unit for a data-movement kernel");
  }
}

// The widest unit (at most 16 bytes) that divides `bytes` and the address `p`.
inline int64_t unitFor(int64_t bytes, const void* p, int64_t widest = 16) {
  int64_t w = widest;
  const auto address = static_cast<int64_t>(reinterpret_cast<uintptr_t>(p));
  while (w > 1 && (bytes % w != 0 || address % w != 0)) w /= 2;
  return w;
}
inline int64_t unitFor(int64_t bytes, int64_t widest = 16) {
  int64_t w = widest;
  while (w > 1 && bytes % w != 0) w /= 2;
  return w;
}

// Index element i of an int32 or int64 tensor.
__device__ __forceinline__ int64_t loadIndex(const void* p, bool is64, int64_t i) {
  return is64 ? static_cast<const int64_t*>(p)[i] : static_cast<int64_t>(static_cast<const int32_t*>(p)[i]);
}

// Whether a small parameter tensor (slice start/stride, fill value) must be read on the host: shape tensors
// and constants the runtime keeps in host memory are handed to kernels as host pointers, while ordinary
// tensors live on the device. A host query, never a stream operation, so it is legal during graph capture.
inline bool readOnHost(const void* p) {
  cudaPointerAttributes attrs{};
  if (cudaPointerGetAttributes(&attrs, p) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky-free error so later launch checks do not report it
    return true;
  }
  return attrs.type != cudaMemoryTypeDevice && attrs.type != cudaMemoryTypeManaged;
}

// Product of dims [begin, end).
inline int64_t extentProduct(const Dims& dims, int32_t begin, int32_t end) {
  int64_t p = 1;
  for (int32_t d = begin; d < end; ++d) p *= dims.d[d];
  return p;
}

// Grid y extent for a loop over `n` rows (the kernel strides over the rest).
inline unsigned int gridRows(int64_t n) { return static_cast<unsigned int>(n < 1 ? 1 : (n > 65535 ? 65535 : n)); }

}  // namespace cuda
}  // namespace kiln
