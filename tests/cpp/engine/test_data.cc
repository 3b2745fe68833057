// Constant, cast, identity, shape and fill layers, and shape tensors computed from them.
#include <cmath>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

TEST(Cast, BetweenEveryPairOfTypes) {
  const std::vector<double> values = {-3.75, -1, 0, 1, 2.5, 100};
  for (int32_t from = 0; from < kNB_DATA_TYPES; ++from) {
    for (int32_t to = 0; to < kNB_DATA_TYPES; ++to) {
      const auto src = static_cast<DataType>(from);
      const auto dst = static_cast<DataType>(to);
      const HostTensor x = makeTensor(src, Dims{6}, values);
      const HostTensor y = runSingleOutput(
          [dst](NetworkDefinition& net, const std::vector<ITensor*>& in) {
            ICastLayer* cast = net.addCast(*in[0], dst);
            ASSERT_NE(cast, nullptr);
            net.markOutput(*cast->getOutput(0));
          },
          {{"x", x}});
      std::vector<double> expected;
      for (double v : toDoubles(x)) {
        if (dst == DataType::kBOOL) {
          expected.push_back(v != 0);
        } else if (!isFloatType(dst) && src != DataType::kUINT8 && dst == DataType::kUINT8 && v < 0) {
          expected.push_back(0);  // saturating float->uint8 (and the int -> uint8 wrap checked below)
        } else {
          expected.push_back(isFloatType(dst) ? v : std::trunc(v));
        }
      }
      if (dst == DataType::kUINT8 && !isFloatType(src) && src != DataType::kBOOL) {
        // Integer -> uint8 keeps the low byte, like a C++ conversion.
        expected.clear();
        for (int64_t i = 0; i < x.count(); ++i) expected.push_back(static_cast<uint8_t>(x.intAt(i)));
      }
      expectEqual(y, makeTensor(dst, Dims{6}, expected));
    }
  }
}

TEST(Identity, CopiesAnyType) {
  for (int32_t t = 0; t < kNB_DATA_TYPES; ++t) {
    const HostTensor x = randomTensor(static_cast<DataType>(t), Dims{3, 2}, 3, 0, 9);
    expectEqual(runSingleOutput(
                    [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
                      net.markOutput(*net.addIdentity(*in[0])->getOutput(0));
                    },
                    {{"x", x}}),
                x);
  }
}

TEST(Constant, FeedsArithmeticAndIsAnOutput) {
  const float w[] = {1, 2, 3};
  RunResult r = buildAndRun(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IConstantLayer* c = net.addConstant(Dims{3}, Weights{DataType::kFLOAT, w, 3});
        ASSERT_NE(c, nullptr);
        net.markOutput(*net.addElementWise(*in[0], *c->getOutput(0), ElementWiseOperation::kPROD)->getOutput(0));
        net.markOutput(*c->getOutput(0));
      },
      {{"x", makeTensor(DataType::kFLOAT, Dims{2, 3}, {1, 1, 1, 2, 2, 2})}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  expectEqual(r.ordered[0], makeTensor(DataType::kFLOAT, Dims{2, 3}, {1, 2, 3, 2, 4, 6}));
  expectEqual(r.ordered[1], makeTensor(DataType::kFLOAT, Dims{3}, {1, 2, 3}));
}

TEST(Constant, WrongWeightCountIsRejected) {
  Builder builder;
  auto net = builder.createNetworkV2(0);
  const float w[] = {1, 2};
  EXPECT_EQ(net->addConstant(Dims{3}, Weights{DataType::kFLOAT, w, 2}), nullptr);
  EXPECT_NE(net->status().message().find("needs 3 values"), std::string::npos) << net->status().toString();
}

TEST(Shape, IsAnInt64ShapeTensorKnownAtBuildTimeWhenStatic) {
  Builder builder;
  auto net = builder.createNetworkV2(0);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 5, 7});
  IShapeLayer* shape = net->addShape(*x);
  ASSERT_NE(shape, nullptr);
  EXPECT_EQ(shape->getOutput(0)->getType(), DataType::kINT64);
  EXPECT_EQ(shape->getOutput(0)->getDimensions(), (Dims{3}));
  EXPECT_TRUE(shape->getOutput(0)->isShapeTensor());
}

TEST(Shape, OfADynamicInputIsComputedPerRun) {
  for (int64_t batch : {1, 4, 9}) {
    RunResult r = buildAndRun(
        [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          net.markOutput(*net.addShape(*in[0])->getOutput(0));
        },
        {{"x", randomTensor(DataType::kHALF, Dims{batch, 3}, 1), 0b01, Dims{1, 3}, Dims{16, 3}}});
    ASSERT_TRUE(r.status.isOk()) << r.status.toString();
    expectEqual(r.ordered[0], makeTensor(DataType::kINT64, Dims{2}, {static_cast<double>(batch), 3}));
  }
}

TEST(Fill, LinspaceAndConstant) {
  RunResult r = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IFillLayer* lin = net.addFill(Dims{2, 3}, FillOperation::kLINSPACE, DataType::kFLOAT);
        lin->setAlpha(1.0);
        const double betas[] = {10.0, 0.5};
        lin->setBetaNd(betas, 2);
        net.markOutput(*lin->getOutput(0));
        IFillLayer* constant = net.addFill(Dims{4}, FillOperation::kCONSTANT, DataType::kINT32);
        constant->setAlpha(7);
        net.markOutput(*constant->getOutput(0));
        net.markOutput(*net.addIdentity(*in[0])->getOutput(0));
      },
      {{"x", makeTensor(DataType::kFLOAT, Dims{1}, {0})}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  expectEqual(r.ordered[0], makeTensor(DataType::kFLOAT, Dims{2, 3}, {1, 1.5, 2, 11, 11.5, 12}));
  expectEqual(r.ordered[1], makeTensor(DataType::kINT32, Dims{4}, {7, 7, 7, 7}));
}

TEST(Fill, DimensionsFromAShapeTensor) {
  // arange(n) where n is the runtime length of the input: fill's input 0 is shape(x).
  for (int64_t n : {2, 5}) {
    RunResult r = buildAndRun(
        [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          IShapeLayer* shape = net.addShape(*in[0]);
          IFillLayer* fill = net.addFill(Dims{}, FillOperation::kLINSPACE, DataType::kINT64);
          fill->setInput(0, *shape->getOutput(0));
          fill->setAlpha(0);
          fill->setBeta(1);
          net.markOutput(*fill->getOutput(0));
        },
        {{"x", randomTensor(DataType::kFLOAT, Dims{n}, 1), 0b1, Dims{1}, Dims{8}}});
    ASSERT_TRUE(r.status.isOk()) << r.status.toString();
    std::vector<double> expected;
    for (int64_t i = 0; i < n; ++i) expected.push_back(static_cast<double>(i));
    expectEqual(r.ordered[0], makeTensor(DataType::kINT64, Dims{n}, expected));
  }
}

}  // namespace
}  // namespace testing
}  // namespace kiln
