// NetworkDefinition: naming, ownership, lazy shape inference, errors, weakly typed output types.
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

TEST(Network, InfersShapesAsLayersAreAdded) {
  Builder builder;
  auto net = builder.createNetworkV2(0);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{-1, 3, 8});
  IActivationLayer* relu = net->addActivation(*x, ActivationType::kRELU);
  ASSERT_NE(relu, nullptr);
  EXPECT_EQ(relu->getOutput(0)->getDimensions(), (Dims{-1, 3, 8}));
  EXPECT_EQ(relu->getType(), LayerType::kACTIVATION);
  EXPECT_STREQ(relu->getName(), "(Unnamed Layer* 0) [Activation]");
  relu->setName("relu1");
  EXPECT_STREQ(relu->getName(), "relu1");
  // Changing an input's shape re-infers downstream lazily.
  x->setDimensions(Dims{2, 3, 4});
  EXPECT_EQ(relu->getOutput(0)->getDimensions(), (Dims{2, 3, 4}));
  EXPECT_TRUE(net->status().isOk());
}

TEST(Network, InvalidInputsAreRecordedNotFatal) {
  Builder builder;
  auto net = builder.createNetworkV2(0);
  ASSERT_NE(net->addInput("x", DataType::kFLOAT, Dims{2}), nullptr);
  EXPECT_EQ(net->addInput("x", DataType::kFLOAT, Dims{2}), nullptr);
  EXPECT_EQ(net->addInput("", DataType::kFLOAT, Dims{2}), nullptr);
  EXPECT_EQ(net->addInput("y", DataType::kFLOAT, Dims{-5}), nullptr);
  const Status status = net->status();
  EXPECT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("already exists"), std::string::npos) << status.toString();
  EXPECT_NE(status.message().find("2 more errors"), std::string::npos) << status.toString();
}

TEST(Network, TensorsOfAnotherNetworkAreRejected) {
  Builder builder;
  auto a = builder.createNetworkV2(0);
  auto b = builder.createNetworkV2(0);
  ITensor* x = a->addInput("x", DataType::kFLOAT, Dims{2});
  EXPECT_EQ(b->addActivation(*x, ActivationType::kRELU), nullptr);
  EXPECT_NE(b->status().message().find("another network"), std::string::npos);
}

TEST(Network, BuildFailsWithoutOutputsOrWithInputAsOutput) {
  Builder builder;
  auto net = builder.createNetworkV2(0);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2});
  auto config = builder.createBuilderConfig();
  auto plan = builder.buildSerializedNetwork(*net, *config);
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find("no outputs"), std::string::npos);
  net->markOutput(*x);
  plan = builder.buildSerializedNetwork(*net, *config);
  ASSERT_FALSE(plan.isOk());
  EXPECT_NE(plan.status().message().find("identity"), std::string::npos) << plan.status().toString();
}

TEST(Network, SetInputRebuildsTheOrderAndDetectsCycles) {
  Builder builder;
  auto net = builder.createNetworkV2(0);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{4});
  IActivationLayer* a = net->addActivation(*x, ActivationType::kRELU);
  IActivationLayer* b = net->addActivation(*a->getOutput(0), ActivationType::kTANH);
  a->setInput(0, *b->getOutput(0));
  EXPECT_NE(net->status().message().find("cycle"), std::string::npos) << net->status().toString();
  a->setInput(0, *x);
  EXPECT_TRUE(net->status().isOk()) << net->status().toString();
}

TEST(Network, RequestedOutputTypeInsertsACastInWeaklyTypedNetworks) {
  RunOptions weak;
  weak.stronglyTyped = false;
  RunResult r = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IActivationLayer* relu = net.addActivation(*in[0], ActivationType::kRELU);
        relu->setOutputType(0, DataType::kHALF);
        EXPECT_EQ(relu->getOutput(0)->getType(), DataType::kHALF);
        net.markOutput(*relu->getOutput(0));
      },
      {{"x", makeTensor(DataType::kFLOAT, Dims{3}, {-1, 0.5, 2})}}, weak);
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  expectEqual(r.ordered[0], makeTensor(DataType::kHALF, Dims{3}, {0, 0.5, 2}));

  Builder builder;
  auto strong = builder.createNetworkV2(1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED));
  ITensor* x = strong->addInput("x", DataType::kFLOAT, Dims{3});
  strong->addActivation(*x, ActivationType::kRELU)->getOutput(0)->setType(DataType::kHALF);
  EXPECT_NE(strong->status().message().find("strongly typed"), std::string::npos);
}

}  // namespace
}  // namespace testing
}  // namespace kiln
