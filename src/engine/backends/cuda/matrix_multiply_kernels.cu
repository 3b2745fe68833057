// Own matrix-multiply kernels: the integer GEMM (cuBLASLt has no int64 GEMM, and its int32 path takes int8
// inputs only) and the pointwise epilogue for what cuBLASLt's epilogues do not cover (erf GELU, a bias along a
// vector product's rows, an empty contraction).
#include <type_traits>

#include "engine/backends/cuda/cuda_common.cuh"
#include "engine/backends/cuda/matrix_multiply.h"

namespace kiln {
namespace cuda {
namespace {

constexpr int kTILE = 32;       // output tile edge and K step
constexpr int kROWS_PER_THREAD = 4;
constexpr int kTHREADS_Y = kTILE / kROWS_PER_THREAD;
constexpr unsigned int kMAX_GRID_YZ = 65535;

__device__ __forceinline__ float activate(float x, MatmulActivation activation) {
  switch (activation) {
    case MatmulActivation::kRELU: return x > 0.f ? x : 0.f;
    case MatmulActivation::kGELU_ERF: return 0.5f * x * (1.f + erff(x * 0.70710678118654752f));
    case MatmulActivation::kGELU_TANH:
      return 0.5f * x * (1.f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x)));
    case MatmulActivation::kNONE: break;
  }
  return x;
}

// Unsigned accumulation wraps without undefined behaviour and keeps the low bits two's complement gives.
template <typename T>
using WrapAcc = std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t>;

// One block computes a kTILE x kTILE tile of one product; K advances in kTILE steps through shared memory.
template <typename T>
__global__ void integerMatmulKernel(MatmulPlan plan, const T* __restrict__ a, const T* __restrict__ b, T* c,
                                    const T* __restrict__ bias, bool relu) {
  using Acc = WrapAcc<T>;
  __shared__ Acc tileA[kTILE][kTILE + 1];  // [row][kk]
  __shared__ Acc tileB[kTILE][kTILE + 1];  // [kk][col]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kTILE + tx;
  const int64_t products = plan.products();
  for (int64_t p = blockIdx.z; p < products; p += gridDim.z) {
    int64_t offA = 0, offB = 0, offC = 0;
    plan.outerOffsets(p / plan.count, offA, offB, offC);
    const int64_t q = p % plan.count;
    const T* ap = a + offA + q * plan.strideA;
    const T* bp = b + offB + q * plan.strideB;
    T* cp = c + offC + q * plan.strideC;
    for (int64_t i0 = static_cast<int64_t>(blockIdx.y) * kTILE; i0 < plan.m; i0 += static_cast<int64_t>(gridDim.y) * kTILE) {
      Acc acc[kROWS_PER_THREAD] = {};
      for (int64_t k0 = 0; k0 < plan.k; k0 += kTILE) {
        for (int r = ty; r < kTILE; r += kTHREADS_Y) {
          // tileA[r][tx] = A(i0 + r, k0 + tx); tileB[r][tx] = B(k0 + r, j0 + tx).
          const int64_t i = i0 + r, kk = k0 + tx;
          Acc va = 0;
          if (i < plan.m && kk < plan.k) va = static_cast<Acc>(ap[plan.transA ? kk * plan.m + i : i * plan.k + kk]);
          tileA[r][tx] = va;
          const int64_t kb = k0 + r, jb = static_cast<int64_t>(blockIdx.x) * kTILE + tx;
          Acc vb = 0;
          if (kb < plan.k && jb < plan.n) vb = static_cast<Acc>(bp[plan.transB ? jb * plan.k + kb : kb * plan.n + jb]);
          tileB[r][tx] = vb;
        }
        __syncthreads();
#pragma unroll 8
        for (int kk = 0; kk < kTILE; ++kk) {
          const Acc bv = tileB[kk][tx];
#pragma unroll
          for (int r = 0; r < kROWS_PER_THREAD; ++r) acc[r] += tileA[ty + r * kTHREADS_Y][kk] * bv;
        }
        __syncthreads();
      }
      if (j < plan.n) {
#pragma unroll
        for (int r = 0; r < kROWS_PER_THREAD; ++r) {
          const int64_t i = i0 + ty + r * kTHREADS_Y;
          if (i >= plan.m) continue;
          const int64_t at = offC + q * plan.strideC + i * plan.n + j;
          Acc v = acc[r];
          if (bias != nullptr) v += static_cast<Acc>(bias[at % plan.outLast]);
          T out = static_cast<T>(v);
          if (relu && out < 0) out = 0;
          cp[i * plan.n + j] = out;
        }
      }
    }
  }
}

template <typename T>
__global__ void epilogueKernel(T* out, const T* __restrict__ bias, int64_t total, int64_t n,
                               MatmulActivation activation) {
  KILN_GRID_STRIDE_LOOP(i, total) {
    if constexpr (std::is_integral_v<T>) {
      using Acc = WrapAcc<T>;
      T v = out[i];
      if (bias != nullptr) v = static_cast<T>(static_cast<Acc>(v) + static_cast<Acc>(bias[i % n]));
      if (activation == MatmulActivation::kRELU && v < 0) v = 0;
      out[i] = v;
    } else {
      float v = toFloat(out[i]);
      if (bias != nullptr) v += toFloat(bias[i % n]);
      out[i] = fromFloat<T>(activate(v, activation));
    }
  }
}

// The float epilogue, 16 bytes of the output per step: what runs after a large GEMM whose erf GELU cuBLASLt
// cannot fuse is a pass over the whole output, so it must run at memory speed. Needs n a multiple of the
// vector width and 16-byte aligned output and bias, so a vector never crosses a row.
template <typename T>
__global__ void epilogueVectorKernel(T* out, const T* __restrict__ bias, int64_t vectors, int64_t n,
                                     MatmulActivation activation) {
  constexpr int kWIDTH = 16 / sizeof(T);
  KILN_GRID_STRIDE_LOOP(v, vectors) {
    uint4 raw = reinterpret_cast<const uint4*>(out)[v];
    T* values = reinterpret_cast<T*>(&raw);
    uint4 biasRaw = {};
    if (bias != nullptr) biasRaw = *reinterpret_cast<const uint4*>(bias + (v * kWIDTH) % n);
    const T* biases = reinterpret_cast<const T*>(&biasRaw);
#pragma unroll
    for (int e = 0; e < kWIDTH; ++e) {
      float x = toFloat(values[e]);
      if (bias != nullptr) x += toFloat(biases[e]);
      values[e] = fromFloat<T>(activate(x, activation));
    }
    reinterpret_cast<uint4*>(out)[v] = raw;
  }
}

}  // namespace

Status launchIntegerMatmul(const MatmulPlan& plan, const MatmulEpilogue& epilogue, const KernelIO& io, void* stream) {
  const TensorView& out = io.outputs[0];
  if (out.count() == 0) return Status::ok();
  const void* bias = nullptr;
  if (epilogue.bias) {
    if (io.inputs.size() < 3 || io.inputs[2].data == nullptr) return invalidArgument("fused bias input is missing");
    if (io.inputs[2].type != out.type || io.inputs[2].count() != plan.outLast) {
      return invalidArgument("fused bias must be " + std::string(dataTypeName(out.type)) + " [" +
                             std::to_string(plan.outLast) + "]");
    }
    bias = io.inputs[2].data;
  }
  const bool relu = epilogue.activation == MatmulActivation::kRELU;
  if (epilogue.activation != MatmulActivation::kNONE && !relu) {
    return unimplemented("integer matrix multiply takes a ReLU epilogue only");
  }
  const auto s = static_cast<cudaStream_t>(stream);
  const dim3 block(kTILE, kTHREADS_Y);
  const auto blocks = [](int64_t extent) {
    const int64_t b = (extent + kTILE - 1) / kTILE;
    return static_cast<unsigned int>(b < 1 ? 1 : b);
  };
  const int64_t nTiles = (plan.n + kTILE - 1) / kTILE;
  if (nTiles > INT32_MAX) return unimplemented("matrix multiply output too wide for the integer kernel");
  const dim3 grid(blocks(plan.n), std::min<unsigned int>(blocks(plan.m), kMAX_GRID_YZ),
                  static_cast<unsigned int>(std::min<int64_t>(plan.products(), kMAX_GRID_YZ)));
  switch (out.type) {
    case DataType::kINT32:
      integerMatmulKernel<int32_t><<<grid, block, 0, s>>>(plan, static_cast<const int32_t*>(io.inputs[0].data),
                                                          static_cast<const int32_t*>(io.inputs[1].data),
                                                          static_cast<int32_t*>(out.data),
                                                          static_cast<const int32_t*>(bias), relu);
      break;
    case DataType::kINT64:
      integerMatmulKernel<int64_t><<<grid, block, 0, s>>>(plan, static_cast<const int64_t*>(io.inputs[0].data),
                                                          static_cast<const int64_t*>(io.inputs[1].data),
                                                          static_cast<int64_t*>(out.data),
                                                          static_cast<const int64_t*>(bias), relu);
      break;
    default:
      return unimplemented(std::string("integer matrix multiply got ") + dataTypeName(out.type));
  }
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

Status launchMatmulEpilogue(void* out, const void* bias, DataType type, int64_t rows, int64_t n,
                            MatmulActivation activation, void* stream) {
  const int64_t total = rows * n;
  if (total == 0) return Status::ok();
  const auto s = static_cast<cudaStream_t>(stream);
  return dispatchType(type, [&](auto tag) -> Status {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, int8_t> || std::is_same_v<T, uint8_t>) {
      return unimplemented(std::string("matrix multiply epilogue for ") + dataTypeName(type));
    } else {
      constexpr int64_t kWIDTH = 16 / sizeof(T);
      const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
      if constexpr (std::is_floating_point_v<T> || sizeof(T) == 2) {
        if (n % kWIDTH == 0 && aligned(out) && aligned(bias)) {
          const int64_t vectors = total / kWIDTH;
          epilogueVectorKernel<T><<<gridFor(vectors), kBLOCK, 0, s>>>(static_cast<T*>(out), static_cast<const T*>(bias),
                                                                    vectors, n, activation);
          KILN_CUDA_CHECK_LAUNCH();
          return Status::ok();
        }
      }
      epilogueKernel<T><<<gridFor(total), kBLOCK, 0, s>>>(static_cast<T*>(out), static_cast<const T*>(bias), total, n,
                                                          activation);
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    }
  });
}

}  // namespace cuda
}  // namespace kiln
