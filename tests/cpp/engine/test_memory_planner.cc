// Activation memory planning: reshapes share their input's memory (no copy), and the shared block lives
// as long as either tensor is read, so later tensors never overwrite it (checked on the plan and on values).
#include <gtest/gtest.h>

#include <cmath>

#include "engine/memory_planner.h"
#include "engine/network_impl.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);

// F = reshape(relu(x)) + tanh(sigmoid(y)): relu's output is last read by the reshape, but the reshape's
// (shared) output is read at the very end, after two other tensors were computed.
void reshapeReadLate(NetworkDefinition& net, const std::vector<ITensor*>& in) {
  ITensor* a = net.addActivation(*in[0], ActivationType::kRELU)->getOutput(0);
  IShuffleLayer* reshape = net.addShuffle(*a);
  reshape->setReshapeDimensions(Dims{6, 4});
  ITensor* c = net.addActivation(*in[1], ActivationType::kSIGMOID)->getOutput(0);
  ITensor* d = net.addActivation(*c, ActivationType::kTANH)->getOutput(0);
  net.markOutput(*net.addElementWise(*reshape->getOutput(0), *d, ElementWiseOperation::kSUM)->getOutput(0));
}

TEST(MemoryPlanner, ReshapeSharesItsInputsBlockForBothLifetimes) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  reshapeReadLate(*net, {net->addInput("x", DataType::kFLOAT, Dims{4, 6}), net->addInput("y", DataType::kFLOAT, Dims{6, 4})});
  StatusOr<Graph> g = net->impl().toGraph();
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  const Graph& graph = g.value();
  std::vector<int64_t> bytes(graph.tensors.size());
  for (size_t t = 0; t < graph.tensors.size(); ++t) bytes[t] = volume(graph.tensors[t].dims) * 4;
  const MemoryPlan plan = planMemory(graph, bytes);
  const LayerInfo* shuffle = nullptr;
  for (const LayerInfo& l : graph.layers) {
    if (l.params.type == LayerType::kSHUFFLE) shuffle = &l;
  }
  ASSERT_NE(shuffle, nullptr);
  const int64_t shared = plan.offsets[static_cast<size_t>(shuffle->inputs[0])];
  ASSERT_GE(shared, 0);
  EXPECT_EQ(plan.offsets[static_cast<size_t>(shuffle->outputs[0])], shared);
  // sigmoid's and tanh's outputs are computed while the reshape's output waits: they go elsewhere.
  for (const LayerInfo& l : graph.layers) {
    if (l.params.type != LayerType::kACTIVATION || l.inputs[0] == graph.inputs[0]) continue;
    EXPECT_NE(plan.offsets[static_cast<size_t>(l.outputs[0])], shared) << l.params.name;
  }
}

TEST(MemoryPlanner, SharedReshapeGivesTheRightValues) {
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{4, 6}, 1);
  const HostTensor y = randomTensor(DataType::kFLOAT, Dims{6, 4}, 2);
  const HostTensor out = runSingleOutput(reshapeReadLate, {{"x", x}, {"y", y}});
  const std::vector<double> xs = toDoubles(x), ys = toDoubles(y), got = toDoubles(out);
  ASSERT_EQ(got.size(), 24u);
  for (size_t i = 0; i < 24; ++i) {
    const double expected = std::max(xs[i], 0.0) + std::tanh(1.0 / (1.0 + std::exp(-ys[i])));
    EXPECT_NEAR(got[i], expected, 1e-5) << i;
  }
}

}  // namespace
}  // namespace testing
}  // namespace kiln
