// CUDA activation kernels: all 14 ActivationType functions on float32/float16/bfloat16, computed in float32
// with the CPU reference's formulas (backends/cpu/activation.cc) and rounded to the output type once.
// Inputs and outputs share a shape, so one flat pass with 128-bit accesses covers every layer; the
// activation is a template parameter so each kernel has a single straight-line body.
// Layer attributes: "activation", "alpha", "beta" (layers/activation.cc).
#include "engine/backends/cuda/pointwise_common.cuh"
#include "engine/backends/cuda/pointwise_kernels.h"

namespace kiln {
namespace cuda {
namespace {

template <ActivationType A>
struct ActivationFn {
  float alpha;
  float beta;

  __device__ __forceinline__ float operator()(float x) const {
    constexpr float kSqrt2OverPi = 0.7978845608028654f;
    constexpr float kInvSqrt2 = 0.7071067811865476f;
    if constexpr (A == ActivationType::kRELU) {
      return x > 0.f ? x : 0.f;
    } else if constexpr (A == ActivationType::kSIGMOID) {
      return 1.f / (1.f + expf(-x));
    } else if constexpr (A == ActivationType::kTANH) {
      return tanhf(x);
    } else if constexpr (A == ActivationType::kLEAKY_RELU) {
      return x >= 0.f ? x : alpha * x;
    } else if constexpr (A == ActivationType::kELU) {
      return x >= 0.f ? x : alpha * expm1f(x);
    } else if constexpr (A == ActivationType::kSELU) {
      return beta * (x > 0.f ? x : alpha * expm1f(x));
    } else if constexpr (A == ActivationType::kSOFTSIGN) {
      return x / (1.f + fabsf(x));
    } else if constexpr (A == ActivationType::kSOFTPLUS) {
      const float z = beta * x;
      return alpha * (z > 20.f ? z : log1pf(expf(z)));  // log1p(exp(z)) overflows where it equals z
    } else if constexpr (A == ActivationType::kCLIP) {
      return isnan(x) ? x : fmaxf(alpha, fminf(beta, x));
    } else if constexpr (A == ActivationType::kHARD_SIGMOID) {
      return fmaxf(0.f, fminf(1.f, alpha * x + beta));
    } else if constexpr (A == ActivationType::kSCALED_TANH) {
      return alpha * tanhf(beta * x);
    } else if constexpr (A == ActivationType::kTHRESHOLDED_RELU) {
      return x > alpha ? x : 0.f;
    } else if constexpr (A == ActivationType::kGELU_ERF) {
      return 0.5f * x * (1.f + erff(x * kInvSqrt2));
    } else {
      static_assert(A == ActivationType::kGELU_TANH, "every activation has a formula");
      return 0.5f * x * (1.f + tanhf(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
    }
  }
};

// Loads T, computes in float32, stores T.
template <typename T, typename Fn>
struct ThroughFloat {
  Fn fn;
  __device__ __forceinline__ T operator()(T x) const { return pw::fromF<T>(fn(pw::toF(x))); }
};

template <ActivationType A>
Status launchActivation(const TensorView& in, TensorView& out, float alpha, float beta, cudaStream_t stream) {
  return pw::dispatchFloatStorage(in.type, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return pw::launchMap<T, T>(in.data, out.data, in.count(), ThroughFloat<T, ActivationFn<A>>{{alpha, beta}},
                               stream);
  });
}

Status runActivation(const LayerParams& layer, KernelIO& io) {
  const auto type = static_cast<ActivationType>(layer.attrs.getInt("activation"));
  const auto alpha = static_cast<float>(layer.attrs.getFloat("alpha"));
  const auto beta = static_cast<float>(layer.attrs.getFloat("beta"));
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  if (out.type != in.type || out.count() != in.count()) {
    return internalError("activation output does not match its input's type and shape");
  }
  const cudaStream_t s = streamOf(io);
  switch (type) {
    case ActivationType::kRELU: return launchActivation<ActivationType::kRELU>(in, out, alpha, beta, s);
    case ActivationType::kSIGMOID: return launchActivation<ActivationType::kSIGMOID>(in, out, alpha, beta, s);
    case ActivationType::kTANH: return launchActivation<ActivationType::kTANH>(in, out, alpha, beta, s);
    case ActivationType::kLEAKY_RELU: return launchActivation<ActivationType::kLEAKY_RELU>(in, out, alpha, beta, s);
    case ActivationType::kELU: return launchActivation<ActivationType::kELU>(in, out, alpha, beta, s);
    case ActivationType::kSELU: return launchActivation<ActivationType::kSELU>(in, out, alpha, beta, s);
    case ActivationType::kSOFTSIGN: return launchActivation<ActivationType::kSOFTSIGN>(in, out, alpha, beta, s);
    case ActivationType::kSOFTPLUS: return launchActivation<ActivationType::kSOFTPLUS>(in, out, alpha, beta, s);
    case ActivationType::kCLIP: return launchActivation<ActivationType::kCLIP>(in, out, alpha, beta, s);
    case ActivationType::kHARD_SIGMOID:
      return launchActivation<ActivationType::kHARD_SIGMOID>(in, out, alpha, beta, s);
    case ActivationType::kSCALED_TANH:
      return launchActivation<ActivationType::kSCALED_TANH>(in, out, alpha, beta, s);
    case ActivationType::kTHRESHOLDED_RELU:
      return launchActivation<ActivationType::kTHRESHOLDED_RELU>(in, out, alpha, beta, s);
    case ActivationType::kGELU_ERF: return launchActivation<ActivationType::kGELU_ERF>(in, out, alpha, beta, s);
    case ActivationType::kGELU_TANH: return launchActivation<ActivationType::kGELU_TANH>(in, out, alpha, beta, s);
  }
  return invalidArgument("unknown activation type " + std::to_string(static_cast<int>(type)));
}

// The CPU accepts exactly what shape inference lets through: float32/float16/bfloat16.
bool supportsActivation(const LayerInfo& layer, const Graph& graph) {
  return !layer.inputs.empty() && layer.inputs[0] >= 0 &&
         isFloatType(graph.tensors[static_cast<size_t>(layer.inputs[0])].type);
}

}  // namespace

void registerActivationCudaTactics(CudaKernelTable& table) {
  CudaTactic tactic;
  tactic.name = "cuda_activation";
  tactic.run = runActivation;
  tactic.supports = supportsActivation;
  table.add(LayerType::kACTIVATION, std::move(tactic));
}

}  // namespace cuda
}  // namespace kiln
