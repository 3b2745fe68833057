// Binary pointwise launch shared by the elementwise kernel files: out = f(a, b) with numpy broadcasting.
// Paths, chosen per run from the concrete shapes: flat (both inputs read at the output index, or one of
// them a single value) with 128-bit accesses when the pointers allow; a collapsed broadcast plan walked
// in 128-bit vectors when its innermost dim allows; else element by element with 32-bit index math, or
// 64-bit indices for tensors of 2^31 elements or more. Include only from the pointwise_*.cu files.
#pragma once

#include "engine/backends/cuda/pointwise_common.cuh"

namespace kiln {
namespace cuda {
namespace pw {

// Flat path: input k is read at the output index, or at 0 everywhere when it holds a single value
// (x * scalar). The scalar flags are uniform over the grid, so the branches cost nothing per element.
template <typename T, typename O, int V, typename F>
__global__ void binaryFlatKernel(const T* __restrict__ a, const T* __restrict__ b, O* __restrict__ out, int64_t n,
                                 bool aScalar, bool bScalar, F f) {
  const int64_t nVec = n / V;
  const T a0 = a[0];
  const T b0 = b[0];
  KILN_GRID_STRIDE_LOOP(i, nVec) {
    Vec<T, V> x, y;
    if (aScalar) {
#pragma unroll
      for (int k = 0; k < V; ++k) x.v[k] = a0;
    } else {
      x = reinterpret_cast<const Vec<T, V>*>(a)[i];
    }
    if (bScalar) {
#pragma unroll
      for (int k = 0; k < V; ++k) y.v[k] = b0;
    } else {
      y = reinterpret_cast<const Vec<T, V>*>(b)[i];
    }
    Vec<O, V> r;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = f(x.v[k], y.v[k]);
    reinterpret_cast<Vec<O, V>*>(out)[i] = r;
  }
  if constexpr (V > 1) {
    const int64_t t = nVec * V + blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
    if (t < n) out[t] = f(aScalar ? a0 : a[t], bScalar ? b0 : b[t]);
  }
}

template <typename T, typename O, typename I, typename F>
__global__ void binaryBroadcastKernel(const T* __restrict__ a, const T* __restrict__ b, O* __restrict__ out, I n,
                                      BroadcastPlan<2> plan, F f) {
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
    I off[2];
    broadcastOffsets<I, 2>(plan, i, off);
    out[i] = f(a[off[0]], b[off[1]]);
  }
}

// Broadcast plans whose innermost dim is a multiple of V and which every input walks with stride 1 (vector
// loads) or 0 (one value splat over the vector): bias over the last dim, per-channel scales over H*W. The
// index math then runs once per V elements.
template <typename T, typename O, int V, typename F>
__global__ void binaryBroadcastVecKernel(const T* __restrict__ a, const T* __restrict__ b, O* __restrict__ out,
                                         uint32_t nVec, BroadcastPlan<2> plan, bool aSplat, bool bSplat, F f) {
  for (uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < nVec; i += blockDim.x * gridDim.x) {
    uint32_t off[2];
    broadcastOffsets<uint32_t, 2>(plan, i * V, off);
    Vec<T, V> x, y;
    if (aSplat) {
      const T v = a[off[0]];
#pragma unroll
      for (int k = 0; k < V; ++k) x.v[k] = v;
    } else {
      x = *reinterpret_cast<const Vec<T, V>*>(a + off[0]);
    }
    if (bSplat) {
      const T v = b[off[1]];
#pragma unroll
      for (int k = 0; k < V; ++k) y.v[k] = v;
    } else {
      y = *reinterpret_cast<const Vec<T, V>*>(b + off[1]);
    }
    Vec<O, V> r;
#pragma unroll
    for (int k = 0; k < V; ++k) r.v[k] = f(x.v[k], y.v[k]);
    reinterpret_cast<Vec<O, V>*>(out)[i] = r;
  }
}

// Whether input k of a rank-0/1 plan can use the flat path, and if so whether it is a single value.
template <int N>
inline bool flatOperand(const BroadcastPlan<N>& plan, int k, int64_t count, bool& scalar) {
  scalar = count == 1;
  return plan.rank == 0 || plan.stride[k][0] == 1 || scalar;
}

template <typename T, typename O, typename F>
Status launchBinary(const TensorView& a, const TensorView& b, TensorView& out, F f, cudaStream_t stream) {
  const int64_t n = out.count();
  if (n <= 0) return Status::ok();
  const Dims* const ins[2] = {&a.dims, &b.dims};
  const BroadcastPlan<2> plan = makeBroadcastPlan<2>(out.dims, ins);
  const auto* pa = static_cast<const T*>(a.data);
  const auto* pb = static_cast<const T*>(b.data);
  auto* po = static_cast<O*>(out.data);
  bool aScalar = false, bScalar = false;
  if (plan.rank <= 1 && flatOperand(plan, 0, a.count(), aScalar) && flatOperand(plan, 1, b.count(), bScalar)) {
    constexpr int V = kVEC<T>;
    const bool vectorOk = (aScalar || aligned(pa, V * sizeof(T))) && (bScalar || aligned(pb, V * sizeof(T))) &&
                          aligned(po, V * sizeof(O));
    if (vectorOk) {
      binaryFlatKernel<T, O, V, F><<<flatGrid(n / V, n % V), kBLOCK, 0, stream>>>(pa, pb, po, n, aScalar, bScalar, f);
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    }
  }
  // Broadcast plans, and flat tensors whose pointers are not vector-aligned (views at odd offsets: rare).
  if (n < kMAX_U32_INDEX) {
    constexpr int V = kVEC<T>;
    const int32_t inner = plan.rank - 1;
    const int64_t sa = inner >= 0 ? plan.stride[0][inner] : -1, sb = inner >= 0 ? plan.stride[1][inner] : -1;
    if (plan.rank >= 2 && plan.extent[inner] % V == 0 && (sa == 0 || sa == 1) && (sb == 0 || sb == 1) &&
        (sa == 0 || aligned(pa, V * sizeof(T))) && (sb == 0 || aligned(pb, V * sizeof(T))) &&
        aligned(po, V * sizeof(O))) {
      const int64_t nVec = n / V;
      binaryBroadcastVecKernel<T, O, V, F>
          <<<gridFor(nVec), kBLOCK, 0, stream>>>(pa, pb, po, static_cast<uint32_t>(nVec), plan, sa == 0, sb == 0, f);
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    }
    binaryBroadcastKernel<T, O, uint32_t, F>
        <<<gridFor(n), kBLOCK, 0, stream>>>(pa, pb, po, static_cast<uint32_t>(n), plan, f);
  } else {
    binaryBroadcastKernel<T, O, int64_t, F><<<gridFor(n), kBLOCK, 0, stream>>>(pa, pb, po, n, plan, f);
  }
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

}  // namespace pw
}  // namespace cuda
}  // namespace kiln
