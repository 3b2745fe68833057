// CUDA normalization (layer, instance and group norm): y = (x - mean) / sqrt(var + eps) * scale + bias, the
// biased mean and variance over the axis mask (with group norm's channel split), scale and bias broadcast.
//
// Statistics are computed in float32 on values shifted by the statistic's first element: x - x0 is exact
// for values near x0, so a large common offset (1000 +- 0.01) keeps the precision the CPU's double
// accumulators give; the variance is then a second pass (mean squared deviation), never E[x^2] - E[x]^2.
//
// When every statistic covers a contiguous run of the input (the reduced dims trail the kept ones: layer
// norm, instance norm, group norm), threads hold the run in registers and normalize it in one pass over
// memory. The common case (16-byte aligned runs, n a multiple of a 16-byte vector, scale and bias contiguous
// along the run or constant on it) gives each run a group of 4 to 512 threads that load and store 16-byte
// vectors and reduce with shuffles (plus a shared-memory step when the group spans warps); groups share a
// block, so short runs (ConvNeXt's 96 channels) leave no threads idle. The group is the smallest holding the
// run in at most 4 vectors a thread (fewest reduction steps), doubled while the launch would leave the SMs
// short of threads (few runs: decoding, small batches). Other runs take a warp (up to 256 elements) or a
// block of 512 threads with scalar loads; runs too long for registers loop over memory. Other masks compute
// the statistics into the workspace (a warp per statistic), then normalize elementwise.
#include <algorithm>
#include <string>
#include <vector>

#include "engine/backends/cuda/reduce_common.cuh"
#include "engine/backends/cuda/reduce_family.h"

namespace kiln {
namespace cuda {
namespace {

constexpr int kNORM_BLOCK = 512;
// Runs the vectorized path does not take: a warp per run up to this length, a block per run beyond.
constexpr int64_t kWARP_ROW_MAX = 256;
constexpr int64_t kBLOCK_ROW_MAX = kNORM_BLOCK * 16;
constexpr int kMAX_NORM_DIMS = Dims::kMAX_DIMS + 1;  // group norm splits the channel dim in two

// Extents and strides of up to 9 dims (Shape8 cannot hold group norm's split of a rank-8 input).
struct NormShape {
  int32_t rank = 0;
  int64_t extent[kMAX_NORM_DIMS] = {};
  int64_t stride[kMAX_NORM_DIMS] = {};
};
__device__ __forceinline__ int64_t offsetIn(int64_t linear, const NormShape& s) {
  int64_t offset = 0;
  for (int32_t i = s.rank - 1; i >= 0; --i) {
    offset += (linear % s.extent[i]) * s.stride[i];
    linear /= s.extent[i];
  }
  return offset;
}

// Offset of a row's element j in scale or bias: the common cases need no division per element, or one.
enum class AffineForm : int32_t { kCONST, kLINEAR, kBLOCKED, kGENERAL };
struct AffineIndex {
  AffineForm form = AffineForm::kCONST;
  int64_t q = 1, m = 1, s = 0;  // kLINEAR: j * s; kBLOCKED: ((j / q) % m) * s; kGENERAL takes the general path
};
__device__ __forceinline__ int64_t affineOffset(int64_t j, const AffineIndex& a) {
  switch (a.form) {
    case AffineForm::kLINEAR: return j * a.s;
    case AffineForm::kBLOCKED: return ((j / a.q) % a.m) * a.s;
    case AffineForm::kCONST:
    case AffineForm::kGENERAL: break;
  }
  return 0;
}
// The same for rows held in registers (j, q and m below 2^31: 32-bit division is far cheaper).
__device__ __forceinline__ int64_t affineOffset32(int32_t j, const AffineIndex& a) {
  switch (a.form) {
    case AffineForm::kLINEAR: return j * a.s;
    case AffineForm::kBLOCKED: return ((j / static_cast<int32_t>(a.q)) % static_cast<int32_t>(a.m)) * a.s;
    case AffineForm::kCONST:
    case AffineForm::kGENERAL: break;
  }
  return 0;
}

// Scale and bias may each be any float type.
__device__ __forceinline__ float loadParam(const void* p, DataType t, int64_t i) {
  switch (t) {
    case DataType::kHALF: return __half2float(static_cast<const __half*>(p)[i]);
    case DataType::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

struct Affine {
  const void* scale;
  const void* bias;
  DataType scaleType, biasType;
};

// ---- host description ---------------------------------------------------------------------------------

struct NormDim {
  int64_t extent;
  bool reduced;
  int64_t in, scale, bias;  // strides
};

struct NormPlan {
  bool rows = false;  // every statistic is a contiguous run of n elements
  int64_t nbStats = 1, n = 1;
  float eps = 0.f;
  // Row path.
  NormShape rowScale, rowBias;  // kept dims with the scale/bias strides: the row's base offsets
  AffineIndex elemScale, elemBias;
  // General path: all dims, with input, statistic, scale and bias strides; reduced dims with input strides.
  NormShape all, allStat, allScale, allBias, keptIn, reducedIn;
};

// Merges neighbouring (extent, stride) pairs whose strides compose.
std::vector<std::pair<int64_t, int64_t>> collapse(const std::vector<std::pair<int64_t, int64_t>>& dims) {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (const auto& [e, s] : dims) {
    if (e == 1) continue;
    if (!out.empty() && out.back().second == s * e) {
      out.back().first *= e;
      out.back().second = s;
    } else {
      out.emplace_back(e, s);
    }
  }
  return out;
}

AffineIndex affineIndex(const std::vector<std::pair<int64_t, int64_t>>& dims, int64_t n) {
  const auto c = collapse(dims);
  AffineIndex a;
  std::vector<size_t> varying;
  for (size_t i = 0; i < c.size(); ++i) {
    if (c[i].second != 0) varying.push_back(i);
  }
  if (varying.empty()) return a;
  if (varying.size() == 1) {
    const size_t v = varying[0];
    int64_t q = 1;
    for (size_t i = v + 1; i < c.size(); ++i) q *= c[i].first;
    a.q = q;
    a.m = c[v].first;
    a.s = c[v].second;
    a.form = (q == 1 && a.m == n) ? AffineForm::kLINEAR : AffineForm::kBLOCKED;
    return a;
  }
  a.form = AffineForm::kGENERAL;
  return a;
}

NormShape shapeOf(const std::vector<std::pair<int64_t, int64_t>>& dims) {
  NormShape s;
  for (const auto& [e, st] : collapse(dims)) {
    s.extent[s.rank] = e;
    s.stride[s.rank++] = st;
  }
  return s;
}

NormPlan planNormalization(const KernelIO& io, uint32_t mask, int64_t groups, double eps) {
  const Dims& dims = io.inputs[0].dims;
  const Shape8 inStrides = contiguousStrides(dims);
  const Shape8 scaleStrides = broadcastStrides(io.inputs[1].dims, dims);
  const Shape8 biasStrides = broadcastStrides(io.inputs[2].dims, dims);
  std::vector<NormDim> nd;
  for (int32_t d = 0; d < dims.nbDims; ++d) {
    const bool reduced = ((mask >> d) & 1u) != 0;
    if (d == 1 && groups > 1) {
      const int64_t per = dims.d[1] / groups;
      nd.push_back({groups, false, inStrides.d[d] * per, scaleStrides.d[d] * per, biasStrides.d[d] * per});
      nd.push_back({per, true, inStrides.d[d], scaleStrides.d[d], biasStrides.d[d]});
    } else {
      nd.push_back({dims.d[d], reduced, inStrides.d[d], scaleStrides.d[d], biasStrides.d[d]});
    }
  }
  NormPlan p;
  p.eps = static_cast<float>(eps);
  bool seenReduced = false, keptAfterReduced = false;
  std::vector<std::pair<int64_t, int64_t>> keptScale, keptBias, redScale, redBias, keptIn, redIn;
  for (const NormDim& d : nd) {
    if (d.extent == 1) continue;
    if (d.reduced) {
      seenReduced = true;
      p.n *= d.extent;
      redScale.emplace_back(d.extent, d.scale);
      redBias.emplace_back(d.extent, d.bias);
      redIn.emplace_back(d.extent, d.in);
    } else {
      keptAfterReduced = keptAfterReduced || seenReduced;
      p.nbStats *= d.extent;
      keptScale.emplace_back(d.extent, d.scale);
      keptBias.emplace_back(d.extent, d.bias);
      keptIn.emplace_back(d.extent, d.in);
    }
  }
  p.rowScale = shapeOf(keptScale);
  p.rowBias = shapeOf(keptBias);
  p.elemScale = affineIndex(redScale, p.n);
  p.elemBias = affineIndex(redBias, p.n);
  // Rows whose scale/bias vary over several groups of the row's dims (rare) take the general path.
  p.rows = !keptAfterReduced && p.elemScale.form != AffineForm::kGENERAL && p.elemBias.form != AffineForm::kGENERAL;
  if (p.rows) return p;
  p.keptIn = shapeOf(keptIn);
  p.reducedIn = shapeOf(redIn);
  // Statistic strides: kept dims row-major, 0 on reduced dims.
  int64_t statStride = 1;
  std::vector<int64_t> stat(nd.size(), 0);
  for (size_t i = nd.size(); i-- > 0;) {
    if (!nd[i].reduced) {
      stat[i] = statStride;
      statStride *= nd[i].extent;
    }
  }
  for (size_t i = 0; i < nd.size(); ++i) {
    if (nd[i].extent == 1) continue;
    const int32_t r = p.all.rank++;
    p.all.extent[r] = p.allStat.extent[r] = p.allScale.extent[r] = p.allBias.extent[r] = nd[i].extent;
    p.all.stride[r] = nd[i].in;
    p.allStat.stride[r] = stat[i];
    p.allScale.stride[r] = nd[i].scale;
    p.allBias.stride[r] = nd[i].bias;
  }
  p.allStat.rank = p.allScale.rank = p.allBias.rank = p.all.rank;
  return p;
}

// ---- row path -----------------------------------------------------------------------------------------

template <int kThreads>
__device__ __forceinline__ float rowSum(float v, float* scratch) {
  const auto add = [](float a, float b) { return a + b; };
  if constexpr (kThreads == kWARP) {
    return warpAllReduce(v, add);
  } else {
    return blockAllReduce(v, add, scratch);
  }
}

// A thread's kPer scale (or bias) values of a row held in registers. The type switch sits outside the
// unrolled loop so the loads issue back to back instead of one memory latency per element.
template <int kPer, int kThreads>
__device__ __forceinline__ void loadRowParams(float (&out)[kPer], const void* p, DataType type, int64_t base,
                                              const AffineIndex& a, int t, int64_t n) {
  const auto load = [&](auto* typed) {
#pragma unroll
    for (int e = 0; e < kPer; ++e) {
      const int64_t j = t + static_cast<int64_t>(e) * kThreads;
      out[e] = j < n ? toFloat(typed[base + affineOffset32(static_cast<int32_t>(j), a)]) : 0.f;
    }
  };
  switch (type) {
    case DataType::kHALF: load(static_cast<const __half*>(p)); break;
    case DataType::kBF16: load(static_cast<const __nv_bfloat16*>(p)); break;
    default: load(static_cast<const float*>(p)); break;
  }
}

// A statistic's run held in registers, kPer elements per thread; a warp (kThreads == 32) or a block per run.
template <typename T, int kPer, int kThreads>
__global__ void normRowsRegisterKernel(const T* __restrict__ in, T* __restrict__ out, Affine af, NormPlan p) {
  __shared__ float scratch[kNORM_BLOCK / kWARP];
  const int t = threadIdx.x % kThreads;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kThreads) + threadIdx.x / kThreads;
  if (row >= p.nbStats) return;  // uniform per row group
  const int64_t n = p.n;
  const T* src = in + row * n;
  T* dst = out + row * n;
  const float shift = toFloat(src[0]);
  float v[kPer];
  float sum = 0.f;
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int64_t j = t + static_cast<int64_t>(e) * kThreads;
    v[e] = j < n ? toFloat(src[j]) - shift : 0.f;
    sum += v[e];
  }
  const float mean = rowSum<kThreads>(sum, scratch) / static_cast<float>(n);
  float sq = 0.f;
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int64_t j = t + static_cast<int64_t>(e) * kThreads;
    const float dev = v[e] - mean;
    if (j < n) sq += dev * dev;
  }
  const float rstd = 1.f / sqrtf(rowSum<kThreads>(sq, scratch) / static_cast<float>(n) + p.eps);
  const int64_t scaleBase = offsetIn(row, p.rowScale), biasBase = offsetIn(row, p.rowBias);
  float g[kPer], b[kPer];
  loadRowParams<kPer, kThreads>(g, af.scale, af.scaleType, scaleBase, p.elemScale, t, n);
  loadRowParams<kPer, kThreads>(b, af.bias, af.biasType, biasBase, p.elemBias, t, n);
#pragma unroll
  for (int e = 0; e < kPer; ++e) {
    const int64_t j = t + static_cast<int64_t>(e) * kThreads;
    if (j < n) dst[j] = fromFloat<T>((v[e] - mean) * rstd * g[e] + b[e]);
  }
}

// Runs too long for registers: three passes over memory (mean, variance, normalize), a block per run.
template <typename T>
__global__ void normRowsLoopKernel(const T* __restrict__ in, T* __restrict__ out, Affine af, NormPlan p) {
  __shared__ float scratch[kNORM_BLOCK / kWARP];
  const int64_t row = blockIdx.x;
  const int64_t n = p.n;
  const T* src = in + row * n;
  T* dst = out + row * n;
  const float shift = toFloat(src[0]);
  float sum = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) sum += toFloat(src[j]) - shift;
  const float mean = rowSum<kNORM_BLOCK>(sum, scratch) / static_cast<float>(n);
  float sq = 0.f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float dev = toFloat(src[j]) - shift - mean;
    sq += dev * dev;
  }
  const float rstd = 1.f / sqrtf(rowSum<kNORM_BLOCK>(sq, scratch) / static_cast<float>(n) + p.eps);
  const int64_t scaleBase = offsetIn(row, p.rowScale), biasBase = offsetIn(row, p.rowBias);
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float g = loadParam(af.scale, af.scaleType, scaleBase + affineOffset(j, p.elemScale));
    const float b = loadParam(af.bias, af.biasType, biasBase + affineOffset(j, p.elemBias));
    dst[j] = fromFloat<T>((toFloat(src[j]) - shift - mean) * rstd * g + b);
  }
}

// ---- vectorized row path ------------------------------------------------------------------------------

constexpr int kVEC_ROW_BLOCK = 128;  // threads of a block shared by several rows
constexpr int kVEC_MIN_GROUP = 4;
constexpr int kVEC_MAX_GROUP = 512;
constexpr int kVEC_MAX_PER_THREAD = 4;  // 16-byte vectors a thread holds: 32 floats of a 16-bit type
// Fewer threads than this per SM (16 warps) leave too few 16-byte loads in flight to cover memory latency.
constexpr int64_t kVEC_FILL_THREADS_PER_SM = 512;
template <int kGroup>
constexpr int kVEC_BLOCK = kGroup > kVEC_ROW_BLOCK ? kGroup : kVEC_ROW_BLOCK;

struct VecRowPlan {
  int64_t rows = 0, n = 0;
  int32_t nv = 0;  // 16-byte vectors per row
  float eps = 0.f;
  bool scaleConst = false, biasConst = false;  // one scale (bias) value per row, at the row's base offset
  NormShape scaleRow, biasRow;                 // rows' base offsets into scale and bias
};

// Sum over a group of kGroup consecutive threads; every thread of the group gets the same value. Lanes
// pair by xor within the group, so sub-warp groups never mix; groups spanning warps add one barrier and
// read their warps' partial sums from `scratch` (one float per warp of the block, used once per call site).
template <int kGroup>
__device__ __forceinline__ float groupSum(float v, float* scratch) {
  constexpr int kLanes = kGroup < kWARP ? kGroup : kWARP;
#pragma unroll
  for (int offset = kLanes / 2; offset > 0; offset /= 2) v += shuffleXor(v, offset);
  if constexpr (kGroup > kWARP) {
    constexpr int kWarps = kGroup / kWARP;
    const int warp = threadIdx.x / kWARP;
    if (threadIdx.x % kWARP == 0) scratch[warp] = v;
    __syncthreads();
    const float* partial = scratch + warp / kWarps * kWarps;
    v = partial[0];
#pragma unroll
    for (int w = 1; w < kWarps; ++w) v += partial[w];
  }
  return v;
}

// kN consecutive values of p as floats, in loads of up to 16 bytes (the host checked their alignment).
template <int kN, typename P>
__device__ __forceinline__ void loadAsFloats(float (&out)[kN], const P* p) {
  constexpr int kBytes = kN * static_cast<int>(sizeof(P)) < 16 ? kN * static_cast<int>(sizeof(P)) : 16;
  constexpr int kChunk = kBytes / static_cast<int>(sizeof(P));
  struct alignas(kBytes) Chunk {
    P v[kChunk];
  };
#pragma unroll
  for (int c = 0; c < kN / kChunk; ++c) {
    const Chunk x = reinterpret_cast<const Chunk*>(p)[c];
#pragma unroll
    for (int e = 0; e < kChunk; ++e) out[c * kChunk + e] = toFloat(x.v[e]);
  }
}

// Applies scale (or bias) to a thread's vectors t, t + kGroup, ... of a row in place, v = apply(v, w): w runs
// along the row from `base`, or is the one value at `base`. Applying in place keeps no second copy of the
// row in registers; the type switch sits outside the unrolled loop so the loads issue back to back.
template <int kGroup, int kPer, int kV, typename Apply>
__device__ __forceinline__ void applyVecParams(float (&v)[kPer][kV], const void* p, DataType type, int64_t base,
                                               bool constant, int t, int32_t nv, Apply apply) {
  const auto run = [&](auto* typed) {
    if (constant) {
      const float w = toFloat(typed[base]);
#pragma unroll
      for (int k = 0; k < kPer; ++k) {
#pragma unroll
        for (int e = 0; e < kV; ++e) v[k][e] = apply(v[k][e], w);
      }
      return;
    }
#pragma unroll
    for (int k = 0; k < kPer; ++k) {
      // Vectors past the row's end read its first one (their values are never stored): without a branch
      // per vector, the loads of all vectors can be in flight together.
      const int j = t + k * kGroup < nv ? t + k * kGroup : 0;
      float w[kV];
      loadAsFloats(w, typed + base + static_cast<int64_t>(j) * kV);
#pragma unroll
      for (int e = 0; e < kV; ++e) v[k][e] = apply(v[k][e], w[e]);
    }
  };
  switch (type) {
    case DataType::kHALF: run(static_cast<const __half*>(p)); break;
    case DataType::kBF16: run(static_cast<const __nv_bfloat16*>(p)); break;
    default: run(static_cast<const float*>(p)); break;
  }
}

// A group of kGroup threads per row, each holding up to kPer 16-byte vectors (t, t + kGroup, ...: a warp's
// loads are contiguous). Rows past the end still take part in the shuffles and barriers, without memory.
template <typename T, int kGroup, int kPer>
__global__ void __launch_bounds__(kVEC_BLOCK<kGroup>)
    normRowsVecKernel(const T* __restrict__ in, T* __restrict__ out, Affine af, VecRowPlan p) {
  using V = Vec16<T>;
  constexpr int kV = V::kN;
  constexpr int kBlock = kVEC_BLOCK<kGroup>;
  __shared__ float scratch[2][kBlock / kWARP];
  const int t = threadIdx.x % kGroup;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (kBlock / kGroup) + threadIdx.x / kGroup;
  const bool active = row < p.rows;
  const int32_t nv = active ? p.nv : 0;
  const int64_t start = active ? row * p.n : 0;
  const V* src = reinterpret_cast<const V*>(in + start);
  const float shift = toFloat(in[start]);
  V x[kPer] = {};
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    if (t + k * kGroup < nv) x[k] = src[t + k * kGroup];
  }
  // While the loads are in flight, and before the row's values take the registers.
  const int64_t scaleBase = offsetIn(row, p.scaleRow), biasBase = offsetIn(row, p.biasRow);
  float v[kPer][kV];
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const bool valid = t + k * kGroup < nv;
#pragma unroll
    for (int e = 0; e < kV; ++e) {
      v[k][e] = valid ? toFloat(x[k].v[e]) - shift : 0.f;
      sum += v[k][e];
    }
  }
  const float mean = groupSum<kGroup>(sum, scratch[0]) / static_cast<float>(p.n);
  float sq = 0.f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    if (t + k * kGroup >= nv) continue;
#pragma unroll
    for (int e = 0; e < kV; ++e) {
      const float dev = v[k][e] - mean;
      sq += dev * dev;
    }
  }
  const float rstd = 1.f / sqrtf(groupSum<kGroup>(sq, scratch[1]) / static_cast<float>(p.n) + p.eps);
  if (!active) return;  // past the last barrier
  // Scale, then bias, in place (one rounding more than a fused multiply-add, no registers for a copy).
  applyVecParams<kGroup>(v, af.scale, af.scaleType, scaleBase, p.scaleConst, t, nv,
                         [mean, rstd](float x, float g) { return (x - mean) * rstd * g; });
  applyVecParams<kGroup>(v, af.bias, af.biasType, biasBase, p.biasConst, t, nv, [](float x, float b) { return x + b; });
  V* dst = reinterpret_cast<V*>(out + start);
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    if (t + k * kGroup >= nv) continue;
    V y;
#pragma unroll
    for (int e = 0; e < kV; ++e) y.v[e] = fromFloat<T>(v[k][e]);
    dst[t + k * kGroup] = y;
  }
}

// ---- general path -------------------------------------------------------------------------------------

// stats[3 * s] = shift, mean of the shifted values, 1 / sqrt(var + eps): a warp per statistic.
template <typename T>
__global__ void normStatsKernel(const T* __restrict__ in, float* __restrict__ stats, NormPlan p) {
  const int64_t s = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / kWARP;
  const int lane = threadIdx.x % kWARP;
  if (s >= p.nbStats) return;  // whole warps
  const int64_t base = offsetIn(s, p.keptIn);
  const float shift = toFloat(in[base]);
  const auto add = [](float a, float b) { return a + b; };
  float sum = 0.f;
  for (int64_t r = lane; r < p.n; r += kWARP) sum += toFloat(in[base + offsetIn(r, p.reducedIn)]) - shift;
  const float mean = warpAllReduce(sum, add) / static_cast<float>(p.n);
  float sq = 0.f;
  for (int64_t r = lane; r < p.n; r += kWARP) {
    const float dev = toFloat(in[base + offsetIn(r, p.reducedIn)]) - shift - mean;
    sq += dev * dev;
  }
  const float var = warpAllReduce(sq, add) / static_cast<float>(p.n);
  if (lane == 0) {
    stats[3 * s] = shift;
    stats[3 * s + 1] = mean;
    stats[3 * s + 2] = 1.f / sqrtf(var + p.eps);
  }
}

template <typename T>
__global__ void normApplyKernel(const T* __restrict__ in, T* __restrict__ out, const float* __restrict__ stats,
                                Affine af, NormPlan p, int64_t total) {
  KILN_GRID_STRIDE_LOOP(e, total) {
    // The input is contiguous: element e's coordinates give the other offsets.
    int64_t rest = e, s = 0, c = 0, b = 0;
    for (int32_t d = p.all.rank - 1; d >= 0; --d) {
      const int64_t idx = rest % p.all.extent[d];
      rest /= p.all.extent[d];
      s += idx * p.allStat.stride[d];
      c += idx * p.allScale.stride[d];
      b += idx * p.allBias.stride[d];
    }
    const float d = toFloat(in[e]) - stats[3 * s];
    const float y = (d - stats[3 * s + 1]) * stats[3 * s + 2] * loadParam(af.scale, af.scaleType, c) +
                    loadParam(af.bias, af.biasType, b);
    out[e] = fromFloat<T>(y);
  }
}

// ---- launch -------------------------------------------------------------------------------------------

template <typename T, int kPer>
void launchWarpRows(const T* x, T* y, const Affine& af, const NormPlan& p, cudaStream_t stream) {
  constexpr int kRowsPerBlock = kBLOCK / kWARP;
  normRowsRegisterKernel<T, kPer, kWARP>
      <<<static_cast<unsigned int>((p.nbStats + kRowsPerBlock - 1) / kRowsPerBlock), kBLOCK, 0, stream>>>(x, y, af, p);
}
template <typename T, int kPer>
void launchBlockRows(const T* x, T* y, const Affine& af, const NormPlan& p, cudaStream_t stream) {
  normRowsRegisterKernel<T, kPer, kNORM_BLOCK><<<static_cast<unsigned int>(p.nbStats), kNORM_BLOCK, 0, stream>>>(
      x, y, af, p);
}

// Scale or bias the vectorized path reads: constant along the row, or contiguous along it with every row's
// run aligned for loads of kV values (up to 16 bytes at a time).
bool vecParamFits(const void* p, DataType type, const AffineIndex& a, const NormShape& row, int kV) {
  if (a.form == AffineForm::kCONST) return true;
  if (a.form != AffineForm::kLINEAR || a.s != 1) return false;
  const int64_t size = dataTypeSize(type);
  const int64_t align = std::min<int64_t>(16, kV * size);
  if (reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(align) != 0) return false;
  for (int32_t d = 0; d < row.rank; ++d) {
    if (row.stride[d] * size % align != 0) return false;
  }
  return true;
}

// Rows the vectorized path takes: whole 16-byte vectors from aligned bases, at most kVEC_MAX_PER_THREAD
// vectors a thread with the largest group.
template <typename T>
bool vecRowsFit(const NormPlan& p, const Affine& af, const T* x, const T* y) {
  constexpr int kV = Vec16<T>::kN;
  return p.n % kV == 0 && p.n / kV <= kVEC_MAX_GROUP * kVEC_MAX_PER_THREAD && aligned16(x) && aligned16(y) &&
         vecParamFits(af.scale, af.scaleType, p.elemScale, p.rowScale, kV) &&
         vecParamFits(af.bias, af.biasType, p.elemBias, p.rowBias, kV);
}

// A row's base offset does not depend on the outermost dims the parameter broadcasts over: dropping them
// spares offsetIn their divisions (a layer norm's scale needs none).
NormShape withoutLeadingBroadcast(const NormShape& s) {
  int32_t lead = 0;
  while (lead < s.rank && s.stride[lead] == 0) ++lead;
  NormShape out;
  for (int32_t d = lead; d < s.rank; ++d) {
    out.extent[out.rank] = s.extent[d];
    out.stride[out.rank++] = s.stride[d];
  }
  return out;
}

VecRowPlan vecRowPlan(const NormPlan& p, int kV) {
  VecRowPlan v;
  v.rows = p.nbStats;
  v.n = p.n;
  v.nv = static_cast<int32_t>(p.n / kV);
  v.eps = p.eps;
  v.scaleConst = p.elemScale.form == AffineForm::kCONST;
  v.biasConst = p.elemBias.form == AffineForm::kCONST;
  v.scaleRow = withoutLeadingBroadcast(p.rowScale);
  v.biasRow = withoutLeadingBroadcast(p.rowBias);
  return v;
}

struct VecRowShape {
  int group;  // threads per row
  int per;    // vectors per thread
};

// The smallest group holding a row of nv vectors in at most kVEC_MAX_PER_THREAD vectors a thread (fewest
// shuffle steps; no barrier up to a warp), doubled while the launch has fewer threads than
// kVEC_FILL_THREADS_PER_SM per SM and each thread still holds more than one vector.
VecRowShape chooseVecRows(int64_t nv, int64_t rows, int sms) {
  const auto per = [nv](int64_t group) { return (nv + group - 1) / group; };
  int group = kVEC_MIN_GROUP;
  while (per(group) > kVEC_MAX_PER_THREAD) group *= 2;
  while (group < kVEC_MAX_GROUP && per(group) > 1 && rows * group < sms * kVEC_FILL_THREADS_PER_SM) group *= 2;
  return {group, static_cast<int>(per(group))};
}

StatusOr<int> multiprocessorCount() {
  int device = 0, sms = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  KILN_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  return sms;
}

template <typename T, int kGroup, int kPer>
void launchVecRowsKernel(const T* x, T* y, const Affine& af, const VecRowPlan& v, cudaStream_t stream) {
  constexpr int kRowsPerBlock = kVEC_BLOCK<kGroup> / kGroup;
  normRowsVecKernel<T, kGroup, kPer>
      <<<static_cast<unsigned int>((v.rows + kRowsPerBlock - 1) / kRowsPerBlock), kVEC_BLOCK<kGroup>, 0, stream>>>(
          x, y, af, v);
}
template <typename T, int kGroup>
void launchVecRowsGroup(int per, const T* x, T* y, const Affine& af, const VecRowPlan& v, cudaStream_t stream) {
  static_assert(kVEC_MAX_PER_THREAD == 4, "one case per count of vectors");
  switch (per) {
    case 1: launchVecRowsKernel<T, kGroup, 1>(x, y, af, v, stream); break;
    case 2: launchVecRowsKernel<T, kGroup, 2>(x, y, af, v, stream); break;
    case 3: launchVecRowsKernel<T, kGroup, 3>(x, y, af, v, stream); break;
    default: launchVecRowsKernel<T, kGroup, 4>(x, y, af, v, stream); break;
  }
}
template <typename T>
void launchVecRows(const VecRowShape& shape, const T* x, T* y, const Affine& af, const VecRowPlan& v,
                   cudaStream_t stream) {
  static_assert(kVEC_MIN_GROUP == 4 && kVEC_MAX_GROUP == 512, "one case per group size");
  switch (shape.group) {
    case 4: launchVecRowsGroup<T, 4>(shape.per, x, y, af, v, stream); break;
    case 8: launchVecRowsGroup<T, 8>(shape.per, x, y, af, v, stream); break;
    case 16: launchVecRowsGroup<T, 16>(shape.per, x, y, af, v, stream); break;
    case 32: launchVecRowsGroup<T, 32>(shape.per, x, y, af, v, stream); break;
    case 64: launchVecRowsGroup<T, 64>(shape.per, x, y, af, v, stream); break;
    case 128: launchVecRowsGroup<T, 128>(shape.per, x, y, af, v, stream); break;
    case 256: launchVecRowsGroup<T, 256>(shape.per, x, y, af, v, stream); break;
    default: launchVecRowsGroup<T, 512>(shape.per, x, y, af, v, stream); break;
  }
}

template <typename T>
Status launchNormalization(const NormPlan& p, const Affine& af, const TensorView& in, TensorView& out,
                           void* workspace, cudaStream_t stream) {
  const T* x = in.as<const T>();
  T* y = out.as<T>();
  if (p.rows) {
    if (vecRowsFit(p, af, x, y)) {
      const StatusOr<int> sms = multiprocessorCount();
      if (!sms.isOk()) return sms.status();
      constexpr int kV = Vec16<T>::kN;
      launchVecRows<T>(chooseVecRows(p.n / kV, p.nbStats, sms.value()), x, y, af, vecRowPlan(p, kV), stream);
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    }
    const int64_t n = p.n;
    if (n <= 32) {
      launchWarpRows<T, 1>(x, y, af, p, stream);
    } else if (n <= 128) {
      launchWarpRows<T, 4>(x, y, af, p, stream);
    } else if (n <= kWARP_ROW_MAX) {
      launchWarpRows<T, 8>(x, y, af, p, stream);
    } else if (n <= kNORM_BLOCK * 4) {
      launchBlockRows<T, 4>(x, y, af, p, stream);
    } else if (n <= kNORM_BLOCK * 8) {
      launchBlockRows<T, 8>(x, y, af, p, stream);
    } else if (n <= kBLOCK_ROW_MAX) {
      launchBlockRows<T, 16>(x, y, af, p, stream);
    } else {
      normRowsLoopKernel<T><<<static_cast<unsigned int>(p.nbStats), kNORM_BLOCK, 0, stream>>>(x, y, af, p);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }
  auto* stats = static_cast<float*>(workspace);
  normStatsKernel<T><<<gridFor(p.nbStats * kWARP), kBLOCK, 0, stream>>>(x, stats, p);
  KILN_CUDA_CHECK_LAUNCH();
  normApplyKernel<T><<<gridFor(in.count()), kBLOCK, 0, stream>>>(x, y, stats, af, p, in.count());
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

StatusOr<NormPlan> planFor(const LayerParams& layer, const KernelIO& io) {
  if (io.inputs.size() < 3) return invalidArgument("normalization needs input, scale and bias");
  const auto mask = static_cast<uint32_t>(layer.attrs.getInt("axes"));
  const int64_t groups = layer.attrs.getInt("nb_groups", 1);
  const Dims& dims = io.inputs[0].dims;
  if (groups < 1 || (groups > 1 && (dims.nbDims < 2 || dims.d[1] % groups != 0))) {
    return invalidArgument("nbGroups " + std::to_string(groups) + " does not split the channel dim of " +
                           dimsToString(dims));
  }
  return planNormalization(io, mask, groups, layer.attrs.getFloat("epsilon", 1e-5));
}

int64_t normalizationWorkspace(const LayerParams& layer, const KernelIO& io) {
  const StatusOr<NormPlan> p = planFor(layer, io);
  if (!p.isOk() || p.value().rows) return 0;
  return 3 * p.value().nbStats * static_cast<int64_t>(sizeof(float));
}

Status runNormalization(const LayerParams& layer, KernelIO& io) {
  const StatusOr<NormPlan> plan = planFor(layer, io);
  if (!plan.isOk()) return plan.status().withContext("normalization '" + layer.name + "'");
  const NormPlan& p = plan.value();
  const TensorView& in = io.inputs[0];
  if (in.count() == 0) return Status::ok();
  if (!p.rows && io.workspaceSize < normalizationWorkspace(layer, io)) {
    return invalidArgument("normalization '" + layer.name + "': workspace too small");
  }
  for (int i = 1; i <= 2; ++i) {
    if (!isFloatType(io.inputs[static_cast<size_t>(i)].type)) {
      return invalidArgument("normalization '" + layer.name + "': scale and bias must be float types, got " +
                             dataTypeName(io.inputs[static_cast<size_t>(i)].type));
    }
  }
  const Affine af{io.inputs[1].data, io.inputs[2].data, io.inputs[1].type, io.inputs[2].type};
  const Status status = dispatchFloatType(in.type, [&](auto tag) -> Status {
    using T = decltype(tag);
    return launchNormalization<T>(p, af, in, io.outputs[0], io.workspace, streamOf(io));
  });
  return status.isOk() ? status : status.withContext("normalization '" + layer.name + "'");
}

bool normalizationSupports(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.size() < 3) return false;
  for (int32_t t : layer.inputs) {
    if (t < 0 || !isFloatType(graph.tensors[static_cast<size_t>(t)].type)) return false;
  }
  return true;
}

}  // namespace
}  // namespace cuda

void addNormalizationCudaTactics(CudaKernelTable& table) {
  table.add(LayerType::kNORMALIZATION, {"cuda_normalization", cuda::runNormalization, cuda::normalizationWorkspace,
                                        cuda::normalizationSupports, {}});
}

}  // namespace kiln
