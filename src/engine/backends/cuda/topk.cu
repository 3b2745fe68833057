// CUDA top-k along one axis, with the CPU reference's order: the k best first, NaN above every number
// (first for kMAX, last for kMIN), ties by the lower index, -0 equal to +0.
//
// Every element becomes an unsigned "goodness" key (larger is better) that orders exactly like the CPU's
// comparator; with the index as tie-break the order is total, so any correct selection gives the CPU's
// output. Paths by row length n and k:
//   k <= 8, n > 256      k block-wide arg-max passes (below);
//   n <= 4096            bitonic sort of the (key, index) pairs in shared memory, several short rows per block;
//   n > 4096, k <= 64    k block-wide arg-max passes, each taking the best pair below the previous one;
//   otherwise            a stable segmented radix sort of the keys (CUB) in the workspace.
#include <cub/device/device_segmented_radix_sort.cuh>

#include <climits>
#include <string>

#include "engine/backends/cuda/reduce_family.h"
#include "engine/backends/cuda/reduce_ops.cuh"

namespace kiln {
namespace cuda {
namespace {

constexpr int64_t kSORT_MAX = 4096;      // pairs sorted in shared memory: 12 bytes each, 48 KiB
constexpr int64_t kSELECT_MAX_K = 64;
constexpr int64_t kSELECT_FEW_K = 8;
constexpr int kSELECT_BLOCK = 512;

struct TopKShape {
  int64_t outer = 1, n = 1, inner = 1, k = 0;
  bool largest = true;
  int64_t rows() const { return outer * inner; }
};

// Goodness key of x: monotone in the CPU's ranking. 32-bit element types use the low 32 bits only.
template <typename T>
__device__ __forceinline__ uint64_t goodness(T x, bool largest) {
  uint64_t ordered;  // increasing with the value
  if constexpr (kIsFloatElement<T>) {
    float f = toFloat(x);
    if (f != f) return largest ? 0xffffffffull : 0ull;  // NaN: best for max, worst for min
    if (f == 0.f) f = 0.f;                               // -0 ties with +0
    const uint32_t u = __float_as_uint(f);
    ordered = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return largest ? ordered : (~ordered & 0xffffffffull);
  } else if constexpr (sizeof(T) == 8) {
    ordered = static_cast<uint64_t>(x) ^ 0x8000000000000000ull;
    return largest ? ordered : ~ordered;
  } else {
    ordered = static_cast<uint32_t>(static_cast<int32_t>(x)) ^ 0x80000000u;
    return largest ? ordered : (~ordered & 0xffffffffull);
  }
}

__device__ __forceinline__ bool better(uint64_t ka, uint32_t ia, uint64_t kb, uint32_t ib) {
  return ka > kb || (ka == kb && ia < ib);
}

// Row r of the [outer, n, inner] view starts at base(r) and steps by inner.
__device__ __forceinline__ int64_t rowBase(int64_t r, int64_t n, int64_t inner) {
  return (r / inner) * n * inner + r % inner;
}
__device__ __forceinline__ int64_t outBase(int64_t r, int64_t k, int64_t inner) {
  return (r / inner) * k * inner + r % inner;
}

template <typename T, typename I>
__device__ __forceinline__ void writePick(const T* in, T* values, I* indices, int64_t inBase, int64_t outAt,
                                          int64_t inner, uint32_t index) {
  values[outAt] = in[inBase + static_cast<int64_t>(index) * inner];  // the input's own bits (-0, payloads)
  indices[outAt] = static_cast<I>(index);
}

// ---- shared-memory bitonic sort -----------------------------------------------------------------------

// `rowsPerBlock` rows of p (a power of two >= n) slots each; padding slots rank last.
template <typename T, typename I>
__global__ void topKBitonicKernel(const T* __restrict__ in, T* __restrict__ values, I* __restrict__ indices,
                                  int64_t rows, int64_t n, int64_t inner, int64_t k, int p, int rowsPerBlock,
                                  bool largest) {
  extern __shared__ uint64_t smem[];
  const int slots = p * rowsPerBlock;
  uint64_t* keys = smem;
  uint32_t* idx = reinterpret_cast<uint32_t*>(smem + slots);
  const int64_t firstRow = static_cast<int64_t>(blockIdx.x) * rowsPerBlock;
  for (int s = threadIdx.x; s < slots; s += blockDim.x) {
    const int64_t r = firstRow + s / p;
    const int j = s % p;
    if (r < rows && j < n) {
      keys[s] = goodness(in[rowBase(r, n, inner) + j * inner], largest);
      idx[s] = static_cast<uint32_t>(j);
    } else {
      keys[s] = 0;
      idx[s] = 0xffffffffu;
    }
  }
  __syncthreads();
  const int half = p / 2;
  for (int size = 2; size <= p; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      for (int t = threadIdx.x; t < slots / 2; t += blockDim.x) {
        const int row = t / half, tt = t % half;
        const int local = 2 * tt - (tt & (stride - 1));
        const int a = row * p + local, b = a + stride;
        const bool descending = (local & size) == 0;
        const uint64_t ka = keys[a], kb = keys[b];
        const uint32_t ia = idx[a], ib = idx[b];
        if (descending == better(kb, ib, ka, ia)) {
          keys[a] = kb;
          keys[b] = ka;
          idx[a] = ib;
          idx[b] = ia;
        }
      }
      __syncthreads();
    }
  }
  for (int s = threadIdx.x; s < rowsPerBlock * k; s += blockDim.x) {
    const int64_t r = firstRow + s / k;
    const int j = static_cast<int>(s % k);
    if (r >= rows) continue;
    writePick(in, values, indices, rowBase(r, n, inner), outBase(r, k, inner) + j * inner, inner,
              idx[(s / k) * p + j]);
  }
}

// ---- repeated arg-max for small k ---------------------------------------------------------------------

template <typename T, typename I>
__global__ void topKSelectKernel(const T* __restrict__ in, T* __restrict__ values, I* __restrict__ indices,
                                 int64_t n, int64_t inner, int64_t k, bool largest) {
  __shared__ uint64_t scratchKey[kSELECT_BLOCK / kWARP];
  __shared__ uint32_t scratchIdx[kSELECT_BLOCK / kWARP];
  const int64_t r = blockIdx.x;
  const int64_t base = rowBase(r, n, inner), obase = outBase(r, k, inner);
  // The previous pick bounds the next from above; ~0 with index 0 is above every pair.
  uint64_t lastKey = ~0ull;
  uint32_t lastIdx = 0;
  bool first = true;
  for (int64_t pick = 0; pick < k; ++pick) {
    uint64_t bestKey = 0;
    uint32_t bestIdx = 0xffffffffu;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const uint64_t key = goodness(in[base + j * inner], largest);
      const auto ij = static_cast<uint32_t>(j);
      if ((first || better(lastKey, lastIdx, key, ij)) && better(key, ij, bestKey, bestIdx)) {
        bestKey = key;
        bestIdx = ij;
      }
    }
#pragma unroll
    for (int offset = kWARP / 2; offset > 0; offset /= 2) {
      const uint64_t ok = __shfl_xor_sync(kFULL_MASK, bestKey, offset);
      const uint32_t oi = __shfl_xor_sync(kFULL_MASK, bestIdx, offset);
      if (better(ok, oi, bestKey, bestIdx)) {
        bestKey = ok;
        bestIdx = oi;
      }
    }
    const int lane = threadIdx.x % kWARP, warp = threadIdx.x / kWARP;
    __syncthreads();
    if (lane == 0) {
      scratchKey[warp] = bestKey;
      scratchIdx[warp] = bestIdx;
    }
    __syncthreads();
    for (int w = 0; w < static_cast<int>(blockDim.x / kWARP); ++w) {
      if (better(scratchKey[w], scratchIdx[w], bestKey, bestIdx)) {
        bestKey = scratchKey[w];
        bestIdx = scratchIdx[w];
      }
    }
    if (threadIdx.x == 0) writePick(in, values, indices, base, obase + pick * inner, inner, bestIdx);
    lastKey = bestKey;
    lastIdx = bestIdx;
    first = false;
  }
}

// ---- segmented radix sort in the workspace ------------------------------------------------------------

template <typename T>
__global__ void topKKeysKernel(const T* __restrict__ in, uint64_t* __restrict__ keys, int32_t* __restrict__ idx,
                               int32_t* __restrict__ offsets, int64_t rows, int64_t n, int64_t inner, bool largest) {
  KILN_GRID_STRIDE_LOOP(e, rows * n) {
    const int64_t r = e / n, j = e % n;
    keys[e] = goodness(in[rowBase(r, n, inner) + j * inner], largest);
    idx[e] = static_cast<int32_t>(j);
    if (j == 0) offsets[r] = static_cast<int32_t>(e);
    if (e == rows * n - 1) offsets[rows] = static_cast<int32_t>(rows * n);
  }
}

template <typename T, typename I>
__global__ void topKGatherKernel(const T* __restrict__ in, const int32_t* __restrict__ sortedIdx,
                                 T* __restrict__ values, I* __restrict__ indices, int64_t rows, int64_t n,
                                 int64_t inner, int64_t k) {
  KILN_GRID_STRIDE_LOOP(e, rows * k) {
    const int64_t r = e / k, j = e % k;
    writePick(in, values, indices, rowBase(r, n, inner), outBase(r, k, inner) + j * inner, inner,
              static_cast<uint32_t>(sortedIdx[r * n + j]));
  }
}

int64_t alignUp(int64_t v) { return (v + 255) / 256 * 256; }

struct SortBuffers {
  int64_t keysIn = 0, keysOut = 0, idxIn = 0, idxOut = 0, offsets = 0, temp = 0, total = 0;
  size_t tempBytes = 0;
};

template <typename T>
constexpr int keyBits() {
  return (kIsFloatElement<T> || sizeof(T) == 4) ? 32 : 64;
}

StatusOr<SortBuffers> sortBuffers(int64_t rows, int64_t n, int bits) {
  const int64_t items = rows * n;
  if (items > INT_MAX) {
    return invalidArgument("top-k over " + std::to_string(items) + " elements with k > " +
                           std::to_string(kSELECT_MAX_K) + " and rows longer than " + std::to_string(kSORT_MAX) +
                           " exceeds the 2^31 elements of the sorting path");
  }
  SortBuffers b;
  const cudaError_t err = cub::DeviceSegmentedRadixSort::SortPairsDescending(
      nullptr, b.tempBytes, static_cast<const uint64_t*>(nullptr), static_cast<uint64_t*>(nullptr),
      static_cast<const int32_t*>(nullptr), static_cast<int32_t*>(nullptr), static_cast<int>(items),
      static_cast<int>(rows), static_cast<const int32_t*>(nullptr), static_cast<const int32_t*>(nullptr), 0, bits);
  if (err != cudaSuccess) return internalError(std::string("top-k sort sizing failed: ") + cudaGetErrorString(err));
  b.keysIn = 0;
  b.keysOut = b.keysIn + alignUp(items * 8);
  b.idxIn = b.keysOut + alignUp(items * 8);
  b.idxOut = b.idxIn + alignUp(items * 4);
  b.offsets = b.idxOut + alignUp(items * 4);
  b.temp = b.offsets + alignUp((rows + 1) * 4);
  b.total = b.temp + alignUp(static_cast<int64_t>(b.tempBytes));
  return b;
}

enum class TopKPath { kBITONIC, kSELECT, kSORT };

TopKPath choosePath(const TopKShape& s) {
  // A handful of arg-max passes beats sorting a row of a few hundred or more.
  if (s.k <= kSELECT_FEW_K && s.n > 256) return TopKPath::kSELECT;
  if (s.n <= kSORT_MAX) return TopKPath::kBITONIC;
  if (s.k <= kSELECT_MAX_K) return TopKPath::kSELECT;
  return TopKPath::kSORT;
}

template <typename T, typename I>
Status launchTopK(const TopKShape& s, const TensorView& in, TensorView& values, TensorView& indices, KernelIO& io) {
  const cudaStream_t stream = streamOf(io);
  const T* x = in.as<const T>();
  T* v = values.as<T>();
  I* ix = indices.as<I>();
  const int64_t rows = s.rows();
  switch (choosePath(s)) {
    case TopKPath::kBITONIC: {
      int p = 1;
      while (p < s.n) p *= 2;
      const int rowsPerBlock = std::max(1, static_cast<int>(std::min<int64_t>(rows, 1024 / p)));
      const int slots = p * rowsPerBlock;
      const int threads = std::max(kWARP, std::min(512, slots / 2));
      const int64_t blocks = (rows + rowsPerBlock - 1) / rowsPerBlock;
      const size_t smem = static_cast<size_t>(slots) * (sizeof(uint64_t) + sizeof(uint32_t));
      topKBitonicKernel<T, I><<<static_cast<unsigned int>(blocks), threads, smem, stream>>>(
          x, v, ix, rows, s.n, s.inner, s.k, p, rowsPerBlock, s.largest);
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    }
    case TopKPath::kSELECT:
      topKSelectKernel<T, I><<<static_cast<unsigned int>(rows), kSELECT_BLOCK, 0, stream>>>(x, v, ix, s.n, s.inner,
                                                                                             s.k, s.largest);
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    case TopKPath::kSORT: {
      KILN_ASSIGN_OR_RETURN(SortBuffers b, sortBuffers(rows, s.n, keyBits<T>()));
      if (io.workspaceSize < b.total) return invalidArgument("top-k: workspace too small for the sorting path");
      auto* ws = static_cast<uint8_t*>(io.workspace);
      auto* keysIn = reinterpret_cast<uint64_t*>(ws + b.keysIn);
      auto* keysOut = reinterpret_cast<uint64_t*>(ws + b.keysOut);
      auto* idxIn = reinterpret_cast<int32_t*>(ws + b.idxIn);
      auto* idxOut = reinterpret_cast<int32_t*>(ws + b.idxOut);
      auto* offsets = reinterpret_cast<int32_t*>(ws + b.offsets);
      topKKeysKernel<T><<<gridFor(rows * s.n), kBLOCK, 0, stream>>>(x, keysIn, idxIn, offsets, rows, s.n, s.inner,
                                                                     s.largest);
      KILN_CUDA_CHECK_LAUNCH();
      size_t tempBytes = b.tempBytes;
      // Radix sort is stable: equal keys keep their (ascending) index order.
      KILN_CUDA_CHECK(cub::DeviceSegmentedRadixSort::SortPairsDescending(
          ws + b.temp, tempBytes, keysIn, keysOut, idxIn, idxOut, static_cast<int>(rows * s.n),
          static_cast<int>(rows), offsets, offsets + 1, 0, keyBits<T>(), stream));
      topKGatherKernel<T, I><<<gridFor(rows * s.k), kBLOCK, 0, stream>>>(x, idxOut, v, ix, rows, s.n, s.inner, s.k);
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    }
  }
  return Status::ok();
}

StatusOr<TopKShape> topKShape(const LayerParams& layer, const KernelIO& io) {
  TopKShape s;
  s.largest = static_cast<TopKOperation>(layer.attrs.getInt("operation")) == TopKOperation::kMAX;
  s.k = layer.attrs.getInt("k");
  const Dims& dims = io.inputs[0].dims;
  const auto mask = static_cast<uint32_t>(layer.attrs.getInt("axes"));
  int32_t axis = 0;
  while (axis < dims.nbDims && ((mask >> axis) & 1u) == 0) ++axis;
  if (axis >= dims.nbDims) return invalidArgument("top-k axes mask names no dim of the input");
  for (int32_t d = 0; d < dims.nbDims; ++d) {
    if (d < axis) s.outer *= dims.d[d];
    if (d > axis) s.inner *= dims.d[d];
  }
  s.n = dims.d[axis];
  if (s.k < 0 || s.k > s.n) {
    return invalidArgument("top-k: k = " + std::to_string(s.k) + " exceeds the extent " + std::to_string(s.n) +
                           " of axis " + std::to_string(axis));
  }
  if (s.n > INT32_MAX) return invalidArgument("top-k axis extent " + std::to_string(s.n) + " exceeds 2^31 - 1");
  return s;
}

int64_t topKWorkspace(const LayerParams& layer, const KernelIO& io) {
  const StatusOr<TopKShape> s = topKShape(layer, io);
  if (!s.isOk() || s.value().rows() * s.value().k == 0 || choosePath(s.value()) != TopKPath::kSORT) return 0;
  const int bits = io.inputs[0].type == DataType::kINT64 ? 64 : 32;
  const StatusOr<SortBuffers> b = sortBuffers(s.value().rows(), s.value().n, bits);
  return b.isOk() ? b.value().total : 0;  // execute reports the failure
}

template <typename T>
Status topKForIndices(const TopKShape& s, KernelIO& io) {
  TensorView& indices = io.outputs[1];
  if (indices.type == DataType::kINT32) return launchTopK<T, int32_t>(s, io.inputs[0], io.outputs[0], indices, io);
  if (indices.type == DataType::kINT64) return launchTopK<T, int64_t>(s, io.inputs[0], io.outputs[0], indices, io);
  return invalidArgument(std::string("top-k indices must be int32 or int64, got ") + dataTypeName(indices.type));
}

Status runTopK(const LayerParams& layer, KernelIO& io) {
  if (io.outputs.size() < 2) return invalidArgument("top-k '" + layer.name + "' needs its values and indices outputs");
  StatusOr<TopKShape> shape = topKShape(layer, io);
  if (!shape.isOk()) return shape.status().withContext("top-k '" + layer.name + "'");
  const TopKShape& s = shape.value();
  if (s.rows() * s.k == 0) return Status::ok();
  const auto dispatch = [&]() -> Status {
    switch (io.inputs[0].type) {
      case DataType::kFLOAT: return topKForIndices<float>(s, io);
      case DataType::kHALF: return topKForIndices<__half>(s, io);
      case DataType::kBF16: return topKForIndices<__nv_bfloat16>(s, io);
      case DataType::kINT32: return topKForIndices<int32_t>(s, io);
      case DataType::kINT64: return topKForIndices<int64_t>(s, io);
      case DataType::kINT8:
      case DataType::kUINT8:
      case DataType::kBOOL: break;
    }
    return invalidArgument(std::string("top-k has no kernel for ") + dataTypeName(io.inputs[0].type));
  };
  const Status status = dispatch();
  return status.isOk() ? status : status.withContext("top-k '" + layer.name + "'");
}

// The CPU's set: float32/float16/bfloat16/int32/int64 values, int32/int64 indices.
bool topKSupports(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.empty() || layer.inputs[0] < 0 || layer.outputs.size() < 2) return false;
  const DataType type = graph.tensors[static_cast<size_t>(layer.inputs[0])].type;
  const DataType indexType = graph.tensors[static_cast<size_t>(layer.outputs[1])].type;
  const bool valuesOk = isFloatType(type) || type == DataType::kINT32 || type == DataType::kINT64;
  return valuesOk && (indexType == DataType::kINT32 || indexType == DataType::kINT64);
}

}  // namespace
}  // namespace cuda

void addTopKCudaTactics(CudaKernelTable& table) {
  table.add(LayerType::kTOPK, {"cuda_topk", cuda::runTopK, cuda::topKWorkspace, cuda::topKSupports, {}});
}

}  // namespace kiln
