// CUDA normalization (layer, instance and group norm): y = (x - mean) / sqrt(var + eps) * scale + bias, the
// biased mean and variance over the axis mask (with group norm's channel split), scale and bias broadcast.
//
// Statistics are computed in float32 on values shifted by the statistic's first element: x - x0 is exact
// for values near x0, so a large common offset (1000 +- 0.01) keeps the precision the CPU's double
// accumulators give; the variance is then a second pass (mean squared deviation), never E[x^2] - E[x]^2.
//
// When every statistic covers a contiguous run of the input (the reduced dims trail the kept ones: layer
// norm, instance norm, group norm), a warp or block per statistic holds the run in registers and normalizes
// it in one pass over memory; runs too long for registers loop over memory. Other masks compute the
// statistics into the workspace (a warp per statistic), then normalize elementwise.
#include <string>
#include <vector>

#include "engine/backends/cuda/reduce_common.cuh"
#include "engine/backends/cuda/reduce_family.h"

namespace kiln {
namespace cuda {
namespace {

constexpr int kNORM_BLOCK = 512;
// Measured on H200: a warp per row wins up to 256 elements; beyond that a block per row is 3x faster
// ([64,768] float16: 19 us with a warp per row, against 6 us for [64,2048] with a block per row).
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

template <typename T>
Status launchNormalization(const NormPlan& p, const Affine& af, const TensorView& in, TensorView& out,
                           void* workspace, cudaStream_t stream) {
  const T* x = in.as<const T>();
  T* y = out.as<T>();
  if (p.rows) {
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
