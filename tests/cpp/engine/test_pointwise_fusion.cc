// Builder fusion of pointwise chains: which layers the pass groups (hand-built graphs) and the fused kernels
// against the unfused ones (KILN_FUSE_POINTWISE=1 vs 0) on testBackend(), so KILN_TEST_BACKEND=cuda runs the
// generated NVRTC kernels against the CUDA backend's own.
#include <gtest/gtest.h>

#include <cmath>

#include "pointwise_fusion_networks.h"

namespace kiln {
namespace testing {
namespace {

TEST(PointwiseFusion, GeluChainBecomesOneLayerWithImmediates) {
  Graph g = graphOf(geluTanhNetwork(DataType::kFLOAT), {{DataType::kFLOAT, Dims{2, 8}}});
  EXPECT_EQ(fusePointwiseChains(g), 7);
  ASSERT_EQ(g.layers.size(), 1u) << "the scalar constants become immediates and their layers go";
  const LayerInfo& l = g.layers[0];
  EXPECT_EQ(l.params.type, LayerType::kPOINTWISE);
  ASSERT_EQ(l.inputs.size(), 1u);
  EXPECT_EQ(l.inputs[0], g.inputs[0]);
  EXPECT_EQ(l.outputs[0], g.outputs[0]);
  StatusOr<PointwiseProgram> program = loadPointwiseProgram(l.params.attrs, 1);
  ASSERT_TRUE(program.isOk()) << program.status().toString();
  int loads = 0, constants = 0;
  for (const PointwiseInstruction& in : program.value().code) {
    loads += in.opcode == PointwiseOpcode::kLOAD ? 1 : 0;
    constants += in.opcode == PointwiseOpcode::kCONSTANT ? 1 : 0;
  }
  EXPECT_EQ(loads, 1) << describePointwiseProgram(program.value());
  EXPECT_EQ(constants, 5);
}

TEST(PointwiseFusion, DiamondSharesOneLoad) {
  Graph g = graphOf(siluNetwork(), {{DataType::kFLOAT, Dims{4, 4}}});
  EXPECT_EQ(fusePointwiseChains(g), 1);
  const LayerInfo* l = onlyPointwise(g);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->inputs.size(), 1u);
  EXPECT_EQ(g.layers.size(), 1u);
}

TEST(PointwiseFusion, IntermediateReadOutsideStopsTheGroup) {
  // a = exp(x) is also read by a softmax: the group behind the output is neg -> abs only.
  Graph g = graphOf(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ITensor* a = net.addUnary(*in[0], UnaryOperation::kEXP)->getOutput(0);
        ITensor* b = net.addUnary(*a, UnaryOperation::kNEG)->getOutput(0);
        net.markOutput(*net.addUnary(*b, UnaryOperation::kABS)->getOutput(0));
        net.markOutput(*net.addSoftMax(*a)->getOutput(0));
      },
      {{DataType::kFLOAT, Dims{2, 5}}});
  EXPECT_EQ(fusePointwiseChains(g), 1);
  EXPECT_EQ(countType(g, LayerType::kUNARY), 1);  // exp stays
  const LayerInfo* l = onlyPointwise(g);
  ASSERT_NE(l, nullptr);
  ASSERT_EQ(l->inputs.size(), 1u);
  EXPECT_EQ(g.tensors[static_cast<size_t>(l->inputs[0])].dims, (Dims{2, 5}));
  EXPECT_NE(l->inputs[0], g.inputs[0]) << "the fused layer reads exp's output";
}

TEST(PointwiseFusion, NetworkOutputIsNotFusedThrough) {
  Graph g = graphOf(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ITensor* a = net.addUnary(*in[0], UnaryOperation::kEXP)->getOutput(0);
        net.markOutput(*a);
        net.markOutput(*net.addUnary(*a, UnaryOperation::kNEG)->getOutput(0));
      },
      {{DataType::kFLOAT, Dims{3}}});
  EXPECT_EQ(fusePointwiseChains(g), 0);
  EXPECT_EQ(countType(g, LayerType::kPOINTWISE), 0);
}

TEST(PointwiseFusion, NonFloatOperationsStayUnfused) {
  Graph ints = graphOf(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ITensor* s = binary(net, *in[0], *in[0], ElementWiseOperation::kSUM);
        net.markOutput(*net.addUnary(*s, UnaryOperation::kNEG)->getOutput(0));
      },
      {{DataType::kINT32, Dims{4}}});
  EXPECT_EQ(fusePointwiseChains(ints), 0);
  Graph compare = graphOf(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ITensor* e = net.addUnary(*in[0], UnaryOperation::kEXP)->getOutput(0);
        ITensor* gt = binary(net, *e, *in[0], ElementWiseOperation::kGREATER);
        net.markOutput(*net.addUnary(*gt, UnaryOperation::kNOT)->getOutput(0));
      },
      {{DataType::kFLOAT, Dims{4}}});
  EXPECT_EQ(fusePointwiseChains(compare), 0);
  Graph floorDiv = graphOf(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ITensor* d = binary(net, *in[0], *in[0], ElementWiseOperation::kFLOOR_DIV);
        net.markOutput(*net.addUnary(*d, UnaryOperation::kNEG)->getOutput(0));
      },
      {{DataType::kFLOAT, Dims{4}}});
  EXPECT_EQ(fusePointwiseChains(floorDiv), 0);
}

TEST(PointwiseFusion, ShapeChangingBroadcastIsNotAbsorbed) {
  // relu(a [4]) then * b [3,4]: relu would run 3 times per element inside the [3,4] group; it stays.
  Graph g = graphOf(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ITensor* r = net.addActivation(*in[0], ActivationType::kRELU)->getOutput(0);
        ITensor* m = binary(net, *r, *in[1], ElementWiseOperation::kPROD);
        net.markOutput(*net.addActivation(*m, ActivationType::kSIGMOID)->getOutput(0));
      },
      {{DataType::kFLOAT, Dims{4}}, {DataType::kFLOAT, Dims{3, 4}}});
  EXPECT_EQ(fusePointwiseChains(g), 1);
  EXPECT_EQ(countType(g, LayerType::kACTIVATION), 1);
  const LayerInfo* l = onlyPointwise(g);
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(l->inputs.size(), 2u);
}

TEST(PointwiseFusion, SingleLayerIsLeftAlone) {
  Graph g = graphOf(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        net.markOutput(*net.addActivation(*in[0], ActivationType::kRELU)->getOutput(0));
      },
      {{DataType::kFLOAT, Dims{8}}});
  EXPECT_EQ(fusePointwiseChains(g), 0);
  EXPECT_EQ(g.layers[0].params.type, LayerType::kACTIVATION);
}

TEST(PointwiseFusion, AmbiguousDynamicOperandIsNotFused) {
  // a [-1] against b [4]: a may be 1 or 4 at run time, so a + b stays out of the group.
  Graph g = graphOf(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ITensor* s = binary(net, *in[0], *in[1], ElementWiseOperation::kSUM);
        net.markOutput(*net.addActivation(*s, ActivationType::kRELU)->getOutput(0));
      },
      {{DataType::kFLOAT, Dims{-1}}, {DataType::kFLOAT, Dims{4}}});
  EXPECT_EQ(fusePointwiseChains(g), 0);
  // The same dynamic extent on both sides is fine: strides come from the run-time shapes.
  Graph batch = graphOf(siluNetwork(), {{DataType::kFLOAT, Dims{-1, 4}}});
  EXPECT_EQ(fusePointwiseChains(batch), 1);
}

TEST(PointwiseFusion, EnvironmentSwitch) {
  {
    ScopedFusionSetting off("0");
    EXPECT_FALSE(pointwiseFusionEnabled(BackendKind::kCUDA));
    EXPECT_FALSE(pointwiseFusionEnabled(BackendKind::kCPU));
  }
  {
    ScopedFusionSetting on("1");
    EXPECT_TRUE(pointwiseFusionEnabled(BackendKind::kCPU));
  }
}

// ---- numerics: fused against unfused ------------------------------------------------------------------------

TEST(PointwiseFusion, GeluTanhMatchesUnfusedAndReference) {
  const std::vector<TestInput> in = oneInput(DataType::kFLOAT, Dims{2, 8, 32}, 1);
  expectFusedMatchesUnfused(geluTanhNetwork(DataType::kFLOAT), in, 1e-6, 1e-5);
  const HostTensor fused = runWithFusion("1", geluTanhNetwork(DataType::kFLOAT), in);
  std::vector<double> expected;
  for (double x : toDoubles(in[0].value)) {
    expected.push_back(0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))));
  }
  expectClose(fused, makeTensor(DataType::kFLOAT, Dims{2, 8, 32}, expected), 1e-5, 1e-5);
  const FusedBuild build = buildFused(geluTanhNetwork(DataType::kFLOAT), in);
  EXPECT_EQ(build.pointwiseLayers, 1);
  EXPECT_GE(build.report.layersFused, 7);
}

TEST(PointwiseFusion, GeluTanhHalfWithinRounding) {
  expectFusedMatchesUnfused(geluTanhNetwork(DataType::kHALF), oneInput(DataType::kHALF, Dims{4, 64}, 2), 4e-3, 4e-3);
  expectFusedMatchesUnfused(geluTanhNetwork(DataType::kBF16), oneInput(DataType::kBF16, Dims{4, 64}, 3), 3e-2, 3e-2);
}

TEST(PointwiseFusion, SiluAndHardSwish) {
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}) {
    const double tol = type == DataType::kFLOAT ? 1e-6 : (type == DataType::kHALF ? 2e-3 : 2e-2);
    expectFusedMatchesUnfused(siluNetwork(), oneInput(type, Dims{3, 50}, 4), tol, tol);
    expectFusedMatchesUnfused(hardSwishNetwork(), oneInput(type, Dims{3, 50}, 5), tol, tol);
  }
  const FusedBuild build = buildFused(hardSwishNetwork(), oneInput(DataType::kFLOAT, Dims{3, 50}, 5));
  EXPECT_EQ(build.pointwiseLayers, 1);
}

TEST(PointwiseFusion, LayerScaleResidualKeepsLargeConstantAsInput) {
  const std::vector<TestInput> in = {{"x", randomTensor(DataType::kFLOAT, Dims{2, 4, 8}, 6)},
                                     {"h", randomTensor(DataType::kFLOAT, Dims{2, 4, 8}, 7)}};
  expectFusedMatchesUnfused(layerScaleNetwork(DataType::kFLOAT), in, 1e-6, 1e-6);
  const std::vector<TestInput> half = {{"x", randomTensor(DataType::kHALF, Dims{2, 4, 8}, 6)},
                                       {"h", randomTensor(DataType::kHALF, Dims{2, 4, 8}, 7)}};
  expectFusedMatchesUnfused(layerScaleNetwork(DataType::kHALF), half, 2e-3, 2e-3);
  EXPECT_EQ(buildFused(layerScaleNetwork(DataType::kFLOAT), in).pointwiseLayers, 1);
}

TEST(PointwiseFusion, BroadcastingOperands) {
  const std::vector<TestInput> in = {{"a", randomTensor(DataType::kFLOAT, Dims{2, 3, 4}, 8)},
                                     {"b", randomTensor(DataType::kFLOAT, Dims{3, 1}, 9)},
                                     {"c", randomTensor(DataType::kFLOAT, Dims{4}, 10)}};
  expectFusedMatchesUnfused(broadcastNetwork(), in, 1e-6, 1e-6);
  EXPECT_EQ(buildFused(broadcastNetwork(), in).pointwiseLayers, 2);
}

TEST(PointwiseFusion, CastsRoundWhereTheUnfusedTensorsDo) {
  const std::vector<TestInput> in = oneInput(DataType::kHALF, Dims{2, 40}, 11);
  // Every cast rounds in both versions and the math between casts is float32 in both: identical up to the
  // last float32 rounding, which the casts then absorb.
  expectFusedMatchesUnfused(castNetwork(), in, 0.0, 8e-3);
  EXPECT_EQ(buildFused(castNetwork(), in).pointwiseLayers, 1);
}

TEST(PointwiseFusion, DynamicBatch) {
  std::vector<TestInput> in = oneInput(DataType::kFLOAT, Dims{3, 16}, 12);
  in[0].dynamicMask = 1;
  in[0].minDims = Dims{1, 16};
  in[0].maxDims = Dims{8, 16};
  expectFusedMatchesUnfused(geluTanhNetwork(DataType::kFLOAT), in, 1e-6, 1e-5);
  std::vector<TestInput> two = {{"x", randomTensor(DataType::kFLOAT, Dims{3, 4, 8}, 13), 1},
                                {"h", randomTensor(DataType::kFLOAT, Dims{3, 4, 8}, 14), 1}};
  expectFusedMatchesUnfused(layerScaleNetwork(DataType::kFLOAT), two, 1e-6, 1e-6);
}

TEST(PointwiseFusion, EveryActivationUnaryAndBinaryOperation) {
  const std::vector<TestInput> one = oneInput(DataType::kFLOAT, Dims{5, 40}, 15);
  for (int32_t a = 0; a <= static_cast<int32_t>(ActivationType::kGELU_TANH); ++a) {
    SCOPED_TRACE("activation " + std::to_string(a));
    expectFusedMatchesUnfused(
        [a](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          auto* act = net.addActivation(*in[0], static_cast<ActivationType>(a));
          act->setAlpha(0.3f);
          act->setBeta(0.7f);
          net.markOutput(*net.addUnary(*act->getOutput(0), UnaryOperation::kNEG)->getOutput(0));
        },
        one, 1e-6, 1e-5);
  }
  for (int32_t u = 0; u <= static_cast<int32_t>(UnaryOperation::kISNAN); ++u) {
    if (!isFusableUnaryOperation(static_cast<UnaryOperation>(u))) continue;
    SCOPED_TRACE("unary " + std::to_string(u));
    expectFusedMatchesUnfused(
        [u](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          ITensor* y = net.addUnary(*in[0], static_cast<UnaryOperation>(u))->getOutput(0);
          net.markOutput(*net.addUnary(*y, UnaryOperation::kNEG)->getOutput(0));
        },
        one, 1e-6, 1e-5);
  }
  const std::vector<TestInput> two = {{"x", randomTensor(DataType::kFLOAT, Dims{5, 40}, 16, -3, 3)},
                                      {"y", randomTensor(DataType::kFLOAT, Dims{40}, 17, -3, 3)}};
  for (int32_t b = 0; b <= static_cast<int32_t>(ElementWiseOperation::kLESS); ++b) {
    if (!isFusableBinaryOperation(static_cast<ElementWiseOperation>(b))) continue;
    SCOPED_TRACE("binary " + std::to_string(b));
    expectFusedMatchesUnfused(
        [b](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          ITensor* y = binary(net, *in[0], *in[1], static_cast<ElementWiseOperation>(b));
          net.markOutput(*net.addUnary(*y, UnaryOperation::kABS)->getOutput(0));
        },
        two, 1e-6, 1e-5);
  }
}

TEST(PointwiseFusion, EmptyTensor) {
  expectFusedMatchesUnfused(siluNetwork(), {{"x", HostTensor(DataType::kFLOAT, Dims{0, 7})}}, 0.0, 0.0);
}

}  // namespace
}  // namespace testing
}  // namespace kiln
