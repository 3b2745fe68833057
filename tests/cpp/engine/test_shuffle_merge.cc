// Shuffle merging: which chains merge (checked on the graph the pass produces) and that built networks give
// the same values as the shuffles one by one (every backend, static and dynamic shapes).
#include <gtest/gtest.h>

#include <cmath>

#include "engine/builder_shuffle.h"
#include "engine/network_impl.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);

Permutation perm(std::initializer_list<int32_t> order) {
  Permutation p;
  int32_t i = 0;
  for (int32_t v : order) p.order[i++] = v;
  return p;
}

ITensor* reshape(NetworkDefinition& net, ITensor& x, const Dims& dims) {
  IShuffleLayer* s = net.addShuffle(x);
  s->setReshapeDimensions(dims);
  return s->getOutput(0);
}

ITensor* transpose(NetworkDefinition& net, ITensor& x, const Permutation& p) {
  IShuffleLayer* s = net.addShuffle(x);
  s->setFirstTranspose(p);
  return s->getOutput(0);
}

int32_t countShuffles(const Graph& g) {
  int32_t n = 0;
  for (const LayerInfo& l : g.layers) n += l.params.type == LayerType::kSHUFFLE ? 1 : 0;
  return n;
}

// x [2,6,12] -> view [B,S,3,4] (0 placeholders) -> transpose(1,2) -> relu -> transpose(1,2) -> identity view
// -> view [B,S,12]: a head split and merge as attention converters emit them.
void headSplitAndMerge(NetworkDefinition& net, const std::vector<ITensor*>& in) {
  ITensor* heads = transpose(net, *reshape(net, *in[0], Dims{0, 0, 3, 4}), perm({0, 2, 1, 3}));
  ITensor* act = net.addActivation(*heads, ActivationType::kRELU)->getOutput(0);
  ITensor* back = transpose(net, *act, perm({0, 2, 1, 3}));
  ITensor* same = reshape(net, *back, Dims{0, 0, 0, 0});
  net.markOutput(*reshape(net, *same, Dims{0, 0, 12}));
}

TEST(ShuffleMerge, HeadSplitAndMergeBecomeOneShuffleEach) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 6, 12});
  headSplitAndMerge(*net, {x});
  StatusOr<Graph> g = net->impl().toGraph();
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  EXPECT_EQ(countShuffles(g.value()), 5);
  EXPECT_EQ(mergeShuffles(g.value()), 3);
  EXPECT_EQ(countShuffles(g.value()), 2);
}

TEST(ShuffleMerge, MergedNetworkComputesTheSameValues) {
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{2, 6, 12}, 5);
  const HostTensor out = runSingleOutput(headSplitAndMerge, {{"x", x}});
  ASSERT_EQ(out.bytes.size(), x.bytes.size());
  // split heads, relu, merge heads again: relu(x) element for element.
  const auto* in = static_cast<const float*>(x.data());
  const auto* got = static_cast<const float*>(out.data());
  for (int64_t i = 0; i < volume(x.dims); ++i) EXPECT_EQ(got[i], in[i] > 0 ? in[i] : 0.0f) << "element " << i;
}

TEST(ShuffleMerge, TransposeThenReshapeKeepsValues) {
  // [2,3,4] -> transpose(2,0,1) -> [4,2,3] -> reshape [4,6]: one shuffle, out[k][i*3+j] = x[i][j][k].
  const HostTensor x = randomTensor(DataType::kHALF, Dims{2, 3, 4}, 7);
  NetworkFn define = [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    net.markOutput(*reshape(net, *transpose(net, *in[0], perm({2, 0, 1})), Dims{4, 6}));
  };
  const HostTensor out = runSingleOutput(define, {{"x", x}}, /*alsoDynamic=*/false);
  ASSERT_EQ(dimsToString(out.dims), "[4,6]");
  const std::vector<double> in = toDoubles(x);
  const std::vector<double> got = toDoubles(out);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 4; ++k) EXPECT_EQ(got[k * 6 + i * 3 + j], in[(i * 3 + j) * 4 + k]);
    }
  }
}

TEST(ShuffleMerge, ReshapeOfAReshapeIsOneReshape) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 6, 12});
  // The second reshape's placeholder 0 copies the first's extent 12, not x's 2: written out when merged.
  net->markOutput(*reshape(*net, *reshape(*net, *x, Dims{12, 12}), Dims{0, 3, 4}));
  StatusOr<Graph> g = net->impl().toGraph();
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  EXPECT_EQ(mergeShuffles(g.value()), 1);
  EXPECT_EQ(countShuffles(g.value()), 1);
  const HostTensor v = randomTensor(DataType::kFLOAT, Dims{2, 6, 12}, 3);
  const HostTensor out = runSingleOutput(
      [](NetworkDefinition& n, const std::vector<ITensor*>& in) {
        n.markOutput(*reshape(n, *reshape(n, *in[0], Dims{12, 12}), Dims{0, 3, 4}));
      },
      {{"x", v}});
  EXPECT_EQ(dimsToString(out.dims), "[12,3,4]");
  EXPECT_EQ(out.bytes, v.bytes);
}

TEST(ShuffleMerge, LeavesChainsThatCannotMerge) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 6, 12});
  // An intermediate read twice, and one that is a network output.
  ITensor* t = transpose(*net, *x, perm({0, 2, 1}));
  net->markOutput(*transpose(*net, *t, perm({1, 0, 2})));
  net->markOutput(*net->addActivation(*t, ActivationType::kRELU)->getOutput(0));
  ITensor* o = transpose(*net, *x, perm({1, 0, 2}));
  net->markOutput(*o);
  net->markOutput(*transpose(*net, *o, perm({1, 0, 2})));
  StatusOr<Graph> g = net->impl().toGraph();
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  const int32_t before = countShuffles(g.value());
  EXPECT_EQ(mergeShuffles(g.value()), 0);
  EXPECT_EQ(countShuffles(g.value()), before);
}

}  // namespace
}  // namespace testing
}  // namespace kiln

namespace kiln {
namespace testing {
namespace {

// HF's Conv1D: y = addmm(b, x2d, W) viewed back to [B, S, N], then the residual add and an activation,
// ending in a view to 2-D for the next GEMM.
void conv1dBlock(NetworkDefinition& net, const std::vector<ITensor*>& in) {
  static const HostTensor w = randomTensor(DataType::kFLOAT, Dims{8, 8}, 41);
  static const HostTensor b = randomTensor(DataType::kFLOAT, Dims{1, 8}, 42);
  ITensor* flat = reshape(net, *in[0], Dims{6, 8});
  ITensor* weight = net.addConstant(Dims{8, 8}, Weights{DataType::kFLOAT, w.data(), 64})->getOutput(0);
  ITensor* bias = net.addConstant(Dims{1, 8}, Weights{DataType::kFLOAT, b.data(), 8})->getOutput(0);
  ITensor* mm = net.addMatrixMultiply(*flat, MatrixOperation::kNONE, *weight, MatrixOperation::kNONE)->getOutput(0);
  ITensor* biased = net.addElementWise(*mm, *bias, ElementWiseOperation::kSUM)->getOutput(0);
  ITensor* back = reshape(net, *biased, Dims{2, 3, 8});
  ITensor* sum = net.addElementWise(*in[0], *back, ElementWiseOperation::kSUM)->getOutput(0);
  ITensor* act = net.addActivation(*sum, ActivationType::kRELU)->getOutput(0);
  net.markOutput(*net.addActivation(*reshape(net, *act, Dims{6, 8}), ActivationType::kSIGMOID)->getOutput(0));
}

TEST(ReshapeSinking, Conv1dViewsMoveBelowTheEpilogueAndCancel) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  conv1dBlock(*net, {net->addInput("x", DataType::kFLOAT, Dims{2, 3, 8})});
  StatusOr<Graph> g = net->impl().toGraph();
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  EXPECT_GT(sinkReshapes(g.value()), 0);
  mergeShuffles(g.value());

  // Left: the input's flattening and the residual's (each free: a reshape shares its input's memory); the
  // GEMM's result flows through the bias, the residual add and both activations without a reshape.
  EXPECT_EQ(countShuffles(g.value()), 2);
  for (const LayerInfo& l : g.value().layers) {
    if (l.params.type != LayerType::kSHUFFLE) continue;
    EXPECT_EQ(l.inputs[0], g.value().inputs[0]);
  }
}

TEST(ReshapeSinking, SunkNetworkComputesTheSameValues) {
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{2, 3, 8}, 43);
  const HostTensor out = runSingleOutput(conv1dBlock, {{"x", x}});
  const std::vector<double> xs = toDoubles(x), got = toDoubles(out);
  const std::vector<double> w = toDoubles(randomTensor(DataType::kFLOAT, Dims{8, 8}, 41));
  const std::vector<double> b = toDoubles(randomTensor(DataType::kFLOAT, Dims{1, 8}, 42));
  ASSERT_EQ(dimsToString(out.dims), "[6,8]");
  for (int r = 0; r < 6; ++r) {
    for (int c = 0; c < 8; ++c) {
      double acc = b[static_cast<size_t>(c)] + xs[static_cast<size_t>(r * 8 + c)];
      for (int k = 0; k < 8; ++k) acc += xs[static_cast<size_t>(r * 8 + k)] * w[static_cast<size_t>(k * 8 + c)];
      const double relu = acc > 0 ? acc : 0.0;
      EXPECT_NEAR(got[static_cast<size_t>(r * 8 + c)], 1.0 / (1.0 + std::exp(-relu)), 1e-5) << r << "," << c;
    }
  }
}

}  // namespace
}  // namespace testing
}  // namespace kiln
