// CPU unary kernels. Float math in float32; abs/neg/sign on integers exactly; not on bool.
#include <cmath>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"

namespace kiln {
namespace {

constexpr int64_t kGRAIN = 1 << 14;

float signOf(float x) { return x > 0.f ? 1.f : (x < 0.f ? -1.f : x); }

float floatUnary(UnaryOperation op, float x) {
  switch (op) {
    case UnaryOperation::kEXP: return std::exp(x);
    case UnaryOperation::kLOG: return std::log(x);
    case UnaryOperation::kSQRT: return std::sqrt(x);
    case UnaryOperation::kRECIP: return 1.f / x;
    case UnaryOperation::kABS: return std::fabs(x);
    case UnaryOperation::kNEG: return -x;
    case UnaryOperation::kSIN: return std::sin(x);
    case UnaryOperation::kCOS: return std::cos(x);
    case UnaryOperation::kTAN: return std::tan(x);
    case UnaryOperation::kSINH: return std::sinh(x);
    case UnaryOperation::kCOSH: return std::cosh(x);
    case UnaryOperation::kASIN: return std::asin(x);
    case UnaryOperation::kACOS: return std::acos(x);
    case UnaryOperation::kATAN: return std::atan(x);
    case UnaryOperation::kASINH: return std::asinh(x);
    case UnaryOperation::kACOSH: return std::acosh(x);
    case UnaryOperation::kATANH: return std::atanh(x);
    case UnaryOperation::kCEIL: return std::ceil(x);
    case UnaryOperation::kFLOOR: return std::floor(x);
    case UnaryOperation::kERF: return std::erf(x);
    case UnaryOperation::kSIGN: return signOf(x);
    case UnaryOperation::kROUND: return std::nearbyint(x);  // half to even in the default rounding mode
    case UnaryOperation::kNOT:
    case UnaryOperation::kISINF:
    case UnaryOperation::kISNAN: break;
  }
  return x;
}

Status runUnary(const LayerParams& layer, KernelIO& io) {
  const auto op = static_cast<UnaryOperation>(layer.attrs.getInt("operation"));
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  const int64_t n = in.count();
  if (op == UnaryOperation::kISINF || op == UnaryOperation::kISNAN || op == UnaryOperation::kNOT) {
    auto* dst = static_cast<uint8_t*>(out.data);
    cpu::parallelFor(n, kGRAIN, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        if (op == UnaryOperation::kNOT) {
          dst[i] = static_cast<const uint8_t*>(in.data)[i] ? 0 : 1;
        } else {
          const float x = cpu::loadFloat(in.data, in.type, i);
          dst[i] = (op == UnaryOperation::kISINF ? std::isinf(x) : std::isnan(x)) ? 1 : 0;
        }
      }
    });
    return Status::ok();
  }
  if (!isFloatType(in.type)) {  // abs, neg, sign on integers
    cpu::parallelFor(n, kGRAIN, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t x = cpu::loadInt(in.data, in.type, i);
        const int64_t r = op == UnaryOperation::kABS ? (x < 0 ? -x : x)
                                                      : (op == UnaryOperation::kNEG ? -x : (x > 0) - (x < 0));
        cpu::storeInt(out.data, out.type, i, r);
      }
    });
    return Status::ok();
  }
  cpu::FloatInput x(in);
  cpu::FloatOutput y(out);
  const float* src = x.data();
  float* dst = y.data();
  cpu::parallelFor(n, kGRAIN, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dst[i] = floatUnary(op, src[i]);
  });
  y.commit();
  return Status::ok();
}

}  // namespace

void registerUnaryCpuKernels(CpuKernelTable& table) { table.add(LayerType::kUNARY, {"cpu_unary", runUnary}); }

}  // namespace kiln
