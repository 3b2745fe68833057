#include "test_helpers.h"

namespace kiln {
namespace testing {

std::vector<uint8_t> buildSamplePlan() {
  Builder builder;
  auto net = builder.createNetworkV2(1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED));
  ITensor* image = net->addInput("image", DataType::kFLOAT, Dims{-1, 2, 6, 6});
  ITensor* ids = net->addInput("ids", DataType::kINT32, Dims{-1, 3});
  std::vector<float> convW(4 * 2 * 3 * 3), convB(4), fcW(4 * 9 * 5), table(10 * 4);
  for (size_t i = 0; i < convW.size(); ++i) convW[i] = 0.05f * static_cast<float>(i % 7) - 0.1f;
  for (size_t i = 0; i < fcW.size(); ++i) fcW[i] = 0.01f * static_cast<float>(i % 11) - 0.05f;
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<float>(i);
  convB = {0.1f, -0.1f, 0.2f, 0.f};
  IConvolutionLayer* conv = net->addConvolutionNd(*image, 4, Dims{3, 3}, Weights{DataType::kFLOAT, convW.data(), 72},
                                                  Weights{DataType::kFLOAT, convB.data(), 4});
  conv->setPaddingNd(Dims{1, 1});
  ITensor* act = net->addActivation(*conv->getOutput(0), ActivationType::kRELU)->getOutput(0);
  IPoolingLayer* pool = net->addPoolingNd(*act, PoolingType::kMAX, Dims{2, 2});
  pool->setStrideNd(Dims{2, 2});
  // Flatten with a shape tensor: [batch, -1] from shape(pool)[0].
  ITensor* shape = net->addShape(*pool->getOutput(0))->getOutput(0);
  const int64_t zero = 0, minusOne = -1;
  ITensor* index0 = net->addConstant(Dims{1}, Weights{DataType::kINT64, &zero, 1})->getOutput(0);
  ITensor* batch = net->addGatherV2(*shape, *index0, GatherMode::kDEFAULT)->getOutput(0);
  ITensor* rest = net->addConstant(Dims{1}, Weights{DataType::kINT64, &minusOne, 1})->getOutput(0);
  ITensor* parts[] = {batch, rest};
  ITensor* newShape = net->addConcatenation(parts, 2)->getOutput(0);
  IShuffleLayer* flatten = net->addShuffle(*pool->getOutput(0));
  flatten->setInput(1, *newShape);
  ITensor* fc = net->addConstant(Dims{36, 5}, Weights{DataType::kFLOAT, fcW.data(), 180})->getOutput(0);
  ITensor* logits = net->addMatrixMultiply(*flatten->getOutput(0), MatrixOperation::kNONE, *fc,
                                           MatrixOperation::kNONE)->getOutput(0);
  ISoftMaxLayer* softmax = net->addSoftMax(*logits);
  softmax->setAxes(2);
  softmax->getOutput(0)->setName("probs");
  net->markOutput(*softmax->getOutput(0));
  // Embedding lookup, summed over the sequence, plus a slice of it.
  ITensor* emb = net->addConstant(Dims{10, 4}, Weights{DataType::kFLOAT, table.data(), 40})->getOutput(0);
  ITensor* looked = net->addGatherV2(*emb, *ids, GatherMode::kDEFAULT)->getOutput(0);  // [b, 3, 4]
  ITensor* summed = net->addReduce(*looked, ReduceOperation::kSUM, 1u << 1, false)->getOutput(0);  // [b, 4]
  ISliceLayer* slice = net->addSlice(*summed, Dims{0, 1}, Dims{1, 2}, Dims{1, 1});
  ITensor* sliceShape = net->addShape(*summed)->getOutput(0);
  const int64_t sizeFix[] = {0, 2};
  ITensor* two = net->addConstant(Dims{2}, Weights{DataType::kINT64, sizeFix, 2})->getOutput(0);
  const int64_t ones[] = {1, 0};
  ITensor* mask = net->addConstant(Dims{2}, Weights{DataType::kINT64, ones, 2})->getOutput(0);
  ITensor* keepBatch = net->addElementWise(*sliceShape, *mask, ElementWiseOperation::kPROD)->getOutput(0);
  ITensor* size = net->addElementWise(*keepBatch, *two, ElementWiseOperation::kSUM)->getOutput(0);
  slice->setInput(2, *size);
  slice->getOutput(0)->setName("picked");
  net->markOutput(*slice->getOutput(0));

  auto config = builder.createBuilderConfig();
  auto profile = builder.createOptimizationProfile();
  (void)profile->setDimensions("image", OptProfileSelector::kMIN, Dims{1, 2, 6, 6});
  (void)profile->setDimensions("image", OptProfileSelector::kOPT, Dims{2, 2, 6, 6});
  (void)profile->setDimensions("image", OptProfileSelector::kMAX, Dims{4, 2, 6, 6});
  (void)profile->setDimensions("ids", OptProfileSelector::kMIN, Dims{1, 3});
  (void)profile->setDimensions("ids", OptProfileSelector::kOPT, Dims{2, 3});
  (void)profile->setDimensions("ids", OptProfileSelector::kMAX, Dims{4, 3});
  config->addOptimizationProfile(profile.get());
  config->setBuilderOptimizationLevel(0);
  auto plan = builder.buildSerializedNetwork(*net, *config);
  EXPECT_TRUE(plan.isOk()) << plan.status().toString();
  if (!plan.isOk()) return {};
  return plan.value()->bytes();
}

}  // namespace testing
}  // namespace kiln
