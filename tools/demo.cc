#include "demo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <random>

#include "kiln/kiln.h"

namespace kiln {
namespace tools {
namespace {

constexpr int64_t kIN = 256, kHIDDEN = 1024, kOUT = 10;

struct Mlp {
  std::vector<float> w1, b1, w2, b2;
};

// The same network computed directly, in double: the demo's independent check.
std::vector<float> reference(const Mlp& m, const std::vector<float>& x, int64_t batch) {
  std::vector<float> out(static_cast<size_t>(batch * kOUT));
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<double> h(kHIDDEN);
    for (int64_t j = 0; j < kHIDDEN; ++j) {
      double s = m.b1[static_cast<size_t>(j)];
      for (int64_t i = 0; i < kIN; ++i) s += x[static_cast<size_t>(b * kIN + i)] * m.w1[static_cast<size_t>(i * kHIDDEN + j)];
      h[static_cast<size_t>(j)] = 0.5 * s * (1 + std::erf(s / std::sqrt(2.0)));
    }
    std::vector<double> logits(kOUT);
    double maxLogit = -1e300, sum = 0;
    for (int64_t k = 0; k < kOUT; ++k) {
      double s = m.b2[static_cast<size_t>(k)];
      for (int64_t j = 0; j < kHIDDEN; ++j) s += h[static_cast<size_t>(j)] * m.w2[static_cast<size_t>(j * kOUT + k)];
      logits[static_cast<size_t>(k)] = s;
      maxLogit = std::max(maxLogit, s);
    }
    for (double& l : logits) sum += std::exp(l - maxLogit);
    for (int64_t k = 0; k < kOUT; ++k) {
      out[static_cast<size_t>(b * kOUT + k)] = static_cast<float>(std::exp(logits[static_cast<size_t>(k)] - maxLogit) / sum);
    }
  }
  return out;
}

ITensor* dense(NetworkDefinition& net, ITensor& x, const std::vector<float>& w, const std::vector<float>& b, int64_t in,
               int64_t out, const char* name) {
  IConstantLayer* weights = net.addConstant(Dims{in, out}, Weights{DataType::kFLOAT, w.data(), in * out});
  IConstantLayer* bias = net.addConstant(Dims{1, out}, Weights{DataType::kFLOAT, b.data(), out});
  IMatrixMultiplyLayer* mm = net.addMatrixMultiply(x, MatrixOperation::kNONE, *weights->getOutput(0), MatrixOperation::kNONE);
  mm->setName((std::string(name) + "_matmul").c_str());
  IElementWiseLayer* add = net.addElementWise(*mm->getOutput(0), *bias->getOutput(0), ElementWiseOperation::kSUM);
  add->setName((std::string(name) + "_bias").c_str());
  return add->getOutput(0);
}

}  // namespace

int runDemo(const std::string& savePlanPath) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.f, 0.05f);
  Mlp m;
  for (auto* v : {&m.w1, &m.b1, &m.w2, &m.b2}) v->clear();
  for (int64_t i = 0; i < kIN * kHIDDEN; ++i) m.w1.push_back(normal(rng));
  for (int64_t i = 0; i < kHIDDEN; ++i) m.b1.push_back(normal(rng));
  for (int64_t i = 0; i < kHIDDEN * kOUT; ++i) m.w2.push_back(normal(rng));
  for (int64_t i = 0; i < kOUT; ++i) m.b2.push_back(normal(rng));

  Builder builder;
  auto net = builder.createNetworkV2(1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED));
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, kIN});
  ITensor* h = dense(*net, *x, m.w1, m.b1, kIN, kHIDDEN, "fc1");
  IActivationLayer* gelu = net->addActivation(*h, ActivationType::kGELU_ERF);
  gelu->setName("gelu");
  ITensor* logits = dense(*net, *gelu->getOutput(0), m.w2, m.b2, kHIDDEN, kOUT, "fc2");
  ISoftMaxLayer* softmax = net->addSoftMax(*logits);
  softmax->setAxes(1u << 1);
  softmax->setName("softmax");
  softmax->getOutput(0)->setName("probabilities");
  net->markOutput(*softmax->getOutput(0));

  auto config = builder.createBuilderConfig();
  config->setBackend(BackendKind::kCPU);
  auto profile = builder.createOptimizationProfile();
  (void)profile->setDimensions("x", OptProfileSelector::kMIN, Dims{1, kIN});
  (void)profile->setDimensions("x", OptProfileSelector::kOPT, Dims{32, kIN});
  (void)profile->setDimensions("x", OptProfileSelector::kMAX, Dims{64, kIN});
  config->addOptimizationProfile(profile.get());
  auto plan = builder.buildSerializedNetwork(*net, *config);
  if (!plan.isOk()) {
    std::cerr << "kiln demo: build failed: " << plan.status().toString() << "\n";
    return 1;
  }
  const BuildReport& report = builder.lastBuildReport();
  std::cout << "Built a " << report.layersAfter << "-layer MLP (" << kIN << "->" << kHIDDEN << "->" << kOUT
            << ", dynamic batch 1..64) for the CPU in " << report.buildSeconds * 1e3 << " ms; plan "
            << plan.value()->size() << " bytes, activation memory " << report.plannedActivationBytes << " of "
            << report.totalActivationBytes << " bytes\n";
  if (!savePlanPath.empty()) {
    std::ofstream(savePlanPath, std::ios::binary)
        .write(static_cast<const char*>(plan.value()->data()), static_cast<std::streamsize>(plan.value()->size()));
    std::cout << "Saved the plan to " << savePlanPath << " (try: kiln inspect " << savePlanPath << ")\n";
  }
  Runtime runtime;
  auto engine = runtime.deserializeEngine(plan.value()->data(), plan.value()->size());
  if (!engine.isOk()) {
    std::cerr << "kiln demo: " << engine.status().toString() << "\n";
    return 1;
  }
  auto context = engine.value()->createExecutionContext();
  ExecutionContext& ctx = *context.value();
  int failures = 0;
  for (int64_t batch : {1, 8, 64}) {
    std::vector<float> input(static_cast<size_t>(batch * kIN));
    for (float& v : input) v = std::uniform_real_distribution<float>(-1.f, 1.f)(rng);
    std::vector<float> output(static_cast<size_t>(batch * kOUT));
    Status s = ctx.setInputShape("x", Dims{batch, kIN});
    if (s.isOk()) s = ctx.setInputTensorAddress("x", input.data());
    if (s.isOk()) s = ctx.setTensorAddress("probabilities", output.data());
    if (s.isOk()) s = ctx.enqueueV3(nullptr);
    if (!s.isOk()) {
      std::cerr << "kiln demo: " << s.toString() << "\n";
      return 1;
    }
    std::vector<double> times;
    for (int it = 0; it < 20; ++it) {
      const auto start = std::chrono::steady_clock::now();
      (void)ctx.enqueueV3(nullptr);
      times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::sort(times.begin(), times.end());
    const std::vector<float> expected = reference(m, input, batch);
    double maxErr = 0;
    for (size_t i = 0; i < output.size(); ++i) maxErr = std::max(maxErr, std::fabs(double(output[i]) - expected[i]));
    const bool ok = maxErr < 1e-5;
    failures += ok ? 0 : 1;
    std::cout << "batch " << batch << ": max |kiln - reference| = " << maxErr << (ok ? " (ok)" : " (MISMATCH)")
              << ", median " << times[times.size() / 2] << " ms; probabilities[0][:3] = " << output[0] << " "
              << output[1] << " " << output[2] << "\n";
  }
  Status bad = ctx.setInputShape("x", Dims{65, kIN});
  std::cout << "A batch outside the profile is refused: " << bad.toString() << "\n";
  return failures == 0 && !bad.isOk() ? 0 : 1;
}

}  // namespace tools
}  // namespace kiln
