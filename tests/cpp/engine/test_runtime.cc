// Runtime: profiles, bindings, errors that name the tensor, output shapes before enqueue, threads.
#include <cmath>
#include <thread>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);

// y = tanh(x) + b, x dynamic [-1, 4]; two profiles: batch 1..4 and 5..16.
std::unique_ptr<Engine> buildEngine() {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 4});
  const float bias[] = {1, 2, 3, 4};
  ITensor* b = net->addConstant(Dims{1, 4}, Weights{DataType::kFLOAT, bias, 4})->getOutput(0);
  ITensor* t = net->addActivation(*x, ActivationType::kTANH)->getOutput(0);
  ITensor* y = net->addElementWise(*t, *b, ElementWiseOperation::kSUM)->getOutput(0);
  y->setName("y");
  net->markOutput(*y);
  auto config = builder.createBuilderConfig();
  auto small = builder.createOptimizationProfile();
  (void)small->setDimensions("x", OptProfileSelector::kMIN, Dims{1, 4});
  (void)small->setDimensions("x", OptProfileSelector::kOPT, Dims{2, 4});
  (void)small->setDimensions("x", OptProfileSelector::kMAX, Dims{4, 4});
  auto large = builder.createOptimizationProfile();
  (void)large->setDimensions("x", OptProfileSelector::kMIN, Dims{5, 4});
  (void)large->setDimensions("x", OptProfileSelector::kOPT, Dims{8, 4});
  (void)large->setDimensions("x", OptProfileSelector::kMAX, Dims{16, 4});
  config->addOptimizationProfile(small.get());
  config->addOptimizationProfile(large.get());
  auto plan = builder.buildSerializedNetwork(*net, *config);
  EXPECT_TRUE(plan.isOk()) << plan.status().toString();
  Runtime runtime;
  auto engine = runtime.deserializeEngine(plan.value()->data(), plan.value()->size());
  EXPECT_TRUE(engine.isOk()) << engine.status().toString();
  return std::move(engine).value();
}

std::vector<float> expected(const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = std::tanh(x[i]) + static_cast<float>(i % 4 + 1);
  return y;
}

TEST(Runtime, EngineDescribesItsIO) {
  auto engine = buildEngine();
  ASSERT_EQ(engine->getNbIOTensors(), 2);
  EXPECT_STREQ(engine->getIOTensorName(0), "x");
  EXPECT_EQ(engine->getTensorIOMode("x"), TensorIOMode::kINPUT);
  EXPECT_EQ(engine->getTensorIOMode("y"), TensorIOMode::kOUTPUT);
  EXPECT_EQ(engine->getTensorIOMode("nope"), TensorIOMode::kNONE);
  EXPECT_EQ(engine->getTensorShape("x"), (Dims{-1, 4}));
  EXPECT_EQ(engine->getNbOptimizationProfiles(), 2);
  EXPECT_EQ(engine->getProfileShape("x", 1, OptProfileSelector::kMAX), (Dims{16, 4}));
  EXPECT_EQ(engine->getBackend(), BackendKind::kCPU);
}

TEST(Runtime, RunsInEitherProfileAndRejectsShapesOutsideIt) {
  auto engine = buildEngine();
  auto ctx = engine->createExecutionContext();
  ASSERT_TRUE(ctx.isOk());
  ExecutionContext& c = *ctx.value();
  Status outside = c.setInputShape("x", Dims{8, 4});
  ASSERT_FALSE(outside.isOk());
  EXPECT_EQ(outside.code(), StatusCode::kOUT_OF_RANGE);
  EXPECT_NE(outside.message().find("'x'"), std::string::npos) << outside.toString();
  EXPECT_NE(outside.message().find("[1, 4]"), std::string::npos) << outside.toString();
  ASSERT_TRUE(c.setOptimizationProfileAsync(1, nullptr).isOk());
  ASSERT_TRUE(c.setInputShape("x", Dims{8, 4}).isOk());
  EXPECT_EQ(c.getTensorShape("y"), (Dims{8, 4}));  // known before enqueue
  std::vector<float> x(32), y(32);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.1f * static_cast<float>(i) - 1.f;
  ASSERT_TRUE(c.setInputTensorAddress("x", x.data()).isOk());
  ASSERT_TRUE(c.setTensorAddress("y", y.data()).isOk());
  ASSERT_TRUE(c.enqueueV3(nullptr).isOk());
  const std::vector<float> e = expected(x);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], e[i], 1e-6);
  EXPECT_FALSE(c.setOptimizationProfileAsync(2, nullptr).isOk());
  EXPECT_FALSE(c.setInputShape("x", Dims{8, 4, 1}).isOk());
  EXPECT_EQ(c.setInputShape("z", Dims{8, 4}).code(), StatusCode::kNOT_FOUND);
}

TEST(Runtime, MissingShapesAndBindingsNameTheTensor) {
  auto engine = buildEngine();
  auto ctx = engine->createExecutionContext();
  ExecutionContext& c = *ctx.value();
  Status s = c.enqueueV3(nullptr);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("setInputShape"), std::string::npos) << s.toString();
  ASSERT_TRUE(c.setInputShape("x", Dims{2, 4}).isOk());
  s = c.enqueueV3(nullptr);
  EXPECT_NE(s.message().find("input 'x' has no address"), std::string::npos) << s.toString();
  std::vector<float> x(8), y(8);
  ASSERT_TRUE(c.setInputTensorAddress("x", x.data()).isOk());
  s = c.enqueueV3(nullptr);
  EXPECT_NE(s.message().find("output 'y' has no address"), std::string::npos) << s.toString();
  EXPECT_FALSE(c.setInputTensorAddress("y", y.data()).isOk());
}

TEST(Runtime, CheckedBindingRejectsWrongDtypesAndShapes) {
  auto engine = buildEngine();
  auto ctx = engine->createExecutionContext();
  ExecutionContext& c = *ctx.value();
  std::vector<float> x(8), y(8);
  Status s = c.bindTensor("x", x.data(), DataType::kHALF, Dims{2, 4});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("input 'x' must be float32, got float16"), std::string::npos) << s.toString();
  ASSERT_TRUE(c.bindTensor("x", x.data(), DataType::kFLOAT, Dims{2, 4}).isOk());
  s = c.bindTensor("y", y.data(), DataType::kFLOAT, Dims{4, 2});
  EXPECT_NE(s.message().find("output 'y' has shape [2,4]"), std::string::npos) << s.toString();
  ASSERT_TRUE(c.bindTensor("y", y.data(), DataType::kFLOAT, Dims{2, 4}).isOk());
  EXPECT_TRUE(c.enqueueV3(nullptr).isOk());
}

TEST(Runtime, ContextsOfOneEngineRunConcurrently) {
  auto engine = buildEngine();
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto ctx = engine->createExecutionContext();
      ExecutionContext& c = *ctx.value();
      for (int it = 0; it < 50; ++it) {
        const int64_t batch = 1 + (t + it) % 4;
        std::vector<float> x(static_cast<size_t>(batch * 4)), y(x.size());
        for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(t) - 0.01f * static_cast<float>(i + it);
        if (!c.setInputShape("x", Dims{batch, 4}).isOk() || !c.setInputTensorAddress("x", x.data()).isOk() ||
            !c.setTensorAddress("y", y.data()).isOk() || !c.enqueueV3(nullptr).isOk()) {
          ++failures[static_cast<size_t>(t)];
          continue;
        }
        const std::vector<float> e = expected(x);
        for (size_t i = 0; i < y.size(); ++i) {
          if (std::fabs(y[i] - e[i]) > 1e-6f) ++failures[static_cast<size_t>(t)];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

// Without a GPU (or without the CUDA backend) a CUDA build fails with a message that says so; with one it runs.
TEST(Runtime, CudaPlansNeedACudaBuildAndAGpu) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2});
  net->markOutput(*net->addActivation(*x, ActivationType::kRELU)->getOutput(0));
  auto config = builder.createBuilderConfig();
  config->setBackend(BackendKind::kCUDA);
  auto plan = builder.buildSerializedNetwork(*net, *config);
  if (!plan.isOk()) {
    EXPECT_TRUE(plan.status().code() == StatusCode::kUNIMPLEMENTED ||
                plan.status().code() == StatusCode::kFAILED_PRECONDITION) << plan.status().toString();
    EXPECT_NE(plan.status().message().find("CUDA"), std::string::npos) << plan.status().toString();
    return;
  }
  Runtime runtime;
  auto engine = runtime.deserializeEngine(plan.value()->data(), plan.value()->size());
  ASSERT_TRUE(engine.isOk()) << engine.status().toString();
  EXPECT_EQ(engine.value()->getBackend(), BackendKind::kCUDA);
}

}  // namespace
}  // namespace testing
}  // namespace kiln
