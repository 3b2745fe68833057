// Sibling GEMM merging: which projections merge (checked on the graph the pass produces) and that the merged
// network computes what the separate GEMMs computed (every backend).
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "engine/builder_attention_views.h"
#include "engine/builder_fusion.h"
#include "engine/builder_gemm_merge.h"
#include "engine/builder_passes.h"
#include "engine/network_impl.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);
constexpr int64_t kK = 16;

ITensor* constant(NetworkDefinition& net, const Dims& dims, uint64_t seed) {
  const HostTensor t = randomTensor(DataType::kFLOAT, dims, seed);
  Weights w{DataType::kFLOAT, t.data(), volume(dims)};
  return net.addConstant(dims, w)->getOutput(0);
}

// x W^T + b, like a linear converter emits it.
ITensor* linear(NetworkDefinition& net, ITensor& x, int64_t n, uint64_t seed, bool bias = true) {
  ITensor* w = constant(net, Dims{n, kK}, seed);
  ITensor* y =
      net.addMatrixMultiply(x, MatrixOperation::kNONE, *w, MatrixOperation::kTRANSPOSE)->getOutput(0);
  if (!bias) return y;
  ITensor* b = constant(net, Dims{1, 1, n}, seed + 100);
  return net.addElementWise(*y, *b, ElementWiseOperation::kSUM)->getOutput(0);
}

// Query, key and value projections of one activation (a wider value) into an attention ([H, S, E] operands),
// and a fourth linear of another activation that must stay alone.
void projections(NetworkDefinition& net, const std::vector<ITensor*>& in) {
  ITensor* q = linear(net, *in[0], 8, 1);
  ITensor* k = linear(net, *in[0], 8, 2);
  ITensor* v = linear(net, *in[0], 12, 3);
  net.markOutput(*net.addAttention(*q, *k, *v)->getOutput(0));
  net.markOutput(*linear(net, *in[1], 8, 4));
}

int32_t countType(const Graph& g, LayerType type) {
  int32_t n = 0;
  for (const LayerInfo& l : g.layers) n += l.params.type == type ? 1 : 0;
  return n;
}

Graph graphOf(const NetworkFn& define) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  std::vector<ITensor*> in{net->addInput("x", DataType::kFLOAT, Dims{2, 3, kK}),
                           net->addInput("y", DataType::kFLOAT, Dims{2, 3, kK})};
  define(*net, in);
  StatusOr<Graph> g = net->impl().toGraph();
  EXPECT_TRUE(g.isOk()) << g.status().toString();
  return std::move(g).value();
}

TEST(GemmMerge, ProjectionsOfOneActivationShareOneGemm) {
  Graph g = graphOf(projections);
  fuseEpilogues(g);  // biases become part of the GEMMs, as on CUDA
  EXPECT_EQ(countType(g, LayerType::kMATRIX_MULTIPLY), 4);
  EXPECT_EQ(mergeSiblingGemms(g), 2);
  EXPECT_EQ(countType(g, LayerType::kMATRIX_MULTIPLY), 2);
  EXPECT_EQ(countType(g, LayerType::kSLICE), 3);
  for (const LayerInfo& l : g.layers) {
    if (l.params.type != LayerType::kMATRIX_MULTIPLY || l.inputs[0] != g.inputs[0]) continue;
    EXPECT_EQ(g.tensors[static_cast<size_t>(l.outputs[0])].dims, (Dims{2, 3, 28}));
    EXPECT_EQ(g.tensors[static_cast<size_t>(l.inputs[1])].dims, (Dims{28, kK}));
    EXPECT_EQ(l.params.attrs.getInt("fused_bias", 0), 1);
  }
}

TEST(GemmMerge, DifferentEpiloguesStayApart) {
  NetworkFn define = [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    ITensor* v = net.addActivation(*linear(net, *in[0], 8, 3), ActivationType::kRELU)->getOutput(0);
    net.markOutput(*net.addAttention(*linear(net, *in[0], 8, 1), *linear(net, *in[0], 8, 2), *v)->getOutput(0));
  };
  Graph g = graphOf(define);
  fuseEpilogues(g);
  EXPECT_EQ(mergeSiblingGemms(g), 1);  // query and key; the value's GEMM ends in a ReLU
}

TEST(GemmMerge, ProjectionsThatFeedNoAttentionStayApart) {
  // Their slices would be copies: more memory traffic than the launches they save.
  NetworkFn define = [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    net.markOutput(*net.addActivation(*linear(net, *in[0], 8, 1), ActivationType::kSIGMOID)->getOutput(0));
    net.markOutput(*net.addActivation(*linear(net, *in[0], 8, 2), ActivationType::kSIGMOID)->getOutput(0));
  };
  Graph g = graphOf(define);
  fuseEpilogues(g);
  EXPECT_EQ(mergeSiblingGemms(g), 0);
}

TEST(GemmMerge, BiasConstantsDefinedAfterTheirGemmsSurviveTheCudaPassOrder) {
  // linear() defines each bias after its GEMM. Once fused, the GEMM reads the later constant: the builder
  // sorts before any dead-layer elimination, which walks the order backwards and would drop the constant.
  Graph g = graphOf(projections);
  fuseEpilogues(g);
  sortLayersTopologically(g);
  eliminateDeadLayers(g);
  EXPECT_EQ(mergeSiblingGemms(g), 2);
  EXPECT_GT(absorbAttentionViews(g), 0);
  EXPECT_EQ(countType(g, LayerType::kMATRIX_MULTIPLY), 2);
  EXPECT_EQ(countType(g, LayerType::kSLICE), 0);  // the attention reads the merged GEMM's output through views
  std::vector<bool> defined(g.tensors.size(), false);
  for (int32_t t : g.inputs) defined[static_cast<size_t>(t)] = true;
  for (const LayerInfo& l : g.layers) {
    for (int32_t t : l.inputs) EXPECT_TRUE(t < 0 || defined[static_cast<size_t>(t)]) << l.params.name << " reads " << t;
    for (int32_t t : l.outputs) defined[static_cast<size_t>(t)] = true;
  }
}

TEST(GemmMerge, MergedNetworkComputesTheSameValues) {
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{2, 3, kK}, 11);
  const HostTensor y = randomTensor(DataType::kFLOAT, Dims{2, 3, kK}, 12);
  RunResult merged = buildAndRun(projections, {{"x", x}, {"y", y}});
  ASSERT_TRUE(merged.status.isOk()) << merged.status.toString();
  setenv("KILN_MERGE_GEMMS", "0", 1);
  RunResult separate = buildAndRun(projections, {{"x", x}, {"y", y}});
  unsetenv("KILN_MERGE_GEMMS");
  ASSERT_TRUE(separate.status.isOk()) << separate.status.toString();
  ASSERT_EQ(merged.ordered.size(), 2u);
  for (size_t i = 0; i < 2; ++i) expectClose(merged.ordered[i], separate.ordered[i], 1e-5, 1e-5);
}

}  // namespace
}  // namespace testing
}  // namespace kiln
