// CUDA matrix multiply: planning (batch dims reduced to one strided batch plus a loop of launches), the
// epilogue attributes, and the tactics. Float types run on cuBLASLt with several heuristic candidates for the
// builder to time; int32/int64 run on an own tiled kernel that wraps like two's complement, like the CPU.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "engine/backends/cuda/cuda_kernels.h"
#include "engine/backends/cuda/matrix_multiply.h"

namespace kiln {
namespace cuda {

StatusOr<MatmulEpilogue> matmulEpilogueOf(const LayerParams& layer) {
  MatmulEpilogue epilogue;
  epilogue.bias = layer.attrs.getInt("fused_bias", 0) != 0;
  epilogue.residual = layer.attrs.getInt("fused_residual", 0) != 0;
  const int64_t activation = layer.attrs.getInt("fused_activation", -1);
  if (activation == -1) return epilogue;
  switch (static_cast<ActivationType>(activation)) {
    case ActivationType::kRELU: epilogue.activation = MatmulActivation::kRELU; return epilogue;
    case ActivationType::kGELU_ERF: epilogue.activation = MatmulActivation::kGELU_ERF; return epilogue;
    case ActivationType::kGELU_TANH: epilogue.activation = MatmulActivation::kGELU_TANH; return epilogue;
    case ActivationType::kSIGMOID:
    case ActivationType::kTANH:
    case ActivationType::kLEAKY_RELU:
    case ActivationType::kELU:
    case ActivationType::kSELU:
    case ActivationType::kSOFTSIGN:
    case ActivationType::kSOFTPLUS:
    case ActivationType::kCLIP:
    case ActivationType::kHARD_SIGMOID:
    case ActivationType::kSCALED_TANH:
    case ActivationType::kTHRESHOLDED_RELU:
      break;
  }
  return invalidArgument("fused_activation " + std::to_string(activation) +
                         " is not a matmul epilogue (relu, gelu_erf and gelu_tanh are)");
}

namespace {

struct BatchDim {
  int64_t extent = 1;
  int64_t a = 0, b = 0, c = 0;  // element strides
};

// Element strides of an operand's batch dims while walking the output batch (0 where it broadcasts).
void operandStrides(const Dims& dims, int32_t tail, const Dims& outBatch, std::vector<BatchDim>& batch, bool isA) {
  int64_t stride = 1;
  for (int32_t i = dims.nbDims - tail; i < dims.nbDims; ++i) stride *= dims.d[i];
  const int32_t rank = dims.nbDims - tail;
  for (int32_t i = outBatch.nbDims - 1; i >= 0; --i) {
    const int32_t j = i - (outBatch.nbDims - rank);
    int64_t s = 0;
    if (j >= 0) {
      s = dims.d[j] == 1 ? 0 : stride;
      stride *= dims.d[j];
    }
    (isA ? batch[static_cast<size_t>(i)].a : batch[static_cast<size_t>(i)].b) = s;
  }
}

}  // namespace

MatmulPlan makeMatmulPlan(const LayerParams& layer, const KernelIO& io) {
  const TensorView& a = io.inputs[0];
  const TensorView& b = io.inputs[1];
  const Dims& out = io.outputs[0].dims;
  const auto op0 = static_cast<MatrixOperation>(layer.attrs.getInt("op0"));
  const auto op1 = static_cast<MatrixOperation>(layer.attrs.getInt("op1"));
  const int32_t ra = a.dims.nbDims, rb = b.dims.nbDims;
  const bool vectorA = op0 == MatrixOperation::kVECTOR || ra == 1;
  const bool vectorB = op1 == MatrixOperation::kVECTOR || rb == 1;
  MatmulPlan plan;
  plan.vectorB = vectorB;
  plan.outLast = out.nbDims > 0 ? out.d[out.nbDims - 1] : 1;
  plan.transA = !vectorA && op0 == MatrixOperation::kTRANSPOSE;
  plan.transB = vectorB || op1 == MatrixOperation::kTRANSPOSE;
  if (vectorA) {
    plan.k = a.dims.d[ra - 1];
  } else {
    plan.m = plan.transA ? a.dims.d[ra - 1] : a.dims.d[ra - 2];
    plan.k = plan.transA ? a.dims.d[ra - 2] : a.dims.d[ra - 1];
  }
  if (!vectorB) plan.n = op1 == MatrixOperation::kTRANSPOSE ? b.dims.d[rb - 2] : b.dims.d[rb - 1];

  Dims outBatch = out;
  outBatch.nbDims -= (vectorA ? 0 : 1) + (vectorB ? 0 : 1);
  std::vector<BatchDim> batch(static_cast<size_t>(std::max(outBatch.nbDims, 0)));
  operandStrides(a.dims, vectorA ? 1 : 2, outBatch, batch, true);
  operandStrides(b.dims, vectorB ? 1 : 2, outBatch, batch, false);
  int64_t cStride = plan.m * plan.n;
  for (int32_t i = outBatch.nbDims - 1; i >= 0; --i) {
    batch[static_cast<size_t>(i)].extent = outBatch.d[i];
    batch[static_cast<size_t>(i)].c = cStride;
    cStride *= outBatch.d[i];
  }
  // Extent-1 dims index nothing.
  batch.erase(std::remove_if(batch.begin(), batch.end(), [](const BatchDim& d) { return d.extent == 1; }),
              batch.end());

  // A shared B and untransposed A matrices stacked densely form one tall product ([T*M, K] x B): one GEMM
  // with better tiles than T small ones.
  bool bShared = true, aDense = !plan.transA;
  int64_t expect = plan.m * plan.k;
  for (size_t d = batch.size(); d-- > 0;) {
    bShared = bShared && batch[d].b == 0;
    aDense = aDense && batch[d].a == expect;
    expect *= batch[d].extent;
  }
  if (!batch.empty() && bShared && aDense) {
    for (const BatchDim& d : batch) plan.m *= d.extent;
    batch.clear();
  }

  // Merge neighbours that one stride describes for all three tensors (innermost first).
  std::vector<BatchDim> merged;
  for (size_t d = batch.size(); d-- > 0;) {
    if (!merged.empty()) {
      BatchDim& inner = merged.back();
      if (batch[d].a == inner.a * inner.extent && batch[d].b == inner.b * inner.extent &&
          batch[d].c == inner.c * inner.extent) {
        inner.extent *= batch[d].extent;
        continue;
      }
    }
    merged.push_back(batch[d]);
  }
  std::reverse(merged.begin(), merged.end());
  if (merged.empty()) return plan;
  // The largest group becomes the strided batch; the others are looped.
  size_t pick = 0;
  for (size_t d = 1; d < merged.size(); ++d) {
    if (merged[d].extent > merged[pick].extent) pick = d;
  }
  plan.count = merged[pick].extent;
  plan.strideA = merged[pick].a;
  plan.strideB = merged[pick].b;
  plan.strideC = merged[pick].c;
  for (size_t d = 0; d < merged.size(); ++d) {
    if (d == pick) continue;
    const int32_t o = plan.outerRank++;
    plan.outerDims[o] = merged[d].extent;
    plan.outerA[o] = merged[d].a;
    plan.outerB[o] = merged[d].b;
    plan.outerC[o] = merged[d].c;
    plan.outerCount *= merged[d].extent;
  }
  return plan;
}

namespace {

DataType outputType(const LayerInfo& layer, const Graph& graph) {
  return graph.tensors[static_cast<size_t>(layer.outputs[0])].type;
}

// The inputs and epilogue a CUDA matmul needs; the activation is checked by `activationOk`.
bool layerShapeOk(const LayerInfo& layer, const Graph& graph, MatmulEpilogue* epilogueOut) {
  if (layer.inputs.size() < 2 || layer.outputs.empty()) return false;
  const StatusOr<MatmulEpilogue> epilogue = matmulEpilogueOf(layer.params);
  if (!epilogue.isOk()) return false;
  if (epilogue->bias) {
    if (layer.inputs.size() < 3 || layer.inputs[2] < 0) return false;
    if (graph.tensors[static_cast<size_t>(layer.inputs[2])].type != outputType(layer, graph)) return false;
  }
  if (epilogue->residual) {
    if (layer.inputs.size() < 4 || layer.inputs[3] < 0) return false;
    const TensorInfo& residual = graph.tensors[static_cast<size_t>(layer.inputs[3])];
    const TensorInfo& out = graph.tensors[static_cast<size_t>(layer.outputs[0])];
    if (residual.type != out.type || !(residual.dims == out.dims)) return false;
  }
  *epilogueOut = epilogue.value();
  return true;
}

bool supportsFloat(const LayerInfo& layer, const Graph& graph) {
  MatmulEpilogue epilogue;
  return layerShapeOk(layer, graph, &epilogue) && isFloatType(outputType(layer, graph));
}

// GELU of an integer has no meaning the CPU defines; integer epilogues are bias and ReLU (the fusion pass
// gives integer products no residual).
bool supportsInteger(const LayerInfo& layer, const Graph& graph) {
  MatmulEpilogue epilogue;
  if (!layerShapeOk(layer, graph, &epilogue) || epilogue.residual) return false;
  const DataType type = outputType(layer, graph);
  if (type != DataType::kINT32 && type != DataType::kINT64) return false;
  return epilogue.activation == MatmulActivation::kNONE || epilogue.activation == MatmulActivation::kRELU;
}

Status runIntegerMatmul(const LayerParams& layer, KernelIO& io) {
  const DataType type = io.outputs[0].type;
  if (type != DataType::kINT32 && type != DataType::kINT64) {
    return unimplemented(std::string("cuda_matmul_int_tiled runs int32/int64 only, got ") + dataTypeName(type));
  }
  KILN_ASSIGN_OR_RETURN(MatmulEpilogue epilogue, matmulEpilogueOf(layer));
  return launchIntegerMatmul(makeMatmulPlan(layer, io), epilogue, io, io.stream);
}

constexpr int32_t kCUBLASLT_ALTERNATIVES = 3;

}  // namespace
}  // namespace cuda

void registerMatrixMultiplyCudaKernels(CudaKernelTable& table) {
  CudaTactic top;
  top.name = "cuda_gemm_cublaslt";
  top.supports = cuda::supportsFloat;
  top.factory = [](const LayerInfo& layer, const Graph&) { return cuda::makeCublasLtMatmulKernel(layer, 0); };
  table.add(LayerType::kMATRIX_MULTIPLY, std::move(top));
  CudaTactic integer;
  integer.name = "cuda_matmul_int_tiled";
  integer.supports = cuda::supportsInteger;
  integer.run = cuda::runIntegerMatmul;
  table.add(LayerType::kMATRIX_MULTIPLY, std::move(integer));
  for (int32_t rank = 1; rank <= cuda::kCUBLASLT_ALTERNATIVES; ++rank) {
    CudaTactic alternative;
    alternative.name = "cuda_gemm_cublaslt_h" + std::to_string(rank);
    alternative.supports = cuda::supportsFloat;
    alternative.factory = [rank](const LayerInfo& layer, const Graph&) {
      return cuda::makeCublasLtMatmulKernel(layer, rank);
    };
    table.add(LayerType::kMATRIX_MULTIPLY, std::move(alternative));
  }
}

}  // namespace kiln
