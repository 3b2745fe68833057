// Activation layers against a double-precision reference, for each float type, static and dynamic shapes.
#include <cmath>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

struct ActivationCase {
  ActivationType type;
  float alpha;
  float beta;
  bool setParams;
};

double reference(const ActivationCase& c, double x) {
  const double a = c.alpha, b = c.beta;
  switch (c.type) {
    case ActivationType::kRELU: return x > 0 ? x : 0;
    case ActivationType::kSIGMOID: return 1 / (1 + std::exp(-x));
    case ActivationType::kTANH: return std::tanh(x);
    case ActivationType::kLEAKY_RELU: return x >= 0 ? x : a * x;
    case ActivationType::kELU: return x >= 0 ? x : a * (std::exp(x) - 1);
    case ActivationType::kSELU: return b * (x > 0 ? x : a * (std::exp(x) - 1));
    case ActivationType::kSOFTSIGN: return x / (1 + std::fabs(x));
    case ActivationType::kSOFTPLUS: return a * std::log(std::exp(b * x) + 1);
    case ActivationType::kCLIP: return std::max<double>(a, std::min<double>(b, x));
    case ActivationType::kHARD_SIGMOID: return std::max(0.0, std::min(1.0, a * x + b));
    case ActivationType::kSCALED_TANH: return a * std::tanh(b * x);
    case ActivationType::kTHRESHOLDED_RELU: return x > a ? x : 0;
    case ActivationType::kGELU_ERF: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    case ActivationType::kGELU_TANH:
      return 0.5 * x * (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
  }
  return 0;
}

class ActivationTest : public ::testing::TestWithParam<std::tuple<ActivationCase, DataType>> {};

TEST_P(ActivationTest, MatchesReference) {
  const auto [c, type] = GetParam();
  const HostTensor x = randomTensor(type, Dims{2, 3, 17}, 7, -4.0, 4.0);
  const HostTensor y = runSingleOutput(
      [&, c = c](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IActivationLayer* layer = net.addActivation(*in[0], c.type);
        ASSERT_NE(layer, nullptr);
        if (c.setParams) {
          layer->setAlpha(c.alpha);
          layer->setBeta(c.beta);
        }
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", x}});
  std::vector<double> expected;
  for (double v : toDoubles(x)) expected.push_back(reference(c, v));
  expectClose(y, makeTensor(type, x.dims, expected), defaultAtol(type), defaultAtol(type));
}

const ActivationCase kCases[] = {
    {ActivationType::kRELU, 0, 0, false},
    {ActivationType::kSIGMOID, 0, 0, false},
    {ActivationType::kTANH, 0, 0, false},
    {ActivationType::kLEAKY_RELU, 0.2f, 0, true},
    {ActivationType::kELU, 0.7f, 0, true},
    {ActivationType::kSELU, 1.6732632423543772f, 1.0507009873554805f, false},
    {ActivationType::kSOFTSIGN, 0, 0, false},
    {ActivationType::kSOFTPLUS, 1.5f, 0.5f, true},
    {ActivationType::kCLIP, -1.0f, 2.5f, true},
    {ActivationType::kHARD_SIGMOID, 0.2f, 0.5f, false},
    {ActivationType::kSCALED_TANH, 1.7f, 0.66f, true},
    {ActivationType::kTHRESHOLDED_RELU, 0.5f, 0, true},
    {ActivationType::kGELU_ERF, 0, 0, false},
    {ActivationType::kGELU_TANH, 0, 0, false},
};

INSTANTIATE_TEST_SUITE_P(AllTypes, ActivationTest,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16)),
                         [](const auto& info) {
                           return std::to_string(static_cast<int>(std::get<0>(info.param).type)) + "_" +
                                  dataTypeName(std::get<1>(info.param));
                         });

TEST(ActivationErrors, IntegerInputIsRejectedWithTheLayerName) {
  RunResult result = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IActivationLayer* layer = net.addActivation(*in[0], ActivationType::kRELU);
        EXPECT_EQ(layer, nullptr);
        EXPECT_NE(net.status().message().find("Activation"), std::string::npos) << net.status().message();
        net.markOutput(*in[0]);
      },
      {{"x", randomTensor(DataType::kINT32, Dims{4}, 1, -5, 5)}});
  (void)result;
}

}  // namespace
}  // namespace testing
}  // namespace kiln
