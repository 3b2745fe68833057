// Softmax against a double-precision reference: every axis and the default (last) axis, large values that
// overflow a naive exp, infinities, float types, static and dynamic shapes, bad parameters.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

HostTensor referenceSoftmax(const HostTensor& x, int32_t axis) {
  const std::vector<double> v = toDoubles(x);
  int64_t outer = 1, inner = 1;
  const int64_t n = x.dims.d[axis];
  for (int32_t d = 0; d < axis; ++d) outer *= x.dims.d[d];
  for (int32_t d = axis + 1; d < x.dims.nbDims; ++d) inner *= x.dims.d[d];
  std::vector<double> out(v.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t j) { return static_cast<size_t>((o * n + j) * inner + i); };
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < n; ++j) m = std::max(m, v[at(j)]);
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(v[at(j)] - m);
      for (int64_t j = 0; j < n; ++j) out[at(j)] = std::exp(v[at(j)] - m) / sum;
    }
  }
  return makeTensor(x.type, x.dims, out);
}

HostTensor runSoftmax(const HostTensor& x, int32_t axis, bool alsoDynamic = true) {
  return runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ISoftMaxLayer* layer = net.addSoftMax(*in[0]);
        ASSERT_NE(layer, nullptr) << net.status().message();
        if (axis >= 0) layer->setAxes(1u << axis);
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", x}}, alsoDynamic);
}

class SoftMaxTest : public ::testing::TestWithParam<DataType> {};

TEST_P(SoftMaxTest, EveryAxis) {
  const DataType type = GetParam();
  const HostTensor x = randomTensor(type, Dims{2, 3, 4, 5}, 17, -3, 3);
  for (int32_t axis : {0, 1, 2, 3}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    expectClose(runSoftmax(x, axis), referenceSoftmax(x, axis), defaultAtol(type), defaultAtol(type));
  }
}

TEST_P(SoftMaxTest, DefaultAxisIsTheLast) {
  const DataType type = GetParam();
  const HostTensor x = randomTensor(type, Dims{3, 7}, 18, -3, 3);
  expectClose(runSoftmax(x, -1), referenceSoftmax(x, 1), defaultAtol(type), defaultAtol(type));
}

TEST_P(SoftMaxTest, LargeValuesStayFinite) {
  // exp(800) overflows even double: only the max-subtracted form gives finite results.
  const DataType type = GetParam();
  const HostTensor x = randomTensor(type, Dims{4, 6, 5}, 19, -900, 900);
  for (int32_t axis : {1, 2}) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    expectClose(runSoftmax(x, axis), referenceSoftmax(x, axis), defaultAtol(type), defaultAtol(type));
  }
}

INSTANTIATE_TEST_SUITE_P(FloatTypes, SoftMaxTest, ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

TEST(SoftMax, LongRowsAndStridedAxis) {
  const HostTensor rows = randomTensor(DataType::kFLOAT, Dims{8, 5000}, 20, -10, 10);
  expectClose(runSoftmax(rows, 1, false), referenceSoftmax(rows, 1), 1e-6, 1e-5);
  const HostTensor strided = randomTensor(DataType::kFLOAT, Dims{3, 700, 300}, 21, -10, 10);
  expectClose(runSoftmax(strided, 1, false), referenceSoftmax(strided, 1), 1e-6, 1e-5);
}

TEST(SoftMax, InfinitiesAndNaN) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const HostTensor x = makeTensor(DataType::kFLOAT, Dims{3, 3}, {-inf, 0, 0, -inf, -inf, 5, 1, nan, 2});
  // A -inf entry gets 0; a NaN anywhere in the row poisons the row (like torch).
  expectClose(runSoftmax(x, 1), makeTensor(DataType::kFLOAT, Dims{3, 3}, {0, 0.5, 0.5, 0, 0, 1, nan, nan, nan}));
}

TEST(SoftMax, AxesAccessor) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{2, 3, 4});
  ISoftMaxLayer* layer = net.addSoftMax(*x);
  ASSERT_NE(layer, nullptr) << net.status().message();
  EXPECT_EQ(layer->getAxes(), 0b100u);
  layer->setAxes(0b010);
  EXPECT_EQ(layer->getAxes(), 0b010u);
  EXPECT_TRUE(net.validate().isOk());
}

TEST(SoftMaxErrors, InvalidParametersAreRejected) {
  {
    NetworkDefinition net;
    ITensor* x = net.addInput("x", DataType::kINT32, Dims{2, 3});
    EXPECT_EQ(net.addSoftMax(*x), nullptr);
    EXPECT_FALSE(net.status().isOk());
  }
  {
    NetworkDefinition net;
    ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{});
    EXPECT_EQ(net.addSoftMax(*x), nullptr);
    EXPECT_FALSE(net.status().isOk());
  }
  for (uint32_t mask : {0u, 0b011u, 0b100u}) {
    SCOPED_TRACE("mask " + std::to_string(mask));
    NetworkDefinition net;
    ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{2, 3});
    ISoftMaxLayer* layer = net.addSoftMax(*x);
    ASSERT_NE(layer, nullptr);
    layer->setAxes(mask);
    EXPECT_FALSE(net.validate().isOk());
  }
}

}  // namespace
}  // namespace testing
}  // namespace kiln
