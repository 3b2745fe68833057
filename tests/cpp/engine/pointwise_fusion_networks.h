// Shared by the pointwise fusion tests: the networks they fuse (GPT-2's decomposed tanh-GELU, SiLU, hard-swish,
// ConvNeXt's layer scale, broadcasting and cast chains) and helpers that build them with fusion on or off.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "engine/builder_pointwise_fusion.h"
#include "engine/network_impl.h"
#include "engine/pointwise_program.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {

inline constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);

class ScopedFusionSetting {
 public:
  explicit ScopedFusionSetting(const char* value) {
    const char* old = std::getenv("KILN_FUSE_POINTWISE");
    hadOld_ = old != nullptr;
    if (hadOld_) old_ = old;
    setenv("KILN_FUSE_POINTWISE", value, 1);
  }
  ~ScopedFusionSetting() {
    if (hadOld_) {
      setenv("KILN_FUSE_POINTWISE", old_.c_str(), 1);
    } else {
      unsetenv("KILN_FUSE_POINTWISE");
    }
  }

 private:
  bool hadOld_ = false;
  std::string old_;
};

inline ITensor* constant(NetworkDefinition& net, DataType type, const Dims& dims, const std::vector<double>& values) {
  HostTensor t = makeTensor(type, dims, values);
  return net.addConstant(dims, Weights{type, t.data(), volume(dims)})->getOutput(0);
}
inline ITensor* scalar(NetworkDefinition& net, DataType type, double value, int32_t rank) {
  Dims dims;
  dims.nbDims = rank;
  for (int32_t i = 0; i < rank; ++i) dims.d[i] = 1;
  return constant(net, type, dims, {value});
}
inline ITensor* binary(NetworkDefinition& net, ITensor& a, ITensor& b, ElementWiseOperation op) {
  return net.addElementWise(a, b, op)->getOutput(0);
}

// GPT-2's gelu as torch decomposes it: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * pow(x, 3)))).
inline NetworkFn geluTanhNetwork(DataType type) {
  return [type](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    ITensor& x = *in[0];
    const int32_t r = x.getDimensions().nbDims;
    ITensor* cube = binary(net, x, *scalar(net, type, 3.0, r), ElementWiseOperation::kPOW);
    ITensor* scaled = binary(net, *cube, *scalar(net, type, 0.044715, r), ElementWiseOperation::kPROD);
    ITensor* inner = binary(net, x, *scaled, ElementWiseOperation::kSUM);
    ITensor* arg = binary(net, *inner, *scalar(net, type, 0.7978845608028654, r), ElementWiseOperation::kPROD);
    ITensor* t = net.addActivation(*arg, ActivationType::kTANH)->getOutput(0);
    ITensor* onePlus = binary(net, *t, *scalar(net, type, 1.0, r), ElementWiseOperation::kSUM);
    ITensor* half = binary(net, x, *scalar(net, type, 0.5, r), ElementWiseOperation::kPROD);
    net.markOutput(*binary(net, *half, *onePlus, ElementWiseOperation::kPROD));
  };
}

inline NetworkFn siluNetwork() {
  return [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    ITensor* s = net.addActivation(*in[0], ActivationType::kSIGMOID)->getOutput(0);
    net.markOutput(*binary(net, *in[0], *s, ElementWiseOperation::kPROD));
  };
}

inline NetworkFn hardSwishNetwork() {
  return [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    auto* hs = net.addActivation(*in[0], ActivationType::kHARD_SIGMOID);
    hs->setAlpha(1.f / 6.f);
    hs->setBeta(0.5f);
    net.markOutput(*binary(net, *in[0], *hs->getOutput(0), ElementWiseOperation::kPROD));
  };
}

// ConvNeXt's block end: x + gamma * h, gamma a per-channel constant (too large to become an immediate).
inline NetworkFn layerScaleNetwork(DataType type) {
  return [type](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    std::vector<double> gamma;
    for (int i = 0; i < 8; ++i) gamma.push_back(0.1 * (i + 1) - 0.35);
    ITensor* g = constant(net, type, Dims{1, 1, 8}, gamma);
    ITensor* scaled = binary(net, *g, *in[1], ElementWiseOperation::kPROD);
    net.markOutput(*binary(net, *in[0], *scaled, ElementWiseOperation::kSUM));
  };
}

// a [2,3,4], b [3,1], c [4]: exp(a * b - c) / (1 + |b|). The [3,1] chain is its own group.
inline NetworkFn broadcastNetwork() {
  return [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    ITensor* ab = binary(net, *in[0], *in[1], ElementWiseOperation::kPROD);
    ITensor* e =
        net.addUnary(*binary(net, *ab, *in[2], ElementWiseOperation::kSUB), UnaryOperation::kEXP)->getOutput(0);
    ITensor* absB = net.addUnary(*in[1], UnaryOperation::kABS)->getOutput(0);
    ITensor* denom = binary(net, *absB, *scalar(net, DataType::kFLOAT, 1.0, 2), ElementWiseOperation::kSUM);
    net.markOutput(*binary(net, *e, *denom, ElementWiseOperation::kDIV));
  };
}

// float16 in, float32 math, bfloat16 out: the casts round where the unfused network's tensors would.
inline NetworkFn castNetwork() {
  return [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    ITensor* f = net.addCast(*in[0], DataType::kFLOAT)->getOutput(0);
    ITensor* m = binary(net, *f, *scalar(net, DataType::kFLOAT, 3.0, 2), ElementWiseOperation::kPROD);
    ITensor* s = net.addActivation(*m, ActivationType::kSIGMOID)->getOutput(0);
    ITensor* h = net.addCast(*s, DataType::kHALF)->getOutput(0);
    ITensor* r = net.addUnary(*h, UnaryOperation::kSQRT)->getOutput(0);
    net.markOutput(*net.addCast(*r, DataType::kBF16)->getOutput(0));
  };
}

inline HostTensor runWithFusion(const char* setting, const NetworkFn& define, const std::vector<TestInput>& inputs) {
  ScopedFusionSetting fusion(setting);
  RunResult result = buildAndRun(define, inputs);
  EXPECT_TRUE(result.status.isOk()) << "KILN_FUSE_POINTWISE=" << setting << ": " << result.status.toString();
  return result.ordered.empty() ? HostTensor() : result.ordered[0];
}

inline void expectFusedMatchesUnfused(const NetworkFn& define, const std::vector<TestInput>& inputs, double atol,
                                      double rtol) {
  const HostTensor fused = runWithFusion("1", define, inputs);
  const HostTensor unfused = runWithFusion("0", define, inputs);
  ASSERT_EQ(fused.type, unfused.type);
  expectClose(fused, unfused, atol, rtol);
}

struct FusedBuild {
  BuildReport report;
  std::vector<uint8_t> plan;
  int32_t pointwiseLayers = 0;
  std::string kernels;  // the fused layers' kernel names
};

// Builds with fusion on (static shapes) and inspects the engine the plan loads as.
inline FusedBuild buildFused(const NetworkFn& define, const std::vector<TestInput>& inputs) {
  ScopedFusionSetting fusion("1");
  FusedBuild out;
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  std::vector<ITensor*> tensors;
  for (const TestInput& in : inputs) tensors.push_back(net->addInput(in.name.c_str(), in.value.type, in.value.dims));
  define(*net, tensors);
  auto config = builder.createBuilderConfig();
  config->setBackend(testBackend());
  auto plan = builder.buildSerializedNetwork(*net, *config);
  EXPECT_TRUE(plan.isOk()) << plan.status().toString();
  if (!plan.isOk()) return out;
  out.report = builder.lastBuildReport();
  out.plan = plan.value()->bytes();
  Runtime runtime;
  auto engine = runtime.deserializeEngine(out.plan.data(), out.plan.size());
  EXPECT_TRUE(engine.isOk()) << engine.status().toString();
  if (!engine.isOk()) return out;
  auto inspector = engine.value()->createEngineInspector();
  for (int32_t l = 0; l < inspector->getNbLayers(); ++l) {
    const LayerDescription d = inspector->getLayerInformation(l);
    if (d.type != "PointWise") continue;
    ++out.pointwiseLayers;
    out.kernels += d.kernel + " ";
  }
  return out;
}

inline std::vector<TestInput> oneInput(DataType type, const Dims& dims, uint64_t seed, double lo = -3.0,
                                       double hi = 3.0) {
  return {{"x", randomTensor(type, dims, seed, lo, hi)}};
}

// ---- the pass on graphs ------------------------------------------------------------------------------------

inline Graph graphOf(const NetworkFn& define, const std::vector<std::pair<DataType, Dims>>& inputs) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  std::vector<ITensor*> tensors;
  for (size_t i = 0; i < inputs.size(); ++i) {
    tensors.push_back(net->addInput(("in" + std::to_string(i)).c_str(), inputs[i].first, inputs[i].second));
  }
  define(*net, tensors);
  StatusOr<Graph> g = net->impl().toGraph();
  EXPECT_TRUE(g.isOk()) << g.status().toString();
  return g.isOk() ? std::move(g).value() : Graph();
}

inline int32_t countType(const Graph& g, LayerType type) {
  int32_t n = 0;
  for (const LayerInfo& l : g.layers) n += l.params.type == type ? 1 : 0;
  return n;
}

inline const LayerInfo* onlyPointwise(const Graph& g) {
  const LayerInfo* found = nullptr;
  for (const LayerInfo& l : g.layers) {
    if (l.params.type != LayerType::kPOINTWISE) continue;
    if (found != nullptr) return nullptr;
    found = &l;
  }
  return found;
}

}  // namespace testing
}  // namespace kiln
