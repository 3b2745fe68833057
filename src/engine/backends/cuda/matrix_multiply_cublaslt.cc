// Float matrix multiply on cuBLASLt. cuBLASLt is column-major, so each row-major product C = A x B runs as
// C^T = B^T x A^T: B is cuBLASLt's first operand and C's rows (N) are cuBLASLt's rows, which is also the
// dimension its bias epilogue runs along, matching a bias over the output's last dim.
//
// Each kernel caches, per problem (sizes, strides, pointer alignment, workspace), the matmul descriptors and
// the algorithm its heuristic rank names. float32 computes in exact float32 unless the layer carries
// "allow_tf32" (nothing in the builder sets it yet); float16/bfloat16 accumulate in float32.
#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <array>
#include <map>
#include <mutex>
#include <string>

#include "engine/backends/cuda/cuda_kernels.h"
#include "engine/backends/cuda/matrix_multiply.h"

namespace kiln {
namespace cuda {
namespace {

constexpr int64_t kWORKSPACE_BYTES = int64_t{32} << 20;
// Below this many multiply-adds every heuristic rank runs the top algorithm: the alternatives cannot pay
// off, and timing noise between two builds must not change a small layer's results bit for bit.
constexpr int64_t kALTERNATIVES_MIN_WORK = int64_t{1} << 22;
constexpr int kHEURISTIC_RESULTS = 8;

Status cublasStatus(cublasStatus_t status, const char* what) {
  return internalError(std::string("cuBLASLt error ") + cublasLtGetStatusString(status) + " from " + what);
}
#define KILN_CUBLAS_CHECK(expr)                                          \
  do {                                                                   \
    const cublasStatus_t kiln_cublas_status_ = (expr);                   \
    if (kiln_cublas_status_ != CUBLAS_STATUS_SUCCESS) return cublasStatus(kiln_cublas_status_, #expr); \
  } while (0)

// One handle per device, created on first use and kept for the process: handles are thread-safe, and
// destroying them at exit would race with the driver's own teardown.
StatusOr<cublasLtHandle_t> handleForCurrentDevice() {
  static std::mutex mutex;
  static std::map<int, cublasLtHandle_t> handles;
  int device = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  std::lock_guard<std::mutex> lock(mutex);
  auto it = handles.find(device);
  if (it != handles.end()) return it->second;
  cublasLtHandle_t handle = nullptr;
  KILN_CUBLAS_CHECK(cublasLtCreate(&handle));
  handles.emplace(device, handle);
  return handle;
}

cudaDataType_t cudaTypeOf(DataType type) {
  switch (type) {
    case DataType::kHALF: return CUDA_R_16F;
    case DataType::kBF16: return CUDA_R_16BF;
    case DataType::kFLOAT:
    case DataType::kINT8:
    case DataType::kINT32:
    case DataType::kINT64:
    case DataType::kBOOL:
    case DataType::kUINT8:
      break;
  }
  return CUDA_R_32F;
}

// Largest power of two (at most 256) dividing every value: the alignment cuBLASLt may assume.
int64_t commonAlignment(std::initializer_list<int64_t> values) {
  int64_t align = 256;
  for (int64_t v : values) {
    while (align > 1 && v % align != 0) align /= 2;
  }
  return align;
}

// Everything the descriptors and the algorithm depend on.
using ProblemKey = std::array<int64_t, 14>;

struct Problem {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t layoutA = nullptr, layoutB = nullptr, layoutC = nullptr;  // cuBLASLt's operands
  cublasLtMatmulAlgo_t algo{};
  bool biasFused = false;        // cuBLASLt adds the bias
  bool activationFused = false;  // cuBLASLt applies the activation

  Problem() = default;
  Problem(const Problem&) = delete;
  Problem& operator=(const Problem&) = delete;
  ~Problem() {
    if (layoutC != nullptr) cublasLtMatrixLayoutDestroy(layoutC);
    if (layoutB != nullptr) cublasLtMatrixLayoutDestroy(layoutB);
    if (layoutA != nullptr) cublasLtMatrixLayoutDestroy(layoutA);
    if (desc != nullptr) cublasLtMatmulDescDestroy(desc);
  }
};

Status createLayout(cublasLtMatrixLayout_t* layout, cudaDataType_t type, int64_t rows, int64_t cols, int64_t ld,
                    int64_t count, int64_t stride) {
  KILN_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(layout, type, static_cast<uint64_t>(rows), static_cast<uint64_t>(cols),
                                               std::max<int64_t>(ld, 1)));
  if (count > 1) {
    const auto batch = static_cast<int32_t>(count);
    KILN_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &batch,
                                                       sizeof(batch)));
    KILN_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(*layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                       sizeof(stride)));
  }
  return Status::ok();
}

cublasLtEpilogue_t epilogueFor(bool bias, MatmulActivation activation) {
  switch (activation) {
    case MatmulActivation::kRELU: return bias ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_RELU;
    case MatmulActivation::kGELU_TANH: return bias ? CUBLASLT_EPILOGUE_GELU_BIAS : CUBLASLT_EPILOGUE_GELU;
    case MatmulActivation::kGELU_ERF:  // cuBLASLt's GELU is the tanh form: erf runs as an own kernel after
    case MatmulActivation::kNONE:
      break;
  }
  return bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
}

class CublasLtMatmulKernel : public Kernel {
 public:
  CublasLtMatmulKernel(LayerParams params, MatmulEpilogue epilogue, int32_t rank)
      : params_(std::move(params)), epilogue_(epilogue), rank_(rank),
        tf32_(params_.attrs.getInt("allow_tf32", 0) != 0) {}

  int64_t workspaceSize(const KernelIO&) const override { return kWORKSPACE_BYTES; }

  Status execute(KernelIO& io) const override {
    if (io.inputs.size() < 2 || io.outputs.empty()) return internalError("matrix multiply needs two inputs");
    TensorView& out = io.outputs[0];
    if (out.count() == 0) return Status::ok();
    const DataType type = out.type;
    if (!isFloatType(type) || io.inputs[0].type != type || io.inputs[1].type != type) {
      return unimplemented(std::string("cuBLASLt matmul runs float32/float16/bfloat16 with one type, got ") +
                           dataTypeName(io.inputs[0].type) + " x " + dataTypeName(io.inputs[1].type) + " -> " +
                           dataTypeName(type));
    }
    const MatmulPlan plan = makeMatmulPlan(params_, io);
    const void* bias = nullptr;
    if (epilogue_.bias) {
      if (io.inputs.size() < 3 || io.inputs[2].data == nullptr) return invalidArgument("fused bias input is missing");
      const TensorView& b = io.inputs[2];
      if (b.type != type || b.count() != plan.outLast) {
        return invalidArgument("fused bias must be " + std::string(dataTypeName(type)) + " [" +
                               std::to_string(plan.outLast) + "], got " + dataTypeName(b.type) + " of " +
                               std::to_string(b.count()) + " elements");
      }
      bias = b.data;
    }
    const void* residual = nullptr;
    if (epilogue_.residual) {
      if (io.inputs.size() < 4 || io.inputs[3].data == nullptr) return invalidArgument("fused residual input is missing");
      const TensorView& r = io.inputs[3];
      if (r.type != type || r.count() != out.count()) {
        return invalidArgument("fused residual must match the output (" + std::string(dataTypeName(type)) + ", " +
                               std::to_string(out.count()) + " elements), got " + dataTypeName(r.type) + " of " +
                               std::to_string(r.count()) + " elements");
      }
      residual = r.data;
    }
    const int64_t rows = out.count() / plan.outLast;
    if (plan.k == 0) {  // an empty sum: zeros (or the residual), then the epilogue
      if (residual != nullptr) {
        KILN_CUDA_CHECK(cudaMemcpyAsync(out.data, residual, static_cast<size_t>(out.bytes()), cudaMemcpyDeviceToDevice,
                                        stream(io)));
      } else {
        KILN_CUDA_CHECK(cudaMemsetAsync(out.data, 0, static_cast<size_t>(out.bytes()), stream(io)));
      }
      if (!epilogue_.any()) return Status::ok();
      return launchMatmulEpilogue(out.data, bias, type, rows, plan.outLast, epilogue_.activation, io.stream);
    }
    if (plan.count > INT32_MAX) return unimplemented("more than 2^31 products in one strided batch");

    KILN_ASSIGN_OR_RETURN(cublasLtHandle_t handle, handleForCurrentDevice());
    const int64_t size = dataTypeSize(type);
    const auto address = [](const void* p) { return static_cast<int64_t>(reinterpret_cast<uintptr_t>(p)); };
    int64_t align = commonAlignment({address(io.inputs[0].data), address(io.inputs[1].data), address(out.data),
                                     bias != nullptr ? address(bias) : 0, residual != nullptr ? address(residual) : 0, plan.strideA * size, plan.strideB * size,
                                     plan.strideC * size});
    for (int32_t d = 0; d < plan.outerRank; ++d) {
      align = std::min(align, commonAlignment({plan.outerA[d] * size, plan.outerB[d] * size, plan.outerC[d] * size}));
    }
    const int64_t workspace = io.workspace != nullptr ? std::min(io.workspaceSize, kWORKSPACE_BYTES) : 0;
    const bool fuseBias = epilogue_.bias && !plan.vectorB;
    const ProblemKey key = {static_cast<int64_t>(type), plan.m, plan.n, plan.k,
                            (plan.transA ? 1 : 0) | (plan.transB ? 2 : 0), plan.count, plan.strideA, plan.strideB,
                            plan.strideC, align, workspace, fuseBias ? 1 : 0,
                            static_cast<int64_t>(plan.vectorB ? MatmulActivation::kNONE : epilogue_.activation),
                            plan.m * plan.n * plan.k * plan.products() >= kALTERNATIVES_MIN_WORK ? 1 : 0};

    // Held across the launches: the bias pointer is an attribute of the shared descriptor.
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(key);
    if (it == cache_.end()) {
      KILN_ASSIGN_OR_RETURN(std::unique_ptr<Problem> problem, createProblem(handle, key, plan, type, align, workspace));
      it = cache_.emplace(key, std::move(problem)).first;
    }
    const Problem& problem = *it->second;
    if (problem.biasFused) {
      KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(problem.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                                       sizeof(bias)));
    }
    // The residual is C: D = A*B + 1 * residual, in the same layout as D; cuBLASLt's epilogue (bias,
    // activation) then applies to the sum, as the fused layers computed it.
    const float alpha = 1.f, beta = residual != nullptr ? 1.f : 0.f;
    const auto* r = static_cast<const char*>(residual);
    const auto* a = static_cast<const char*>(io.inputs[0].data);
    const auto* b = static_cast<const char*>(io.inputs[1].data);
    auto* c = static_cast<char*>(out.data);
    for (int64_t o = 0; o < plan.outerCount; ++o) {
      int64_t offA = 0, offB = 0, offC = 0;
      plan.outerOffsets(o, offA, offB, offC);
      void* d = c + offC * size;
      const void* cIn = r != nullptr ? static_cast<const void*>(r + offC * size) : d;
      KILN_CUBLAS_CHECK(cublasLtMatmul(handle, problem.desc, &alpha, b + offB * size, problem.layoutA,
                                       a + offA * size, problem.layoutB, &beta, cIn, problem.layoutC, d,
                                       problem.layoutC, &problem.algo, workspace > 0 ? io.workspace : nullptr,
                                       static_cast<size_t>(workspace), stream(io)));
    }
    const bool biasLeft = epilogue_.bias && !problem.biasFused;
    const bool activationLeft = epilogue_.activation != MatmulActivation::kNONE && !problem.activationFused;
    if (!biasLeft && !activationLeft) return Status::ok();
    return launchMatmulEpilogue(out.data, biasLeft ? bias : nullptr, type, rows, plan.outLast,
                                activationLeft ? epilogue_.activation : MatmulActivation::kNONE, io.stream);
  }

 private:
  static cudaStream_t stream(const KernelIO& io) { return static_cast<cudaStream_t>(io.stream); }

  StatusOr<std::unique_ptr<Problem>> createProblem(cublasLtHandle_t handle, const ProblemKey& key,
                                                   const MatmulPlan& plan, DataType type, int64_t align,
                                                   int64_t workspace) const {
    auto problem = std::make_unique<Problem>();
    const cudaDataType_t dataType = cudaTypeOf(type);
    const cublasComputeType_t compute =
        type == DataType::kFLOAT && tf32_ ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    KILN_CUBLAS_CHECK(cublasLtMatmulDescCreate(&problem->desc, compute, CUDA_R_32F));
    const cublasOperation_t opA = plan.transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t opB = plan.transA ? CUBLAS_OP_T : CUBLAS_OP_N;
    KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(problem->desc, CUBLASLT_MATMUL_DESC_TRANSA, &opA, sizeof(opA)));
    KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(problem->desc, CUBLASLT_MATMUL_DESC_TRANSB, &opB, sizeof(opB)));
    KILN_RETURN_IF_ERROR(createLayout(&problem->layoutA, dataType, plan.transB ? plan.k : plan.n,
                                      plan.transB ? plan.n : plan.k, plan.ldb(), plan.count, plan.strideB));
    KILN_RETURN_IF_ERROR(createLayout(&problem->layoutB, dataType, plan.transA ? plan.m : plan.k,
                                      plan.transA ? plan.k : plan.m, plan.lda(), plan.count, plan.strideA));
    KILN_RETURN_IF_ERROR(createLayout(&problem->layoutC, dataType, plan.n, plan.m, plan.n, plan.count, plan.strideC));

    cublasLtMatmulPreference_t preference = nullptr;
    KILN_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
    struct PreferenceGuard {
      cublasLtMatmulPreference_t p;
      ~PreferenceGuard() { cublasLtMatmulPreferenceDestroy(p); }
    } guard{preference};
    const auto bytes = static_cast<uint64_t>(workspace);
    KILN_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &bytes,
                                                           sizeof(bytes)));
    const auto alignment = static_cast<uint32_t>(align);
    for (const auto attribute : {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                 CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
      KILN_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(preference, attribute, &alignment, sizeof(alignment)));
    }

    const bool fuseBias = key[11] != 0;
    const auto activation = static_cast<MatmulActivation>(key[12]);
    const bool alternativesPay = key[13] != 0;
    // With the epilogue fused first; when no algorithm takes it, plain, with the epilogue as an own kernel.
    for (const bool fused : {true, false}) {
      const cublasLtEpilogue_t epilogue = fused ? epilogueFor(fuseBias, activation) : CUBLASLT_EPILOGUE_DEFAULT;
      if (!fused && epilogue == epilogueFor(fuseBias, activation)) break;  // nothing left to drop
      KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(problem->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue,
                                                       sizeof(epilogue)));
      if (fused && fuseBias) {
        const cudaDataType_t biasType = dataType;
        KILN_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(problem->desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &biasType,
                                                         sizeof(biasType)));
      }
      cublasLtMatmulHeuristicResult_t results[kHEURISTIC_RESULTS] = {};
      int found = 0;
      const cublasStatus_t status =
          cublasLtMatmulAlgoGetHeuristic(handle, problem->desc, problem->layoutA, problem->layoutB, problem->layoutC,
                                         problem->layoutC, preference, kHEURISTIC_RESULTS, results, &found);
      if (status != CUBLAS_STATUS_SUCCESS || found <= 0) continue;
      const int pick = alternativesPay ? std::min(rank_, found - 1) : 0;
      problem->algo = results[pick].algo;
      problem->biasFused = fused && fuseBias;
      problem->activationFused = fused && activation != MatmulActivation::kNONE &&
                                 activation != MatmulActivation::kGELU_ERF;
      return problem;
    }
    return unimplemented("cuBLASLt has no algorithm for " + std::string(dataTypeName(type)) + " [" +
                         std::to_string(plan.m) + "x" + std::to_string(plan.k) + "] x [" + std::to_string(plan.k) +
                         "x" + std::to_string(plan.n) + "] (batch " + std::to_string(plan.count) + ")");
  }

  LayerParams params_;
  MatmulEpilogue epilogue_;
  int32_t rank_;
  bool tf32_;
  mutable std::mutex mutex_;
  mutable std::map<ProblemKey, std::unique_ptr<Problem>> cache_;
};

}  // namespace

StatusOr<std::unique_ptr<Kernel>> makeCublasLtMatmulKernel(const LayerInfo& layer, int32_t rank) {
  KILN_ASSIGN_OR_RETURN(MatmulEpilogue epilogue, matmulEpilogueOf(layer.params));
  // The handle now, so the first execution (possibly inside a CUDA graph capture) creates nothing.
  KILN_RETURN_IF_ERROR(handleForCurrentDevice().status());
  return std::unique_ptr<Kernel>(std::make_unique<CublasLtMatmulKernel>(layer.params, epilogue, rank));
}

}  // namespace cuda
}  // namespace kiln
