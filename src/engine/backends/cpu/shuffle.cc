// CPU shuffle and concatenation kernels, the strided-copy helpers every data-movement kernel uses, and the
// registration of the shuffle family (shuffle, slice, concatenation, padding; slice and padding live in
// slice.cc). Everything moves bytes by element size, so all dtypes share one path.
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"
#include "engine/backends/cpu/data_movement.h"

namespace kiln {
namespace cpu {
namespace {

// Elements per parallel task: large enough to amortize the fork, small enough to balance.
constexpr int64_t kGrainElements = int64_t{1} << 15;
// Transposes go through square tiles of this many elements per side (a tile of 8-byte elements is 8 KiB).
constexpr int64_t kTile = 32;

template <typename E>
void copyStridedTyped(void* dst, const void* src, int64_t n, int64_t stride) {
  E* d = static_cast<E*>(dst);
  const E* s = static_cast<const E*>(src);
  for (int64_t i = 0; i < n; ++i) d[i] = s[i * stride];
}

// A transpose whose innermost output dim reads with a stride while another dim (tileDim) reads
// contiguously: copying tile by tile keeps both sides in cache.
template <typename E>
void tiledGather(E* dst, const E* src, int32_t rank, const int64_t* ext, const int64_t* str, int32_t tileDim) {
  int64_t dstStr[Dims::kMAX_DIMS];
  dstStr[rank - 1] = 1;
  for (int32_t d = rank - 2; d >= 0; --d) dstStr[d] = dstStr[d + 1] * ext[d + 1];
  const int32_t inner = rank - 1;
  const int64_t n = ext[inner], m = ext[tileDim];
  const int64_t tilesI = (n + kTile - 1) / kTile, tilesJ = (m + kTile - 1) / kTile;
  int64_t batch = 1;
  for (int32_t d = 0; d < inner; ++d) {
    if (d != tileDim) batch *= ext[d];
  }
  const int64_t srcInner = str[inner], dstJ = dstStr[tileDim];
  parallelFor(batch * tilesJ * tilesI, 4, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t ti = task % tilesI, tj = (task / tilesI) % tilesJ;
      int64_t b = task / (tilesI * tilesJ);
      int64_t srcOff = 0, dstOff = 0;
      for (int32_t d = inner - 1; d >= 0; --d) {
        if (d == tileDim) continue;
        const int64_t c = b % ext[d];
        b /= ext[d];
        srcOff += c * str[d];
        dstOff += c * dstStr[d];
      }
      const int64_t i0 = ti * kTile, i1 = std::min(n, i0 + kTile);
      const int64_t j0 = tj * kTile, j1 = std::min(m, j0 + kTile);
      // Contiguous writes; the strided reads stay inside the tile's cache lines.
      for (int64_t j = j0; j < j1; ++j) {
        const E* s = src + srcOff + j;
        E* d = dst + dstOff + j * dstJ;
        for (int64_t i = i0; i < i1; ++i) d[i] = s[i * srcInner];
      }
    }
  });
}

std::vector<int32_t> storedPermutation(const Attributes& attrs, const char* key, int32_t rank) {
  std::vector<int32_t> perm(static_cast<size_t>(rank));
  for (int32_t i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = i;
  const std::vector<int64_t> stored = attrs.getInts(key);
  if (stored.size() >= static_cast<size_t>(rank)) {
    for (int32_t i = 0; i < rank; ++i)
      perm[static_cast<size_t>(i)] = static_cast<int32_t>(stored[static_cast<size_t>(i)]);
  }
  return perm;
}

bool isIdentity(const std::vector<int32_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int32_t>(i)) return false;
  }
  return true;
}

// Copies src (contiguous, shape `in`) into dst transposed by perm: dst dim i is src dim perm[i].
void transpose(void* dst, const void* src, const Dims& in, const std::vector<int32_t>& perm, int64_t elemSize) {
  const std::vector<int64_t> strides = contiguousStrides(in);
  Dims out = in;
  int64_t permStrides[Dims::kMAX_DIMS] = {};
  for (int32_t i = 0; i < in.nbDims; ++i) {
    out.d[i] = in.d[perm[static_cast<size_t>(i)]];
    permStrides[i] = strides[static_cast<size_t>(perm[static_cast<size_t>(i)])];
  }
  stridedGather(dst, src, out, permStrides, elemSize);
}

Status runShuffle(const LayerParams& layer, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  const int64_t elemSize = dataTypeSize(in.type);
  const std::vector<int32_t> first = storedPermutation(layer.attrs, "first_transpose", in.dims.nbDims);
  const std::vector<int32_t> second = storedPermutation(layer.attrs, "second_transpose", out.dims.nbDims);
  // The reshape moves no bytes: the second transpose reads the reshaped shape, recovered from the output.
  Dims reshaped = out.dims;
  for (int32_t i = 0; i < out.dims.nbDims; ++i) reshaped.d[second[static_cast<size_t>(i)]] = out.dims.d[i];

  if (in.count() == 0) return Status::ok();
  const bool firstIdentity = isIdentity(first), secondIdentity = isIdentity(second);
  if (firstIdentity && secondIdentity) {
    if (out.data != in.data) std::memcpy(out.data, in.data, static_cast<size_t>(in.bytes()));
  } else if (secondIdentity) {
    transpose(out.data, in.data, in.dims, first, elemSize);
  } else if (firstIdentity) {
    transpose(out.data, in.data, reshaped, second, elemSize);
  } else {
    std::vector<uint8_t> scratch;
    void* tmp = io.workspace;
    if (tmp == nullptr || io.workspaceSize < in.bytes()) {
      scratch.resize(static_cast<size_t>(in.bytes()));
      tmp = scratch.data();
    }
    transpose(tmp, in.data, in.dims, first, elemSize);
    transpose(out.data, tmp, reshaped, second, elemSize);
  }
  return Status::ok();
}

// Scratch for the intermediate tensor when both transposes move data.
int64_t shuffleWorkspace(const LayerParams& layer, const KernelIO& io) {
  const TensorView& in = io.inputs[0];
  const bool first = isIdentity(storedPermutation(layer.attrs, "first_transpose", in.dims.nbDims));
  const bool second = isIdentity(storedPermutation(layer.attrs, "second_transpose", io.outputs[0].dims.nbDims));
  return first || second ? 0 : in.bytes();
}

Status runConcatenation(const LayerParams& layer, KernelIO& io) {
  TensorView& out = io.outputs[0];
  const int32_t rank = out.dims.nbDims;
  int64_t axis = layer.attrs.has("axis") ? layer.attrs.getInt("axis") : (rank >= 3 ? rank - 3 : 0);
  if (axis < 0) axis += rank;
  const int64_t elemSize = dataTypeSize(out.type);
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < axis; ++d) outer *= out.dims.d[d];
  for (int32_t d = static_cast<int32_t>(axis) + 1; d < rank; ++d) inner *= out.dims.d[d];
  const int64_t outRowBytes = out.dims.d[axis] * inner * elemSize;
  const auto nbInputs = static_cast<int64_t>(io.inputs.size());
  std::vector<int64_t> chunkBytes(static_cast<size_t>(nbInputs)), offsets(static_cast<size_t>(nbInputs));
  int64_t offset = 0;
  for (int64_t k = 0; k < nbInputs; ++k) {
    chunkBytes[static_cast<size_t>(k)] = io.inputs[static_cast<size_t>(k)].dims.d[axis] * inner * elemSize;
    offsets[static_cast<size_t>(k)] = offset;
    offset += chunkBytes[static_cast<size_t>(k)];
  }
  if (outer == 0 || outRowBytes == 0) return Status::ok();
  auto* dst = static_cast<uint8_t*>(out.data);
  // One task per (outer row, input): contiguous memcpys; tasks are grouped to about kGrain elements.
  const int64_t bytesPerTask = std::max<int64_t>(1, outRowBytes / nbInputs);
  const int64_t grain = std::max<int64_t>(1, kGrainElements * 8 / bytesPerTask);
  parallelFor(outer * nbInputs, grain, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t o = task / nbInputs, k = task % nbInputs;
      const int64_t bytes = chunkBytes[static_cast<size_t>(k)];
      if (bytes == 0) continue;
      const auto* src = static_cast<const uint8_t*>(io.inputs[static_cast<size_t>(k)].data);
      std::memcpy(dst + o * outRowBytes + offsets[static_cast<size_t>(k)], src + o * bytes, static_cast<size_t>(bytes));
    }
  });
  return Status::ok();
}

}  // namespace

void copyStrided(void* dst, const void* src, int64_t n, int64_t stride, int64_t elemSize) {
  if (stride == 1) {
    std::memcpy(dst, src, static_cast<size_t>(n * elemSize));
    return;
  }
  dispatchElementSize(elemSize, [&](auto tag) { copyStridedTyped<decltype(tag)>(dst, src, n, stride); });
}

void stridedGather(void* dst, const void* src, const Dims& outDims, const int64_t* srcStrides, int64_t elemSize) {
  // Drop unit dims and merge dims that are contiguous in the source too.
  int64_t ext[Dims::kMAX_DIMS], str[Dims::kMAX_DIMS];
  int32_t rank = 0;
  int64_t total = 1;
  for (int32_t d = 0; d < outDims.nbDims; ++d) {
    const int64_t e = outDims.d[d];
    total *= e;
    if (e == 1) continue;
    if (rank > 0 && str[rank - 1] == srcStrides[d] * e) {
      ext[rank - 1] *= e;
      str[rank - 1] = srcStrides[d];
    } else {
      ext[rank] = e;
      str[rank] = srcStrides[d];
      ++rank;
    }
  }
  if (total == 0) return;
  if (rank == 0) {
    std::memcpy(dst, src, static_cast<size_t>(elemSize));
    return;
  }
  const int64_t n = ext[rank - 1], innerStride = str[rank - 1];
  if (innerStride != 1) {
    for (int32_t j = rank - 2; j >= 0; --j) {
      if (str[j] == 1) {
        dispatchElementSize(elemSize, [&](auto tag) {
          using E = decltype(tag);
          tiledGather(static_cast<E*>(dst), static_cast<const E*>(src), rank, ext, str, j);
        });
        return;
      }
    }
  }
  const int64_t rows = total / n;
  const int32_t outerRank = rank - 1;
  auto* d8 = static_cast<uint8_t*>(dst);
  const auto* s8 = static_cast<const uint8_t*>(src);
  parallelFor(rows, std::max<int64_t>(1, kGrainElements / n), [&](int64_t begin, int64_t end) {
    int64_t coord[Dims::kMAX_DIMS] = {};
    int64_t offset = 0;
    int64_t rem = begin;
    for (int32_t d = outerRank - 1; d >= 0; --d) {
      coord[d] = rem % ext[d];
      rem /= ext[d];
      offset += coord[d] * str[d];
    }
    for (int64_t row = begin; row < end; ++row) {
      copyStrided(d8 + row * n * elemSize, s8 + offset * elemSize, n, innerStride, elemSize);
      for (int32_t d = outerRank - 1; d >= 0; --d) {
        offset += str[d];
        if (++coord[d] < ext[d]) break;
        offset -= coord[d] * str[d];
        coord[d] = 0;
      }
    }
  });
}

}  // namespace cpu

void registerShuffleCpuKernels(CpuKernelTable& table) {
  table.add(LayerType::kSHUFFLE, {"cpu_shuffle", cpu::runShuffle, cpu::shuffleWorkspace});
  table.add(LayerType::kSLICE, {"cpu_slice", cpu::runSliceKernel});
  table.add(LayerType::kCONCATENATION, {"cpu_concatenation", cpu::runConcatenation});
  table.add(LayerType::kPADDING, {"cpu_padding", cpu::runPaddingKernel});
}

}  // namespace kiln
