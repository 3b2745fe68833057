// CUDA scatter kernel: the data is copied to the output, then updates land at indexed positions (kELEMENT:
// torch.scatter / scatter_reduce along an axis; kND: ONNX ScatterND), combined by the reduction.
//
// Matching the CPU reference, which applies updates in index order:
// - kNONE: the last update in index order wins. For both modes that is the update with the highest flat
//   index among those hitting an element, so a first pass records it with a 64-bit atomicMax in the
//   workspace and a second pass copies the winners: deterministic whatever the thread order.
// - kSUM / kMEAN / kPROD / kMAX / kMIN: atomics on float32 (float types) or int64 (integer types, wrapping
//   like the CPU's int64 staging) accumulators, rounded to the output type once at the end. Float sums differ
//   from the CPU only by the order of the additions.
// The CPU kernel reports an out-of-range index as an error; here such an update is skipped (a GPU kernel
// cannot report without waiting for the device), so nothing is ever written out of bounds.
#include <string>
#include <type_traits>

#include "engine/backends/cuda/data_movement_util.cuh"

namespace kiln {
namespace cuda {
namespace {

// Where update u lands, for either mode.
struct ScatterTargets {
  bool element = true;
  const void* indices = nullptr;
  bool idx64 = false;
  // kELEMENT: updates (and indices) have shape idxShape; the target replaces coordinate `axis` by the index.
  Shape8 idxShape;
  Shape8 dataStrides;
  int32_t axis = 0;
  int64_t n = 0;
  // kND: tuple u / slice of k coordinates selects the slice start; u % slice is the position inside.
  int32_t k = 0;
  int64_t extent[Dims::kMAX_DIMS] = {};
  int64_t stride[Dims::kMAX_DIMS] = {};
  int64_t slice = 1;
};

// -1 when an index is out of range.
__device__ __forceinline__ int64_t targetOf(const ScatterTargets& t, int64_t u) {
  if (t.element) {
    int64_t rem = u, base = 0;
    for (int32_t d = t.idxShape.rank - 1; d >= 0; --d) {
      const int64_t c = rem % t.idxShape.d[d];
      rem /= t.idxShape.d[d];
      if (d != t.axis) base += c * t.dataStrides.d[d];
    }
    int64_t idx = loadIndex(t.indices, t.idx64, u);
    if (idx < 0) idx += t.n;
    return idx >= 0 && idx < t.n ? base + idx * t.dataStrides.d[t.axis] : -1;
  }
  const int64_t tuple = u / t.slice;
  int64_t offset = u - tuple * t.slice;
  for (int32_t j = 0; j < t.k; ++j) {
    int64_t c = loadIndex(t.indices, t.idx64, tuple * t.k + j);
    if (c < 0) c += t.extent[j];
    if (c < 0 || c >= t.extent[j]) return -1;
    offset += c * t.stride[j];
  }
  return offset;
}

// ---- kNONE: last writer wins --------------------------------------------------------------------------

__global__ void claimKernel(long long* __restrict__ winner, ScatterTargets targets, int64_t nbUpdates) {
  KILN_GRID_STRIDE_LOOP(u, nbUpdates) {
    const int64_t t = targetOf(targets, u);
    if (t >= 0) atomicMax(winner + t, static_cast<long long>(u));
  }
}

template <typename E>
__global__ void copyWinnersKernel(E* __restrict__ out, const E* __restrict__ updates,
                                  const long long* __restrict__ winner, int64_t count) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    const long long w = winner[i];
    if (w >= 0) out[i] = updates[w];
  }
}

// ---- reductions ---------------------------------------------------------------------------------------

// NaN wins max and min, as in torch's amax/amin (and the CPU kernel): a NaN accumulator stays NaN.
__device__ __forceinline__ float combine(ScatterReduction r, float a, float b) {
  switch (r) {
    case ScatterReduction::kMAX: return b > a || isnan(b) ? b : a;
    case ScatterReduction::kMIN: return b < a || isnan(b) ? b : a;
    case ScatterReduction::kPROD: return a * b;
    case ScatterReduction::kNONE:
    case ScatterReduction::kSUM:
    case ScatterReduction::kMEAN: return a + b;
  }
  return a;
}

__device__ __forceinline__ void atomicCombine(ScatterReduction r, float* p, float v) {
  if (r == ScatterReduction::kSUM || r == ScatterReduction::kMEAN) {
    atomicAdd(p, v);
    return;
  }
  auto* word = reinterpret_cast<unsigned int*>(p);
  unsigned int old = *word, assumed;
  do {
    assumed = old;
    const unsigned int next = __float_as_uint(combine(r, __uint_as_float(assumed), v));
    if (next == assumed) return;
    old = atomicCAS(word, assumed, next);
  } while (old != assumed);
}

__device__ __forceinline__ void atomicCombine(ScatterReduction r, int64_t* p, int64_t v) {
  auto* word = reinterpret_cast<unsigned long long*>(p);
  switch (r) {
    case ScatterReduction::kNONE:
    case ScatterReduction::kSUM:
    case ScatterReduction::kMEAN:
      atomicAdd(word, static_cast<unsigned long long>(v));  // wraps like the CPU's unsigned addition
      return;
    case ScatterReduction::kMAX:
      atomicMax(reinterpret_cast<long long*>(p), static_cast<long long>(v));
      return;
    case ScatterReduction::kMIN:
      atomicMin(reinterpret_cast<long long*>(p), static_cast<long long>(v));
      return;
    case ScatterReduction::kPROD: {
      unsigned long long old = *word, assumed;
      do {
        assumed = old;
        old = atomicCAS(word, assumed, assumed * static_cast<unsigned long long>(v));
      } while (old != assumed);
      return;
    }
  }
}

// Integer elements as the CPU reads them (bool as 0/1).
template <typename T>
__device__ __forceinline__ int64_t intOf(T v) { return static_cast<int64_t>(v); }
template <>
__device__ __forceinline__ int64_t intOf<bool>(bool v) { return *reinterpret_cast<const uint8_t*>(&v) != 0 ? 1 : 0; }

template <typename T>
__device__ __forceinline__ T intTo(int64_t v) { return static_cast<T>(v); }
template <>
__device__ __forceinline__ bool intTo<bool>(int64_t v) { return v != 0; }

// Accumulator type: float32 for float types, int64 for the rest.
template <typename T> struct AccOf { using type = int64_t; };
template <> struct AccOf<float> { using type = float; };
template <> struct AccOf<__half> { using type = float; };
template <> struct AccOf<__nv_bfloat16> { using type = float; };

template <typename T>
__device__ __forceinline__ typename AccOf<T>::type widen(T v) {
  if constexpr (std::is_same<typename AccOf<T>::type, float>::value) {
    return toFloat(v);
  } else {
    return intOf(v);
  }
}
template <typename T>
__device__ __forceinline__ T narrow(typename AccOf<T>::type v) {
  if constexpr (std::is_same<typename AccOf<T>::type, float>::value) {
    return fromFloat<T>(v);
  } else {
    return intTo<T>(v);
  }
}

template <typename T>
__global__ void stageKernel(typename AccOf<T>::type* __restrict__ acc, const T* __restrict__ out, int64_t count) {
  KILN_GRID_STRIDE_LOOP(i, count) { acc[i] = widen(out[i]); }
}

template <typename T>
__global__ void reduceKernel(typename AccOf<T>::type* __restrict__ acc, unsigned long long* __restrict__ hits,
                             const T* __restrict__ updates, ScatterTargets targets, ScatterReduction reduction,
                             int64_t nbUpdates) {
  KILN_GRID_STRIDE_LOOP(u, nbUpdates) {
    const int64_t t = targetOf(targets, u);
    if (t < 0) continue;
    atomicCombine(reduction, acc + t, widen(updates[u]));
    if (hits != nullptr) atomicAdd(hits + t, 1ull);
  }
}

__device__ __forceinline__ float meanOf(float sum, unsigned long long n) { return sum / static_cast<float>(n); }
__device__ __forceinline__ int64_t meanOf(int64_t sum, unsigned long long n) {
  // Floor division, as torch does for integer means.
  const auto d = static_cast<int64_t>(n);
  int64_t q = sum / d;
  if (sum % d != 0 && sum < 0) --q;
  return q;
}

// Mean division and the final rounding to the output type (in place when the accumulator is the output).
template <typename T>
__global__ void finishKernel(T* out, typename AccOf<T>::type* acc, const unsigned long long* __restrict__ hits,
                             bool staged, int64_t count) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    typename AccOf<T>::type v = acc[i];
    if (hits != nullptr && hits[i] > 0) v = meanOf(v, hits[i] + 1);  // the existing value counts as a sample
    if (staged) {
      out[i] = narrow<T>(v);
    } else {
      acc[i] = v;
    }
  }
}

template <typename T>
bool accumulatesInPlace() {
  return std::is_same<T, float>::value || std::is_same<T, int64_t>::value;
}

struct ScatterPlan {
  int64_t count = 0;      // output elements
  int64_t nbUpdates = 0;  // update elements that land (the rest of updates, if any, is unused as on the CPU)
  ScatterTargets targets;
};

int64_t workspaceBytes(ScatterReduction reduction, DataType type, int64_t count) {
  if (reduction == ScatterReduction::kNONE) return count * 8;
  int64_t bytes = reduction == ScatterReduction::kMEAN ? count * 8 : 0;
  const bool inPlace = type == DataType::kFLOAT || type == DataType::kINT64;
  if (!inPlace) bytes += count * (isFloatType(type) ? 4 : 8);
  return bytes;
}

template <typename T>
Status reduceTyped(ScatterReduction reduction, const ScatterPlan& plan, const TensorView& updates, TensorView& out,
                   KernelIO& io) {
  using A = typename AccOf<T>::type;
  const cudaStream_t stream = streamOf(io);
  auto* ws = static_cast<uint8_t*>(io.workspace);
  unsigned long long* hits = nullptr;
  if (reduction == ScatterReduction::kMEAN) {
    hits = reinterpret_cast<unsigned long long*>(ws);
    ws += plan.count * 8;
    KILN_CUDA_CHECK(cudaMemsetAsync(hits, 0, static_cast<size_t>(plan.count * 8), stream));
  }
  const bool staged = !accumulatesInPlace<T>();
  A* acc = staged ? reinterpret_cast<A*>(ws) : static_cast<A*>(out.data);
  T* dst = static_cast<T*>(out.data);
  if (staged) {
    stageKernel<T><<<gridFor(plan.count), kBLOCK, 0, stream>>>(acc, dst, plan.count);
    KILN_CUDA_CHECK_LAUNCH();
  }
  reduceKernel<T><<<gridFor(plan.nbUpdates), kBLOCK, 0, stream>>>(acc, hits, static_cast<const T*>(updates.data),
                                                                   plan.targets, reduction, plan.nbUpdates);
  KILN_CUDA_CHECK_LAUNCH();
  if (staged || hits != nullptr) {
    finishKernel<T><<<gridFor(plan.count), kBLOCK, 0, stream>>>(dst, acc, hits, staged, plan.count);
    KILN_CUDA_CHECK_LAUNCH();
  }
  return Status::ok();
}

StatusOr<ScatterPlan> planScatter(const LayerParams& layer, const KernelIO& io) {
  const TensorView& data = io.inputs[0];
  const TensorView& indices = io.inputs[1];
  const TensorView& updates = io.inputs[2];
  ScatterPlan plan;
  plan.count = data.count();
  ScatterTargets& t = plan.targets;
  t.indices = indices.data;
  t.idx64 = indices.type == DataType::kINT64;
  const int64_t mode = layer.attrs.getInt("mode", 0);
  switch (static_cast<ScatterMode>(mode)) {
    case ScatterMode::kELEMENT: {
      const int32_t r = data.dims.nbDims;
      const int64_t stored = layer.attrs.getInt("axis", 0);
      const auto axis = static_cast<int32_t>(stored < 0 ? stored + r : stored);
      if (axis < 0 || axis >= r || indices.dims.nbDims != r || updates.dims != indices.dims) {
        return invalidArgument("element scatter of data " + dimsToString(data.dims) + " by indices " +
                               dimsToString(indices.dims) + " and updates " + dimsToString(updates.dims) +
                               " on axis " + std::to_string(stored) + " is malformed");
      }
      for (int32_t d = 0; d < r; ++d) {
        if (d != axis && indices.dims.d[d] > data.dims.d[d]) {
          return invalidArgument("element scatter indices " + dimsToString(indices.dims) + " exceed data " +
                                 dimsToString(data.dims) + " on dim " + std::to_string(d));
        }
      }
      t.element = true;
      t.idxShape = toShape8(indices.dims);
      t.dataStrides = contiguousStrides(data.dims);
      t.axis = axis;
      t.n = data.dims.d[axis];
      plan.nbUpdates = indices.count();
      return plan;
    }
    case ScatterMode::kND: {
      const int32_t q = indices.dims.nbDims, r = data.dims.nbDims;
      const int64_t k = q >= 1 ? indices.dims.d[q - 1] : -1;
      if (k < 0 || k > r) {
        return invalidArgument("ND scatter indices " + dimsToString(indices.dims) + " do not address data " +
                               dimsToString(data.dims));
      }
      t.element = false;
      t.k = static_cast<int32_t>(k);
      t.slice = extentProduct(data.dims, t.k, r);
      for (int32_t j = 0; j < t.k; ++j) {
        t.extent[j] = data.dims.d[j];
        t.stride[j] = extentProduct(data.dims, j + 1, r);
      }
      const int64_t tuples = k > 0 ? indices.count() / k : (t.slice > 0 ? updates.count() / t.slice : 0);
      plan.nbUpdates = tuples * t.slice;
      if (plan.nbUpdates > updates.count()) {
        return invalidArgument("ND scatter updates " + dimsToString(updates.dims) + " are fewer than indices " +
                               dimsToString(indices.dims) + " select");
      }
      return plan;
    }
  }
  return invalidArgument("unknown scatter mode " + std::to_string(mode));
}

Status runScatter(const LayerParams& layer, KernelIO& io) {
  const TensorView& data = io.inputs[0];
  const TensorView& indices = io.inputs[1];
  const TensorView& updates = io.inputs[2];
  TensorView& out = io.outputs[0];
  const cudaStream_t stream = streamOf(io);
  if (indices.type != DataType::kINT32 && indices.type != DataType::kINT64) {
    return invalidArgument(std::string("scatter indices must be int32 or int64, got ") + dataTypeName(indices.type));
  }
  if (updates.type != data.type || out.type != data.type || out.count() != data.count()) {
    return invalidArgument("scatter data, updates and output must share one type and the data's shape");
  }
  const int64_t reductionValue = layer.attrs.getInt("reduction", 0);
  if (reductionValue < 0 || reductionValue > static_cast<int64_t>(ScatterReduction::kMEAN)) {
    return invalidArgument("unknown scatter reduction " + std::to_string(reductionValue));
  }
  const auto reduction = static_cast<ScatterReduction>(reductionValue);
  if (out.data != data.data && data.bytes() > 0) {
    KILN_CUDA_CHECK(
        cudaMemcpyAsync(out.data, data.data, static_cast<size_t>(data.bytes()), cudaMemcpyDeviceToDevice, stream));
  }
  KILN_ASSIGN_OR_RETURN(const ScatterPlan plan, planScatter(layer, io));
  if (plan.nbUpdates == 0 || plan.count == 0) return Status::ok();
  const int64_t needed = workspaceBytes(reduction, out.type, plan.count);
  if (io.workspaceSize < needed || (needed > 0 && io.workspace == nullptr)) {
    return internalError("scatter needs " + std::to_string(needed) + " bytes of workspace, got " +
                         std::to_string(io.workspaceSize));
  }
  if (reduction == ScatterReduction::kNONE) {
    auto* winner = static_cast<long long*>(io.workspace);
    KILN_CUDA_CHECK(cudaMemsetAsync(winner, 0xff, static_cast<size_t>(plan.count * 8), stream));  // all -1
    claimKernel<<<gridFor(plan.nbUpdates), kBLOCK, 0, stream>>>(winner, plan.targets, plan.nbUpdates);
    KILN_CUDA_CHECK_LAUNCH();
    return dispatchUnit(dataTypeSize(out.type), [&](auto tag) {
      using E = decltype(tag);
      copyWinnersKernel<E><<<gridFor(plan.count), kBLOCK, 0, stream>>>(
          static_cast<E*>(out.data), static_cast<const E*>(updates.data), winner, plan.count);
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    });
  }
  return dispatchType(out.type, [&](auto tag) {
    return reduceTyped<decltype(tag)>(reduction, plan, updates, out, io);
  });
}

int64_t scatterWorkspace(const LayerParams& layer, const KernelIO& io) {
  const auto reduction = static_cast<ScatterReduction>(layer.attrs.getInt("reduction", 0));
  return workspaceBytes(reduction, io.outputs[0].type, io.outputs[0].count());
}

}  // namespace

void registerScatterDataMovementCudaKernels(CudaKernelTable& table) {
  table.add(LayerType::kSCATTER, {"cuda_scatter", runScatter, scatterWorkspace, nullptr, {}});
}

}  // namespace cuda
}  // namespace kiln
