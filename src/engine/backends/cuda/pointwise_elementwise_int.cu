// CUDA elementwise arithmetic on integer tensors (int8/int32/int64/uint8): exact int64 math that wraps like
// two's complement hardware, stored back with the CPU's wrapping conversion (backends/cpu/elementwise.cc).
// kDIV truncates toward zero, kFLOOR_DIV rounds toward -inf, INT64_MIN / -1 gives INT64_MIN, kPOW uses
// square-and-multiply with torch's rules for negative exponents. Broadcasting, the flat fast path and the
// launch live in pointwise_binary.cuh; the float, comparison and logic ops in pointwise_elementwise.cu.
#include "engine/backends/cuda/pointwise_binary.cuh"
#include "engine/backends/cuda/pointwise_kernels.h"

namespace kiln {
namespace cuda {
namespace {

using E = ElementWiseOperation;

// Division by zero (and 0 to a negative power) writes 0 here: the CPU backend reports it as an error, but
// a kernel cannot report per-element failures without a host synchronization, which execute must not do.
template <E Op>
__device__ __forceinline__ int64_t intOp(int64_t x, int64_t y) {
  const auto ux = static_cast<uint64_t>(x), uy = static_cast<uint64_t>(y);
  if constexpr (Op == E::kSUM) {
    return static_cast<int64_t>(ux + uy);
  } else if constexpr (Op == E::kPROD) {
    return static_cast<int64_t>(ux * uy);
  } else if constexpr (Op == E::kMAX) {
    return x > y ? x : y;
  } else if constexpr (Op == E::kMIN) {
    return x < y ? x : y;
  } else if constexpr (Op == E::kSUB) {
    return static_cast<int64_t>(ux - uy);
  } else if constexpr (Op == E::kDIV || Op == E::kFLOOR_DIV) {
    if (y == 0) return 0;
    if (x == INT64_MIN && y == -1) return x;
    int64_t q = x / y;
    if (Op == E::kFLOOR_DIV && (x % y != 0) && ((x < 0) != (y < 0))) --q;
    return q;
  } else {
    static_assert(Op == E::kPOW, "integer op without a formula");
    if (y < 0) return x == 1 ? 1 : (x == -1 ? ((y & 1) ? -1 : 1) : 0);
    uint64_t base = ux, acc = 1;
    for (int64_t e = y; e > 0; e >>= 1) {
      if (e & 1) acc *= base;
      base *= base;
    }
    return static_cast<int64_t>(acc);
  }
}

template <typename T, E Op>
struct IntArithFn {
  __device__ __forceinline__ T operator()(T a, T b) const { return pw::fromI<T>(intOp<Op>(pw::toI(a), pw::toI(b))); }
};

template <E Op>
Status launchOp(const TensorView& a, const TensorView& b, TensorView& out, cudaStream_t s) {
  return pw::dispatchStorage(a.type, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (pw::kIsFloat<T> || std::is_same_v<T, pw::Bool8>) {
      return invalidArgument(std::string("integer arithmetic got ") + dataTypeName(a.type));
    } else {
      return pw::launchBinary<T, T>(a, b, out, IntArithFn<T, Op>{}, s);
    }
  });
}

}  // namespace

Status launchIntArithmetic(ElementWiseOperation op, const TensorView& a, const TensorView& b, TensorView& out,
                           void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  switch (op) {
    case E::kSUM: return launchOp<E::kSUM>(a, b, out, s);
    case E::kPROD: return launchOp<E::kPROD>(a, b, out, s);
    case E::kMAX: return launchOp<E::kMAX>(a, b, out, s);
    case E::kMIN: return launchOp<E::kMIN>(a, b, out, s);
    case E::kSUB: return launchOp<E::kSUB>(a, b, out, s);
    case E::kDIV: return launchOp<E::kDIV>(a, b, out, s);
    case E::kPOW: return launchOp<E::kPOW>(a, b, out, s);
    case E::kFLOOR_DIV: return launchOp<E::kFLOOR_DIV>(a, b, out, s);
    case E::kAND:
    case E::kOR:
    case E::kXOR:
    case E::kEQUAL:
    case E::kGREATER:
    case E::kLESS: break;
  }
  return internalError("not an arithmetic elementwise operation");
}

}  // namespace cuda
}  // namespace kiln
