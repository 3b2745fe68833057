// CPU matrix multiply. Float types go through OpenBLAS (float16/bfloat16 staged through float32); integers
// use an exact loop whose accumulation wraps like two's complement arithmetic (as torch does).
//
// Tactics: "cpu_gemm_blas" (the default: BLAS for float types, the exact loop for integers, so it runs every
// type the layer accepts) and "cpu_matmul_int_exact" (integers only; it declines float types, which the
// builder's timing then skips). Both run the same integer loop, so an integer layer's result does not depend
// on the tactic the timing picks.
#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <type_traits>
#include <vector>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"

namespace kiln {
namespace {

// Below this many multiply-adds OpenBLAS runs a GEMM on one thread, so batches of such products are
// spread over the OpenMP threads instead (OpenBLAS's SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD).
constexpr int64_t kSmallGemmWork = 65536 * 4;
// The same limit for gemv (2304 * GEMM_MULTITHREAD_THRESHOLD elements of the matrix).
constexpr int64_t kSmallGemvWork = 2304 * 4;

// The product C[t] = op(A[t']) x op(B[t'']) for every output batch index t, in elements of each tensor.
struct MatmulPlan {
  bool vectorA = false;
  bool vectorB = false;
  bool transA = false;  // A is stored [K, M]
  bool transB = false;  // B is stored [N, K]
  int64_t m = 1, n = 1, k = 0;
  Dims batch;  // the output's batch dims
  int64_t batchCount = 1;
  std::vector<int64_t> aStrides, bStrides;  // element offsets per output batch dim (0 where broadcast)

  int64_t aOffset(int64_t t) const { return cpu::offsetOf(t, batch, aStrides); }
  int64_t bOffset(int64_t t) const { return cpu::offsetOf(t, batch, bStrides); }
  // Leading dims of the stored (row-major) operands.
  int64_t lda() const { return transA ? m : k; }
  int64_t ldb() const { return transB || vectorB ? k : n; }
};

// Splits an operand into its batch dims and the strides of those dims, scaled by the matrix size.
void operandBatch(const TensorView& view, bool vector, const Dims& outBatch, std::vector<int64_t>& strides) {
  const int32_t tail = vector ? 1 : 2;
  Dims batch = view.dims;
  batch.nbDims = view.dims.nbDims - tail;
  int64_t matrix = 1;
  for (int32_t i = batch.nbDims; i < view.dims.nbDims; ++i) matrix *= view.dims.d[i];
  strides = cpu::broadcastStrides(batch, outBatch);
  for (int64_t& s : strides) s *= matrix;
}

MatmulPlan makePlan(const LayerParams& layer, const KernelIO& io) {
  const TensorView& a = io.inputs[0];
  const TensorView& b = io.inputs[1];
  const auto op0 = static_cast<MatrixOperation>(layer.attrs.getInt("op0"));
  const auto op1 = static_cast<MatrixOperation>(layer.attrs.getInt("op1"));
  MatmulPlan plan;
  const int32_t ra = a.dims.nbDims, rb = b.dims.nbDims;
  plan.vectorA = op0 == MatrixOperation::kVECTOR || ra == 1;
  plan.vectorB = op1 == MatrixOperation::kVECTOR || rb == 1;
  plan.transA = !plan.vectorA && op0 == MatrixOperation::kTRANSPOSE;
  plan.transB = !plan.vectorB && op1 == MatrixOperation::kTRANSPOSE;
  if (plan.vectorA) {
    plan.k = a.dims.d[ra - 1];
  } else {
    plan.m = plan.transA ? a.dims.d[ra - 1] : a.dims.d[ra - 2];
    plan.k = plan.transA ? a.dims.d[ra - 2] : a.dims.d[ra - 1];
  }
  if (!plan.vectorB) plan.n = plan.transB ? b.dims.d[rb - 2] : b.dims.d[rb - 1];
  plan.batch = io.outputs[0].dims;
  plan.batch.nbDims -= (plan.vectorA ? 0 : 1) + (plan.vectorB ? 0 : 1);
  plan.batchCount = volume(plan.batch);
  operandBatch(a, plan.vectorA, plan.batch, plan.aStrides);
  operandBatch(b, plan.vectorB, plan.batch, plan.bStrides);
  return plan;
}

bool fitsBlasInt(int64_t v) { return v >= 0 && v <= INT_MAX; }

// One product through BLAS: gemv when either side is a vector (one output row or column), gemm otherwise.
void blasProduct(const MatmulPlan& p, int64_t m, const float* a, const float* b, float* c) {
  const auto M = static_cast<blasint>(m), N = static_cast<blasint>(p.n), K = static_cast<blasint>(p.k);
  // Vectors and single rows/columns are contiguous (increment 1) in every layout that yields them.
  if (p.n == 1) {  // c[M] = A x b
    if (p.transA) {
      cblas_sgemv(CblasRowMajor, CblasTrans, K, M, 1.f, a, M, b, 1, 0.f, c, 1);
    } else {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, M, K, 1.f, a, K, b, 1, 0.f, c, 1);
    }
    return;
  }
  if (m == 1) {  // c[N] = a x B
    if (p.transB) {
      cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1.f, b, K, a, 1, 0.f, c, 1);
    } else {
      cblas_sgemv(CblasRowMajor, CblasTrans, K, N, 1.f, b, N, a, 1, 0.f, c, 1);
    }
    return;
  }
  cblas_sgemm(CblasRowMajor, p.transA ? CblasTrans : CblasNoTrans, p.transB ? CblasTrans : CblasNoTrans, M, N, K, 1.f,
              a, static_cast<blasint>(p.lda()), b, static_cast<blasint>(p.ldb()), 0.f, c, N);
}

void blasMatmul(const MatmulPlan& p, const float* a, const float* b, float* c) {
  const int64_t outSize = p.m * p.n;
  if (outSize == 0 || p.batchCount == 0) return;  // BLAS rejects zero leading dims
  if (p.k == 0) {
    std::memset(c, 0, static_cast<size_t>(p.batchCount * outSize) * sizeof(float));
    return;
  }
  // A shared B and a batch of untransposed A rows stacked in memory form one tall product ([T*M, K] x B).
  bool bShared = true, aDense = !p.transA;
  int64_t expect = p.m * p.k;
  for (int32_t d = p.batch.nbDims - 1; d >= 0; --d) {
    bShared = bShared && (p.bStrides[static_cast<size_t>(d)] == 0 || p.batch.d[d] == 1);
    aDense = aDense && (p.aStrides[static_cast<size_t>(d)] == expect || p.batch.d[d] == 1);
    expect *= p.batch.d[d];
  }
  if (bShared && aDense && p.batchCount > 1 && fitsBlasInt(p.batchCount * p.m)) {
    MatmulPlan tall = p;
    tall.m = p.batchCount * p.m;
    blasProduct(tall, tall.m, a, b, c);
    return;
  }
  auto one = [&](int64_t t) { blasProduct(p, p.m, a + p.aOffset(t), b + p.bOffset(t), c + t * outSize); };
  const int64_t work = p.m * p.n * p.k;
  const int64_t singleThreaded = p.m == 1 || p.n == 1 ? kSmallGemvWork : kSmallGemmWork;
  if (work < singleThreaded && p.batchCount > 1) {
    const int64_t grain = std::max<int64_t>(1, kSmallGemmWork / std::max<int64_t>(1, work));
    cpu::parallelFor(p.batchCount, grain, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) one(t);
    });
  } else {
    for (int64_t t = 0; t < p.batchCount; ++t) one(t);  // OpenBLAS threads each large product itself
  }
}

// Element (i, kk) of A within one batch item, following its stored layout.
inline int64_t aIndex(const MatmulPlan& p, int64_t i, int64_t kk) { return p.transA ? kk * p.m + i : i * p.k + kk; }

// Integers wrap to T's width (through int64: two's complement); floats round.
template <typename T, typename Acc>
T narrow(Acc v) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<int64_t>(v));
  } else {
    return static_cast<T>(v);
  }
}

// Direct loop over output rows: acc[N] += a[i,kk] * B[kk,:], vectorizable over j for untransposed B.
// Acc is uint64_t for integers (wrapping, no signed overflow) and double for floats.
template <typename T, typename Acc>
void directMatmul(const MatmulPlan& p, const T* a, const T* b, T* c) {
  const int64_t rows = p.batchCount * p.m;
  const int64_t rowWork = std::max<int64_t>(1, p.n * p.k);
  cpu::parallelFor(rows, std::max<int64_t>(1, (1 << 16) / rowWork), [&](int64_t begin, int64_t end) {
    std::vector<Acc> acc(static_cast<size_t>(p.n));
    for (int64_t r = begin; r < end; ++r) {
      const int64_t t = r / p.m, i = r % p.m;
      const T* at = a + p.aOffset(t);
      const T* bt = b + p.bOffset(t);
      std::fill(acc.begin(), acc.end(), Acc(0));
      if (p.transB || p.vectorB) {
        for (int64_t j = 0; j < p.n; ++j) {
          Acc sum = 0;
          for (int64_t kk = 0; kk < p.k; ++kk) {
            sum += static_cast<Acc>(at[aIndex(p, i, kk)]) * static_cast<Acc>(bt[j * p.k + kk]);
          }
          acc[static_cast<size_t>(j)] = sum;
        }
      } else {
        for (int64_t kk = 0; kk < p.k; ++kk) {
          const Acc x = static_cast<Acc>(at[aIndex(p, i, kk)]);
          const T* brow = bt + kk * p.n;
          for (int64_t j = 0; j < p.n; ++j) acc[static_cast<size_t>(j)] += x * static_cast<Acc>(brow[j]);
        }
      }
      T* crow = c + r * p.n;
      for (int64_t j = 0; j < p.n; ++j) crow[j] = narrow<T>(acc[static_cast<size_t>(j)]);
    }
  });
}

template <typename T>
void integerMatmul(const MatmulPlan& p, const TensorView& a, const TensorView& b, TensorView& c) {
  directMatmul<T, uint64_t>(p, a.as<const T>(), b.as<const T>(), c.as<T>());
}

// Integers exactly; the caller handles float types.
Status runIntegerMatmul(const MatmulPlan& plan, KernelIO& io) {
  switch (io.outputs[0].type) {
    case DataType::kINT32:
      integerMatmul<int32_t>(plan, io.inputs[0], io.inputs[1], io.outputs[0]);
      return Status::ok();
    case DataType::kINT64:
      integerMatmul<int64_t>(plan, io.inputs[0], io.inputs[1], io.outputs[0]);
      return Status::ok();
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16:
    case DataType::kINT8:
    case DataType::kBOOL:
    case DataType::kUINT8:
      break;
  }
  return unimplemented(std::string("matrix multiply has no kernel for ") + dataTypeName(io.outputs[0].type));
}

Status runGemmBlas(const LayerParams& layer, KernelIO& io) {
  const MatmulPlan plan = makePlan(layer, io);
  if (!isFloatType(io.outputs[0].type)) return runIntegerMatmul(plan, io);
  cpu::FloatInput a(io.inputs[0]);
  cpu::FloatInput b(io.inputs[1]);
  cpu::FloatOutput c(io.outputs[0]);
  if (fitsBlasInt(plan.m) && fitsBlasInt(plan.n) && fitsBlasInt(plan.k)) {
    blasMatmul(plan, a.data(), b.data(), c.data());
  } else {
    directMatmul<float, double>(plan, a.data(), b.data(), c.data());  // beyond BLAS's 32-bit sizes
  }
  c.commit();
  return Status::ok();
}

Status runMatmulIntExact(const LayerParams& layer, KernelIO& io) {
  if (isFloatType(io.outputs[0].type)) {
    return unimplemented("cpu_matmul_int_exact runs integer types only; float types use cpu_gemm_blas");
  }
  return runIntegerMatmul(makePlan(layer, io), io);
}

}  // namespace

void registerMatrixMultiplyCpuKernels(CpuKernelTable& table) {
  table.add(LayerType::kMATRIX_MULTIPLY, {"cpu_gemm_blas", runGemmBlas});
  table.add(LayerType::kMATRIX_MULTIPLY, {"cpu_matmul_int_exact", runMatmulIntExact});
}

}  // namespace kiln
