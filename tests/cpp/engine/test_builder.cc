// Builder: profiles, constant folding, precision assignment, tactic timing with a timing cache, memory plan.
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);

StatusOr<std::unique_ptr<Engine>> load(const HostMemory& plan) {
  Runtime runtime;
  return runtime.deserializeEngine(plan.data(), plan.size());
}

TEST(Builder, DynamicInputsNeedAProfile) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("images", DataType::kFLOAT, Dims{-1, 3});
  net->markOutput(*net->addActivation(*x, ActivationType::kRELU)->getOutput(0));
  auto config = builder.createBuilderConfig();
  auto plan = builder.buildSerializedNetwork(*net, *config);
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find("'images'"), std::string::npos) << plan.status().toString();

  auto profile = builder.createOptimizationProfile();
  ASSERT_TRUE(profile->setDimensions("images", OptProfileSelector::kMIN, Dims{4, 3}).isOk());
  ASSERT_TRUE(profile->setDimensions("images", OptProfileSelector::kOPT, Dims{2, 3}).isOk());
  ASSERT_TRUE(profile->setDimensions("images", OptProfileSelector::kMAX, Dims{8, 3}).isOk());
  EXPECT_FALSE(profile->isValid());
  config->addOptimizationProfile(profile.get());
  plan = builder.buildSerializedNetwork(*net, *config);
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find("min <= opt <= max"), std::string::npos) << plan.status().toString();
  EXPECT_FALSE(profile->setDimensions("images", OptProfileSelector::kMIN, Dims{-1, 3}).isOk());
}

TEST(Builder, ChecksShapesAtEveryProfileCorner) {
  // a [n] + b [m] only broadcasts when n == m or one is 1: the max corner (5 vs 7) must fail the build.
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* a = net->addInput("a", DataType::kFLOAT, Dims{-1});
  ITensor* b = net->addInput("b", DataType::kFLOAT, Dims{-1});
  net->markOutput(*net->addElementWise(*a, *b, ElementWiseOperation::kSUM)->getOutput(0));
  auto profile = builder.createOptimizationProfile();
  (void)profile->setDimensions("a", OptProfileSelector::kMIN, Dims{1});
  (void)profile->setDimensions("a", OptProfileSelector::kOPT, Dims{1});
  (void)profile->setDimensions("a", OptProfileSelector::kMAX, Dims{5});
  (void)profile->setDimensions("b", OptProfileSelector::kMIN, Dims{1});
  (void)profile->setDimensions("b", OptProfileSelector::kOPT, Dims{1});
  (void)profile->setDimensions("b", OptProfileSelector::kMAX, Dims{7});
  auto config = builder.createBuilderConfig();
  config->addOptimizationProfile(profile.get());
  auto plan = builder.buildSerializedNetwork(*net, *config);
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find("profile 0 max"), std::string::npos) << plan.status().toString();
}

TEST(Builder, FoldsConstantSubgraphsAndDropsDeadLayers) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{4});
  const float a[] = {1, 2, 3, 4}, b[] = {10, 20, 30, 40};
  ITensor* ca = net->addConstant(Dims{4}, Weights{DataType::kFLOAT, a, 4})->getOutput(0);
  ITensor* cb = net->addConstant(Dims{4}, Weights{DataType::kFLOAT, b, 4})->getOutput(0);
  ITensor* folded = net->addElementWise(*ca, *cb, ElementWiseOperation::kSUM)->getOutput(0);
  ITensor* scaled = net->addUnary(*folded, UnaryOperation::kSQRT)->getOutput(0);
  net->addActivation(*x, ActivationType::kTANH);  // unused: removed
  net->markOutput(*net->addElementWise(*x, *scaled, ElementWiseOperation::kPROD)->getOutput(0));
  auto config = builder.createBuilderConfig();
  auto plan = builder.buildSerializedNetwork(*net, *config);
  ASSERT_TRUE(plan.isOk()) << plan.status().toString();
  EXPECT_EQ(builder.lastBuildReport().constantsFolded, 2);
  auto engine = load(*plan.value());
  ASSERT_TRUE(engine.isOk());
  EXPECT_EQ(engine.value()->getNbLayers(), 2);  // one constant, one product
  auto inspector = engine.value()->createEngineInspector();
  EXPECT_EQ(inspector->getLayerInformation(0).type, "Constant");
}

TEST(Builder, WeaklyTypedLayersRunInReducedPrecisionWhenAsked) {
  // 1 + 1e-4 is 1.0001 in float32 but rounds to 1 in float16.
  auto define = [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    IElementWiseLayer* add = net.addElementWise(*in[0], *in[1], ElementWiseOperation::kSUM);
    add->setPrecision(DataType::kHALF);
    net.markOutput(*add->getOutput(0));
  };
  const std::vector<TestInput> inputs = {{"a", makeTensor(DataType::kFLOAT, Dims{1}, {1.0})},
                                         {"b", makeTensor(DataType::kFLOAT, Dims{1}, {1e-4})}};
  RunOptions weak;
  weak.stronglyTyped = false;
  weak.flags = {BuilderFlag::kFP16};
  RunResult half = buildAndRun(define, inputs, weak);
  ASSERT_TRUE(half.status.isOk()) << half.status.toString();
  EXPECT_EQ(half.ordered[0].floatAt(0), 1.0);
  EXPECT_EQ(half.ordered[0].type, DataType::kFLOAT);  // I/O types stay as declared

  RunOptions strong;  // strongly typed networks ignore precision requests
  RunResult exact = buildAndRun(define, inputs, strong);
  ASSERT_TRUE(exact.status.isOk());
  EXPECT_NEAR(exact.ordered[0].floatAt(0), 1.0001, 1e-7);

  RunOptions obey;
  obey.stronglyTyped = false;
  obey.flags = {BuilderFlag::kOBEY_PRECISION_CONSTRAINTS};
  RunResult wrong = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ILayer* cast = net.addCast(*in[0], DataType::kINT32);
        cast->setPrecision(DataType::kHALF);
        net.markOutput(*cast->getOutput(0));
      },
      {inputs[0]}, obey);
  ASSERT_FALSE(wrong.status.isOk());
  EXPECT_NE(wrong.status.message().find("cannot run in float16"), std::string::npos) << wrong.status.toString();
}

std::unique_ptr<NetworkDefinition> convNetwork(Builder& builder, std::vector<float>& weights) {
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{1, 8, 16, 16});
  weights.assign(16 * 8 * 3 * 3, 0.01f);
  IConvolutionLayer* conv =
      net->addConvolutionNd(*x, 16, Dims{3, 3}, Weights{DataType::kFLOAT, weights.data(), 16 * 8 * 9}, Weights{});
  conv->setPaddingNd(Dims{1, 1});
  net->markOutput(*conv->getOutput(0));
  return net;
}

TEST(Builder, TimingCacheMakesTheSecondBuildSkipTiming) {
  Builder builder;
  std::vector<float> weights;
  auto net = convNetwork(builder, weights);
  auto config = builder.createBuilderConfig();
  auto cache = builder.createTimingCache();
  config->setTimingCache(cache.get());
  auto first = builder.buildSerializedNetwork(*net, *config);
  ASSERT_TRUE(first.isOk()) << first.status().toString();
  EXPECT_GE(builder.lastBuildReport().tacticsTimed, 1);
  EXPECT_EQ(builder.lastBuildReport().timingCacheHits, 0);
  ASSERT_GE(cache->size(), 1u);

  const std::vector<uint8_t> saved = cache->serialize();
  auto loaded = TimingCache::deserialize(saved.data(), saved.size());
  ASSERT_TRUE(loaded.isOk()) << loaded.status().toString();
  config->setTimingCache(loaded.value().get());
  auto second = builder.buildSerializedNetwork(*net, *config);
  ASSERT_TRUE(second.isOk());
  EXPECT_EQ(builder.lastBuildReport().tacticsTimed, 0);
  EXPECT_GE(builder.lastBuildReport().timingCacheHits, 1);

  std::vector<uint8_t> corrupt = saved;
  corrupt[corrupt.size() / 2] ^= 0x40;
  EXPECT_FALSE(TimingCache::deserialize(corrupt.data(), corrupt.size()).isOk());
  EXPECT_FALSE(TimingCache::deserialize(saved.data(), 10).isOk());
  EXPECT_EQ(builder.createTimingCache(corrupt.data(), corrupt.size()), nullptr);
}

TEST(Builder, MemoryPlanReusesActivationBuffers) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* t = net->addInput("x", DataType::kFLOAT, Dims{64, 64});
  for (int i = 0; i < 8; ++i) t = net->addActivation(*t, i % 2 ? ActivationType::kTANH : ActivationType::kSIGMOID)->getOutput(0);
  net->markOutput(*t);
  auto config = builder.createBuilderConfig();
  auto plan = builder.buildSerializedNetwork(*net, *config);
  ASSERT_TRUE(plan.isOk());
  const BuildReport& report = builder.lastBuildReport();
  EXPECT_EQ(report.totalActivationBytes, 7 * 64 * 64 * 4);
  EXPECT_EQ(report.plannedActivationBytes, 2 * 64 * 64 * 4);  // ping-pong between two buffers
}

}  // namespace
}  // namespace testing
}  // namespace kiln
