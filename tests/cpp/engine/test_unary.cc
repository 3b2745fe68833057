// Unary layers against double references for each float type; integer abs/neg/sign; bool not.
#include <cmath>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

struct UnaryCase {
  UnaryOperation op;
  double lo, hi;
  double (*ref)(double);
};

double sign(double x) { return x > 0 ? 1 : (x < 0 ? -1 : 0); }
double recip(double x) { return 1 / x; }
double neg(double x) { return -x; }
double roundEven(double x) { return std::nearbyint(x); }

const UnaryCase kCases[] = {
    {UnaryOperation::kEXP, -3, 3, [](double x) { return std::exp(x); }},
    {UnaryOperation::kLOG, 0.1, 5, [](double x) { return std::log(x); }},
    {UnaryOperation::kSQRT, 0, 5, [](double x) { return std::sqrt(x); }},
    {UnaryOperation::kRECIP, 0.5, 4, recip},
    {UnaryOperation::kABS, -3, 3, [](double x) { return std::fabs(x); }},
    {UnaryOperation::kNEG, -3, 3, neg},
    {UnaryOperation::kSIN, -3, 3, [](double x) { return std::sin(x); }},
    {UnaryOperation::kCOS, -3, 3, [](double x) { return std::cos(x); }},
    {UnaryOperation::kTAN, -1.2, 1.2, [](double x) { return std::tan(x); }},
    {UnaryOperation::kSINH, -2, 2, [](double x) { return std::sinh(x); }},
    {UnaryOperation::kCOSH, -2, 2, [](double x) { return std::cosh(x); }},
    {UnaryOperation::kASIN, -0.9, 0.9, [](double x) { return std::asin(x); }},
    {UnaryOperation::kACOS, -0.9, 0.9, [](double x) { return std::acos(x); }},
    {UnaryOperation::kATAN, -3, 3, [](double x) { return std::atan(x); }},
    {UnaryOperation::kASINH, -3, 3, [](double x) { return std::asinh(x); }},
    {UnaryOperation::kACOSH, 1, 4, [](double x) { return std::acosh(x); }},
    {UnaryOperation::kATANH, -0.9, 0.9, [](double x) { return std::atanh(x); }},
    {UnaryOperation::kCEIL, -3, 3, [](double x) { return std::ceil(x); }},
    {UnaryOperation::kFLOOR, -3, 3, [](double x) { return std::floor(x); }},
    {UnaryOperation::kERF, -2, 2, [](double x) { return std::erf(x); }},
    {UnaryOperation::kSIGN, -3, 3, sign},
    {UnaryOperation::kROUND, -3, 3, roundEven},
};

class UnaryTest : public ::testing::TestWithParam<std::tuple<UnaryCase, DataType>> {};

NetworkFn unary(UnaryOperation op) {
  return [op](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    IUnaryLayer* layer = net.addUnary(*in[0], op);
    ASSERT_NE(layer, nullptr) << net.status().toString();
    net.markOutput(*layer->getOutput(0));
  };
}

TEST_P(UnaryTest, MatchesReference) {
  const auto [c, type] = GetParam();
  HostTensor x = randomTensor(type, Dims{3, 11}, 5, c.lo, c.hi);
  if (c.op == UnaryOperation::kROUND) x = makeTensor(type, Dims{6}, {-2.5, -1.5, -0.5, 0.5, 1.5, 2.25});
  const HostTensor y = runSingleOutput(unary(c.op), {{"x", x}});
  std::vector<double> expected;
  for (double v : toDoubles(x)) expected.push_back(c.ref(v));
  const double tol = defaultAtol(type) * 4;
  expectClose(y, makeTensor(type, x.dims, expected), tol, tol);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, UnaryTest,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16)),
                         [](const auto& info) {
                           return std::to_string(static_cast<int>(std::get<0>(info.param).op)) + "_" +
                                  dataTypeName(std::get<1>(info.param));
                         });

TEST(Unary, IsInfIsNanYieldBool) {
  const HostTensor x = makeTensor(DataType::kFLOAT, Dims{4}, {1.0, INFINITY, -INFINITY, NAN});
  expectEqual(runSingleOutput(unary(UnaryOperation::kISINF), {{"x", x}}),
              makeTensor(DataType::kBOOL, Dims{4}, {0, 1, 1, 0}));
  expectEqual(runSingleOutput(unary(UnaryOperation::kISNAN), {{"x", x}}),
              makeTensor(DataType::kBOOL, Dims{4}, {0, 0, 0, 1}));
}

TEST(Unary, IntegerAbsNegSignAndBoolNot) {
  for (DataType type : {DataType::kINT32, DataType::kINT64, DataType::kINT8}) {
    const HostTensor x = makeTensor(type, Dims{5}, {-7, -1, 0, 3, 100});
    expectEqual(runSingleOutput(unary(UnaryOperation::kABS), {{"x", x}}), makeTensor(type, Dims{5}, {7, 1, 0, 3, 100}));
    expectEqual(runSingleOutput(unary(UnaryOperation::kNEG), {{"x", x}}),
                makeTensor(type, Dims{5}, {7, 1, 0, -3, -100}));
    expectEqual(runSingleOutput(unary(UnaryOperation::kSIGN), {{"x", x}}), makeTensor(type, Dims{5}, {-1, -1, 0, 1, 1}));
  }
  const HostTensor b = makeTensor(DataType::kBOOL, Dims{2}, {0, 1});
  expectEqual(runSingleOutput(unary(UnaryOperation::kNOT), {{"x", b}}), makeTensor(DataType::kBOOL, Dims{2}, {1, 0}));
}

TEST(Unary, TypeErrorsAreReported) {
  Builder builder;
  auto net = builder.createNetworkV2(0);
  ITensor* i = net->addInput("i", DataType::kINT32, Dims{2});
  ITensor* f = net->addInput("f", DataType::kFLOAT, Dims{2});
  EXPECT_EQ(net->addUnary(*i, UnaryOperation::kEXP), nullptr);
  EXPECT_EQ(net->addUnary(*f, UnaryOperation::kNOT), nullptr);
  EXPECT_FALSE(net->status().isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
