// CUDA unary kernels: the 25 UnaryOperation ops, matching the CPU reference (backends/cpu/unary.cc).
// Float math runs in float32 on float32/float16/bfloat16 and rounds once to the output type; abs/neg/sign
// on int8/int32/int64/uint8 compute exactly in int64 and wrap on store; not takes bool; isinf/isnan take
// float types and write bool. Input and output share a shape, so every op is one flat pass with 128-bit
// accesses; the op is a template parameter so each kernel body is straight-line code.
#include "engine/backends/cuda/pointwise_common.cuh"
#include "engine/backends/cuda/pointwise_kernels.h"

namespace kiln {
namespace cuda {
namespace {

using U = UnaryOperation;

template <U Op>
__device__ __forceinline__ float floatUnary(float x) {
  if constexpr (Op == U::kEXP) return expf(x);
  else if constexpr (Op == U::kLOG) return logf(x);
  else if constexpr (Op == U::kSQRT) return sqrtf(x);
  else if constexpr (Op == U::kRECIP) return 1.f / x;
  else if constexpr (Op == U::kABS) return fabsf(x);
  else if constexpr (Op == U::kNEG) return -x;
  else if constexpr (Op == U::kSIN) return sinf(x);
  else if constexpr (Op == U::kCOS) return cosf(x);
  else if constexpr (Op == U::kTAN) return tanf(x);
  else if constexpr (Op == U::kSINH) return sinhf(x);
  else if constexpr (Op == U::kCOSH) return coshf(x);
  else if constexpr (Op == U::kASIN) return asinf(x);
  else if constexpr (Op == U::kACOS) return acosf(x);
  else if constexpr (Op == U::kATAN) return atanf(x);
  else if constexpr (Op == U::kASINH) return asinhf(x);
  else if constexpr (Op == U::kACOSH) return acoshf(x);
  else if constexpr (Op == U::kATANH) return atanhf(x);
  else if constexpr (Op == U::kCEIL) return ceilf(x);
  else if constexpr (Op == U::kFLOOR) return floorf(x);
  else if constexpr (Op == U::kERF) return erff(x);
  else if constexpr (Op == U::kSIGN) return x > 0.f ? 1.f : (x < 0.f ? -1.f : x);  // keeps -0 and NaN
  else {
    static_assert(Op == U::kROUND, "float unary op without a formula");
    return rintf(x);  // half to even, like the CPU's nearbyint in the default rounding mode
  }
}

template <typename T, U Op>
struct FloatUnaryFn {
  __device__ __forceinline__ T operator()(T x) const { return pw::fromF<T>(floatUnary<Op>(pw::toF(x))); }
};

// abs/neg/sign on integers: int64 arithmetic through uint64 so that negating the minimum wraps (no UB).
template <typename T, U Op>
struct IntUnaryFn {
  __device__ __forceinline__ T operator()(T v) const {
    const int64_t x = pw::toI(v);
    const int64_t negated = static_cast<int64_t>(uint64_t{0} - static_cast<uint64_t>(x));
    int64_t r;
    if constexpr (Op == U::kABS) r = x < 0 ? negated : x;
    else if constexpr (Op == U::kNEG) r = negated;
    else r = (x > 0) - (x < 0);
    return pw::fromI<T>(r);
  }
};

template <typename T, bool kIsInf>
struct FloatClassFn {
  __device__ __forceinline__ pw::Bool8 operator()(T v) const {
    const float x = pw::toF(v);
    return pw::Bool8{static_cast<uint8_t>((kIsInf ? isinf(x) : isnan(x)) ? 1 : 0)};
  }
};

struct NotFn {
  __device__ __forceinline__ pw::Bool8 operator()(pw::Bool8 x) const { return pw::Bool8{static_cast<uint8_t>(x.v ? 0 : 1)}; }
};

template <U Op>
Status launchFloat(const TensorView& in, TensorView& out, cudaStream_t s) {
  return pw::dispatchFloatStorage(in.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return pw::launchMap<T, T>(in.data, out.data, in.count(), FloatUnaryFn<T, Op>{}, s);
  });
}

// abs/neg/sign: exact on integers, float math on float types.
template <U Op>
Status launchSigned(const TensorView& in, TensorView& out, cudaStream_t s) {
  if (isFloatType(in.type)) return launchFloat<Op>(in, out, s);
  return pw::dispatchStorage(in.type, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, pw::Bool8> || pw::kIsFloat<T>) {
      return invalidArgument("abs/neg/sign do not take bool");
    } else {
      return pw::launchMap<T, T>(in.data, out.data, in.count(), IntUnaryFn<T, Op>{}, s);
    }
  });
}

template <bool kIsInf>
Status launchClass(const TensorView& in, TensorView& out, cudaStream_t s) {
  return pw::dispatchFloatStorage(in.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return pw::launchMap<T, pw::Bool8>(in.data, out.data, in.count(), FloatClassFn<T, kIsInf>{}, s);
  });
}

Status runUnary(const LayerParams& layer, KernelIO& io) {
  const auto op = static_cast<U>(layer.attrs.getInt("operation"));
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  if (out.count() != in.count()) return internalError("unary output does not match its input's shape");
  const cudaStream_t s = streamOf(io);
  switch (op) {
    case U::kEXP: return launchFloat<U::kEXP>(in, out, s);
    case U::kLOG: return launchFloat<U::kLOG>(in, out, s);
    case U::kSQRT: return launchFloat<U::kSQRT>(in, out, s);
    case U::kRECIP: return launchFloat<U::kRECIP>(in, out, s);
    case U::kABS: return launchSigned<U::kABS>(in, out, s);
    case U::kNEG: return launchSigned<U::kNEG>(in, out, s);
    case U::kSIN: return launchFloat<U::kSIN>(in, out, s);
    case U::kCOS: return launchFloat<U::kCOS>(in, out, s);
    case U::kTAN: return launchFloat<U::kTAN>(in, out, s);
    case U::kSINH: return launchFloat<U::kSINH>(in, out, s);
    case U::kCOSH: return launchFloat<U::kCOSH>(in, out, s);
    case U::kASIN: return launchFloat<U::kASIN>(in, out, s);
    case U::kACOS: return launchFloat<U::kACOS>(in, out, s);
    case U::kATAN: return launchFloat<U::kATAN>(in, out, s);
    case U::kASINH: return launchFloat<U::kASINH>(in, out, s);
    case U::kACOSH: return launchFloat<U::kACOSH>(in, out, s);
    case U::kATANH: return launchFloat<U::kATANH>(in, out, s);
    case U::kCEIL: return launchFloat<U::kCEIL>(in, out, s);
    case U::kFLOOR: return launchFloat<U::kFLOOR>(in, out, s);
    case U::kERF: return launchFloat<U::kERF>(in, out, s);
    case U::kSIGN: return launchSigned<U::kSIGN>(in, out, s);
    case U::kROUND: return launchFloat<U::kROUND>(in, out, s);
    case U::kISINF: return launchClass<true>(in, out, s);
    case U::kISNAN: return launchClass<false>(in, out, s);
    case U::kNOT:
      if (in.type != DataType::kBOOL) return invalidArgument(std::string("not takes bool, got ") + dataTypeName(in.type));
      return pw::launchMap<pw::Bool8, pw::Bool8>(in.data, out.data, in.count(), NotFn{}, s);
  }
  return invalidArgument("unknown unary operation " + std::to_string(static_cast<int>(op)));
}

}  // namespace

// No `supports`: the kernels take every type combination shape inference (layers/unary.cc) lets through,
// the same set the CPU kernel runs.
void registerUnaryCudaTactics(CudaKernelTable& table) {
  CudaTactic tactic;
  tactic.name = "cuda_unary";
  tactic.run = runUnary;
  table.add(LayerType::kUNARY, std::move(tactic));
}

}  // namespace cuda
}  // namespace kiln
