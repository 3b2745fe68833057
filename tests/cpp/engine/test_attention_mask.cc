// Constant attention masks: which the builder drops or turns into the causal flag (checked on the graph the
// pass produces), which it keeps, and that the engines compute what the same mask fed as an input computes
// (every backend). Also the chain that makes such a mask in exported models: aranges (fills without inputs)
// and a comparison, which constant folding must turn into one constant first.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "engine/builder_attention_mask.h"
#include "engine/builder_passes.h"
#include "engine/network_impl.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);
constexpr int64_t B = 1, H = 2, S = 6, D = 8;
const Dims kQKV{B, H, S, D};

using Allows = std::function<bool(int64_t row, int64_t col)>;
const Allows kCausal = [](int64_t i, int64_t j) { return j <= i; };

// A [1, 1, S, S] mask of `type`: bool flags, or additive `allow` / `block` values.
HostTensor makeMask(DataType type, const Allows& allows, double block, double allow = 0.0) {
  std::vector<double> values;
  for (int64_t i = 0; i < S; ++i) {
    for (int64_t j = 0; j < S; ++j) {
      const bool a = allows(i, j);
      values.push_back(type == DataType::kBOOL ? (a ? 1.0 : 0.0) : (a ? allow : block));
    }
  }
  return makeTensor(type, Dims{1, 1, S, S}, values);
}

Weights weightsOf(const HostTensor& t) { return Weights{t.type, t.bytes.data(), volume(t.dims)}; }

// q, k, v from inputs; the mask as a constant (copied by addConstant), or from input 3 when `mask` is null.
NetworkFn attention(const HostTensor* mask, bool causal = false) {
  return [mask, causal](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    IAttentionLayer* layer = net.addAttention(*in[0], *in[1], *in[2]);
    layer->setCausal(causal);
    if (mask != nullptr) {
      layer->setInput(3, *net.addConstant(mask->dims, weightsOf(*mask))->getOutput(0));
    } else if (in.size() > 3) {
      layer->setInput(3, *in[3]);
    }
    net.markOutput(*layer->getOutput(0));
  };
}

std::vector<TestInput> qkv() {
  return {{"q", randomTensor(DataType::kFLOAT, kQKV, 1)},
          {"k", randomTensor(DataType::kFLOAT, kQKV, 2)},
          {"v", randomTensor(DataType::kFLOAT, kQKV, 3)}};
}

HostTensor run(const NetworkFn& define, const std::vector<TestInput>& inputs) {
  RunResult r = buildAndRun(define, inputs);
  EXPECT_TRUE(r.status.isOk()) << r.status.toString();
  return r.ordered.empty() ? HostTensor() : r.ordered[0];
}

// The graph as the builder sees it after constant folding, then the pass; `removed` is what it returned.
Graph simplified(const NetworkFn& define, int32_t& removed) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  std::vector<ITensor*> tensors;
  for (const char* name : {"q", "k", "v"}) tensors.push_back(net->addInput(name, DataType::kFLOAT, kQKV));
  define(*net, tensors);
  StatusOr<Graph> g = net->impl().toGraph();
  EXPECT_TRUE(g.isOk()) << g.status().toString();
  Graph graph = std::move(g).value();
  EXPECT_TRUE(foldConstants(graph, 1 << 20).isOk());
  removed = simplifyConstantAttentionMasks(graph);
  return graph;
}

const LayerInfo* attentionOf(const Graph& g) {
  for (const LayerInfo& layer : g.layers) {
    if (layer.params.type == LayerType::kATTENTION) return &layer;
  }
  ADD_FAILURE() << "no attention layer";
  return nullptr;
}

// The mask given as a constant must compute what it computes fed as an input (which no pass can read).
void expectSameAsInputMask(const HostTensor& mask) {
  std::vector<TestInput> withMask = qkv();
  withMask.push_back({"mask", mask});
  const HostTensor expected = run(attention(nullptr), withMask);
  const HostTensor actual = run(attention(&mask), qkv());
  expectClose(actual, expected, 1e-5, 1e-4);
}

TEST(AttentionMask, ConstantCausalMaskBecomesTheCausalFlag) {
  const double inf = std::numeric_limits<double>::infinity();
  const struct {
    DataType type;
    double block;
  } cases[] = {{DataType::kBOOL, 0.0},
               {DataType::kFLOAT, -inf},
               {DataType::kFLOAT, static_cast<double>(std::numeric_limits<float>::lowest())},
               {DataType::kHALF, -65504.0}};
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(dataTypeName(c.type)) + " block " + std::to_string(c.block));
    const HostTensor mask = makeMask(c.type, kCausal, c.block);
    int32_t removed = -1;
    Graph g = simplified(attention(&mask), removed);
    EXPECT_EQ(removed, 1);
    const LayerInfo* layer = attentionOf(g);
    ASSERT_NE(layer, nullptr);
    EXPECT_EQ(layer->inputs.size(), 3u);
    EXPECT_EQ(layer->params.attrs.getInt("causal", 0), 1);
    EXPECT_EQ(g.layers.size(), 1u);  // the mask constant is gone
    if (c.type != DataType::kHALF) expectSameAsInputMask(mask);  // a float16 mask needs float16 scores
  }
}

TEST(AttentionMask, MaskAllowingEveryKeyIsDropped) {
  HostTensor mask = makeTensor(DataType::kBOOL, Dims{1, 1, 1, S}, std::vector<double>(S, 1.0));
  int32_t removed = -1;
  Graph g = simplified(attention(&mask), removed);
  EXPECT_EQ(removed, 1);
  ASSERT_NE(attentionOf(g), nullptr);
  EXPECT_EQ(attentionOf(g)->inputs.size(), 3u);
  EXPECT_EQ(attentionOf(g)->params.attrs.getInt("causal", 0), 0);
  expectSameAsInputMask(mask);

  // With the causal flag already set, a causal mask says nothing more either.
  mask = makeMask(DataType::kBOOL, kCausal, 0.0);
  g = simplified(attention(&mask, /*causal=*/true), removed);
  EXPECT_EQ(removed, 1);
  EXPECT_EQ(attentionOf(g)->params.attrs.getInt("causal", 0), 1);
}

TEST(AttentionMask, OtherMasksStay) {
  const HostTensor masks[] = {
      makeMask(DataType::kBOOL, [](int64_t i, int64_t j) { return j <= i && j + 2 > i; }, 0.0),  // a window
      makeMask(DataType::kBOOL, [](int64_t i, int64_t j) { return j <= i + 1; }, 0.0),  // off the diagonal
      makeMask(DataType::kFLOAT, kCausal, -1e4),                                          // a finite penalty
      makeMask(DataType::kFLOAT, kCausal, -std::numeric_limits<double>::infinity(), 0.5),  // a real bias
  };
  for (size_t m = 0; m < std::size(masks); ++m) {
    SCOPED_TRACE("mask " + std::to_string(m));
    int32_t removed = -1;
    Graph g = simplified(attention(&masks[m]), removed);
    EXPECT_EQ(removed, 0);
    ASSERT_NE(attentionOf(g), nullptr);
    EXPECT_EQ(attentionOf(g)->inputs.size(), 4u);
    EXPECT_EQ(attentionOf(g)->params.attrs.getInt("causal", 0), 0);
    expectSameAsInputMask(masks[m]);
  }
}

// GPT-2 exported with static shapes: mask = not(cols > rows), rows and cols from aranges.
void aranged(NetworkDefinition& net, const std::vector<ITensor*>& in) {
  IFillLayer* rows = net.addFill(Dims{S, 1}, FillOperation::kLINSPACE, DataType::kINT32);
  IFillLayer* cols = net.addFill(Dims{1, S}, FillOperation::kLINSPACE, DataType::kINT32);
  const double rowStep[] = {1.0, 0.0}, colStep[] = {0.0, 1.0};
  rows->setAlpha(0.0);
  rows->setBetaNd(rowStep, 2);
  cols->setAlpha(0.0);
  cols->setBetaNd(colStep, 2);
  ITensor* later = net.addElementWise(*cols->getOutput(0), *rows->getOutput(0), ElementWiseOperation::kGREATER)
                       ->getOutput(0);
  ITensor* mask = net.addUnary(*later, UnaryOperation::kNOT)->getOutput(0);
  IAttentionLayer* layer = net.addAttention(*in[0], *in[1], *in[2]);
  layer->setInput(3, *mask);
  net.markOutput(*layer->getOutput(0));
}

TEST(AttentionMask, MaskMadeFromAranges) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  std::vector<ITensor*> tensors;
  for (const char* name : {"q", "k", "v"}) tensors.push_back(net->addInput(name, DataType::kFLOAT, kQKV));
  aranged(*net, tensors);
  auto config = builder.createBuilderConfig();
  config->setBackend(testBackend());
  auto plan = builder.buildSerializedNetwork(*net, *config);
  ASSERT_TRUE(plan.isOk()) << plan.status().toString();
  EXPECT_EQ(builder.lastBuildReport().constantsFolded, 4);  // two fills, the comparison, the not
  EXPECT_EQ(builder.lastBuildReport().attentionMasksRemoved, 1);
  expectClose(run(aranged, qkv()), run(attention(nullptr, /*causal=*/true), qkv()), 1e-5, 1e-4);
}

}  // namespace
}  // namespace testing
}  // namespace kiln
