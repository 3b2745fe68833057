// CPU elementwise binary and select kernels. Floats compute in float32, integers exactly in int64.
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"

namespace kiln {
namespace {

constexpr int64_t kGRAIN = 1 << 14;

template <typename Fn>
void broadcastBinary(const TensorView& a, const TensorView& b, const TensorView& out, Fn fn) {
  const std::vector<int64_t> sa = cpu::broadcastStrides(a.dims, out.dims);
  const std::vector<int64_t> sb = cpu::broadcastStrides(b.dims, out.dims);
  const std::vector<int64_t>* strides[2] = {&sa, &sb};
  const bool same = a.dims == out.dims && b.dims == out.dims;
  cpu::parallelFor(out.count(), kGRAIN, [&](int64_t begin, int64_t end) {
    if (same) {
      for (int64_t i = begin; i < end; ++i) fn(i, i, i);
      return;
    }
    cpu::forEachBroadcast<2>(out.dims, strides, begin, end, [&](int64_t i, const int64_t* off) { fn(i, off[0], off[1]); });
  });
}

float floatOp(ElementWiseOperation op, float x, float y) {
  switch (op) {
    case ElementWiseOperation::kSUM: return x + y;
    case ElementWiseOperation::kPROD: return x * y;
    case ElementWiseOperation::kMAX: return std::isnan(x) || std::isnan(y) ? NAN : std::fmax(x, y);
    case ElementWiseOperation::kMIN: return std::isnan(x) || std::isnan(y) ? NAN : std::fmin(x, y);
    case ElementWiseOperation::kSUB: return x - y;
    case ElementWiseOperation::kDIV: return x / y;
    case ElementWiseOperation::kPOW: return std::pow(x, y);
    case ElementWiseOperation::kFLOOR_DIV: return std::floor(x / y);
    case ElementWiseOperation::kAND:
    case ElementWiseOperation::kOR:
    case ElementWiseOperation::kXOR:
    case ElementWiseOperation::kEQUAL:
    case ElementWiseOperation::kGREATER:
    case ElementWiseOperation::kLESS: break;
  }
  return 0.f;
}

// Integer arithmetic wraps like two's complement hardware; division by zero is reported, not trapped.
bool intOp(ElementWiseOperation op, int64_t x, int64_t y, int64_t& result) {
  const auto ux = static_cast<uint64_t>(x), uy = static_cast<uint64_t>(y);
  switch (op) {
    case ElementWiseOperation::kSUM: result = static_cast<int64_t>(ux + uy); return true;
    case ElementWiseOperation::kPROD: result = static_cast<int64_t>(ux * uy); return true;
    case ElementWiseOperation::kMAX: result = x > y ? x : y; return true;
    case ElementWiseOperation::kMIN: result = x < y ? x : y; return true;
    case ElementWiseOperation::kSUB: result = static_cast<int64_t>(ux - uy); return true;
    case ElementWiseOperation::kDIV:
    case ElementWiseOperation::kFLOOR_DIV: {
      if (y == 0) return false;
      if (x == std::numeric_limits<int64_t>::min() && y == -1) {
        result = x;
        return true;
      }
      int64_t q = x / y;
      if (op == ElementWiseOperation::kFLOOR_DIV && (x % y != 0) && ((x < 0) != (y < 0))) --q;
      result = q;
      return true;
    }
    case ElementWiseOperation::kPOW: {
      if (y < 0) {  // like torch: 1 and -1 have integer negative powers; others truncate to 0
        result = x == 1 ? 1 : (x == -1 ? ((y & 1) ? -1 : 1) : 0);
        if (x == 0) return false;
        return true;
      }
      uint64_t base = ux, acc = 1;
      for (int64_t e = y; e > 0; e >>= 1) {
        if (e & 1) acc *= base;
        base *= base;
      }
      result = static_cast<int64_t>(acc);
      return true;
    }
    case ElementWiseOperation::kAND:
    case ElementWiseOperation::kOR:
    case ElementWiseOperation::kXOR:
    case ElementWiseOperation::kEQUAL:
    case ElementWiseOperation::kGREATER:
    case ElementWiseOperation::kLESS: break;
  }
  result = 0;
  return true;
}

Status runFloatArithmetic(ElementWiseOperation op, const TensorView& a, const TensorView& b, TensorView& out) {
  cpu::FloatInput x(a), y(b);
  cpu::FloatOutput z(out);
  const float* px = x.data();
  const float* py = y.data();
  float* pz = z.data();
  if (op == ElementWiseOperation::kSUM && a.dims == out.dims && b.dims == out.dims) {
    cpu::parallelFor(out.count(), kGRAIN, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) pz[i] = px[i] + py[i];
    });
  } else {
    broadcastBinary(a, b, out, [&](int64_t i, int64_t ia, int64_t ib) { pz[i] = floatOp(op, px[ia], py[ib]); });
  }
  z.commit();
  return Status::ok();
}

Status runIntArithmetic(ElementWiseOperation op, const TensorView& a, const TensorView& b, TensorView& out) {
  bool divByZero = false;
  broadcastBinary(a, b, out, [&](int64_t i, int64_t ia, int64_t ib) {
    int64_t r = 0;
    if (!intOp(op, cpu::loadInt(a.data, a.type, ia), cpu::loadInt(b.data, b.type, ib), r)) divByZero = true;
    cpu::storeInt(out.data, out.type, i, r);
  });
  if (divByZero) return invalidArgument("integer division (or zero to a negative power) by zero");
  return Status::ok();
}

Status runCompareOrLogic(ElementWiseOperation op, const TensorView& a, const TensorView& b, TensorView& out) {
  auto* dst = static_cast<uint8_t*>(out.data);
  const bool floats = isFloatType(a.type);
  broadcastBinary(a, b, out, [&](int64_t i, int64_t ia, int64_t ib) {
    bool r = false;
    if (floats) {
      const float x = cpu::loadFloat(a.data, a.type, ia), y = cpu::loadFloat(b.data, b.type, ib);
      r = op == ElementWiseOperation::kEQUAL ? x == y : (op == ElementWiseOperation::kGREATER ? x > y : x < y);
    } else {
      const int64_t x = cpu::loadInt(a.data, a.type, ia), y = cpu::loadInt(b.data, b.type, ib);
      switch (op) {
        case ElementWiseOperation::kEQUAL: r = x == y; break;
        case ElementWiseOperation::kGREATER: r = x > y; break;
        case ElementWiseOperation::kLESS: r = x < y; break;
        case ElementWiseOperation::kAND: r = x && y; break;
        case ElementWiseOperation::kOR: r = x || y; break;
        case ElementWiseOperation::kXOR: r = (x != 0) != (y != 0); break;
        case ElementWiseOperation::kSUM:
        case ElementWiseOperation::kPROD:
        case ElementWiseOperation::kMAX:
        case ElementWiseOperation::kMIN:
        case ElementWiseOperation::kSUB:
        case ElementWiseOperation::kDIV:
        case ElementWiseOperation::kPOW:
        case ElementWiseOperation::kFLOOR_DIV: break;
      }
    }
    dst[i] = r ? 1 : 0;
  });
  return Status::ok();
}

Status runElementWise(const LayerParams& layer, KernelIO& io) {
  const auto op = static_cast<ElementWiseOperation>(layer.attrs.getInt("operation"));
  const TensorView& a = io.inputs[0];
  const TensorView& b = io.inputs[1];
  TensorView& out = io.outputs[0];
  switch (op) {
    case ElementWiseOperation::kEQUAL:
    case ElementWiseOperation::kGREATER:
    case ElementWiseOperation::kLESS:
    case ElementWiseOperation::kAND:
    case ElementWiseOperation::kOR:
    case ElementWiseOperation::kXOR: return runCompareOrLogic(op, a, b, out);
    case ElementWiseOperation::kSUM:
    case ElementWiseOperation::kPROD:
    case ElementWiseOperation::kMAX:
    case ElementWiseOperation::kMIN:
    case ElementWiseOperation::kSUB:
    case ElementWiseOperation::kDIV:
    case ElementWiseOperation::kPOW:
    case ElementWiseOperation::kFLOOR_DIV:
      return isFloatType(a.type) ? runFloatArithmetic(op, a, b, out) : runIntArithmetic(op, a, b, out);
  }
  return invalidArgument("unknown elementwise operation");
}

Status runSelect(const LayerParams&, KernelIO& io) {
  const TensorView& cond = io.inputs[0];
  const TensorView& a = io.inputs[1];
  const TensorView& b = io.inputs[2];
  TensorView& out = io.outputs[0];
  const std::vector<int64_t> sc = cpu::broadcastStrides(cond.dims, out.dims);
  const std::vector<int64_t> sa = cpu::broadcastStrides(a.dims, out.dims);
  const std::vector<int64_t> sb = cpu::broadcastStrides(b.dims, out.dims);
  const std::vector<int64_t>* strides[3] = {&sc, &sa, &sb};
  const auto elem = static_cast<size_t>(dataTypeSize(out.type));
  const auto* c = static_cast<const uint8_t*>(cond.data);
  const auto* pa = static_cast<const uint8_t*>(a.data);
  const auto* pb = static_cast<const uint8_t*>(b.data);
  auto* dst = static_cast<uint8_t*>(out.data);
  cpu::parallelFor(out.count(), kGRAIN, [&](int64_t begin, int64_t end) {
    cpu::forEachBroadcast<3>(out.dims, strides, begin, end, [&](int64_t i, const int64_t* off) {
      const uint8_t* src = c[off[0]] ? pa + off[1] * elem : pb + off[2] * elem;
      std::memcpy(dst + i * elem, src, elem);
    });
  });
  return Status::ok();
}

}  // namespace

void registerElementWiseCpuKernels(CpuKernelTable& table) {
  table.add(LayerType::kELEMENTWISE, {"cpu_elementwise", runElementWise});
  table.add(LayerType::kSELECT, {"cpu_select", runSelect});
}

}  // namespace kiln
