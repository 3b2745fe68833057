// CUDA kernels of the data layers cast, identity and shape, matching backends/cpu/data.cc.
// Cast converts every type pair like cpu::convertBuffer: integer to integer exactly (wrapping), from int32/
// int64 through double, from the other types through float; float to integer saturates (NaN gives 0), to
// bool is != 0, float16/bfloat16 round to nearest even. Identity never changes the type: a device copy.
// Shape writes the input's run-time dims as int64 from a kernel argument (no host buffer to keep alive).
#include "engine/backends/cuda/pointwise_common.cuh"
#include "engine/backends/cuda/pointwise_kernels.h"

namespace kiln {
namespace cuda {
namespace {

template <typename S, typename D>
struct CastFn {
  __device__ __forceinline__ D operator()(S v) const {
    if constexpr (!pw::kIsFloat<S> && !pw::kIsFloat<D>) {
      return pw::fromI<D>(pw::toI(v));
    } else if constexpr (std::is_same_v<S, int64_t> || std::is_same_v<S, int32_t>) {
      return pw::fromD<D>(pw::toD(v));
    } else {
      return pw::fromD<D>(static_cast<double>(pw::toF(v)));
    }
  }
};

Status copyDevice(const TensorView& in, TensorView& out, cudaStream_t s) {
  if (out.bytes() != in.bytes()) return internalError("output size does not match the input");
  if (in.data != out.data && in.bytes() > 0) {
    KILN_CUDA_CHECK(cudaMemcpyAsync(out.data, in.data, static_cast<size_t>(in.bytes()), cudaMemcpyDeviceToDevice, s));
  }
  return Status::ok();
}

Status runCast(const LayerParams&, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  const cudaStream_t s = streamOf(io);
  if (in.type == out.type) return copyDevice(in, out, s);
  if (out.count() != in.count()) return internalError("cast output does not match its input's shape");
  return pw::dispatchStorage(in.type, [&](auto from) {
    using S = typename decltype(from)::type;
    return pw::dispatchStorage(out.type, [&](auto to) {
      using D = typename decltype(to)::type;
      return pw::launchMap<S, D>(in.data, out.data, in.count(), CastFn<S, D>{}, s);
    });
  });
}

Status runIdentity(const LayerParams&, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  if (in.type != out.type) {
    return internalError(std::string("identity output type ") + dataTypeName(out.type) + " differs from its input's " +
                         dataTypeName(in.type));
  }
  return copyDevice(in, out, streamOf(io));
}

__global__ void shapeKernel(int64_t* __restrict__ out, Shape8 dims) {
  const int i = threadIdx.x;
  if (i < dims.rank) out[i] = dims.d[i];
}

Status runShape(const LayerParams&, KernelIO& io) {
  const Dims& dims = io.inputs[0].dims;
  TensorView& out = io.outputs[0];
  if (out.type != DataType::kINT64 || out.count() != dims.nbDims) {
    return internalError("shape output must be int64 with one value per input dim");
  }
  if (dims.nbDims == 0) return Status::ok();
  shapeKernel<<<1, Dims::kMAX_DIMS, 0, streamOf(io)>>>(out.as<int64_t>(), toShape8(dims));
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

}  // namespace

// No `supports`: every type pair (cast) and type (identity, shape input) runs, as on the CPU.
void registerDataCudaTactics(CudaKernelTable& table) {
  CudaTactic cast;
  cast.name = "cuda_cast";
  cast.run = runCast;
  table.add(LayerType::kCAST, std::move(cast));
  CudaTactic identity;
  identity.name = "cuda_identity";
  identity.run = runIdentity;
  table.add(LayerType::kIDENTITY, std::move(identity));
  CudaTactic shape;
  shape.name = "cuda_shape";
  shape.run = runShape;
  table.add(LayerType::kSHAPE, std::move(shape));
}

}  // namespace cuda
}  // namespace kiln
