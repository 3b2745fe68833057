// CUDA reductions (sum, prod, max, min, avg) over any axis mask, matching the CPU reference's accumulators.
//
// The input's dims are merged into alternating kept/reduced groups, then:
//   [K] R          rows: a warp per short row, a block per long row (long rows of few outputs are split
//                  over several blocks whose partial results a second kernel merges);
//   [K] R K        columns: threads along the contiguous kept dim, coalesced, the reduced range split over
//                  the block's rows (and over blocks when outputs are few);
//   anything else  general: a thread (or a warp, when the innermost dim is reduced) per output.
#include <algorithm>
#include <string>

#include "engine/backends/cuda/reduce_family.h"
#include "engine/backends/cuda/reduce_ops.cuh"

namespace kiln {
namespace cuda {
namespace {

constexpr int kTARGET_BLOCKS = 528;  // enough blocks to fill an H100/H200 several times over
constexpr int kROW_BLOCK = 256;
constexpr int kWARP_ROW_MAX = 2048;  // rows up to this length get one warp each
constexpr int kCOL_X = 32, kCOL_Y = 8;

enum class ReduceKind { kFILL, kROWS, kCOLUMNS, kGENERAL };

struct ReducePlan {
  ReduceKind kind = ReduceKind::kCOLUMNS;
  int64_t outputs = 0;
  int64_t count = 1;  // inputs per output
  int64_t outer = 1, n = 1, inner = 1;
  bool warpRows = false;
  int64_t splits = 1, chunk = 0;
  // General: kept groups (outputs in row-major order) and the reduced groups but the last one.
  Shape8 keptShape, keptStrides, redShape, redStrides;
  int64_t lastExtent = 1, lastStride = 0;
  bool innermostReduced = false;
};

ReducePlan planReduce(const Dims& in, uint32_t mask) {
  ReducePlan p;
  p.outputs = 1;
  for (int32_t d = 0; d < in.nbDims; ++d) {
    if (((mask >> d) & 1u) != 0) {
      p.count *= in.d[d];
    } else {
      p.outputs *= in.d[d];
    }
  }
  if (p.outputs == 0) return p;
  if (p.count == 0) {
    p.kind = ReduceKind::kFILL;
    return p;
  }
  const std::vector<DimGroup> g = mergeDims(in, mask);
  const size_t ng = g.size();
  if (ng == 0) {
    p.kind = ReduceKind::kCOLUMNS;
  } else if (ng == 1 && !g[0].reduced) {
    p.kind = ReduceKind::kCOLUMNS;
    p.inner = g[0].extent;
  } else if (g.back().reduced && ng <= 2) {
    p.kind = ReduceKind::kROWS;
    p.outer = ng == 2 ? g[0].extent : 1;
    p.n = g.back().extent;
  } else if (!g.back().reduced && g[ng - 2].reduced && ng <= 3) {
    p.kind = ReduceKind::kCOLUMNS;
    p.outer = ng == 3 ? g[0].extent : 1;
    p.n = g[ng - 2].extent;
    p.inner = g.back().extent;
  } else {
    p.kind = ReduceKind::kGENERAL;
    std::vector<DimGroup> reducedGroups;
    for (const DimGroup& d : g) {
      if (d.reduced) {
        reducedGroups.push_back(d);
      } else {
        p.keptShape.d[p.keptShape.rank] = d.extent;
        p.keptStrides.d[p.keptStrides.rank++] = d.stride;
        ++p.keptShape.rank;
      }
    }
    p.lastExtent = reducedGroups.back().extent;
    p.lastStride = reducedGroups.back().stride;
    for (size_t i = 0; i + 1 < reducedGroups.size(); ++i) {
      p.redShape.d[p.redShape.rank] = reducedGroups[i].extent;
      p.redStrides.d[p.redStrides.rank++] = reducedGroups[i].stride;
      ++p.redShape.rank;
    }
    p.innermostReduced = g.back().reduced;
    return p;
  }
  if (p.kind == ReduceKind::kROWS) {
    p.warpRows = p.n <= kWARP_ROW_MAX;
    p.chunk = p.n;
    if (!p.warpRows && p.outer < kTARGET_BLOCKS && p.n >= 16384) {
      p.splits = std::min<int64_t>((kTARGET_BLOCKS + p.outer - 1) / p.outer, p.n / 4096);
      // Chunks stay multiples of the vector width so every block's loads stay 16-byte aligned.
      p.chunk = ((p.n + p.splits - 1) / p.splits + 15) / 16 * 16;
      p.splits = (p.n + p.chunk - 1) / p.chunk;
    }
  } else {
    const int64_t blocks = p.outer * ((p.inner + kCOL_X - 1) / kCOL_X);
    p.chunk = p.n;
    if (blocks < kTARGET_BLOCKS && p.n >= 1024) {
      p.splits = std::min<int64_t>({(kTARGET_BLOCKS + blocks - 1) / blocks, p.n / 256, 65535});
      p.chunk = (p.n + p.splits - 1) / p.splits;
      p.splits = (p.n + p.chunk - 1) / p.chunk;
    }
  }
  return p;
}

// ---- kernels ------------------------------------------------------------------------------------------

template <typename T, typename Op>
__global__ void reduceFillKernel(T* __restrict__ out, int64_t outputs, Op op) {
  KILN_GRID_STRIDE_LOOP(i, outputs) out[i] = op.finish(op.init(), 0);
}

// One segment (a row, or a chunk of one when split) per kThreads threads: a warp, or the whole block.
template <typename T, typename Op, int kThreads>
__global__ void reduceRowsKernel(const T* __restrict__ in, T* __restrict__ out, typename Op::Acc* __restrict__ partial,
                                 int64_t rows, int64_t n, int64_t chunk, int64_t splits, int64_t count, bool vec,
                                 Op op) {
  using Acc = typename Op::Acc;
  constexpr int kSegsPerBlock = kROW_BLOCK / kThreads;
  const int t = threadIdx.x % kThreads;
  const int64_t seg = static_cast<int64_t>(blockIdx.x) * kSegsPerBlock + threadIdx.x / kThreads;
  const bool active = seg < rows * splits;
  const int64_t row = active ? seg / splits : 0, split = active ? seg % splits : 0;
  const int64_t begin = split * chunk;
  const int64_t len = active ? min(chunk, n - begin) : 0;
  const T* p = in + row * n + begin;
  Acc acc = op.init();
  if (vec) {
    using V = Vec16<T>;
    constexpr int kV = V::kN;
    const V* pv = reinterpret_cast<const V*>(p);
    const int64_t nv = len / kV;
    int64_t j = t;
    for (; j + kThreads < nv; j += 2 * kThreads) {  // two loads in flight per thread
      const V a = pv[j], b = pv[j + kThreads];
#pragma unroll
      for (int e = 0; e < kV; ++e) acc = op.add(acc, a.v[e]);
#pragma unroll
      for (int e = 0; e < kV; ++e) acc = op.add(acc, b.v[e]);
    }
    if (j < nv) {
      const V a = pv[j];
#pragma unroll
      for (int e = 0; e < kV; ++e) acc = op.add(acc, a.v[e]);
    }
  } else {
    for (int64_t j = t; j < len; j += kThreads) acc = op.add(acc, p[j]);
  }
  auto merge = [&](Acc a, Acc b) { return op.merge(a, b); };
  if constexpr (kThreads == kWARP) {
    acc = warpAllReduce(acc, merge);
  } else {
    __shared__ Acc scratch[kROW_BLOCK / kWARP];
    acc = blockAllReduce(acc, merge, scratch);
  }
  if (!active || t != 0) return;
  if (splits == 1) {
    out[row] = op.finish(acc, count);
  } else {
    partial[split * rows + row] = acc;
  }
}

// [outer, n, inner]: threadIdx.x walks the contiguous inner dim, threadIdx.y (and blockIdx.y) the reduced one.
template <typename T, typename Op>
__global__ void reduceColumnsKernel(const T* __restrict__ in, T* __restrict__ out,
                                    typename Op::Acc* __restrict__ partial, int64_t n, int64_t inner,
                                    int64_t innerBlocks, int64_t chunk, int64_t outputs, int64_t count, Op op) {
  using Acc = typename Op::Acc;
  __shared__ Acc tile[kCOL_Y][kCOL_X];
  const int64_t o = blockIdx.x / innerBlocks;
  const int64_t i = (blockIdx.x % innerBlocks) * kCOL_X + threadIdx.x;
  const int64_t j0 = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t j1 = min(n, j0 + chunk);
  Acc acc = op.init();
  if (i < inner) {
    const T* p = in + o * n * inner + i;
    for (int64_t j = j0 + threadIdx.y; j < j1; j += kCOL_Y) acc = op.add(acc, p[j * inner]);
  }
  tile[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || i >= inner) return;
#pragma unroll
  for (int y = 1; y < kCOL_Y; ++y) acc = op.merge(acc, tile[y][threadIdx.x]);
  const int64_t at = o * inner + i;
  if (gridDim.y == 1) {
    out[at] = op.finish(acc, count);
  } else {
    partial[static_cast<int64_t>(blockIdx.y) * outputs + at] = acc;
  }
}

// Merges the partial results of split reductions, stored split-major: partial[s * outputs + o].
template <typename T, typename Op>
__global__ void reduceFinishKernel(const typename Op::Acc* __restrict__ partial, T* __restrict__ out, int64_t outputs,
                                   int64_t splits, int64_t count, Op op) {
  KILN_GRID_STRIDE_LOOP(o, outputs) {
    typename Op::Acc acc = partial[o];
    for (int64_t s = 1; s < splits; ++s) acc = op.merge(acc, partial[s * outputs + o]);
    out[o] = op.finish(acc, count);
  }
}

// Any mask: kWarp = a warp per output with lanes along the innermost (reduced, contiguous) group; else a
// thread per output, neighbouring threads on neighbouring (contiguous) kept elements.
template <typename T, typename Op, bool kWarp>
__global__ void reduceGeneralKernel(const T* __restrict__ in, T* __restrict__ out, int64_t outputs, Shape8 keptShape,
                                    Shape8 keptStrides, Shape8 redShape, Shape8 redStrides, int64_t lastExtent,
                                    int64_t lastStride, int64_t count, Op op) {
  using Acc = typename Op::Acc;
  const int64_t thread = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t o = kWarp ? thread / kWARP : thread;
  const int lane = kWarp ? threadIdx.x % kWARP : 0;
  constexpr int kStep = kWarp ? kWARP : 1;
  if (o >= outputs) return;  // whole warps leave together: outputs per warp are uniform
  const int64_t base = offsetOf(o, keptShape, keptStrides);
  int64_t outerCount = 1;
  for (int32_t d = 0; d < redShape.rank; ++d) outerCount *= redShape.d[d];
  Acc acc = op.init();
  for (int64_t r = 0; r < outerCount; ++r) {
    const T* p = in + base + offsetOf(r, redShape, redStrides);
    for (int64_t l = lane; l < lastExtent; l += kStep) acc = op.add(acc, p[l * lastStride]);
  }
  if constexpr (kWarp) acc = warpAllReduce(acc, [&](Acc a, Acc b) { return op.merge(a, b); });
  if (lane == 0) out[o] = op.finish(acc, count);
}

// ---- launch -------------------------------------------------------------------------------------------

unsigned int blocksFor(int64_t threads, int block) {
  return static_cast<unsigned int>((threads + block - 1) / block);
}

template <typename T, typename Op>
Status launchReduce(const ReducePlan& p, const T* in, T* out, void* workspace, cudaStream_t stream) {
  using Acc = typename Op::Acc;
  const Op op;
  Acc* partial = static_cast<Acc*>(workspace);
  switch (p.kind) {
    case ReduceKind::kFILL:
      reduceFillKernel<T, Op><<<gridFor(p.outputs), kBLOCK, 0, stream>>>(out, p.outputs, op);
      break;
    case ReduceKind::kROWS: {
      const bool vec = aligned16(in) && p.n % Vec16<T>::kN == 0 && p.chunk % Vec16<T>::kN == 0;
      const int64_t segs = p.outer * p.splits;
      if (p.warpRows) {
        reduceRowsKernel<T, Op, kWARP><<<blocksFor(segs * kWARP, kROW_BLOCK), kROW_BLOCK, 0, stream>>>(
            in, out, partial, p.outer, p.n, p.chunk, p.splits, p.count, vec, op);
      } else {
        reduceRowsKernel<T, Op, kROW_BLOCK><<<static_cast<unsigned int>(segs), kROW_BLOCK, 0, stream>>>(
            in, out, partial, p.outer, p.n, p.chunk, p.splits, p.count, vec, op);
      }
      break;
    }
    case ReduceKind::kCOLUMNS: {
      const int64_t innerBlocks = (p.inner + kCOL_X - 1) / kCOL_X;
      const dim3 grid(static_cast<unsigned int>(p.outer * innerBlocks), static_cast<unsigned int>(p.splits));
      reduceColumnsKernel<T, Op><<<grid, dim3(kCOL_X, kCOL_Y), 0, stream>>>(in, out, partial, p.n, p.inner,
                                                                               innerBlocks, p.chunk, p.outputs, p.count, op);
      break;
    }
    case ReduceKind::kGENERAL:
      if (p.innermostReduced) {
        reduceGeneralKernel<T, Op, true><<<blocksFor(p.outputs * kWARP, kBLOCK), kBLOCK, 0, stream>>>(
            in, out, p.outputs, p.keptShape, p.keptStrides, p.redShape, p.redStrides, p.lastExtent, p.lastStride,
            p.count, op);
      } else {
        reduceGeneralKernel<T, Op, false><<<blocksFor(p.outputs, kBLOCK), kBLOCK, 0, stream>>>(
            in, out, p.outputs, p.keptShape, p.keptStrides, p.redShape, p.redStrides, p.lastExtent, p.lastStride,
            p.count, op);
      }
      break;
  }
  KILN_CUDA_CHECK_LAUNCH();
  if (p.kind != ReduceKind::kGENERAL && p.kind != ReduceKind::kFILL && p.splits > 1) {
    reduceFinishKernel<T, Op><<<gridFor(p.outputs), kBLOCK, 0, stream>>>(partial, out, p.outputs, p.splits, p.count,
                                                                         op);
    KILN_CUDA_CHECK_LAUNCH();
  }
  return Status::ok();
}

template <typename T>
Status reduceTyped(ReduceOperation op, const ReducePlan& p, const TensorView& in, TensorView& out, void* workspace,
                   cudaStream_t stream) {
  const T* x = in.as<const T>();
  T* y = out.as<T>();
  switch (op) {
    case ReduceOperation::kSUM: return launchReduce<T, SumOp<T>>(p, x, y, workspace, stream);
    case ReduceOperation::kPROD: return launchReduce<T, ProdOp<T>>(p, x, y, workspace, stream);
    case ReduceOperation::kMAX: return launchReduce<T, MaxOp<T>>(p, x, y, workspace, stream);
    case ReduceOperation::kMIN: return launchReduce<T, MinOp<T>>(p, x, y, workspace, stream);
    case ReduceOperation::kAVG:
      if constexpr (kIsFloatElement<T>) {
        return launchReduce<T, AvgOp<T>>(p, x, y, workspace, stream);
      } else {
        return invalidArgument(std::string("reduce: average of ") + dataTypeName(in.type) + " is not defined");
      }
  }
  return invalidArgument("reduce: unknown operation " + std::to_string(static_cast<int>(op)));
}

uint32_t reduceMask(const LayerParams& layer) { return static_cast<uint32_t>(layer.attrs.getInt("axes")); }

int64_t reduceWorkspace(const LayerParams& layer, const KernelIO& io) {
  const ReducePlan p = planReduce(io.inputs[0].dims, reduceMask(layer));
  if (p.kind == ReduceKind::kGENERAL || p.kind == ReduceKind::kFILL || p.splits <= 1) return 0;
  return p.splits * p.outputs * static_cast<int64_t>(sizeof(uint64_t));  // every accumulator is <= 8 bytes
}

Status runReduce(const LayerParams& layer, KernelIO& io) {
  const auto op = static_cast<ReduceOperation>(layer.attrs.getInt("operation"));
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  const ReducePlan p = planReduce(in.dims, reduceMask(layer));
  if (p.outputs == 0) return Status::ok();
  if (p.outputs != out.count()) {
    return invalidArgument("reduce '" + layer.name + "': output holds " + std::to_string(out.count()) +
                           " elements, expected " + std::to_string(p.outputs));
  }
  if (p.splits > 1 && io.workspaceSize < reduceWorkspace(layer, io)) {
    return invalidArgument("reduce '" + layer.name + "': workspace too small");
  }
  const cudaStream_t stream = streamOf(io);
  const auto dispatch = [&]() -> Status {
    switch (in.type) {
      case DataType::kFLOAT: return reduceTyped<float>(op, p, in, out, io.workspace, stream);
      case DataType::kHALF: return reduceTyped<__half>(op, p, in, out, io.workspace, stream);
      case DataType::kBF16: return reduceTyped<__nv_bfloat16>(op, p, in, out, io.workspace, stream);
      case DataType::kINT8: return reduceTyped<int8_t>(op, p, in, out, io.workspace, stream);
      case DataType::kUINT8: return reduceTyped<uint8_t>(op, p, in, out, io.workspace, stream);
      case DataType::kINT32: return reduceTyped<int32_t>(op, p, in, out, io.workspace, stream);
      case DataType::kINT64: return reduceTyped<int64_t>(op, p, in, out, io.workspace, stream);
      case DataType::kBOOL: break;
    }
    return invalidArgument("reduce has no kernel for bool (cast to an integer type first)");
  };
  const Status status = dispatch();
  return status.isOk() ? status : status.withContext("reduce '" + layer.name + "'");
}

// The CPU reduces every numeric type; bool is refused there too.
bool reduceSupports(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.empty() || layer.inputs[0] < 0) return false;
  const DataType type = graph.tensors[static_cast<size_t>(layer.inputs[0])].type;
  const auto op = static_cast<ReduceOperation>(layer.params.attrs.getInt("operation"));
  if (op == ReduceOperation::kAVG && !isFloatType(type)) return false;
  return type != DataType::kBOOL;
}

}  // namespace
}  // namespace cuda

void registerReduceCudaKernels(CudaKernelTable& table) {
  table.add(LayerType::kREDUCE, {"cuda_reduce", cuda::runReduce, cuda::reduceWorkspace, cuda::reduceSupports, {}});
  addTopKCudaTactics(table);
  addCumulativeCudaTactics(table);
}

}  // namespace kiln
