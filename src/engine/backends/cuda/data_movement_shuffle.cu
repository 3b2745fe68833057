// CUDA shuffle kernel (transpose -> reshape -> transpose). The reshape moves no bytes; each transpose is a
// strided gather into a contiguous output. Dims are simplified first (unit dims dropped, dims that stay
// adjacent in the source merged), then the copy takes one of three forms: a plain device-to-device copy,
// a row copy in wide units when the innermost dim reads contiguously, a shared-memory tiled transpose when
// another dim does, and a general strided gather otherwise.
#include <vector>

#include "engine/backends/cuda/data_movement_util.cuh"

namespace kiln {
namespace cuda {
namespace {

constexpr int kTILE = 32;       // tile side of the transpose kernel
constexpr int kTILE_ROWS = 8;   // threads per tile column: each thread moves kTILE / kTILE_ROWS elements
constexpr int64_t kTILE_MIN_EXTENT = 16;  // both tiled dims at least this long, else the flat gather
constexpr int64_t kROW_KERNEL_MIN = 64;  // inner extents from here on use one block row per output row
constexpr int kROW_ELEMENTS = 4;         // row elements per thread: amortizes the row's index arithmetic

// An output-contiguous view of the source after dim simplification.
struct Strided {
  int32_t rank = 0;
  int64_t ext[Dims::kMAX_DIMS] = {};
  int64_t str[Dims::kMAX_DIMS] = {};
};

// Source offset of coordinate `rem` (row-major over desc.ext[0, rank)); unrolled over the maximum rank so
// that nothing is indexed dynamically. I is the index type: 32-bit division is several times cheaper.
template <typename I>
__device__ __forceinline__ int64_t stridedOffset(const Strided& desc, int32_t rank, I rem) {
  int64_t offset = 0;
#pragma unroll
  for (int32_t d = Dims::kMAX_DIMS - 1; d >= 0; --d) {
    if (d < rank) {
      const auto extent = static_cast<I>(desc.ext[d]);
      offset += static_cast<int64_t>(rem % extent) * desc.str[d];
      rem /= extent;
    }
  }
  return offset;
}

// Copies a source laid out by `desc` (in units U) into the contiguous dst, one thread per element.
template <typename U, typename I>
__global__ void gatherFlatKernel(U* __restrict__ dst, const U* __restrict__ src, Strided desc, int64_t total) {
  KILN_GRID_STRIDE_LOOP(i, total) { dst[i] = src[stridedOffset<I>(desc, desc.rank, static_cast<I>(i))]; }
}

// One output row per block row: the row's source offset is computed once, and each thread moves several
// elements of the row.
template <typename U, typename I>
__global__ void gatherRowsKernel(U* __restrict__ dst, const U* __restrict__ src, Strided desc, int64_t rows) {
  const int32_t inner = desc.rank - 1;
  const int64_t n = desc.ext[inner], innerStride = desc.str[inner];
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const int64_t offset = stridedOffset<I>(desc, inner, static_cast<I>(row));
    U* out = dst + row * n;
    for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < n;
         j += static_cast<int64_t>(blockDim.x) * gridDim.x) {
      out[j] = src[offset + j * innerStride];
    }
  }
}

// Transpose through a shared tile: the inner output dim `inner` reads with a stride while dim `tileDim`
// reads contiguously. Loads walk tileDim (coalesced reads), stores walk the inner dim (coalesced writes).
template <typename E>
__global__ void tiledTransposeKernel(E* __restrict__ dst, const E* __restrict__ src, Strided desc, int32_t tileDim,
                                     int64_t tilesI, int64_t batch) {
  __shared__ E tile[kTILE][kTILE + 1];
  const int32_t inner = desc.rank - 1;
  const int64_t n = desc.ext[inner], m = desc.ext[tileDim];
  const int64_t srcI = desc.str[inner];
  int64_t dstStr[Dims::kMAX_DIMS];
  dstStr[inner] = 1;
  for (int32_t d = inner - 1; d >= 0; --d) dstStr[d] = dstStr[d + 1] * desc.ext[d + 1];
  const int64_t dstJ = dstStr[tileDim];
  const int64_t i0 = (blockIdx.x % tilesI) * kTILE, j0 = (blockIdx.x / tilesI) * kTILE;
  for (int64_t b = blockIdx.y; b < batch; b += gridDim.y) {
    int64_t rem = b, srcOff = 0, dstOff = 0;
    for (int32_t d = inner - 1; d >= 0; --d) {
      if (d == tileDim) continue;
      const int64_t c = rem % desc.ext[d];
      rem /= desc.ext[d];
      srcOff += c * desc.str[d];
      dstOff += c * dstStr[d];
    }
    const int64_t j = j0 + threadIdx.x;
    for (int k = threadIdx.y; k < kTILE; k += kTILE_ROWS) {
      const int64_t i = i0 + k;
      if (i < n && j < m) tile[k][threadIdx.x] = src[srcOff + i * srcI + j];
    }
    __syncthreads();
    const int64_t i = i0 + threadIdx.x;
    for (int k = threadIdx.y; k < kTILE; k += kTILE_ROWS) {
      const int64_t jj = j0 + k;
      if (i < n && jj < m) dst[dstOff + jj * dstJ + i] = tile[threadIdx.x][k];
    }
    __syncthreads();  // the tile is reused by the next batch entry
  }
}

// Drops unit dims and merges dims that are also adjacent in the source.
Strided simplify(const Dims& outDims, const int64_t* srcStrides) {
  Strided s;
  for (int32_t d = 0; d < outDims.nbDims; ++d) {
    const int64_t e = outDims.d[d];
    if (e == 1) continue;
    if (s.rank > 0 && s.str[s.rank - 1] == srcStrides[d] * e) {
      s.ext[s.rank - 1] *= e;
      s.str[s.rank - 1] = srcStrides[d];
    } else {
      s.ext[s.rank] = e;
      s.str[s.rank] = srcStrides[d];
      ++s.rank;
    }
  }
  return s;
}

template <typename U>
Status launchGather(void* dst, const void* src, const Strided& desc, int64_t total, cudaStream_t stream) {
  const int64_t n = desc.ext[desc.rank - 1];
  const bool small = total < (int64_t{1} << 31);
  U* d = static_cast<U*>(dst);
  const U* s = static_cast<const U*>(src);
  if (n >= kROW_KERNEL_MIN && desc.rank > 1) {
    const int64_t rows = total / n;
    const dim3 grid(gridFor(n, kBLOCK * kROW_ELEMENTS), gridRows(rows));
    if (small) {
      gatherRowsKernel<U, uint32_t><<<grid, kBLOCK, 0, stream>>>(d, s, desc, rows);
    } else {
      gatherRowsKernel<U, int64_t><<<grid, kBLOCK, 0, stream>>>(d, s, desc, rows);
    }
  } else if (small) {
    gatherFlatKernel<U, uint32_t><<<gridFor(total), kBLOCK, 0, stream>>>(d, s, desc, total);
  } else {
    gatherFlatKernel<U, int64_t><<<gridFor(total), kBLOCK, 0, stream>>>(d, s, desc, total);
  }
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

std::vector<int32_t> storedPermutation(const Attributes& attrs, const char* key, int32_t rank) {
  std::vector<int32_t> perm(static_cast<size_t>(rank));
  for (int32_t i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = i;
  const std::vector<int64_t> stored = attrs.getInts(key);
  if (stored.size() >= static_cast<size_t>(rank)) {
    for (int32_t i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = static_cast<int32_t>(stored[static_cast<size_t>(i)]);
  }
  return perm;
}

bool isIdentity(const std::vector<int32_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int32_t>(i)) return false;
  }
  return true;
}

// Shape inference validated the permutations; a corrupt one would index out of the dims, so check again.
Status checkPermutation(const std::vector<int32_t>& perm, const char* which) {
  uint32_t seen = 0;
  for (int32_t p : perm) {
    if (p < 0 || p >= static_cast<int32_t>(perm.size()) || (seen & (1u << p)) != 0) {
      return invalidArgument(std::string(which) + " transpose is not a permutation of the dims");
    }
    seen |= 1u << p;
  }
  return Status::ok();
}

// dst = src (contiguous, shape `in`) transposed: dst dim i is src dim perm[i].
Status transpose(void* dst, const void* src, const Dims& in, const std::vector<int32_t>& perm, int64_t elemSize,
                 cudaStream_t stream) {
  const Shape8 strides = contiguousStrides(in);
  Dims out = in;
  int64_t permStrides[Dims::kMAX_DIMS] = {};
  for (int32_t i = 0; i < in.nbDims; ++i) {
    out.d[i] = in.d[perm[static_cast<size_t>(i)]];
    permStrides[i] = strides.d[perm[static_cast<size_t>(i)]];
  }
  return stridedGather(dst, src, out, permStrides, elemSize, stream);
}

Status runShuffle(const LayerParams& layer, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  const int64_t elemSize = dataTypeSize(in.type);
  const std::vector<int32_t> first = storedPermutation(layer.attrs, "first_transpose", in.dims.nbDims);
  const std::vector<int32_t> second = storedPermutation(layer.attrs, "second_transpose", out.dims.nbDims);
  KILN_RETURN_IF_ERROR(checkPermutation(first, "first"));
  KILN_RETURN_IF_ERROR(checkPermutation(second, "second"));
  if (in.count() != out.count()) {
    return invalidArgument("shuffle of " + dimsToString(in.dims) + " into " + dimsToString(out.dims) +
                           " changes the element count");
  }
  // The second transpose reads the reshaped shape, recovered from the output.
  Dims reshaped = out.dims;
  for (int32_t i = 0; i < out.dims.nbDims; ++i) reshaped.d[second[static_cast<size_t>(i)]] = out.dims.d[i];
  if (in.count() == 0) return Status::ok();
  const cudaStream_t stream = streamOf(io);
  const bool firstIdentity = isIdentity(first), secondIdentity = isIdentity(second);
  if (firstIdentity && secondIdentity) {
    if (out.data != in.data) {
      KILN_CUDA_CHECK(cudaMemcpyAsync(out.data, in.data, static_cast<size_t>(in.bytes()), cudaMemcpyDeviceToDevice,
                                      stream));
    }
    return Status::ok();
  }
  if (secondIdentity) return transpose(out.data, in.data, in.dims, first, elemSize, stream);
  if (firstIdentity) return transpose(out.data, in.data, reshaped, second, elemSize, stream);
  if (io.workspace == nullptr || io.workspaceSize < in.bytes()) {
    return internalError("shuffle needs " + std::to_string(in.bytes()) + " bytes of workspace, got " +
                         std::to_string(io.workspaceSize));
  }
  KILN_RETURN_IF_ERROR(transpose(io.workspace, in.data, in.dims, first, elemSize, stream));
  return transpose(out.data, io.workspace, reshaped, second, elemSize, stream);
}

// Scratch for the intermediate tensor when both transposes move data.
int64_t shuffleWorkspace(const LayerParams& layer, const KernelIO& io) {
  const TensorView& in = io.inputs[0];
  const bool first = isIdentity(storedPermutation(layer.attrs, "first_transpose", in.dims.nbDims));
  const bool second = isIdentity(storedPermutation(layer.attrs, "second_transpose", io.outputs[0].dims.nbDims));
  return first || second ? 0 : in.bytes();
}

}  // namespace

Status stridedGather(void* dst, const void* src, const Dims& outDims, const int64_t* srcStrides, int64_t elemSize,
                     cudaStream_t stream) {
  const int64_t total = volume(outDims);
  if (total == 0) return Status::ok();
  Strided desc = simplify(outDims, srcStrides);
  if (desc.rank == 0 || (desc.rank == 1 && desc.str[0] == 1)) {
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(total * elemSize), cudaMemcpyDeviceToDevice, stream));
    return Status::ok();
  }
  const int32_t inner = desc.rank - 1;
  if (desc.str[inner] == 1) {
    // Contiguous rows: move them in the widest unit that every row start and both buffers allow.
    int64_t unit = unitFor(desc.ext[inner] * elemSize, dst);
    unit = unitFor(unit, src, unit);
    for (int32_t d = 0; d < inner; ++d) unit = unitFor(desc.str[d] * elemSize, unit);
    desc.ext[inner] = desc.ext[inner] * elemSize / unit;
    for (int32_t d = 0; d < inner; ++d) desc.str[d] = desc.str[d] * elemSize / unit;
    const int64_t units = total * elemSize / unit;
    return dispatchUnit(unit, [&](auto tag) { return launchGather<decltype(tag)>(dst, src, desc, units, stream); });
  }
  for (int32_t j = inner - 1; j >= 0; --j) {
    if (desc.str[j] != 1) continue;
    const int64_t tilesI = (desc.ext[inner] + kTILE - 1) / kTILE, tilesJ = (desc.ext[j] + kTILE - 1) / kTILE;
    const int64_t batch = total / (desc.ext[inner] * desc.ext[j]);
    if (tilesI * tilesJ > 0x7fffffff) break;  // beyond grid.x: the general kernel handles it
    // A tile side shorter than kTILE_MIN_EXTENT (an image's 3 channels) leaves most of the tile's threads idle:
    // the flat gather, writing in order and reading a few strided streams, is several times faster there.
    if (desc.ext[inner] < kTILE_MIN_EXTENT || desc.ext[j] < kTILE_MIN_EXTENT) break;
    const dim3 grid(static_cast<unsigned int>(tilesI * tilesJ), gridRows(batch));
    const dim3 block(kTILE, kTILE_ROWS);
    return dispatchUnit(elemSize, [&](auto tag) {
      using E = decltype(tag);
      tiledTransposeKernel<E><<<grid, block, 0, stream>>>(static_cast<E*>(dst), static_cast<const E*>(src), desc, j,
                                                          tilesI, batch);
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    });
  }
  return dispatchUnit(elemSize, [&](auto tag) { return launchGather<decltype(tag)>(dst, src, desc, total, stream); });
}

void registerShuffleDataMovementCudaKernels(CudaKernelTable& table) {
  table.add(LayerType::kSHUFFLE, {"cuda_shuffle", runShuffle, shuffleWorkspace, nullptr, {}});
}

}  // namespace cuda
}  // namespace kiln
