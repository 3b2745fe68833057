// Tensor-core flash attention for float16/bfloat16 (FlashAttention-2 layout): a block of 4 warps takes 64
// query rows, each warp 16 of them, and walks the keys in tiles of 64. S = Q K^T and O += P V run as
// m16n8k16 mma.sync with float32 accumulation; operands come from shared memory through ldmatrix. The
// softmax runs online in base 2 in float32; P is rounded to the input type for the second product, as
// every fp16 flash kernel does. Masks, causal, grouped-query heads, broadcast batch dims and strided views
// as in attention.cu.
//
// Pipeline: while the warps compute key tile t, cp.async copies K, V and the mask block of tile t + 1 into the
// second of two shared buffers (one barrier per tile). Q passes once through shared memory into registers;
// the output is staged through a free buffer and written in whole rows. Only tiles that run past Sk or cross
// the causal diagonal check each score's key; warps with no query rows left skip the math. Operands whose
// strides or bases are not 16-byte aligned take plain loads instead of cp.async (same pipeline, no overlap).
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

static_assert(kMMA_BLOCK_Q == kMMA_BLOCK_K, "Q goes through a K tile");

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

// Two floats rounded to T (nearest even) in one register, `lo` in the low half.
template <typename T>
__device__ __forceinline__ uint32_t packPair(float lo, float hi) {
  uint32_t bits;
  if constexpr (std::is_same_v<T, __half>) {
    const __half2 pair = __floats2half2_rn(lo, hi);
    memcpy(&bits, &pair, 4);
  } else {
    const __nv_bfloat162 pair = __floats2bfloat162_rn(lo, hi);
    memcpy(&bits, &pair, 4);
  }
  return bits;
}

// 2^x on the special-function unit (what exp2f compiles to, without its rescaling for results below 2^-126:
// those flush to 0, negligible beside the weight 1 of a row's max). 2^-inf = 0, NaN stays NaN.
__device__ __forceinline__ float fastExp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

__device__ __forceinline__ void cpAsync16(void* shared, const void* global) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(sharedAddress(shared)), "l"(global) : "memory");
}
// A 16-byte chunk of a shared tile from the first `bytes` (0 to 16) of `global`, zeros after. Only whole chunks
// go through cp.async: a partial one ends a row, and the row may end its allocation, where a 16-byte access
// (cp.async's source-size form included, as compute-sanitizer counts it) would reach past the end. Plain
// stores become visible at the same barrier that follows the cp.async wait.
__device__ __forceinline__ void copyChunk16(void* shared, const void* global, int bytes) {
  if (bytes == 16) {
    cpAsync16(shared, global);
    return;
  }
  if (bytes <= 0) {
    *static_cast<uint4*>(shared) = make_uint4(0, 0, 0, 0);
    return;
  }
  unsigned char* const dst = static_cast<unsigned char*>(shared);
  const unsigned char* const src = static_cast<const unsigned char*>(global);
  for (int i = 0; i < 16; ++i) dst[i] = i < bytes ? src[i] : 0;
}
__device__ __forceinline__ void cpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
// Waits until at most N committed groups of this thread are still in flight.
template <int N>
__device__ __forceinline__ void cpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// How a launch moves data, decided on the host from the strides and base addresses.
struct MmaAccess {
  bool vecQKV = false;   // Q, K, V by 16-byte cp.async (else plain element loads)
  bool vecMask = false;  // the mask by 16-byte cp.async
  bool vecOut = false;   // the output by 16-byte stores
  int maskRows = 0;      // rows of a staged mask block: 1 when every query row reads one mask row
};

// A mask block staged in shared memory, per element type (uint8_t: bool keep flags; float types: added to the
// scores). kPITCH: bytes per row, the 64 keys plus padding that puts the 8 rows a warp reads at once (2 keys
// per thread, float pairs by half-warp) in distinct banks. apply: keys (2t, 2t + 1) of a row on two base-2
// scores.
template <typename M>
struct MaskTile {
  static constexpr int kPITCH = 0;  // no mask
};
template <>
struct MaskTile<uint8_t> {
  static constexpr int kPITCH = kMMA_BLOCK_K + 16;
  static __device__ __forceinline__ void apply(const unsigned char* p, float& s0, float& s1) {
    const uint16_t keep = *reinterpret_cast<const uint16_t*>(p);
    if ((keep & 0xffu) == 0) s0 = kATTN_NEG_INF;
    if ((keep >> 8) == 0) s1 = kATTN_NEG_INF;
  }
};
template <>
struct MaskTile<float> {
  static constexpr int kPITCH = kMMA_BLOCK_K * 4 + 32;
  static __device__ __forceinline__ void apply(const unsigned char* p, float& s0, float& s1) {
    const float2 m = *reinterpret_cast<const float2*>(p);
    s0 = fmaf(m.x, kLOG2E, s0);
    s1 = fmaf(m.y, kLOG2E, s1);
  }
};
template <>
struct MaskTile<__half> {
  static constexpr int kPITCH = kMMA_BLOCK_K * 2 + 16;
  static __device__ __forceinline__ void apply(const unsigned char* p, float& s0, float& s1) {
    const float2 m = __half22float2(*reinterpret_cast<const __half2*>(p));
    s0 = fmaf(m.x, kLOG2E, s0);
    s1 = fmaf(m.y, kLOG2E, s1);
  }
};
template <>
struct MaskTile<__nv_bfloat16> {
  static constexpr int kPITCH = kMMA_BLOCK_K * 2 + 16;
  static __device__ __forceinline__ void apply(const unsigned char* p, float& s0, float& s1) {
    const float2 m = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(p));
    s0 = fmaf(m.x, kLOG2E, s0);
    s1 = fmaf(m.y, kLOG2E, s1);
  }
};

// Rows [0, 64) of a [*, width] matrix with row stride `stride` into a shared tile of row pitch D + kPAD, zeros
// past `rows` rows and `width` columns. `vec` (16-byte aligned rows): cp.async, which the caller commits and
// waits for; else plain loads.
template <int D, typename T>
__device__ __forceinline__ void loadTile(T* tile, const T* src, int64_t stride, int rows, int width, bool vec) {
  if (vec) {
    constexpr int kCHUNKS = D / 8;
    constexpr int kITERS = kMMA_BLOCK_K * kCHUNKS / kMMA_THREADS;
#pragma unroll
    for (int it = 0; it < kITERS; ++it) {
      const int idx = it * kMMA_THREADS + static_cast<int>(threadIdx.x);
      const int row = idx / kCHUNKS, x = (idx % kCHUNKS) * 8;
      const int elems = row < rows ? min(8, width - x) : 0;
      copyChunk16(tile + row * (D + kPAD) + x, src + row * stride + x, elems * 2);
    }
  } else {
    for (int idx = threadIdx.x; idx < kMMA_BLOCK_K * D; idx += kMMA_THREADS) {
      const int row = idx / D, x = idx % D;
      tile[row * (D + kPAD) + x] = row < rows && x < width ? src[row * stride + x] : fromFloat<T>(0.f);
    }
  }
}

// The mask block of a key tile: `rows` (1 or 64) query rows of 64 keys, zeros past `validRows` rows and
// `validKeys` keys (masked out or adding 0: those scores are dropped anyway). `vec` (keys contiguous,
// 16-byte aligned rows): cp.async; else plain loads through both strides.
template <typename M>
__device__ __forceinline__ void loadMaskTile(unsigned char* tile, const M* src, int64_t rowStride,
                                             int64_t keyStride, int rows, int validRows, int validKeys, bool vec) {
  constexpr int kPITCH = MaskTile<M>::kPITCH;
  constexpr int kSIZE = static_cast<int>(sizeof(M));
  if (vec) {
    constexpr int kPER_CHUNK = 16 / kSIZE;
    constexpr int kCHUNKS = kMMA_BLOCK_K / kPER_CHUNK;
    for (int idx = threadIdx.x; idx < rows * kCHUNKS; idx += kMMA_THREADS) {
      const int row = idx / kCHUNKS, key = (idx % kCHUNKS) * kPER_CHUNK;
      const int elems = row < validRows ? min(kPER_CHUNK, validKeys - key) : 0;
      copyChunk16(tile + row * kPITCH + key * kSIZE, src + row * rowStride + key, elems * kSIZE);
    }
  } else {
    for (int idx = threadIdx.x; idx < rows * kMMA_BLOCK_K; idx += kMMA_THREADS) {
      const int row = idx / kMMA_BLOCK_K, key = idx % kMMA_BLOCK_K;
      const M value = row < validRows && key < validKeys ? src[row * rowStride + key * keyStride] : fromFloat<M>(0.f);
      *reinterpret_cast<M*>(tile + row * kPITCH + key * kSIZE) = value;
    }
  }
}

// The scores of a tile in base 2 (scale folded in) with the mask block applied. kCHECK: keys past keyMax[h]
// (the last key row half h may attend: Sk, or the row itself under causal masking) drop to -inf; only tiles
// that are partial or cross the causal diagonal pay for it.
template <bool kCHECK, typename M>
__device__ __forceinline__ void scaleScores(float (&s)[kMMA_BLOCK_K / 8][4], float scaleLog2,
                                            const unsigned char* const (&maskAt)[2], const int (&keyMax)[2],
                                            int t) {
#pragma unroll
  for (int n = 0; n < kMMA_BLOCK_K / 8; ++n) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float s0 = s[n][2 * h] * scaleLog2, s1 = s[n][2 * h + 1] * scaleLog2;
      if constexpr (!std::is_void_v<M>) MaskTile<M>::apply(maskAt[h] + n * 8 * sizeof(M), s0, s1);
      if constexpr (kCHECK) {
        const int key = n * 8 + 2 * t;
        if (key > keyMax[h]) s0 = kATTN_NEG_INF;
        if (key + 1 > keyMax[h]) s1 = kATTN_NEG_INF;
      }
      s[n][2 * h] = s0;
      s[n][2 * h + 1] = s1;
    }
  }
}

// Blocks per SM the register budget is cut for: 4 (16 warps, 128 registers a thread) up to D = 64, 2 (255
// registers) at D = 128, whose accumulators alone take 128.
template <int D>
constexpr int mmaMinBlocks() {
  return D <= 64 ? 4 : 2;
}

// Shared memory: K and V tiles in two buffers ([buffer][K, V][64][D + kPAD]), then the mask blocks
// ([buffer][maskRows][pitch]).
template <int D, typename T>
constexpr int mmaTileBytes() {
  return 4 * kMMA_BLOCK_K * (D + kPAD) * static_cast<int>(sizeof(T));
}

// M: the mask's element type (void: no mask). Causal is a uniform run-time branch: it only decides which
// tiles take the checked path.
template <int D, typename T, typename M>
__global__ void __launch_bounds__(kMMA_THREADS, mmaMinBlocks<D>()) mmaAttentionKernel(AttentionArgs a,
                                                                                      MmaAccess access) {
  extern __shared__ __align__(16) unsigned char sharedBytes[];
  constexpr bool kMASK = !std::is_void_v<M>;
  constexpr int kPITCH = D + kPAD;
  constexpr int kTILE = kMMA_BLOCK_K * kPITCH;  // elements of one K or V tile
  constexpr int kSTEPS = D / 16;                // k-steps of Q K^T
  constexpr int kKEY_TILES = kMMA_BLOCK_K / 8;
  constexpr int kDIM_TILES = D / 8;
  T* const tiles = reinterpret_cast<T*>(sharedBytes);
  unsigned char* const maskTiles = sharedBytes + mmaTileBytes<D, T>();
  const int maskTileBytes = access.maskRows * MaskTile<M>::kPITCH;

  const int sq = static_cast<int>(a.sq), sk = static_cast<int>(a.sk);
  const int e = static_cast<int>(a.e), ev = static_cast<int>(a.ev);
  const int32_t r = a.rank;
  // Block indices stay below 2^31 (checked at launch), and so do heads and batch extents: 32-bit division.
  const unsigned int queryBlocks = static_cast<unsigned int>((sq + kMMA_BLOCK_Q - 1) / kMMA_BLOCK_Q);
  // The last query block of a head first: under causal masking the longest blocks start first.
  const int qb = static_cast<int>(queryBlocks - 1 - blockIdx.x % queryBlocks);
  const unsigned int bh = blockIdx.x / queryBlocks;
  const unsigned int head = bh % static_cast<unsigned int>(a.hq);
  const unsigned int kvHead = head / static_cast<unsigned int>(a.group);
  // Element offsets of the block's (batch, head) in every operand, from one pass over the batch dims.
  int64_t qOffset = head * a.qStrides.d[r - 3], kOffset = kvHead * a.kStrides.d[r - 3];
  int64_t vOffset = kvHead * a.vStrides.d[r - 3], oOffset = head * a.oStrides.d[r - 3];
  int64_t maskOffset = kMASK ? head * a.maskStrides.d[r - 3] : 0;
  unsigned int rest = bh / static_cast<unsigned int>(a.hq);
  for (int32_t d = r - 4; d >= 0; --d) {
    const unsigned int extent = static_cast<unsigned int>(a.batch.d[d]);
    const unsigned int index = rest % extent;
    rest /= extent;
    qOffset += index * a.qStrides.d[d];
    kOffset += index * a.kStrides.d[d];
    vOffset += index * a.vStrides.d[d];
    oOffset += index * a.oStrides.d[d];
    if constexpr (kMASK) maskOffset += index * a.maskStrides.d[d];
  }
  const int i0 = qb * kMMA_BLOCK_Q;
  const int64_t qRow = a.qStrides.d[r - 2], kRow = a.kStrides.d[r - 2], vRow = a.vStrides.d[r - 2];
  const T* const q = static_cast<const T*>(a.q) + qOffset + i0 * qRow;
  const T* const k = static_cast<const T*>(a.k) + kOffset;
  const T* const v = static_cast<const T*>(a.v) + vOffset;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int g = lane / 4, t = lane % 4;         // mma fragment coordinates
  const int sel = lane / 8, within = lane % 8;  // ldmatrix: which 8x8 matrix this lane addresses, and its row
  const int warpRow = i0 + warp * 16;           // the warp's first query row

  // The block's rows [i0, i0 + 64) of the mask, and where this thread's two rows sit in a staged block.
  const M* mask = nullptr;
  int64_t maskRowStride = 0, maskKeyStride = 0;
  int maskAtRow[2] = {0, 0};
  if constexpr (kMASK) {
    maskRowStride = a.maskStrides.d[r - 2];
    maskKeyStride = a.maskStrides.d[r - 1];
    mask = static_cast<const M*>(a.mask) + maskOffset + i0 * maskRowStride;
    for (int h = 0; h < 2; ++h) {
      const int row = access.maskRows == 1 ? 0 : warp * 16 + g + 8 * h;
      maskAtRow[h] = row * MaskTile<M>::kPITCH + 2 * t * static_cast<int>(sizeof(M));
    }
  }

  // Keys of tile `tile` (K, V and the mask block) into buffer tile % 2.
  const auto loadKeys = [&](int tile) {
    const int j0 = tile * kMMA_BLOCK_K;
    T* const kTile = tiles + (tile & 1) * 2 * kTILE;
    const int rows = min(kMMA_BLOCK_K, sk - j0);
    loadTile<D, T>(kTile, k + j0 * kRow, kRow, rows, e, access.vecQKV);
    loadTile<D, T>(kTile + kTILE, v + j0 * vRow, vRow, rows, ev, access.vecQKV);
    if constexpr (kMASK) {
      loadMaskTile<M>(maskTiles + (tile & 1) * maskTileBytes, mask + j0 * maskKeyStride, maskRowStride,
                      maskKeyStride, access.maskRows, min(access.maskRows, sq - i0), sk - j0, access.vecMask);
    }
  };

  // Causal rows attend keys j <= i: the block needs none past its last row.
  const int keys = a.causal ? min(sk, i0 + kMMA_BLOCK_Q) : sk;
  const int tileCount = (keys + kMMA_BLOCK_K - 1) / kMMA_BLOCK_K;

  // Q goes through buffer 1's K tile: tile 1 lands there only after every warp has passed the key loop's first
  // barrier, i.e. holds its Q fragments.
  T* const qTile = tiles + 2 * kTILE;
  loadTile<D, T>(qTile, q, qRow, min(kMMA_BLOCK_Q, sq - i0), e, access.vecQKV);
  cpAsyncCommit();
  if (tileCount > 0) loadKeys(0);
  cpAsyncCommit();
  cpAsyncWait<1>();  // Q has landed; tile 0 may still be on its way
  __syncthreads();
  uint32_t qFrag[kSTEPS][4];
#pragma unroll
  for (int s = 0; s < kSTEPS; ++s) {
    ldmatrixX4(qFrag[s], qTile + (warp * 16 + (sel % 2) * 8 + within) * kPITCH + s * 16 + (sel / 2) * 8);
  }

  float out[kDIM_TILES][4];
#pragma unroll
  for (int n = 0; n < kDIM_TILES; ++n) out[n][0] = out[n][1] = out[n][2] = out[n][3] = 0.f;
  float rowMax[2] = {kATTN_NEG_INF, kATTN_NEG_INF}, rowSum[2] = {0.f, 0.f};
  const float scaleLog2 = a.scale * kLOG2E;

  // One key tile for this warp. kCHECK (the tile runs past Sk or crosses the causal diagonal): the products
  // skip 16-key groups the warp attends none of (`keyLimit` on), and each score checks its key.
  const auto computeTile = [&](auto checkTag, const T* kTile, const unsigned char* maskBlock, int j0) {
    constexpr bool kCHECK = decltype(checkTag)::value;
    const T* const vTile = kTile + kTILE;
    int keyLimit = kMMA_BLOCK_K;
    int keyMax[2] = {kMMA_BLOCK_K - 1, kMMA_BLOCK_K - 1};  // tile-local last key each row half attends
    if constexpr (kCHECK) {
      keyLimit = min(kMMA_BLOCK_K, sk - j0);
      if (a.causal) keyLimit = min(keyLimit, warpRow + 16 - j0);
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        keyMax[h] = min(kMMA_BLOCK_K, sk - j0) - 1;
        if (a.causal) keyMax[h] = min(keyMax[h], warpRow + g + 8 * h - j0);
      }
    }

    float s[kKEY_TILES][4];
#pragma unroll
    for (int n = 0; n < kKEY_TILES; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
#pragma unroll
    for (int step = 0; step < kSTEPS; ++step) {
#pragma unroll
      for (int n = 0; n < kKEY_TILES; n += 2) {
        if (kCHECK && n * 8 >= keyLimit) continue;
        uint32_t kf[4];
        ldmatrixX4(kf, kTile + (n * 8 + (sel / 2) * 8 + within) * kPITCH + step * 16 + (sel % 2) * 8);
        mma16816<T>(s[n], qFrag[step], kf[0], kf[1]);
        mma16816<T>(s[n + 1], qFrag[step], kf[2], kf[3]);
      }
    }

    const unsigned char* maskAt[2] = {nullptr, nullptr};
    if constexpr (kMASK) {
      maskAt[0] = maskBlock + maskAtRow[0];
      maskAt[1] = maskBlock + maskAtRow[1];
    }
    scaleScores<kCHECK, M>(s, scaleLog2, maskAt, keyMax, t);

    // The tile's max per row over the quad that shares the row.
    float tileMax[2] = {kATTN_NEG_INF, kATTN_NEG_INF};
#pragma unroll
    for (int n = 0; n < kKEY_TILES; ++n) {
#pragma unroll
      for (int c = 0; c < 4; ++c) tileMax[c / 2] = maxKeepNan(tileMax[c / 2], s[n][c]);
    }
    float alpha[2], base[2];
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      tileMax[h] = maxKeepNan(tileMax[h], __shfl_xor_sync(0xffffffffu, tileMax[h], 1));
      tileMax[h] = maxKeepNan(tileMax[h], __shfl_xor_sync(0xffffffffu, tileMax[h], 2));
      const float newMax = maxKeepNan(rowMax[h], tileMax[h]);
      // A row that attended nothing yet keeps max -inf; subtracting 0 instead keeps its weights (and alpha,
      // which then scales zeros) at 0 rather than the NaN of -inf - -inf.
      base[h] = newMax == kATTN_NEG_INF ? 0.f : newMax;
      alpha[h] = fastExp2(rowMax[h] - base[h]);
      rowMax[h] = newMax;
      rowSum[h] *= alpha[h];
    }
#pragma unroll
    for (int n = 0; n < kKEY_TILES; ++n) {
#pragma unroll
      for (int c = 0; c < 4; ++c) {
        const float p = fastExp2(s[n][c] - base[c / 2]);
        s[n][c] = p;
        rowSum[c / 2] += p;
      }
    }
#pragma unroll
    for (int n = 0; n < kDIM_TILES; ++n) {
      out[n][0] *= alpha[0];
      out[n][1] *= alpha[0];
      out[n][2] *= alpha[1];
      out[n][3] *= alpha[1];
    }
    // O += P V: the S accumulators of two key tiles are exactly the A fragment of one k16 step. Key groups
    // past keyLimit have P = 0.
#pragma unroll
    for (int kk = 0; kk < kMMA_BLOCK_K / 16; ++kk) {
      if (kCHECK && kk * 16 >= keyLimit) continue;
      uint32_t pf[4];
      pf[0] = packPair<T>(s[2 * kk][0], s[2 * kk][1]);
      pf[1] = packPair<T>(s[2 * kk][2], s[2 * kk][3]);
      pf[2] = packPair<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pf[3] = packPair<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int n = 0; n < kDIM_TILES; n += 2) {
        uint32_t vf[4];
        ldmatrixX4Trans(vf, vTile + (kk * 16 + (sel % 2) * 8 + within) * kPITCH + n * 8 + (sel / 2) * 8);
        mma16816<T>(out[n], pf, vf[0], vf[1]);
        mma16816<T>(out[n + 1], pf, vf[2], vf[3]);
      }
    }
  };

  for (int tile = 0; tile < tileCount; ++tile) {
    cpAsyncWait<0>();
    // Tile `tile` is visible to every warp, and every warp is done with the buffer the next tile goes to.
    __syncthreads();
    if (tile + 1 < tileCount) {
      loadKeys(tile + 1);
      cpAsyncCommit();
    }
    const int j0 = tile * kMMA_BLOCK_K;
    // A warp past the last query row, or whose rows all precede the tile's keys under causal masking, adds
    // nothing (its scores would all be -inf).
    if (warpRow >= sq || (a.causal && j0 > warpRow + 15)) continue;
    const T* const kTile = tiles + (tile & 1) * 2 * kTILE;
    const unsigned char* const maskBlock = maskTiles + (tile & 1) * maskTileBytes;
    if (j0 + kMMA_BLOCK_K > sk || (a.causal && j0 + kMMA_BLOCK_K - 1 > warpRow)) {
      computeTile(std::true_type{}, kTile, maskBlock, j0);
    } else {
      computeTile(std::false_type{}, kTile, maskBlock, j0);
    }
  }

  if (warpRow >= sq) return;
  // The warp's 16 output rows go through its rows of the K tile of buffer tileCount % 2, which no warp reads
  // any more (it held tile tileCount - 2, or Q, and every warp passed the last barrier since) and no copy
  // targets; then out to global memory in whole rows.
  T* const stage = tiles + (tileCount & 1) * 2 * kTILE + warp * 16 * kPITCH;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float sum = rowSum[h];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    // Fully masked rows (sum 0) give zeros; a NaN sum keeps the NaN.
    const float inv = sum == 0.f ? 0.f : 1.f / sum;
#pragma unroll
    for (int n = 0; n < kDIM_TILES; ++n) {
      const float lo = sum == 0.f ? 0.f : out[n][2 * h] * inv;
      const float hi = sum == 0.f ? 0.f : out[n][2 * h + 1] * inv;
      *reinterpret_cast<uint32_t*>(stage + (g + 8 * h) * kPITCH + n * 8 + 2 * t) = packPair<T>(lo, hi);
    }
  }
  __syncwarp();
  const int64_t oRow = a.oStrides.d[r - 2];
  T* const o = static_cast<T*>(a.out) + oOffset + warpRow * oRow;
  const int rows = min(16, sq - warpRow);
  if (access.vecOut) {
    constexpr int kCHUNKS = D / 8;
    for (int idx = lane; idx < 16 * kCHUNKS; idx += 32) {
      const int row = idx / kCHUNKS, x = (idx % kCHUNKS) * 8;
      if (row < rows && x < ev) {
        *reinterpret_cast<uint4*>(o + row * oRow + x) = *reinterpret_cast<const uint4*>(stage + row * kPITCH + x);
      }
    }
  } else {
    for (int idx = lane; idx < 16 * D; idx += 32) {
      const int row = idx / D, x = idx % D;
      if (row < rows && x < ev) o[row * oRow + x] = stage[row * kPITCH + x];
    }
  }
}

template <int D, typename T, typename M>
Status launchMma(const AttentionArgs& a, const MmaAccess& access, int64_t batchCount, cudaStream_t stream) {
  // The largest request of this kernel (a full mask block) decides the opt-in above the default 48 KB.
  constexpr int kMAX_SHARED = mmaTileBytes<D, T>() + 2 * kMMA_BLOCK_Q * MaskTile<M>::kPITCH;
  static std::once_flag once;
  static cudaError_t setup = cudaSuccess;
  std::call_once(once, [] {
    if (kMAX_SHARED > 48 * 1024) {
      setup = cudaFuncSetAttribute(mmaAttentionKernel<D, T, M>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                   kMAX_SHARED);
    }
    // Occupancy is set by shared memory: ask for the largest shared carveout rather than L1 (cp.async.cg
    // bypasses L1 anyway).
    if (setup == cudaSuccess) {
      setup = cudaFuncSetAttribute(mmaAttentionKernel<D, T, M>, cudaFuncAttributePreferredSharedMemoryCarveout,
                                   cudaSharedmemCarveoutMaxShared);
    }
  });
  KILN_CUDA_CHECK(setup);
  const int shared = mmaTileBytes<D, T>() + 2 * access.maskRows * MaskTile<M>::kPITCH;
  const int64_t blocks = batchCount * a.hq * ((a.sq + kMMA_BLOCK_Q - 1) / kMMA_BLOCK_Q);
  if (blocks > INT32_MAX) return unimplemented("attention with more than 2^31 query blocks");
  mmaAttentionKernel<D, T, M><<<static_cast<unsigned int>(blocks), kMMA_THREADS, shared, stream>>>(a, access);
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

// The mask's element type as a template argument (uint8_t for bool flags).
template <int D, typename T>
Status launchMmaForMask(const AttentionArgs& a, const MmaAccess& access, int64_t batchCount, cudaStream_t stream) {
  if (a.mask == nullptr) return launchMma<D, T, void>(a, access, batchCount, stream);
  switch (a.maskType) {
    case DataType::kBOOL: return launchMma<D, T, uint8_t>(a, access, batchCount, stream);
    case DataType::kFLOAT: return launchMma<D, T, float>(a, access, batchCount, stream);
    case DataType::kHALF: return launchMma<D, T, __half>(a, access, batchCount, stream);
    case DataType::kBF16: return launchMma<D, T, __nv_bfloat16>(a, access, batchCount, stream);
    default: return internalError("the attention mask must be bool or a float type");
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Whether every stride of [batch..., head, row] is a multiple of `elements`. Q, K, V and the output have 0
// strides on their dims of extent 1 already; `scores` (for the mask) skips the dims of extent 1 in the scores
// [batch..., Hq, Sq, Sk] instead, whose index is always 0.
bool outerStridesMultipleOf(const AttentionArgs& a, const Shape8& strides, int64_t elements, bool scores = false) {
  for (int32_t d = 0; d + 1 < a.rank; ++d) {
    const int64_t extent = d < a.rank - 3 ? a.batch.d[d] : d == a.rank - 3 ? a.hq : a.sq;
    if (scores && extent == 1) continue;
    if (strides.d[d] % elements != 0) return false;
  }
  return true;
}

MmaAccess mmaAccessOf(const AttentionArgs& a) {
  MmaAccess access;
  // 16-byte chunks need 16-byte bases and every row, head and batch stride a multiple of 8 elements.
  access.vecQKV = aligned16(a.q) && aligned16(a.k) && aligned16(a.v) && outerStridesMultipleOf(a, a.qStrides, 8) &&
                  outerStridesMultipleOf(a, a.kStrides, 8) && outerStridesMultipleOf(a, a.vStrides, 8);
  access.vecOut = a.ev % 8 == 0 && aligned16(a.out) && outerStridesMultipleOf(a, a.oStrides, 8);
  if (a.mask != nullptr) {
    const int32_t r = a.rank;
    const int64_t size = dataTypeSize(a.maskType);
    access.maskRows = a.sq == 1 || a.maskStrides.d[r - 2] == 0 ? 1 : kMMA_BLOCK_Q;
    // Chunks of 16 bytes along contiguous keys (a partial last chunk copies only the keys that exist).
    access.vecMask = aligned16(a.mask) && (a.sk == 1 || a.maskStrides.d[r - 1] == 1) &&
                     outerStridesMultipleOf(a, a.maskStrides, 16 / size, true);
  }
  return access;
}

}  // namespace

bool mmaAttentionTakes(const AttentionArgs& a, DataType type) {
  if (type != DataType::kHALF && type != DataType::kBF16) return false;
  // Rows and keys are counted in int32 inside the kernel.
  const int64_t kMAX_SEQUENCE = INT32_MAX - 2 * kMMA_BLOCK_Q;
  return a.e >= 1 && std::max(a.e, a.ev) <= 128 && a.sq <= kMAX_SEQUENCE && a.sk <= kMAX_SEQUENCE;
}

Status launchMmaAttention(const AttentionArgs& a, DataType type, int64_t batchCount, cudaStream_t stream) {
  const MmaAccess access = mmaAccessOf(a);
  const int64_t width = std::max(a.e, a.ev);
  return dispatchFloatType(type, [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, float>) {
      return internalError("the tensor-core attention runs float16/bfloat16 only");
    } else {
      if (width <= 32) return launchMmaForMask<32, T>(a, access, batchCount, stream);
      if (width <= 64) return launchMmaForMask<64, T>(a, access, batchCount, stream);
      return launchMmaForMask<128, T>(a, access, batchCount, stream);
    }
  });
}

}  // namespace cuda
}  // namespace kiln
