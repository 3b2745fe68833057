// CUDA matrix multiply, shared between the cuBLASLt tactics (matrix_multiply_cublaslt.cc), the own integer
// GEMM and epilogue kernels (matrix_multiply_kernels.cu) and the registration (matrix_multiply.cc).
//
// A layer becomes a MatmulPlan: row-major C[t] = op(A[t']) x op(B[t'']) over the output batch t. Batch dims are
// reduced to one strided-batched dim (launched as one batched GEMM) and "outer" dims that no single stride
// describes (broadcasts such as [2,1,..] x [5,..]); the outer dims become a loop of launches.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/backend.h"
#include "engine/graph.h"

#ifdef __CUDACC__
#define KILN_MATMUL_HD __host__ __device__
#else
#define KILN_MATMUL_HD
#endif

namespace kiln {
namespace cuda {

// The fused epilogue a builder pass may attach (attributes fused_bias, fused_residual and fused_activation):
// out = activation(A*B + residual + bias).
enum class MatmulActivation : int32_t { kNONE = 0, kRELU = 1, kGELU_ERF = 2, kGELU_TANH = 3 };

struct MatmulEpilogue {
  bool bias = false;      // inputs[2]: [N], the output's type, added to every row
  bool residual = false;  // inputs[3]: the output's dims and type (cuBLASLt's C with beta = 1)
  MatmulActivation activation = MatmulActivation::kNONE;
  bool any() const { return bias || activation != MatmulActivation::kNONE; }
};

// Reads the epilogue attributes; fails on an activation no CUDA matmul epilogue runs.
StatusOr<MatmulEpilogue> matmulEpilogueOf(const LayerParams& layer);

struct MatmulPlan {
  bool transA = false;  // A is stored [K, M] (row-major)
  bool transB = false;  // B is stored [N, K]; a vector B is stored this way with N = 1
  int64_t m = 1, n = 1, k = 0;
  // The strided batch: `count` products, operand i of product p at base + p * stride (elements; 0 = shared).
  int64_t count = 1;
  int64_t strideA = 0, strideB = 0, strideC = 0;
  // Outer batch dims looped on the host: extents and per-operand element strides.
  int32_t outerRank = 0;
  int64_t outerDims[Dims::kMAX_DIMS] = {};
  int64_t outerA[Dims::kMAX_DIMS] = {}, outerB[Dims::kMAX_DIMS] = {}, outerC[Dims::kMAX_DIMS] = {};
  int64_t outerCount = 1;
  // The bias runs along the output's last dim: `n` unless B is a vector (then the last dim is M or a batch
  // dim, and cuBLASLt's bias epilogue, which follows N, does not apply).
  int64_t outLast = 1;
  bool vectorB = false;

  int64_t lda() const { return transA ? m : k; }
  int64_t ldb() const { return transB ? k : n; }
  KILN_MATMUL_HD int64_t products() const { return count * outerCount; }
  // Element offsets of outer iteration `o`.
  KILN_MATMUL_HD void outerOffsets(int64_t o, int64_t& a, int64_t& b, int64_t& c) const {
    a = b = c = 0;
    for (int32_t d = outerRank - 1; d >= 0; --d) {
      const int64_t i = o % outerDims[d];
      o /= outerDims[d];
      a += i * outerA[d];
      b += i * outerB[d];
      c += i * outerC[d];
    }
  }
};

// Plans the product for the concrete shapes in `io` (inputs 0 and 1, output 0).
MatmulPlan makeMatmulPlan(const LayerParams& layer, const KernelIO& io);

// Own kernels (matrix_multiply_kernels.cu). All launch on `stream`.
// Integer GEMM with two's complement wrap-around (int32 / int64), epilogue applied in the same pass.
Status launchIntegerMatmul(const MatmulPlan& plan, const MatmulEpilogue& epilogue, const KernelIO& io, void* stream);
// out[r, j] = act(out[r, j] + bias[j]) over `rows` x `n` (bias may be null), in the output's type.
Status launchMatmulEpilogue(void* out, const void* bias, DataType type, int64_t rows, int64_t n,
                            MatmulActivation activation, void* stream);

// cuBLASLt tactic: heuristic result `rank` (0 = the top one) for float types.
StatusOr<std::unique_ptr<Kernel>> makeCublasLtMatmulKernel(const LayerInfo& layer, int32_t rank);

}  // namespace cuda
}  // namespace kiln
