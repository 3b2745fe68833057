// Recorded launches (CUDA graphs): replays must see new input values, new I/O addresses and new shapes. On the
// CPU backend nothing is recorded and the same runs must give the same answers.
#include <gtest/gtest.h>

#include <cstring>

#include "engine/backend.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);

class GraphReplay : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = getBackend(testBackend());
    ASSERT_TRUE(b.isOk()) << b.status().toString();
    device_ = b.value();
    Builder builder;
    auto net = builder.createNetworkV2(kSTRONG);
    ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 4});
    ITensor* y = net->addActivation(*x, ActivationType::kRELU)->getOutput(0);
    ITensor* z = net->addElementWise(*y, *x, ElementWiseOperation::kSUM)->getOutput(0);  // relu(x) + x
    net->markOutput(*z);
    auto profile = builder.createOptimizationProfile();
    ASSERT_TRUE(profile->setDimensions("x", OptProfileSelector::kMIN, Dims{1, 4}).isOk());
    ASSERT_TRUE(profile->setDimensions("x", OptProfileSelector::kOPT, Dims{2, 4}).isOk());
    ASSERT_TRUE(profile->setDimensions("x", OptProfileSelector::kMAX, Dims{8, 4}).isOk());
    auto config = builder.createBuilderConfig();
    config->setBackend(testBackend());
    config->addOptimizationProfile(profile.get());
    auto plan = builder.buildSerializedNetwork(*net, *config);
    ASSERT_TRUE(plan.isOk()) << plan.status().toString();
    Runtime runtime;
    auto engine = runtime.deserializeEngine(plan.value()->data(), plan.value()->size());
    ASSERT_TRUE(engine.isOk());
    engine_ = std::move(engine).value();
    auto ctx = engine_->createExecutionContext();
    ASSERT_TRUE(ctx.isOk());
    ctx_ = std::move(ctx).value();
    for (int i = 0; i < 4; ++i) {
      auto mem = device_->allocate(8 * 4 * 4);
      ASSERT_TRUE(mem.isOk());
      buffers_.push_back(mem.value());
    }
  }
  void TearDown() override {
    for (void* p : buffers_) device_->deallocate(p);
  }

  // Runs relu(x)+x for `rows` rows of values starting at `base`, input in buffer `in`, output in buffer `out`.
  void runAndCheck(int rows, float base, int in, int out) {
    std::vector<float> x(static_cast<size_t>(rows) * 4);
    for (size_t i = 0; i < x.size(); ++i) x[i] = base - static_cast<float>(i);
    ASSERT_TRUE(device_->copyToDevice(buffers_[in], x.data(), static_cast<int64_t>(x.size() * 4), nullptr).isOk());
    ASSERT_TRUE(ctx_->setInputShape("x", Dims{rows, 4}).isOk());
    ASSERT_TRUE(ctx_->setTensorAddress("x", buffers_[in]).isOk());
    ASSERT_TRUE(ctx_->setTensorAddress(engine_->getIOTensorName(1), buffers_[out]).isOk());
    Status s = ctx_->enqueueV3(nullptr);
    ASSERT_TRUE(s.isOk()) << s.toString();
    std::vector<float> z(x.size());
    ASSERT_TRUE(device_->copyToHost(z.data(), buffers_[out], static_cast<int64_t>(z.size() * 4), nullptr).isOk());
    ASSERT_TRUE(device_->synchronize(nullptr).isOk());
    for (size_t i = 0; i < x.size(); ++i) EXPECT_FLOAT_EQ(z[i], (x[i] > 0 ? x[i] : 0.f) + x[i]) << "element " << i;
  }

  std::shared_ptr<Backend> device_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<ExecutionContext> ctx_;
  std::vector<void*> buffers_;
};

TEST_F(GraphReplay, ReplaysSeeNewValuesAddressesAndShapes) {
  const bool cuda = testBackend() == BackendKind::kCUDA;
  EXPECT_TRUE(ctx_->getCudaGraphsEnabled());
  runAndCheck(2, 3.f, 0, 1);  // warm-up, layer by layer
  EXPECT_EQ(ctx_->getCudaGraphCaptureCount(), 0);
  runAndCheck(2, 4.f, 0, 1);  // recorded
  runAndCheck(2, 5.f, 0, 1);  // replayed with new input values
  EXPECT_EQ(ctx_->getCudaGraphCaptureCount(), cuda ? 1 : 0);
  runAndCheck(2, 1.f, 2, 3);  // new addresses: warm-up, then recorded
  runAndCheck(2, 1.5f, 2, 3);
  runAndCheck(2, 2.f, 0, 1);  // the first addresses again: replayed
  EXPECT_EQ(ctx_->getCudaGraphCaptureCount(), cuda ? 2 : 0);
  runAndCheck(5, 4.f, 0, 1);  // a new shape
  runAndCheck(5, 3.f, 0, 1);
  EXPECT_EQ(ctx_->getCudaGraphCaptureCount(), cuda ? 3 : 0);
  ctx_->setCudaGraphsEnabled(false);
  runAndCheck(3, 2.f, 2, 1);
  EXPECT_EQ(ctx_->getCudaGraphCaptureCount(), cuda ? 3 : 0);
}

class CountingProfiler : public IProfiler {
 public:
  void reportLayerTime(const char* name, const char* type, float startMs, float ms) override {
    names.push_back(name);
    EXPECT_GE(ms, 0.f);
    EXPECT_GE(startMs, 0.f);
  }
  std::vector<std::string> names;
};

TEST_F(GraphReplay, ProfilerReportsEachLayerOfEachRun) {
  CountingProfiler profiler;
  ctx_->setProfiler(&profiler);
  runAndCheck(2, 3.f, 0, 1);
  runAndCheck(3, 3.f, 0, 1);
  // Every engine layer, each run: relu and add are two layers on the CPU, one fused pointwise layer on CUDA.
  const auto perRun = static_cast<size_t>(engine_->getNbLayers());
  EXPECT_GE(perRun, 1u);
  EXPECT_EQ(profiler.names.size(), 2 * perRun);
  EXPECT_EQ(ctx_->getCudaGraphCaptureCount(), 0);
  ctx_->setProfiler(nullptr);
  runAndCheck(2, 3.f, 0, 1);
  EXPECT_EQ(profiler.names.size(), 2 * perRun);
}

}  // namespace
}  // namespace testing
}  // namespace kiln
