// Elementwise binary and select layers against double references: broadcasting, every dtype, errors.
#include <cmath>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

double floatRef(ElementWiseOperation op, double x, double y) {
  switch (op) {
    case ElementWiseOperation::kSUM: return x + y;
    case ElementWiseOperation::kPROD: return x * y;
    case ElementWiseOperation::kMAX: return std::max(x, y);
    case ElementWiseOperation::kMIN: return std::min(x, y);
    case ElementWiseOperation::kSUB: return x - y;
    case ElementWiseOperation::kDIV: return x / y;
    case ElementWiseOperation::kPOW: return std::pow(x, y);
    case ElementWiseOperation::kFLOOR_DIV: return std::floor(x / y);
    case ElementWiseOperation::kEQUAL: return x == y;
    case ElementWiseOperation::kGREATER: return x > y;
    case ElementWiseOperation::kLESS: return x < y;
    case ElementWiseOperation::kAND: return x && y;
    case ElementWiseOperation::kOR: return x || y;
    case ElementWiseOperation::kXOR: return (x != 0) != (y != 0);
  }
  return 0;
}

int64_t intRef(ElementWiseOperation op, int64_t x, int64_t y) {
  switch (op) {
    case ElementWiseOperation::kDIV: return x / y;
    case ElementWiseOperation::kFLOOR_DIV: return static_cast<int64_t>(std::floor(static_cast<double>(x) / y));
    case ElementWiseOperation::kPOW: {
      int64_t r = 1;
      for (int64_t i = 0; i < y; ++i) r *= x;
      return r;
    }
    case ElementWiseOperation::kSUM:
    case ElementWiseOperation::kPROD:
    case ElementWiseOperation::kMAX:
    case ElementWiseOperation::kMIN:
    case ElementWiseOperation::kSUB:
    case ElementWiseOperation::kEQUAL:
    case ElementWiseOperation::kGREATER:
    case ElementWiseOperation::kLESS:
    case ElementWiseOperation::kAND:
    case ElementWiseOperation::kOR:
    case ElementWiseOperation::kXOR: return static_cast<int64_t>(floatRef(op, static_cast<double>(x), static_cast<double>(y)));
  }
  return 0;
}

bool yieldsBool(ElementWiseOperation op) {
  return op == ElementWiseOperation::kEQUAL || op == ElementWiseOperation::kGREATER ||
         op == ElementWiseOperation::kLESS || op == ElementWiseOperation::kAND || op == ElementWiseOperation::kOR ||
         op == ElementWiseOperation::kXOR;
}

// Reference with numpy broadcasting of a [2,1,4] and b [3,1].
HostTensor broadcastRef(ElementWiseOperation op, const HostTensor& a, const HostTensor& b, DataType outType) {
  const Dims out{2, 3, 4};
  std::vector<double> values;
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t j = 0; j < 3; ++j) {
      for (int64_t k = 0; k < 4; ++k) {
        const int64_t ia = i * 4 + k, ib = j;
        if (isFloatType(a.type)) {
          values.push_back(floatRef(op, a.floatAt(ia), b.floatAt(ib)));
        } else {
          values.push_back(static_cast<double>(intRef(op, a.intAt(ia), b.intAt(ib))));
        }
      }
    }
  }
  return makeTensor(outType, out, values);
}

NetworkFn binary(ElementWiseOperation op) {
  return [op](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    IElementWiseLayer* layer = net.addElementWise(*in[0], *in[1], op);
    ASSERT_NE(layer, nullptr) << net.status().toString();
    net.markOutput(*layer->getOutput(0));
  };
}

class ElementWiseFloat : public ::testing::TestWithParam<std::tuple<ElementWiseOperation, DataType>> {};

TEST_P(ElementWiseFloat, BroadcastsLikeNumpy) {
  const auto [op, type] = GetParam();
  const bool positive = op == ElementWiseOperation::kPOW || op == ElementWiseOperation::kDIV ||
                        op == ElementWiseOperation::kFLOOR_DIV;
  const HostTensor a = randomTensor(type, Dims{2, 1, 4}, 1, positive ? 0.5 : -3, 3);
  const HostTensor b = randomTensor(type, Dims{3, 1}, 2, positive ? 0.5 : -3, 3);
  const HostTensor out = runSingleOutput(binary(op), {{"a", a}, {"b", b}});
  const HostTensor expected = broadcastRef(op, a, b, yieldsBool(op) ? DataType::kBOOL : type);
  if (op == ElementWiseOperation::kFLOOR_DIV) {
    expectClose(out, expected, 1.0, 0);  // floor can step by one where the quotient rounds to an integer
  } else {
    expectClose(out, expected, defaultAtol(type) * 4, defaultAtol(type) * 4);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Ops, ElementWiseFloat,
    ::testing::Combine(::testing::Values(ElementWiseOperation::kSUM, ElementWiseOperation::kPROD,
                                         ElementWiseOperation::kMAX, ElementWiseOperation::kMIN,
                                         ElementWiseOperation::kSUB, ElementWiseOperation::kDIV,
                                         ElementWiseOperation::kPOW, ElementWiseOperation::kFLOOR_DIV,
                                         ElementWiseOperation::kEQUAL, ElementWiseOperation::kGREATER,
                                         ElementWiseOperation::kLESS),
                       ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16)));

class ElementWiseInt : public ::testing::TestWithParam<std::tuple<ElementWiseOperation, DataType>> {};

TEST_P(ElementWiseInt, ExactIntegerMath) {
  const auto [op, type] = GetParam();
  const bool pow = op == ElementWiseOperation::kPOW;
  const bool div = op == ElementWiseOperation::kDIV || op == ElementWiseOperation::kFLOOR_DIV;
  const HostTensor a = randomTensor(type, Dims{2, 1, 4}, 3, pow ? 0 : -20, pow ? 5 : 20);
  HostTensor b = randomTensor(type, Dims{3, 1}, 4, pow ? 0 : (div ? 1 : -20), pow ? 4 : 20);
  if (div) b = makeTensor(type, Dims{3, 1}, {3, -4, 7});
  const HostTensor out = runSingleOutput(binary(op), {{"a", a}, {"b", b}});
  expectEqual(out, broadcastRef(op, a, b, yieldsBool(op) ? DataType::kBOOL : type));
}

INSTANTIATE_TEST_SUITE_P(
    Ops, ElementWiseInt,
    ::testing::Combine(::testing::Values(ElementWiseOperation::kSUM, ElementWiseOperation::kPROD,
                                         ElementWiseOperation::kMAX, ElementWiseOperation::kMIN,
                                         ElementWiseOperation::kSUB, ElementWiseOperation::kDIV,
                                         ElementWiseOperation::kPOW, ElementWiseOperation::kFLOOR_DIV,
                                         ElementWiseOperation::kEQUAL, ElementWiseOperation::kGREATER,
                                         ElementWiseOperation::kLESS),
                       ::testing::Values(DataType::kINT32, DataType::kINT64, DataType::kINT8)));

TEST(ElementWise, LogicalOpsOnBool) {
  const HostTensor a = makeTensor(DataType::kBOOL, Dims{4}, {0, 0, 1, 1});
  const HostTensor b = makeTensor(DataType::kBOOL, Dims{4}, {0, 1, 0, 1});
  expectEqual(runSingleOutput(binary(ElementWiseOperation::kAND), {{"a", a}, {"b", b}}),
              makeTensor(DataType::kBOOL, Dims{4}, {0, 0, 0, 1}));
  expectEqual(runSingleOutput(binary(ElementWiseOperation::kOR), {{"a", a}, {"b", b}}),
              makeTensor(DataType::kBOOL, Dims{4}, {0, 1, 1, 1}));
  expectEqual(runSingleOutput(binary(ElementWiseOperation::kXOR), {{"a", a}, {"b", b}}),
              makeTensor(DataType::kBOOL, Dims{4}, {0, 1, 1, 0}));
  expectEqual(runSingleOutput(binary(ElementWiseOperation::kEQUAL), {{"a", a}, {"b", b}}),
              makeTensor(DataType::kBOOL, Dims{4}, {1, 0, 0, 1}));
}

TEST(ElementWise, IntegerDivisionByZeroIsAnErrorNamingTheLayer) {
  if (testBackend() == BackendKind::kCUDA) {
    // GPU kernels guard memory on bad data (the element becomes 0) but can only report it by waiting for the
    // device, which the runtime never does in the steady state; the CPU backend reports it.
    GTEST_SKIP() << "bad-data errors are reported by the CPU backend only";
  }

  RunResult r = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IElementWiseLayer* layer = net.addElementWise(*in[0], *in[1], ElementWiseOperation::kDIV);
        layer->setName("divide");
        net.markOutput(*layer->getOutput(0));
      },
      {{"a", makeTensor(DataType::kINT32, Dims{2}, {4, 5})}, {"b", makeTensor(DataType::kINT32, Dims{2}, {2, 0})}});
  ASSERT_FALSE(r.status.isOk());
  EXPECT_NE(r.status.message().find("divide"), std::string::npos) << r.status.toString();
}

TEST(ElementWise, MismatchedTypesAndShapesAreRejected) {
  Builder builder;
  auto net = builder.createNetworkV2(0);
  ITensor* a = net->addInput("a", DataType::kFLOAT, Dims{2, 3});
  ITensor* b = net->addInput("b", DataType::kINT32, Dims{2, 3});
  ITensor* c = net->addInput("c", DataType::kFLOAT, Dims{4, 3});
  EXPECT_EQ(net->addElementWise(*a, *b, ElementWiseOperation::kSUM), nullptr);
  EXPECT_NE(net->status().message().find("cast"), std::string::npos) << net->status().toString();
  EXPECT_EQ(net->addElementWise(*a, *c, ElementWiseOperation::kSUM), nullptr);
  EXPECT_EQ(net->addElementWise(*a, *a, ElementWiseOperation::kAND), nullptr);
}

TEST(ElementWise, DynamicBroadcastResolvesAtRunTime) {
  const HostTensor a = randomTensor(DataType::kFLOAT, Dims{5, 1}, 9);
  const HostTensor b = randomTensor(DataType::kFLOAT, Dims{1, 6}, 10);
  RunResult r = buildAndRun(binary(ElementWiseOperation::kSUM), {{"a", a, 0b01}, {"b", b, 0b10}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  std::vector<double> expected;
  for (int i = 0; i < 5; ++i) {
    for (int j = 0; j < 6; ++j) expected.push_back(a.floatAt(i) + b.floatAt(j));
  }
  expectClose(r.ordered[0], makeTensor(DataType::kFLOAT, Dims{5, 6}, expected));
}

TEST(Select, PicksPerElementWithBroadcasting) {
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kBOOL, DataType::kUINT8}) {
    const HostTensor cond = makeTensor(DataType::kBOOL, Dims{3, 1}, {1, 0, 1});
    const HostTensor a = randomTensor(type, Dims{3, 4}, 11, 0, 50);
    const HostTensor b = randomTensor(type, Dims{4}, 12, 0, 50);
    const HostTensor out = runSingleOutput(
        [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          ISelectLayer* layer = net.addSelect(*in[0], *in[1], *in[2]);
          ASSERT_NE(layer, nullptr);
          net.markOutput(*layer->getOutput(0));
        },
        {{"c", cond}, {"a", a}, {"b", b}});
    std::vector<double> expected;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 4; ++j) expected.push_back(cond.intAt(i) ? a.floatAt(i * 4 + j) : b.floatAt(j));
    }
    expectEqual(out, makeTensor(type, Dims{3, 4}, expected));
  }
}

}  // namespace
}  // namespace testing
}  // namespace kiln
