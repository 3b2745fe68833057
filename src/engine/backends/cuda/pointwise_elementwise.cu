// CUDA elementwise and select kernels, matching the CPU reference (backends/cpu/elementwise.cc).
// Float arithmetic computes in float32 and rounds once (max/min propagate NaN); comparisons compare as
// float32 on float types and exactly as int64 otherwise; and/or/xor take bool; integer arithmetic is in
// pointwise_elementwise_int.cu. Select moves raw elements of any dtype by cond ? then : else. All ops use
// numpy broadcasting through pointwise_binary.cuh (flat 128-bit path when shapes agree).
#include "engine/backends/cuda/pointwise_binary.cuh"
#include "engine/backends/cuda/pointwise_kernels.h"

namespace kiln {
namespace cuda {
namespace {

using E = ElementWiseOperation;

template <E Op>
__device__ __forceinline__ float floatOp(float x, float y) {
  if constexpr (Op == E::kSUM) return x + y;
  else if constexpr (Op == E::kPROD) return x * y;
  else if constexpr (Op == E::kMAX) return isnan(x) || isnan(y) ? __int_as_float(0x7fc00000) : fmaxf(x, y);
  else if constexpr (Op == E::kMIN) return isnan(x) || isnan(y) ? __int_as_float(0x7fc00000) : fminf(x, y);
  else if constexpr (Op == E::kSUB) return x - y;
  else if constexpr (Op == E::kDIV) return x / y;
  else if constexpr (Op == E::kPOW) return powf(x, y);
  else {
    static_assert(Op == E::kFLOOR_DIV, "float op without a formula");
    return floorf(x / y);
  }
}

template <typename T, E Op>
struct FloatArithFn {
  __device__ __forceinline__ T operator()(T a, T b) const { return pw::fromF<T>(floatOp<Op>(pw::toF(a), pw::toF(b))); }
};

template <E Op, typename V>
__device__ __forceinline__ bool compare(V x, V y) {
  if constexpr (Op == E::kEQUAL) return x == y;
  else if constexpr (Op == E::kGREATER) return x > y;
  else return x < y;
}

template <typename T, E Op>
struct CompareFn {
  __device__ __forceinline__ pw::Bool8 operator()(T a, T b) const {
    bool r;
    if constexpr (pw::kIsFloat<T>) {
      r = compare<Op>(pw::toF(a), pw::toF(b));
    } else {
      r = compare<Op>(pw::toI(a), pw::toI(b));
    }
    return pw::Bool8{static_cast<uint8_t>(r ? 1 : 0)};
  }
};

template <E Op>
struct LogicFn {
  __device__ __forceinline__ pw::Bool8 operator()(pw::Bool8 a, pw::Bool8 b) const {
    const bool x = a.v != 0, y = b.v != 0;
    bool r;
    if constexpr (Op == E::kAND) r = x && y;
    else if constexpr (Op == E::kOR) r = x || y;
    else r = x != y;
    return pw::Bool8{static_cast<uint8_t>(r ? 1 : 0)};
  }
};

template <E Op>
Status launchFloatArithmetic(const TensorView& a, const TensorView& b, TensorView& out, cudaStream_t s) {
  return pw::dispatchFloatStorage(a.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return pw::launchBinary<T, T>(a, b, out, FloatArithFn<T, Op>{}, s);
  });
}

template <E Op>
Status launchArithmetic(const TensorView& a, const TensorView& b, TensorView& out, cudaStream_t s) {
  if (isFloatType(a.type)) return launchFloatArithmetic<Op>(a, b, out, s);
  return launchIntArithmetic(Op, a, b, out, s);
}

template <E Op>
Status launchCompare(const TensorView& a, const TensorView& b, TensorView& out, cudaStream_t s) {
  return pw::dispatchStorage(a.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return pw::launchBinary<T, pw::Bool8>(a, b, out, CompareFn<T, Op>{}, s);
  });
}

template <E Op>
Status launchLogic(const TensorView& a, const TensorView& b, TensorView& out, cudaStream_t s) {
  if (a.type != DataType::kBOOL) {
    return invalidArgument(std::string("and/or/xor take bool inputs, got ") + dataTypeName(a.type));
  }
  return pw::launchBinary<pw::Bool8, pw::Bool8>(a, b, out, LogicFn<Op>{}, s);
}

Status runElementWise(const LayerParams& layer, KernelIO& io) {
  const auto op = static_cast<E>(layer.attrs.getInt("operation"));
  const TensorView& a = io.inputs[0];
  const TensorView& b = io.inputs[1];
  TensorView& out = io.outputs[0];
  if (a.type != b.type) {
    return invalidArgument(std::string("both inputs must have one type (got ") + dataTypeName(a.type) + " and " +
                           dataTypeName(b.type) + ")");
  }
  const cudaStream_t s = streamOf(io);
  switch (op) {
    case E::kSUM: return launchArithmetic<E::kSUM>(a, b, out, s);
    case E::kPROD: return launchArithmetic<E::kPROD>(a, b, out, s);
    case E::kMAX: return launchArithmetic<E::kMAX>(a, b, out, s);
    case E::kMIN: return launchArithmetic<E::kMIN>(a, b, out, s);
    case E::kSUB: return launchArithmetic<E::kSUB>(a, b, out, s);
    case E::kDIV: return launchArithmetic<E::kDIV>(a, b, out, s);
    case E::kPOW: return launchArithmetic<E::kPOW>(a, b, out, s);
    case E::kFLOOR_DIV: return launchArithmetic<E::kFLOOR_DIV>(a, b, out, s);
    case E::kAND: return launchLogic<E::kAND>(a, b, out, s);
    case E::kOR: return launchLogic<E::kOR>(a, b, out, s);
    case E::kXOR: return launchLogic<E::kXOR>(a, b, out, s);
    case E::kEQUAL: return launchCompare<E::kEQUAL>(a, b, out, s);
    case E::kGREATER: return launchCompare<E::kGREATER>(a, b, out, s);
    case E::kLESS: return launchCompare<E::kLESS>(a, b, out, s);
  }
  return invalidArgument("unknown elementwise operation " + std::to_string(static_cast<int>(op)));
}

// ---- select --------------------------------------------------------------------------------------------

template <typename R>
__global__ void selectFlatKernel(const uint8_t* __restrict__ cond, const R* __restrict__ a, const R* __restrict__ b,
                                 R* __restrict__ out, int64_t n) {
  KILN_GRID_STRIDE_LOOP(i, n) { out[i] = cond[i] ? a[i] : b[i]; }
}

template <typename R, typename I>
__global__ void selectBroadcastKernel(const uint8_t* __restrict__ cond, const R* __restrict__ a,
                                      const R* __restrict__ b, R* __restrict__ out, I n, pw::BroadcastPlan<3> plan) {
  for (I i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {
    I off[3];
    pw::broadcastOffsets<I, 3>(plan, i, off);
    out[i] = cond[off[0]] ? a[off[1]] : b[off[2]];
  }
}

Status runSelect(const LayerParams&, KernelIO& io) {
  const TensorView& cond = io.inputs[0];
  const TensorView& a = io.inputs[1];
  const TensorView& b = io.inputs[2];
  TensorView& out = io.outputs[0];
  if (dataTypeSize(cond.type) != 1 || a.type != out.type || b.type != out.type) {
    return invalidArgument("select takes a bool condition and then/else of the output's type");
  }
  const int64_t n = out.count();
  if (n <= 0) return Status::ok();
  const Dims* const ins[3] = {&cond.dims, &a.dims, &b.dims};
  const pw::BroadcastPlan<3> plan = pw::makeBroadcastPlan<3>(out.dims, ins);
  const cudaStream_t s = streamOf(io);
  const auto* c = static_cast<const uint8_t*>(cond.data);
  return pw::dispatchElementBytes(out.type, [&](auto tag) -> Status {
    using R = typename decltype(tag)::type;
    const auto* pa = static_cast<const R*>(a.data);
    const auto* pb = static_cast<const R*>(b.data);
    auto* po = static_cast<R*>(out.data);
    if (plan.flat()) {
      selectFlatKernel<R><<<gridFor(n), kBLOCK, 0, s>>>(c, pa, pb, po, n);
    } else if (n < pw::kMAX_U32_INDEX) {
      selectBroadcastKernel<R, uint32_t><<<gridFor(n), kBLOCK, 0, s>>>(c, pa, pb, po, static_cast<uint32_t>(n), plan);
    } else {
      selectBroadcastKernel<R, int64_t><<<gridFor(n), kBLOCK, 0, s>>>(c, pa, pb, po, n, plan);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  });
}

}  // namespace

// No `supports`: every dtype shape inference accepts (layers/elementwise.cc) runs here, as on the CPU.
void registerElementWiseCudaTactics(CudaKernelTable& table) {
  CudaTactic elementwise;
  elementwise.name = "cuda_elementwise";
  elementwise.run = runElementWise;
  table.add(LayerType::kELEMENTWISE, std::move(elementwise));
  CudaTactic select;
  select.name = "cuda_select";
  select.run = runSelect;
  table.add(LayerType::kSELECT, std::move(select));
}

}  // namespace cuda
}  // namespace kiln
