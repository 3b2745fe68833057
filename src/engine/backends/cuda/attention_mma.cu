// Tensor-core flash attention for float16/bfloat16 (FlashAttention-2 layout): a block of 4 warps takes 64
// query rows, each warp 16 of them, and walks the keys in tiles of 64. S = Q K^T and O += P V run as
// m16n8k16 mma.sync with float32 accumulation; operands come from shared memory through ldmatrix. The
// softmax runs online in base 2 in float32; P is rounded to the input type for the second product, as
// every fp16 flash kernel does. Masks, causal, grouped-query heads and broadcast batch dims as in attention.cu.
#include <algorithm>
#include <mutex>
#include <type_traits>

#include "engine/backends/cuda/attention.cuh"

namespace kiln {
namespace cuda {
namespace {

constexpr int kMMA_WARPS = 4;
constexpr int kMMA_THREADS = kMMA_WARPS * 32;
constexpr int kMMA_BLOCK_Q = kMMA_WARPS * 16;
constexpr int kMMA_BLOCK_K = 64;
constexpr int kPAD = 8;  // halves of padding per shared row: ldmatrix rows land in distinct banks
constexpr float kLOG2E = 1.4426950408889634f;

template <int D>
constexpr int mmaSharedBytes() {
  return 3 * kMMA_BLOCK_Q * (D + kPAD) * 2;  // Q, K and V tiles (kMMA_BLOCK_K == kMMA_BLOCK_Q rows)
}

__device__ __forceinline__ uint32_t sharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void ldmatrixX4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(sharedAddress(p)));
}
__device__ __forceinline__ void ldmatrixX4Trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(sharedAddress(p)));
}

// c += a x b for one m16n8k16 tile.
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __half>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

template <typename T>
__device__ __forceinline__ uint32_t packPair(float lo, float hi) {
  const T l = fromFloat<T>(lo), h = fromFloat<T>(hi);
  uint16_t lb, hb;
  memcpy(&lb, &l, 2);
  memcpy(&hb, &h, 2);
  return static_cast<uint32_t>(lb) | (static_cast<uint32_t>(hb) << 16);
}

// rows x width elements of a [*, width] matrix (rows from `first`, `limit` rows exist) into a shared tile of
// row stride D + kPAD, zero beyond the matrix. `vec`: width % 8 == 0 and 16-byte aligned rows.
template <int D, typename T>
__device__ __forceinline__ void loadTile(T* tile, const T* src, int64_t first, int64_t limit, int64_t width,
                                         bool vec) {
  if (vec) {
    constexpr int kCHUNKS = D / 8;
    for (int idx = threadIdx.x; idx < kMMA_BLOCK_Q * kCHUNKS; idx += kMMA_THREADS) {
      const int row = idx / kCHUNKS, x = (idx % kCHUNKS) * 8;
      const int64_t r = first + row;
      uint4 value = make_uint4(0, 0, 0, 0);
      if (r < limit && x < width) value = *reinterpret_cast<const uint4*>(src + r * width + x);
      *reinterpret_cast<uint4*>(tile + row * (D + kPAD) + x) = value;
    }
  } else {
    for (int idx = threadIdx.x; idx < kMMA_BLOCK_Q * D; idx += kMMA_THREADS) {
      const int row = idx / D, x = idx % D;
      const int64_t r = first + row;
      tile[row * (D + kPAD) + x] = r < limit && x < width ? src[r * width + x] : fromFloat<T>(0.f);
    }
  }
}

template <int D, typename T>
__global__ void __launch_bounds__(kMMA_THREADS) mmaAttentionKernel(AttentionArgs a, bool vec) {
  extern __shared__ __align__(16) unsigned char sharedBytes[];
  T* qs = reinterpret_cast<T*>(sharedBytes);
  T* ks = qs + kMMA_BLOCK_Q * (D + kPAD);
  T* vs = ks + kMMA_BLOCK_K * (D + kPAD);
  constexpr int kSTEPS = D / 16;           // k-steps of Q K^T
  constexpr int kKEY_TILES = kMMA_BLOCK_K / 8;
  constexpr int kDIM_TILES = D / 8;

  const int64_t queryBlocks = (a.sq + kMMA_BLOCK_Q - 1) / kMMA_BLOCK_Q;
  const int64_t qb = blockIdx.x % queryBlocks;
  const int64_t head = (blockIdx.x / queryBlocks) % a.hq;
  const int64_t b = blockIdx.x / (queryBlocks * a.hq);
  const int64_t kvHead = head / a.group;
  const int32_t r = a.rank;
  const T* q = static_cast<const T*>(a.q) + a.batchOffset(b, a.qStrides) + head * a.qStrides.d[r - 3];
  const T* k = static_cast<const T*>(a.k) + a.batchOffset(b, a.kStrides) + kvHead * a.kStrides.d[r - 3];
  const T* v = static_cast<const T*>(a.v) + a.batchOffset(b, a.vStrides) + kvHead * a.vStrides.d[r - 3];
  const int64_t i0 = qb * kMMA_BLOCK_Q;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;  // mma fragment coordinates
  const int sel = lane / 8, within = lane % 8;  // ldmatrix: which 8x8 matrix this lane addresses, and its row

  loadTile<D, T>(qs, q, i0, a.sq, a.e, vec);
  __syncthreads();
  uint32_t qFrag[kSTEPS][4];
#pragma unroll
  for (int s = 0; s < kSTEPS; ++s) {
    ldmatrixX4(qFrag[s], qs + (warp * 16 + (sel % 2) * 8 + within) * (D + kPAD) + s * 16 + (sel / 2) * 8);
  }

  float out[kDIM_TILES][4];
#pragma unroll
  for (int n = 0; n < kDIM_TILES; ++n) out[n][0] = out[n][1] = out[n][2] = out[n][3] = 0.f;
  float rowMax[2] = {kATTN_NEG_INF, kATTN_NEG_INF}, rowSum[2] = {0.f, 0.f};
  const int64_t rows[2] = {i0 + warp * 16 + g, i0 + warp * 16 + g + 8};
  int64_t maskRow[2] = {0, 0};
  if (a.mask != nullptr) {
    const int64_t base = a.batchOffset(b, a.maskStrides) + head * a.maskStrides.d[r - 3];
    maskRow[0] = base + rows[0] * a.maskStrides.d[r - 2];
    maskRow[1] = base + rows[1] * a.maskStrides.d[r - 2];
  }
  const int64_t maskCol = a.mask != nullptr ? a.maskStrides.d[r - 1] : 0;

  const int64_t keys = a.causal ? std::min<int64_t>(a.sk, i0 + kMMA_BLOCK_Q) : a.sk;
  for (int64_t j0 = 0; j0 < keys; j0 += kMMA_BLOCK_K) {
    __syncthreads();  // every warp is done with the previous K/V tile
    loadTile<D, T>(ks, k, j0, a.sk, a.e, vec);
    loadTile<D, T>(vs, v, j0, a.sk, a.ev, vec);
    __syncthreads();

    float s[kKEY_TILES][4];
#pragma unroll
    for (int n = 0; n < kKEY_TILES; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int step = 0; step < kSTEPS; ++step) {
#pragma unroll
      for (int n = 0; n < kKEY_TILES; n += 2) {
        uint32_t kf[4];
        ldmatrixX4(kf, ks + (n * 8 + (sel / 2) * 8 + within) * (D + kPAD) + step * 16 + (sel % 2) * 8);
        mma16816<T>(s[n], qFrag[step], kf[0], kf[1]);
        mma16816<T>(s[n + 1], qFrag[step], kf[2], kf[3]);
      }
    }

    // Scores in base 2, masked; the tile's max per row over the quad that shares the row.
    float tileMax[2] = {kATTN_NEG_INF, kATTN_NEG_INF};
#pragma unroll
    for (int n = 0; n < kKEY_TILES; ++n) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int half = c / 2;
        const int64_t i = rows[half];
        const int64_t j = j0 + n * 8 + 2 * t + (c % 2);
        float score = s[n][c] * a.scale;
        const bool attend = j < a.sk && i < a.sq && (!a.causal || j <= i);
        if (attend && a.mask != nullptr) score = applyMask(a, maskRow[half] + j * maskCol, score);
        score = attend ? score * kLOG2E : kATTN_NEG_INF;
        s[n][c] = score;
        tileMax[half] = maxKeepNan(tileMax[half], score);
      }
    }
    float alpha[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      tileMax[h] = maxKeepNan(tileMax[h], __shfl_xor_sync(0xffffffffu, tileMax[h], 1));
      tileMax[h] = maxKeepNan(tileMax[h], __shfl_xor_sync(0xffffffffu, tileMax[h], 2));
      const float newMax = maxKeepNan(rowMax[h], tileMax[h]);
      // A row that attended nothing yet keeps max -inf: its weights stay 0 (no -inf - -inf NaN).
      alpha[h] = newMax == kATTN_NEG_INF ? 1.f : exp2f(rowMax[h] - newMax);
      rowMax[h] = newMax;
      rowSum[h] *= alpha[h];
    }
#pragma unroll
    for (int n = 0; n < kKEY_TILES; ++n) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const int h = c / 2;
        const float p = rowMax[h] == kATTN_NEG_INF ? 0.f : exp2f(s[n][c] - rowMax[h]);
        s[n][c] = p;
        rowSum[h] += p;
      }
    }
#pragma unroll
    for (int n = 0; n < kDIM_TILES; ++n) {
      out[n][0] *= alpha[0];
      out[n][1] *= alpha[0];
      out[n][2] *= alpha[1];
      out[n][3] *= alpha[1];
    }
    // O += P V: the S accumulators of two key tiles are exactly the A fragment of one k16 step.
#pragma unroll
    for (int kk = 0; kk < kMMA_BLOCK_K / 16; ++kk) {
      uint32_t pf[4];
      pf[0] = packPair<T>(s[2 * kk][0], s[2 * kk][1]);
      pf[1] = packPair<T>(s[2 * kk][2], s[2 * kk][3]);
      pf[2] = packPair<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pf[3] = packPair<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int n = 0; n < kDIM_TILES; n += 2) {
        uint32_t vf[4];
        ldmatrixX4Trans(vf, vs + (kk * 16 + (sel % 2) * 8 + within) * (D + kPAD) + n * 8 + (sel / 2) * 8);
        mma16816<T>(out[n], pf, vf[0], vf[1]);
        mma16816<T>(out[n + 1], pf, vf[2], vf[3]);
      }
    }
  }

  T* o = static_cast<T*>(a.out) + ((b * a.hq + head) * a.sq) * a.ev;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float sum = rowSum[h];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int64_t i = rows[h];
    if (i >= a.sq) continue;
    // Fully masked rows (sum 0) give zeros; a NaN sum keeps the NaN.
    const float inv = sum == 0.f ? 0.f : 1.f / sum;
#pragma unroll
    for (int n = 0; n < kDIM_TILES; ++n) {
#pragma unroll
      for (int c = 0; c < 2; ++c) {
        const int x = n * 8 + 2 * t + c;
        if (x < a.ev) o[i * a.ev + x] = fromFloat<T>(sum == 0.f ? 0.f : out[n][h * 2 + c] * inv);
      }
    }
  }
}

template <int D, typename T>
Status launchMma(const AttentionArgs& a, int64_t batchCount, bool vec, cudaStream_t stream) {
  constexpr int kSHARED = mmaSharedBytes<D>();
  if constexpr (kSHARED > 48 * 1024) {
    static std::once_flag once;
    static cudaError_t optIn = cudaSuccess;
    std::call_once(once, [] {
      optIn = cudaFuncSetAttribute(mmaAttentionKernel<D, T>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSHARED);
    });
    KILN_CUDA_CHECK(optIn);
  }
  const int64_t blocks = batchCount * a.hq * ((a.sq + kMMA_BLOCK_Q - 1) / kMMA_BLOCK_Q);
  if (blocks > INT32_MAX) return unimplemented("attention with more than 2^31 query blocks");
  mmaAttentionKernel<D, T><<<static_cast<unsigned int>(blocks), kMMA_THREADS, kSHARED, stream>>>(a, vec);
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool mmaAttentionTakes(const AttentionArgs& a, DataType type) {
  if (type != DataType::kHALF && type != DataType::kBF16) return false;
  return a.e >= 1 && std::max(a.e, a.ev) <= 128;
}

Status launchMmaAttention(const AttentionArgs& a, DataType type, int64_t batchCount, cudaStream_t stream) {
  // 16-byte loads need rows of whole 8-element chunks starting at 16-byte addresses (every row and batch
  // stride is then a multiple of 8 elements too).
  const bool vec = a.e % 8 == 0 && a.ev % 8 == 0 && aligned16(a.q) && aligned16(a.k) && aligned16(a.v);
  const int64_t width = std::max(a.e, a.ev);
  return dispatchFloatType(type, [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float>) {
      return internalError("the tensor-core attention runs float16/bfloat16 only");
    } else {
      if (width <= 32) return launchMma<32, T>(a, batchCount, vec, stream);
      if (width <= 64) return launchMma<64, T>(a, batchCount, vec, stream);
      return launchMma<128, T>(a, batchCount, vec, stream);
    }
  });
}

}  // namespace cuda
}  // namespace kiln
