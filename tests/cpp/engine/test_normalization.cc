// Normalization against a double-precision reference: layer, instance and group norm, statistics over
// non-trailing axes, broadcast scale/bias shapes, epsilon, float types, static and dynamic shapes, bad parameters.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

std::vector<int64_t> coordinates(int64_t linear, const Dims& dims) {
  std::vector<int64_t> c(static_cast<size_t>(dims.nbDims));
  for (int32_t d = dims.nbDims - 1; d >= 0; --d) {
    c[static_cast<size_t>(d)] = linear % dims.d[d];
    linear /= dims.d[d];
  }
  return c;
}

// Element of a tensor broadcast (right-aligned) to coordinates c of a higher-rank shape.
double broadcastAt(const std::vector<double>& v, const Dims& dims, const std::vector<int64_t>& c) {
  int64_t offset = 0;
  const size_t shift = c.size() - static_cast<size_t>(dims.nbDims);
  for (int32_t d = 0; d < dims.nbDims; ++d) offset = offset * dims.d[d] + (dims.d[d] == 1 ? 0 : c[d + shift]);
  return v[static_cast<size_t>(offset)];
}

HostTensor referenceNorm(const HostTensor& x, const HostTensor& scale, const HostTensor& bias, uint32_t mask,
                         double eps, int64_t groups) {
  const std::vector<double> v = toDoubles(x), s = toDoubles(scale), b = toDoubles(bias);
  // The statistic an element belongs to: its coordinates on the kept dims, with the channel replaced by
  // its group under group norm.
  auto keyOf = [&](int64_t i) {
    std::vector<int64_t> c = coordinates(i, x.dims), key;
    for (int32_t d = 0; d < x.dims.nbDims; ++d) {
      if (groups > 1 && d == 1) {
        key.push_back(c[1] / (x.dims.d[1] / groups));
      } else if (((mask >> d) & 1u) == 0) {
        key.push_back(c[static_cast<size_t>(d)]);
      }
    }
    return key;
  };
  std::map<std::vector<int64_t>, double> sum, sq, count;
  for (int64_t i = 0; i < volume(x.dims); ++i) {
    const auto key = keyOf(i);
    sum[key] += v[static_cast<size_t>(i)];
    count[key] += 1;
  }
  for (int64_t i = 0; i < volume(x.dims); ++i) {
    const auto key = keyOf(i);
    const double dev = v[static_cast<size_t>(i)] - sum[key] / count[key];
    sq[key] += dev * dev;
  }
  std::vector<double> out(v.size());
  for (int64_t i = 0; i < volume(x.dims); ++i) {
    const auto key = keyOf(i);
    const std::vector<int64_t> c = coordinates(i, x.dims);
    const double mean = sum[key] / count[key];
    const double normalized = (v[static_cast<size_t>(i)] - mean) / std::sqrt(sq[key] / count[key] + eps);
    out[static_cast<size_t>(i)] = normalized * broadcastAt(s, scale.dims, c) + broadcastAt(b, bias.dims, c);
  }
  return makeTensor(x.type, x.dims, out);
}

struct NormCase {
  const char* name;
  Dims x, affine;
  uint32_t mask;
  int64_t groups;
};

const NormCase kCases[] = {
    {"LayerNormLastDim", {2, 3, 8}, {8}, 0b100, 1},
    {"LayerNormLastDimRank3Scale", {2, 3, 8}, {1, 1, 8}, 0b100, 1},
    {"LayerNormLastTwoDims", {2, 3, 8}, {3, 8}, 0b110, 1},
    {"InstanceNorm", {2, 4, 5, 6}, {1, 4, 1, 1}, 0b1100, 1},
    {"GroupNorm", {2, 6, 4, 5}, {1, 6, 1, 1}, 0b1100, 3},
    {"GroupNormOneChannelPerGroup", {2, 6, 3, 2}, {1, 6, 1, 1}, 0b1100, 6},
    {"GroupNormSingleGroup", {2, 6, 3, 2}, {1, 6, 1, 1}, 0b1100, 1},
    {"GroupNormMaskedChannel", {2, 4, 3, 5}, {1, 4, 1, 1}, 0b1110, 2},
    {"StatsOverLeadingAxes", {4, 3, 5, 2}, {1, 3, 1, 1}, 0b0101, 1},
    {"StatsOverFirstAxis", {6, 7}, {7}, 0b01, 1},
    {"ScalarAffine", {3, 4}, {1}, 0b10, 1},
};

uint32_t nonUnitMask(const Dims& dims) {
  uint32_t mask = 0;
  for (int32_t d = 0; d < dims.nbDims; ++d) mask |= dims.d[d] != 1 ? 1u << d : 0u;
  return mask;
}

class NormalizationTest : public ::testing::TestWithParam<std::tuple<NormCase, DataType>> {};

TEST_P(NormalizationTest, MatchesReference) {
  const auto [c, type] = GetParam();
  const HostTensor x = randomTensor(type, c.x, 31, -2, 2);
  const HostTensor scale = randomTensor(type, c.affine, 32, 0.5, 1.5);
  const HostTensor bias = randomTensor(type, c.affine, 33, -0.5, 0.5);
  const NetworkFn define = [&, c = c](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    INormalizationLayer* layer = net.addNormalization(*in[0], *in[1], *in[2], c.mask);
    ASSERT_NE(layer, nullptr) << net.status().message();
    if (c.groups != 1) layer->setNbGroups(c.groups);
    net.markOutput(*layer->getOutput(0));
  };
  const HostTensor y = runSingleOutput(define, {{"x", x}, {"scale", scale}, {"bias", bias}}, /*alsoDynamic=*/false);
  // Dynamic run: the scale/bias dims of extent 1 broadcast, so they stay static (a [1, 2] range would not).
  const uint32_t affineMask = nonUnitMask(c.affine);
  const RunResult dynamic =
      buildAndRun(define, {{"x", x, (1u << c.x.nbDims) - 1}, {"scale", scale, affineMask}, {"bias", bias, affineMask}});
  ASSERT_TRUE(dynamic.status.isOk()) << "dynamic-shape run: " << dynamic.status.toString();
  expectEqual(dynamic.ordered.at(0), y);
  // Normalized values reach a few units: float16/bfloat16 outputs round at that magnitude.
  const double tol = type == DataType::kFLOAT ? 1e-5 : 2 * defaultAtol(type);
  expectClose(y, referenceNorm(x, scale, bias, c.mask, 1e-5, c.groups), tol, tol);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, NormalizationTest,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  dataTypeName(std::get<1>(info.param));
                         });

TEST(Normalization, EpsilonAndAnOffsetMean) {
  // A large common offset with a small spread: the two-pass variance stays accurate.
  std::vector<double> v = toDoubles(randomTensor(DataType::kFLOAT, Dims{3, 64}, 40, -0.01, 0.01));
  for (double& e : v) e += 1000.0;
  const HostTensor x = makeTensor(DataType::kFLOAT, Dims{3, 64}, v);
  const HostTensor scale = randomTensor(DataType::kFLOAT, Dims{64}, 41, 0.5, 1.5);
  const HostTensor bias = randomTensor(DataType::kFLOAT, Dims{64}, 42, -0.5, 0.5);
  const HostTensor y = runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        INormalizationLayer* layer = net.addNormalization(*in[0], *in[1], *in[2], 0b10);
        ASSERT_NE(layer, nullptr) << net.status().message();
        layer->setEpsilon(1e-4f);
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", x}, {"scale", scale}, {"bias", bias}});
  expectClose(y, referenceNorm(x, scale, bias, 0b10, static_cast<float>(1e-4f), 1), 1e-4, 1e-4);
}

TEST(Normalization, LargeGroupNormAndLayerNorm) {
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{2, 32, 24, 24}, 50, -3, 3);
  const HostTensor scale = randomTensor(DataType::kFLOAT, Dims{1, 32, 1, 1}, 51, 0.5, 1.5);
  const HostTensor bias = randomTensor(DataType::kFLOAT, Dims{1, 32, 1, 1}, 52, -1, 1);
  const HostTensor y = runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        INormalizationLayer* layer = net.addNormalization(*in[0], *in[1], *in[2], 0b1100);
        ASSERT_NE(layer, nullptr) << net.status().message();
        layer->setNbGroups(8);
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", x}, {"scale", scale}, {"bias", bias}}, /*alsoDynamic=*/false);
  expectClose(y, referenceNorm(x, scale, bias, 0b1100, 1e-5, 8), 1e-5, 1e-5);

  const HostTensor rows = randomTensor(DataType::kFLOAT, Dims{300, 1024}, 53, -3, 3);
  const HostTensor gamma = randomTensor(DataType::kFLOAT, Dims{1024}, 54, 0.5, 1.5);
  const HostTensor beta = randomTensor(DataType::kFLOAT, Dims{1024}, 55, -1, 1);
  const HostTensor z = runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        net.markOutput(*net.addNormalization(*in[0], *in[1], *in[2], 0b10)->getOutput(0));
      },
      {{"x", rows}, {"scale", gamma}, {"bias", beta}}, /*alsoDynamic=*/false);
  expectClose(z, referenceNorm(rows, gamma, beta, 0b10, 1e-5, 1), 1e-5, 1e-5);
}

TEST(Normalization, AccessorsRoundTrip) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{2, 4, 3});
  ITensor* s = net.addInput("s", DataType::kFLOAT, Dims{1, 4, 1});
  ITensor* b = net.addInput("b", DataType::kFLOAT, Dims{1, 4, 1});
  INormalizationLayer* layer = net.addNormalization(*x, *s, *b, 0b100);
  ASSERT_NE(layer, nullptr) << net.status().message();
  EXPECT_FLOAT_EQ(layer->getEpsilon(), 1e-5f);
  EXPECT_EQ(layer->getNbGroups(), 1);
  EXPECT_EQ(layer->getAxes(), 0b100u);
  layer->setEpsilon(1e-3f);
  layer->setNbGroups(2);
  layer->setAxes(0b110);
  EXPECT_FLOAT_EQ(layer->getEpsilon(), 1e-3f);
  EXPECT_EQ(layer->getNbGroups(), 2);
  EXPECT_EQ(layer->getAxes(), 0b110u);
  EXPECT_TRUE(net.validate().isOk());
  layer->setNbGroups(3);  // 4 channels do not split into 3 groups
  EXPECT_FALSE(net.validate().isOk());
}

TEST(NormalizationErrors, InvalidParametersAreRejected) {
  struct Bad {
    const char* name;
    DataType type;
    Dims x, scale, bias;
    uint32_t mask;
  };
  const Bad cases[] = {
      {"integer input", DataType::kINT32, {2, 3}, {3}, {3}, 0b10},
      {"empty mask", DataType::kFLOAT, {2, 3}, {3}, {3}, 0},
      {"mask beyond rank", DataType::kFLOAT, {2, 3}, {3}, {3}, 0b100},
      {"scale does not broadcast", DataType::kFLOAT, {2, 3}, {4}, {3}, 0b10},
      {"bias does not broadcast", DataType::kFLOAT, {2, 3}, {3}, {2, 2}, 0b10},
      {"scale of higher rank", DataType::kFLOAT, {2, 3}, {1, 2, 3}, {3}, 0b10},
      {"scale grows the input", DataType::kFLOAT, {2, 1}, {2, 3}, {1}, 0b10},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.name);
    NetworkDefinition net;
    ITensor* x = net.addInput("x", c.type, c.x);
    ITensor* s = net.addInput("s", c.type, c.scale);
    ITensor* b = net.addInput("b", c.type, c.bias);
    EXPECT_EQ(net.addNormalization(*x, *s, *b, c.mask), nullptr);
    EXPECT_FALSE(net.status().isOk());
  }
}

TEST(NormalizationErrors, BadGroupsAndEpsilonFailValidation) {
  for (int64_t groups : {int64_t{0}, int64_t{-2}, int64_t{4}}) {
    SCOPED_TRACE("groups " + std::to_string(groups));
    NetworkDefinition net;
    ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{2, 6, 5});
    ITensor* s = net.addInput("s", DataType::kFLOAT, Dims{1, 6, 1});
    ITensor* b = net.addInput("b", DataType::kFLOAT, Dims{1, 6, 1});
    INormalizationLayer* layer = net.addNormalization(*x, *s, *b, 0b100);
    ASSERT_NE(layer, nullptr);
    layer->setNbGroups(groups);
    EXPECT_FALSE(net.validate().isOk());
  }
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{2, 6});
  ITensor* s = net.addInput("s", DataType::kFLOAT, Dims{6});
  INormalizationLayer* layer = net.addNormalization(*x, *s, *s, 0b10);
  ASSERT_NE(layer, nullptr);
  layer->setEpsilon(-1.f);
  EXPECT_FALSE(net.validate().isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
