// Byte-moving helpers shared by the CPU data-movement kernels (shuffle, slice, padding, concatenation,
// gather, scatter, one-hot, non-zero). They work on element sizes rather than types, so every dtype moves
// through the same code. Private to backends/cpu.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "engine/backend.h"
#include "engine/graph.h"
#include "kiln/status.h"

namespace kiln {
namespace cpu {

// An element as raw bytes: assignment moves exactly N bytes without alignment assumptions.
template <int N>
struct Bytes {
  unsigned char b[N];
};

// Calls f(Bytes<N>{}) for an element size in bytes (every DataType is 1, 2, 4 or 8 bytes).
template <typename F>
void dispatchElementSize(int64_t elemSize, F&& f) {
  switch (elemSize) {
    case 1:
      f(Bytes<1>{});
      break;
    case 2:
      f(Bytes<2>{});
      break;
    case 4:
      f(Bytes<4>{});
      break;
    default:
      f(Bytes<8>{});
      break;
  }
}

// dst[i] = src[i * stride] for n elements of elemSize bytes (stride in elements, may be negative).
void copyStrided(void* dst, const void* src, int64_t n, int64_t stride, int64_t elemSize);

// Writes the strided view of src with extents outDims and element strides srcStrides (one per dim) into
// the contiguous dst. Adjacent dims are merged, rows are copied with memcpy where contiguous, and
// transposes go through cache-sized tiles.
void stridedGather(void* dst, const void* src, const Dims& outDims, const int64_t* srcStrides, int64_t elemSize);

// Reads index i of an int32 or int64 tensor.
inline int64_t readIndex(const TensorView& indices, int64_t i) {
  return indices.type == DataType::kINT64 ? indices.as<const int64_t>()[i]
                                          : static_cast<int64_t>(indices.as<const int32_t>()[i]);
}

// Checks every index against the extent it addresses: position p addresses extents[p % period]; valid
// indices are in [-extent, extent) (negative ones count from the end). The error gives the first bad
// position (the kernel wrapper prefixes the layer's name).
Status checkIndices(const TensorView& indices, const int64_t* extents, int64_t period);

// Kernels defined in sibling files and registered by registerShuffleCpuKernels / registerGatherCpuKernels.
Status runSliceKernel(const LayerParams& layer, KernelIO& io);
Status runPaddingKernel(const LayerParams& layer, KernelIO& io);
Status runScatterKernel(const LayerParams& layer, KernelIO& io);

}  // namespace cpu
}  // namespace kiln
