// CUDA kernels that generate tensors: fill (kCONSTANT: alpha everywhere; kLINSPACE: alpha + sum_d beta[d] *
// index_d, accumulated in double in the CPU's order and stored with its saturating conversion, see
// backends/cpu/data.cc) and one-hot (off everywhere, on where the wrapped index equals the position along
// the new axis; out-of-range indices leave the column off, as on the CPU: backends/cpu/gather.cc).
// Run-time alpha/beta/values tensors are read on the device, so nothing waits for the host.
#include "engine/backends/cuda/pointwise_common.cuh"
#include "engine/backends/cuda/pointwise_kernels.h"

namespace kiln {
namespace cuda {
namespace {

// ---- fill ----------------------------------------------------------------------------------------------

struct FillParams {
  Shape8 dims;                      // output extents
  double alpha = 0.0;               // used when alphaData is null
  double beta[Dims::kMAX_DIMS] = {};  // used when betaData is null
  const void* alphaData = nullptr;  // 0-D tensor (input 1), any type
  DataType alphaType = DataType::kFLOAT;
  const void* betaData = nullptr;   // 1-D tensor with one value per output dim (input 2), any type
  DataType betaType = DataType::kFLOAT;
  bool linspace = false;
};

// cpu::loadDouble: int32/int64 widen exactly, every other type goes through float.
__device__ __forceinline__ double loadValue(const void* p, DataType type, int64_t i) {
  switch (type) {
    case DataType::kINT64: return static_cast<double>(static_cast<const int64_t*>(p)[i]);
    case DataType::kINT32: return static_cast<double>(static_cast<const int32_t*>(p)[i]);
    case DataType::kFLOAT: return static_cast<const float*>(p)[i];
    case DataType::kHALF: return __half2float(static_cast<const __half*>(p)[i]);
    case DataType::kBF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DataType::kINT8: return static_cast<float>(static_cast<const int8_t*>(p)[i]);
    case DataType::kBOOL: return static_cast<const uint8_t*>(p)[i] ? 1.0 : 0.0;
    case DataType::kUINT8: return static_cast<float>(static_cast<const uint8_t*>(p)[i]);
  }
  return 0.0;
}

template <typename T>
__global__ void fillKernel(T* __restrict__ out, int64_t n, FillParams p) {
  const double alpha = p.alphaData != nullptr ? loadValue(p.alphaData, p.alphaType, 0) : p.alpha;
  double beta[Dims::kMAX_DIMS];
#pragma unroll
  for (int d = 0; d < Dims::kMAX_DIMS; ++d) {
    beta[d] = p.betaData != nullptr && d < p.dims.rank ? loadValue(p.betaData, p.betaType, d) : p.beta[d];
  }
  KILN_GRID_STRIDE_LOOP(i, n) {
    double value = alpha;
    if (p.linspace) {
      int64_t rest = i;
#pragma unroll
      for (int d = Dims::kMAX_DIMS - 1; d >= 0; --d) {
        if (d < p.dims.rank) {
          value += beta[d] * static_cast<double>(rest % p.dims.d[d]);
          rest /= p.dims.d[d];
        }
      }
    }
    out[i] = pw::fromD<T>(value);
  }
}

Status runFill(const LayerParams& layer, KernelIO& io) {
  TensorView& out = io.outputs[0];
  const auto op = static_cast<FillOperation>(layer.attrs.getInt("operation"));
  if (op != FillOperation::kLINSPACE && op != FillOperation::kCONSTANT) {
    return invalidArgument("unknown fill operation " + std::to_string(static_cast<int>(op)));
  }
  const int32_t rank = out.dims.nbDims;
  FillParams p;
  p.dims = toShape8(out.dims);
  p.linspace = op == FillOperation::kLINSPACE;
  p.alpha = layer.attrs.getFloat("alpha");
  if (io.inputs.size() > 1 && io.inputs[1].data != nullptr) {
    if (io.inputs[1].count() < 1) return invalidArgument("input 1 (alpha) is empty");
    p.alphaData = io.inputs[1].data;
    p.alphaType = io.inputs[1].type;
  }
  if (io.inputs.size() > 2 && io.inputs[2].data != nullptr) {
    if (io.inputs[2].count() < rank) {
      return invalidArgument("input 2 (beta) has " + std::to_string(io.inputs[2].count()) + " values for " +
                             std::to_string(rank) + " output dims");
    }
    p.betaData = io.inputs[2].data;
    p.betaType = io.inputs[2].type;
  } else {
    // One beta per dim, or a single one for the innermost dim (the CPU's reading of the attribute).
    const std::vector<double> betas = layer.attrs.getFloats("beta");
    if (betas.size() == static_cast<size_t>(rank)) {
      for (int32_t d = 0; d < rank; ++d) p.beta[d] = betas[static_cast<size_t>(d)];
    } else if (!betas.empty() && rank > 0) {
      p.beta[rank - 1] = betas.front();
    }
  }
  const int64_t n = out.count();
  if (n <= 0) return Status::ok();
  const cudaStream_t s = streamOf(io);
  return pw::dispatchStorage(out.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    fillKernel<T><<<gridFor(n), kBLOCK, 0, s>>>(out.as<T>(), n, p);
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  });
}

// ---- one-hot -------------------------------------------------------------------------------------------

// Output [outer, depth, inner]; the index of output element (o, d, q) is indices[o * inner + q].
template <typename R, typename Index>
__global__ void oneHotKernel(const Index* __restrict__ indices, const R* __restrict__ values, R* __restrict__ out,
                             int64_t n, int64_t depth, int64_t inner) {
  const R off = values[0];
  const R on = values[1];
  KILN_GRID_STRIDE_LOOP(i, n) {
    const int64_t q = i % inner;
    const int64_t rest = i / inner;
    const int64_t position = rest % depth;
    const int64_t o = rest / depth;
    int64_t index = static_cast<int64_t>(indices[o * inner + q]);
    if (index < 0) index += depth;
    out[i] = index == position ? on : off;
  }
}

Status runOneHot(const LayerParams& layer, KernelIO& io) {
  const TensorView& indices = io.inputs[0];
  const TensorView& values = io.inputs[1];
  TensorView& out = io.outputs[0];
  const int64_t n = out.count();
  if (n == 0) return Status::ok();
  if (values.count() < 2 || values.type != out.type) {
    return invalidArgument("one-hot values must be [off, on] (2 elements) of the output's type, got " +
                           std::to_string(values.count()) + " " + dataTypeName(values.type));
  }
  if (indices.type != DataType::kINT32 && indices.type != DataType::kINT64) {
    return invalidArgument(std::string("one-hot indices must be int32 or int64, got ") + dataTypeName(indices.type));
  }
  const int32_t rank = out.dims.nbDims;
  int64_t axis = layer.attrs.getInt("axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return invalidArgument("one-hot axis " + std::to_string(axis) + " is out of range");
  const int64_t depth = out.dims.d[axis];
  int64_t inner = 1;
  for (int32_t d = static_cast<int32_t>(axis) + 1; d < rank; ++d) inner *= out.dims.d[d];
  if (indices.count() * depth != n) return internalError("one-hot output does not match its indices and depth");
  const cudaStream_t s = streamOf(io);
  return pw::dispatchElementBytes(out.type, [&](auto tag) {
    using R = typename decltype(tag)::type;
    const auto* v = static_cast<const R*>(values.data);
    if (indices.type == DataType::kINT64) {
      oneHotKernel<R, int64_t><<<gridFor(n), kBLOCK, 0, s>>>(indices.as<const int64_t>(), v, out.as<R>(), n, depth, inner);
    } else {
      oneHotKernel<R, int32_t><<<gridFor(n), kBLOCK, 0, s>>>(indices.as<const int32_t>(), v, out.as<R>(), n, depth, inner);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  });
}

}  // namespace

// No `supports`: fill writes every output type and one-hot moves every value type, as on the CPU.
void registerGenerateCudaTactics(CudaKernelTable& table) {
  CudaTactic fill;
  fill.name = "cuda_fill";
  fill.run = runFill;
  table.add(LayerType::kFILL, std::move(fill));
  CudaTactic oneHot;
  oneHot.name = "cuda_one_hot";
  oneHot.run = runOneHot;
  table.add(LayerType::kONE_HOT, std::move(oneHot));
}

}  // namespace cuda
}  // namespace kiln
