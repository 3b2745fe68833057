// Shuffle merging: which chains merge (checked on the graph the pass produces) and that built networks give
// the same values as the shuffles one by one (every backend, static and dynamic shapes).
#include <gtest/gtest.h>

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

TEST(ShuffleMerge, LeavesChainsThatCannotMerge) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 6, 12});
  // Two reshapes in a row: a reshape after a reshape is not merged.
  ITensor* r = reshape(*net, *reshape(*net, *x, Dims{12, 12}), Dims{3, 48});
  net->markOutput(*r);
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
