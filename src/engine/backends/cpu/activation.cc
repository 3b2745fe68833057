// CPU activation kernels: computed in float32 (float16/bfloat16 are staged through float32).
#include <cmath>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"

namespace kiln {
namespace {

template <typename F>
void applyPointwise(const TensorView& in, TensorView& outView, F f) {
  cpu::FloatInput x(in);
  cpu::FloatOutput y(outView);
  const float* src = x.data();
  float* dst = y.data();
  cpu::parallelFor(in.count(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) dst[i] = f(src[i]);
  });
  y.commit();
}

Status runActivation(const LayerParams& layer, KernelIO& io) {
  const auto type = static_cast<ActivationType>(layer.attrs.getInt("activation"));
  const auto alpha = static_cast<float>(layer.attrs.getFloat("alpha"));
  const auto beta = static_cast<float>(layer.attrs.getFloat("beta"));
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  constexpr float kInvSqrt2 = 0.7071067811865476f;
  switch (type) {
    case ActivationType::kRELU: applyPointwise(in, out, [](float x) { return x > 0.f ? x : 0.f; }); break;
    case ActivationType::kSIGMOID: applyPointwise(in, out, [](float x) { return 1.f / (1.f + std::exp(-x)); }); break;
    case ActivationType::kTANH: applyPointwise(in, out, [](float x) { return std::tanh(x); }); break;
    case ActivationType::kLEAKY_RELU: applyPointwise(in, out, [=](float x) { return x >= 0.f ? x : alpha * x; }); break;
    case ActivationType::kELU:
      applyPointwise(in, out, [=](float x) { return x >= 0.f ? x : alpha * std::expm1(x); });
      break;
    case ActivationType::kSELU:
      applyPointwise(in, out, [=](float x) { return beta * (x > 0.f ? x : alpha * std::expm1(x)); });
      break;
    case ActivationType::kSOFTSIGN: applyPointwise(in, out, [](float x) { return x / (1.f + std::fabs(x)); }); break;
    case ActivationType::kSOFTPLUS:
      // log1p(exp(z)) overflows for large z, where it equals z.
      applyPointwise(in, out, [=](float x) {
        const float z = beta * x;
        return alpha * (z > 20.f ? z : std::log1p(std::exp(z)));
      });
      break;
    case ActivationType::kCLIP:
      applyPointwise(in, out, [=](float x) { return std::isnan(x) ? x : std::fmax(alpha, std::fmin(beta, x)); });
      break;
    case ActivationType::kHARD_SIGMOID:
      applyPointwise(in, out, [=](float x) { return std::fmax(0.f, std::fmin(1.f, alpha * x + beta)); });
      break;
    case ActivationType::kSCALED_TANH:
      applyPointwise(in, out, [=](float x) { return alpha * std::tanh(beta * x); });
      break;
    case ActivationType::kTHRESHOLDED_RELU:
      applyPointwise(in, out, [=](float x) { return x > alpha ? x : 0.f; });
      break;
    case ActivationType::kGELU_ERF:
      applyPointwise(in, out, [=](float x) { return 0.5f * x * (1.f + std::erf(x * kInvSqrt2)); });
      break;
    case ActivationType::kGELU_TANH:
      applyPointwise(in, out, [=](float x) {
        return 0.5f * x * (1.f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
      });
      break;
  }
  return Status::ok();
}

}  // namespace

void registerActivationCpuKernels(CpuKernelTable& table) {
  table.add(LayerType::kACTIVATION, {"cpu_activation", runActivation});
}

}  // namespace kiln
