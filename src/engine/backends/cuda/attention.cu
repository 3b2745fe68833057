// CUDA scaled dot-product attention, flash style: one pass over the keys with an online softmax (running max
// and sum per query row, accumulators rescaled when the max grows), so no Sq x Sk buffer exists. Computed in
// float32 for every type.
//
// Paths, chosen from the run-time shapes only (so that two builds of one layer give the same bits):
//  - float16/bfloat16 with head sizes the tensor-core kernel takes: attention_mma.cu;
//  - E and Ev up to 256: a SIMT kernel with K/V tiles in shared memory, templated on the padded head size;
//  - larger heads: one block per query row with float accumulators in the workspace.
// Semantics follow the CPU kernel: causal keeps keys j <= i (top-left aligned), mask and causal combine, a row
// with every key masked gives zeros, a NaN score gives a NaN row. Q, K, V and the output may be strided views
// of their tensors (attention_view.h): every kernel walks rows through the operands' row strides.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>

#include "engine/backends/cuda/attention.cuh"
#include "engine/layers/attention_view.h"

namespace kiln {
namespace cuda {
namespace {

constexpr int kWARPS = 4;
constexpr int kROWS_PER_WARP = 4;
constexpr int kBLOCK_Q = kWARPS * kROWS_PER_WARP;  // query rows per block
constexpr int kBLOCK_K = 32;                       // keys per tile: one per lane
constexpr int kGENERIC_THREADS = 256;
constexpr int64_t kMAX_TILED_HEAD = 256;

template <int D>
constexpr int tiledSharedBytes() {
  return static_cast<int>(sizeof(float)) * (kBLOCK_Q * D + kBLOCK_K * (D + 1) + kBLOCK_K * D);
}

// Block (b, head, query block) of a flattened grid: grids of 2^31 blocks need no y/z limits.
template <int D, typename T>
__global__ void __launch_bounds__(kWARPS * 32) tiledAttentionKernel(AttentionArgs a) {
  extern __shared__ float shared[];
  float* qs = shared;                  // [kBLOCK_Q][D]
  float* ks = qs + kBLOCK_Q * D;       // [kBLOCK_K][D + 1]: lanes read different rows without bank conflicts
  float* vs = ks + kBLOCK_K * (D + 1); // [kBLOCK_K][D]
  constexpr int kCOLS = D / 32;

  const int64_t queryBlocks = (a.sq + kBLOCK_Q - 1) / kBLOCK_Q;
  const int64_t qb = blockIdx.x % queryBlocks;
  const int64_t head = (blockIdx.x / queryBlocks) % a.hq;
  const int64_t b = blockIdx.x / (queryBlocks * a.hq);
  const int64_t kvHead = head / a.group;
  const int32_t r = a.rank;
  const T* q = static_cast<const T*>(a.q) + a.batchOffset(b, a.qStrides) + head * a.qStrides.d[r - 3];
  const T* k = static_cast<const T*>(a.k) + a.batchOffset(b, a.kStrides) + kvHead * a.kStrides.d[r - 3];
  const T* v = static_cast<const T*>(a.v) + a.batchOffset(b, a.vStrides) + kvHead * a.vStrides.d[r - 3];
  const int64_t qRow = a.qStrides.d[r - 2], kRow = a.kStrides.d[r - 2], vRow = a.vStrides.d[r - 2];
  const int64_t i0 = qb * kBLOCK_Q;
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;

  for (int idx = tid; idx < kBLOCK_Q * D; idx += blockDim.x) {
    const int row = idx / D, x = idx % D;
    const int64_t i = i0 + row;
    qs[idx] = i < a.sq && x < a.e ? toFloat(q[i * qRow + x]) : 0.f;
  }

  float rowMax[kROWS_PER_WARP], rowSum[kROWS_PER_WARP], acc[kROWS_PER_WARP][kCOLS];
  int64_t maskRow[kROWS_PER_WARP];
  const int64_t maskBase = a.mask != nullptr ? a.batchOffset(b, a.maskStrides) + head * a.maskStrides.d[r - 3] : 0;
#pragma unroll
  for (int rr = 0; rr < kROWS_PER_WARP; ++rr) {
    rowMax[rr] = kATTN_NEG_INF;
    rowSum[rr] = 0.f;
    maskRow[rr] = maskBase + (i0 + warp * kROWS_PER_WARP + rr) * a.maskStrides.d[r - 2];
#pragma unroll
    for (int c = 0; c < kCOLS; ++c) acc[rr][c] = 0.f;
  }

  // Causal rows attend keys j <= i: the block needs none past its last row.
  const int64_t keys = a.causal ? std::min<int64_t>(a.sk, i0 + kBLOCK_Q) : a.sk;
  for (int64_t j0 = 0; j0 < keys; j0 += kBLOCK_K) {
    __syncthreads();  // the previous tile is consumed (and, the first time, qs is written)
    for (int idx = tid; idx < kBLOCK_K * a.e; idx += blockDim.x) {
      const int row = static_cast<int>(idx / a.e), x = static_cast<int>(idx % a.e);
      const int64_t j = j0 + row;
      ks[row * (D + 1) + x] = j < a.sk ? toFloat(k[j * kRow + x]) : 0.f;
    }
    for (int idx = tid; idx < kBLOCK_K * a.ev; idx += blockDim.x) {
      const int row = static_cast<int>(idx / a.ev), x = static_cast<int>(idx % a.ev);
      const int64_t j = j0 + row;
      vs[row * D + x] = j < a.sk ? toFloat(v[j * vRow + x]) : 0.f;
    }
    __syncthreads();

    const int64_t j = j0 + lane;
    float score[kROWS_PER_WARP];
#pragma unroll
    for (int rr = 0; rr < kROWS_PER_WARP; ++rr) score[rr] = 0.f;
    const float* krow = ks + lane * (D + 1);
    for (int x = 0; x < a.e; ++x) {
      const float kv = krow[x];
#pragma unroll
      for (int rr = 0; rr < kROWS_PER_WARP; ++rr) score[rr] += qs[(warp * kROWS_PER_WARP + rr) * D + x] * kv;
    }
    float p[kROWS_PER_WARP];
#pragma unroll
    for (int rr = 0; rr < kROWS_PER_WARP; ++rr) {
      const int64_t i = i0 + warp * kROWS_PER_WARP + rr;
      float s = score[rr] * a.scale;
      const bool attend = j < a.sk && i < a.sq && (!a.causal || j <= i);
      if (attend && a.mask != nullptr) s = applyMask(a, maskRow[rr] + j * a.maskStrides.d[r - 1], s);
      if (!attend) s = kATTN_NEG_INF;
      const float newMax = maxKeepNan(rowMax[rr], warpMaxKeepNan(s));
      float alpha = 1.f;
      p[rr] = 0.f;
      if (newMax != kATTN_NEG_INF) {  // else nothing attended yet: the tile adds no weight
        p[rr] = expf(s - newMax);
        alpha = expf(rowMax[rr] - newMax);  // 0 on the row's first attended tile
      }
      rowSum[rr] = rowSum[rr] * alpha + warpSum(p[rr]);
      rowMax[rr] = newMax;
#pragma unroll
      for (int c = 0; c < kCOLS; ++c) acc[rr][c] *= alpha;
    }
    const int valid = static_cast<int>(std::min<int64_t>(kBLOCK_K, keys - j0));
    for (int jj = 0; jj < valid; ++jj) {
      float pj[kROWS_PER_WARP];
#pragma unroll
      for (int rr = 0; rr < kROWS_PER_WARP; ++rr) pj[rr] = __shfl_sync(0xffffffffu, p[rr], jj);
#pragma unroll
      for (int c = 0; c < kCOLS; ++c) {
        const float vv = vs[jj * D + c * 32 + lane];
#pragma unroll
        for (int rr = 0; rr < kROWS_PER_WARP; ++rr) acc[rr][c] += pj[rr] * vv;
      }
    }
  }

  T* out = static_cast<T*>(a.out) + a.batchOffset(b, a.oStrides) + head * a.oStrides.d[r - 3];
  const int64_t oRow = a.oStrides.d[r - 2];
#pragma unroll
  for (int rr = 0; rr < kROWS_PER_WARP; ++rr) {
    const int64_t i = i0 + warp * kROWS_PER_WARP + rr;
    if (i >= a.sq) continue;
    // Fully masked rows (sum 0) give zeros; a NaN sum keeps the NaN.
    const float inv = rowSum[rr] == 0.f ? 0.f : 1.f / rowSum[rr];
#pragma unroll
    for (int c = 0; c < kCOLS; ++c) {
      const int x = c * 32 + lane;
      if (x < a.ev) out[i * oRow + x] = fromFloat<T>(rowSum[rr] == 0.f ? 0.f : acc[rr][c] * inv);
    }
  }
}

// Block-wide reductions of the generic kernel (kGENERIC_THREADS threads).
__device__ float blockMaxKeepNan(float v, float* scratch) {
  v = warpMaxKeepNan(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < kGENERIC_THREADS / 32 ? scratch[lane] : kATTN_NEG_INF;
  return warpMaxKeepNan(v);
}
__device__ float blockSum(float v, float* scratch) {
  v = warpSum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = lane < kGENERIC_THREADS / 32 ? scratch[lane] : 0.f;
  return warpSum(v);
}

// Any head size: one block per query row, one key per thread per chunk; the output row accumulates in float
// in the workspace, each element owned by one thread.
template <typename T>
__global__ void __launch_bounds__(kGENERIC_THREADS) genericAttentionKernel(AttentionArgs a) {
  __shared__ float probs[kGENERIC_THREADS];
  __shared__ float scratch[kGENERIC_THREADS / 32];
  const int64_t row = blockIdx.x;  // (b * hq + head) * sq + i
  const int64_t i = row % a.sq;
  const int64_t head = (row / a.sq) % a.hq;
  const int64_t b = row / (a.sq * a.hq);
  const int64_t kvHead = head / a.group;
  const int32_t r = a.rank;
  const T* q = static_cast<const T*>(a.q) + a.batchOffset(b, a.qStrides) + head * a.qStrides.d[r - 3] +
               i * a.qStrides.d[r - 2];
  const T* k = static_cast<const T*>(a.k) + a.batchOffset(b, a.kStrides) + kvHead * a.kStrides.d[r - 3];
  const T* v = static_cast<const T*>(a.v) + a.batchOffset(b, a.vStrides) + kvHead * a.vStrides.d[r - 3];
  const int64_t kRow = a.kStrides.d[r - 2], vRow = a.vStrides.d[r - 2];
  float* acc = a.workspace + row * a.ev;  // scratch: contiguous whatever the output's layout
  const int tid = threadIdx.x;
  for (int64_t x = tid; x < a.ev; x += kGENERIC_THREADS) acc[x] = 0.f;
  const int64_t maskRow =
      a.mask != nullptr ? a.batchOffset(b, a.maskStrides) + head * a.maskStrides.d[r - 3] + i * a.maskStrides.d[r - 2]
                        : 0;
  float rowMax = kATTN_NEG_INF, rowSum = 0.f;
  const int64_t keys = a.causal ? std::min<int64_t>(a.sk, i + 1) : a.sk;
  for (int64_t j0 = 0; j0 < keys; j0 += kGENERIC_THREADS) {
    const int64_t j = j0 + tid;
    float s = kATTN_NEG_INF;
    if (j < keys) {
      const T* krow = k + j * kRow;
      float dot = 0.f;
      for (int64_t x = 0; x < a.e; ++x) dot += toFloat(q[x]) * toFloat(krow[x]);
      s = dot * a.scale;
      if (a.mask != nullptr) s = applyMask(a, maskRow + j * a.maskStrides.d[r - 1], s);
    }
    const float newMax = maxKeepNan(rowMax, blockMaxKeepNan(s, scratch));
    float p = 0.f, alpha = 1.f;
    if (newMax != kATTN_NEG_INF) {
      p = expf(s - newMax);
      alpha = expf(rowMax - newMax);
    }
    probs[tid] = p;
    rowSum = rowSum * alpha + blockSum(p, scratch);  // its barriers also publish probs
    rowMax = newMax;
    const int valid = static_cast<int>(std::min<int64_t>(kGENERIC_THREADS, keys - j0));
    for (int64_t x = tid; x < a.ev; x += kGENERIC_THREADS) {
      float sum = acc[x] * alpha;
      for (int jj = 0; jj < valid; ++jj) sum += probs[jj] * toFloat(v[(j0 + jj) * vRow + x]);
      acc[x] = sum;
    }
    __syncthreads();  // probs is rewritten by the next chunk
  }
  T* out = static_cast<T*>(a.out) + a.batchOffset(b, a.oStrides) + head * a.oStrides.d[r - 3] +
           i * a.oStrides.d[r - 2];
  const float inv = rowSum == 0.f ? 0.f : 1.f / rowSum;
  for (int64_t x = tid; x < a.ev; x += kGENERIC_THREADS) out[x] = fromFloat<T>(rowSum == 0.f ? 0.f : acc[x] * inv);
}

template <int D, typename T>
Status launchTiled(const AttentionArgs& a, int64_t blocks, cudaStream_t stream) {
  constexpr int kSHARED = tiledSharedBytes<D>();
  if constexpr (kSHARED > 48 * 1024) {
    // Above the default limit a kernel must opt in, once per process.
    static std::once_flag once;
    static cudaError_t optIn = cudaSuccess;
    std::call_once(once, [] {
      optIn = cudaFuncSetAttribute(tiledAttentionKernel<D, T>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSHARED);
    });
    KILN_CUDA_CHECK(optIn);
  }
  tiledAttentionKernel<D, T><<<static_cast<unsigned int>(blocks), kWARPS * 32, kSHARED, stream>>>(a);
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

bool needsGeneric(int64_t e, int64_t ev) { return e > kMAX_TILED_HEAD || ev > kMAX_TILED_HEAD; }

// Element strides of a logical operand for the kernels: 0 on dims of extent 1, where the view's stride means
// nothing and a batch dim broadcasts.
Shape8 kernelStrides(const AttentionOperand& operand) {
  Shape8 strides;
  strides.rank = operand.dims.nbDims;
  for (int32_t d = 0; d < operand.dims.nbDims; ++d) strides.d[d] = operand.dims.d[d] == 1 ? 0 : operand.strides[d];
  return strides;
}

const void* viewBase(const TensorView& tensor, const AttentionOperand& operand) {
  return static_cast<const char*>(tensor.data) + operand.offset * dataTypeSize(tensor.type);
}

// The logical output [batch..., Hq, Sq, Ev]: batch dims broadcast from the logical query, key and value.
StatusOr<Dims> logicalOutputDims(const AttentionOperand (&operands)[3]) {
  const int32_t rank = operands[0].dims.nbDims;
  Dims out = operands[0].dims;
  for (int32_t d = 0; d < rank - 3; ++d) {
    int64_t extent = 1;
    for (const AttentionOperand& operand : operands) {
      const int64_t own = operand.dims.d[d];
      if (own == 1) continue;
      if (extent != 1 && own != extent) return internalError("attention batch dims do not broadcast");
      extent = own;
    }
    out.d[d] = extent;
  }
  out.d[rank - 1] = operands[2].dims.d[rank - 1];
  return out;
}

int64_t attentionWorkspace(const LayerParams& layer, const KernelIO& io) {
  if (io.inputs.size() < 3 || io.outputs.empty()) return 0;
  const StatusOr<AttentionOperand> q = attentionInputOperand(layer.attrs, 0, io.inputs[0].dims);
  const StatusOr<AttentionOperand> v = attentionInputOperand(layer.attrs, 2, io.inputs[2].dims);
  if (!q.isOk() || !v.isOk()) return 0;  // runAttention reports the bad view
  const int32_t rank = q.value().dims.nbDims;
  if (rank < 3 || v.value().dims.nbDims != rank) return 0;
  if (!needsGeneric(q.value().dims.d[rank - 1], v.value().dims.d[rank - 1])) return 0;
  // One float per output element: the physical output holds exactly the logical output's elements.
  return io.outputs[0].count() * static_cast<int64_t>(sizeof(float));
}

bool supportsAttention(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.size() < 3 || layer.outputs.empty()) return false;
  for (int32_t index = 0; index < 3; ++index) {
    if (layer.inputs[static_cast<size_t>(index)] < 0) return false;
  }
  return isFloatType(graph.tensors[static_cast<size_t>(layer.outputs[0])].type);
}

Status runAttention(const LayerParams& layer, KernelIO& io) {
  if (io.inputs.size() < 3 || io.outputs.empty()) return internalError("attention needs query, key and value");
  TensorView& out = io.outputs[0];
  if (out.count() == 0) return Status::ok();
  const DataType type = out.type;
  for (int32_t index = 0; index < 3; ++index) {
    if (io.inputs[static_cast<size_t>(index)].type != type) {
      return invalidArgument("query, key and value must share the output's type");
    }
  }
  // Q, K and V as the layer computes with them (their views, or the tensors themselves).
  AttentionOperand operands[3];
  for (int32_t index = 0; index < 3; ++index) {
    KILN_ASSIGN_OR_RETURN(operands[index],
                          attentionInputOperand(layer.attrs, index, io.inputs[static_cast<size_t>(index)].dims));
  }
  const Dims& qd = operands[0].dims;
  const Dims& kd = operands[1].dims;
  const int32_t rank = qd.nbDims;
  if (rank < 3 || rank > Dims::kMAX_DIMS || kd.nbDims != rank || operands[2].dims.nbDims != rank) {
    return internalError("attention inputs must share one rank >= 3");
  }
  KILN_ASSIGN_OR_RETURN(const Dims logicalOut, logicalOutputDims(operands));
  KILN_ASSIGN_OR_RETURN(const AttentionOperand output, attentionOutputOperand(layer.attrs, logicalOut));
  if (volume(logicalOut) != out.count()) {
    return internalError("attention layer '" + layer.name + "': the output " + dimsToString(out.dims) +
                         " does not hold the logical output " + dimsToString(logicalOut));
  }
  AttentionArgs a;
  a.q = viewBase(io.inputs[0], operands[0]);
  a.k = viewBase(io.inputs[1], operands[1]);
  a.v = viewBase(io.inputs[2], operands[2]);
  a.out = out.data;  // the output view has no offset
  a.rank = rank;
  a.hq = qd.d[rank - 3];
  a.sq = qd.d[rank - 2];
  a.e = qd.d[rank - 1];
  a.hk = kd.d[rank - 3];
  a.sk = kd.d[rank - 2];
  a.ev = logicalOut.d[rank - 1];
  if (a.hk <= 0 || a.hq % a.hk != 0) {
    return internalError("attention layer '" + layer.name + "': query heads are not a multiple of key heads");
  }
  a.group = a.hq / a.hk;
  a.causal = layer.attrs.getInt("causal") != 0;
  const double scale = layer.attrs.getFloat("scale", 0.0);
  a.scale = scale != 0.0 ? static_cast<float>(scale)
                         : (a.e > 0 ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(a.e))) : 1.f);
  a.batch = toShape8(logicalOut);
  a.batch.rank = rank - 3;
  a.qStrides = kernelStrides(operands[0]);
  a.kStrides = kernelStrides(operands[1]);
  a.vStrides = kernelStrides(operands[2]);
  a.oStrides = kernelStrides(output);
  if (io.inputs.size() > 3 && io.inputs[3].data != nullptr) {
    const TensorView& mask = io.inputs[3];
    if (mask.type != DataType::kBOOL && !isFloatType(mask.type)) {
      return invalidArgument(std::string("the attention mask must be bool or a float type, got ") +
                             dataTypeName(mask.type));
    }
    Dims scores = logicalOut;
    scores.d[rank - 1] = a.sk;
    a.mask = mask.data;
    a.maskType = mask.type;
    a.maskStrides = broadcastStrides(mask.dims, scores);
  }
  int64_t batchCount = 1;
  for (int32_t d = 0; d < rank - 3; ++d) batchCount *= logicalOut.d[d];
  const cudaStream_t stream = streamOf(io);

  if (needsGeneric(a.e, a.ev)) {
    if (io.workspace == nullptr || io.workspaceSize < out.count() * static_cast<int64_t>(sizeof(float))) {
      return internalError("attention workspace is smaller than the float accumulators it needs");
    }
    a.workspace = static_cast<float*>(io.workspace);
    const int64_t rows = batchCount * a.hq * a.sq;
    if (rows > INT32_MAX) return unimplemented("attention with more than 2^31 query rows");
    return dispatchFloatType(type, [&](auto tag) -> Status {
      using T = decltype(tag);
      genericAttentionKernel<T><<<static_cast<unsigned int>(rows), kGENERIC_THREADS, 0, stream>>>(a);
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    });
  }
  if (mmaAttentionTakes(a, type)) return launchMmaAttention(a, type, batchCount, stream);
  const int64_t blocks = batchCount * a.hq * ((a.sq + kBLOCK_Q - 1) / kBLOCK_Q);
  if (blocks > INT32_MAX) return unimplemented("attention with more than 2^31 query blocks");
  const int64_t width = std::max(a.e, a.ev);
  return dispatchFloatType(type, [&](auto tag) -> Status {
    using T = decltype(tag);
    if (width <= 32) return launchTiled<32, T>(a, blocks, stream);
    if (width <= 64) return launchTiled<64, T>(a, blocks, stream);
    if (width <= 128) return launchTiled<128, T>(a, blocks, stream);
    return launchTiled<256, T>(a, blocks, stream);
  });
}

}  // namespace
}  // namespace cuda

void registerAttentionCudaKernels(CudaKernelTable& table) {
  CudaTactic tactic;
  tactic.name = "cuda_attention_flash";
  tactic.run = cuda::runAttention;
  tactic.workspace = cuda::attentionWorkspace;
  tactic.supports = cuda::supportsAttention;
  table.add(LayerType::kATTENTION, std::move(tactic));
}

}  // namespace kiln
