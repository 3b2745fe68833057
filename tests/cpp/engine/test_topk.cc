// Top-k against a stable-sort reference (ties keep the lower index first): max and min, several axes and k,
// float and integer types, int32 and int64 indices, NaN ordering, static and dynamic shapes, bad parameters.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

struct TopKResult {
  HostTensor values, indices;
};

TopKResult referenceTopK(const HostTensor& x, TopKOperation op, int32_t k, int32_t axis, DataType indexType) {
  const std::vector<double> v = toDoubles(x);
  int64_t outer = 1, inner = 1;
  const int64_t n = x.dims.d[axis];
  for (int32_t d = 0; d < axis; ++d) outer *= x.dims.d[d];
  for (int32_t d = axis + 1; d < x.dims.nbDims; ++d) inner *= x.dims.d[d];
  Dims out = x.dims;
  out.d[axis] = k;
  std::vector<double> values(static_cast<size_t>(volume(out))), indices(values.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      std::vector<int64_t> order(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), 0);
      auto key = [&](int64_t j) { return v[static_cast<size_t>((o * n + j) * inner + i)]; };
      // NaN ranks above every number (torch.topk).
      auto rank = [&](int64_t j) {
        const double value = key(j);
        return std::isnan(value) ? std::numeric_limits<double>::infinity() : value;
      };
      auto greater = [&](int64_t a, int64_t b) {
        if (std::isnan(key(a)) != std::isnan(key(b))) return std::isnan(key(a));
        return rank(a) > rank(b);
      };
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return op == TopKOperation::kMAX ? greater(a, b) : greater(b, a); });
      for (int64_t j = 0; j < k; ++j) {
        const size_t at = static_cast<size_t>((o * k + j) * inner + i);
        values[at] = key(order[static_cast<size_t>(j)]);
        indices[at] = static_cast<double>(order[static_cast<size_t>(j)]);
      }
    }
  }
  return {makeTensor(x.type, out, values), makeTensor(indexType, out, indices)};
}

RunResult runTopK(const HostTensor& x, TopKOperation op, int32_t k, uint32_t mask, DataType indexType,
                  uint32_t dynamicMask) {
  return buildAndRun(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ITopKLayer* layer = net.addTopK(*in[0], op, k, mask);
        ASSERT_NE(layer, nullptr) << net.status().message();
        if (indexType != DataType::kINT32) layer->setIndicesType(indexType);
        net.markOutput(*layer->getOutput(0));
        net.markOutput(*layer->getOutput(1));
      },
      {{"x", x, dynamicMask}});
}

class TopKTest : public ::testing::TestWithParam<std::tuple<TopKOperation, DataType>> {};

TEST_P(TopKTest, AxesAndKWithTies) {
  const auto [op, type] = GetParam();
  const Dims dims{3, 4, 10};
  // Few distinct values, so ties are everywhere.
  const HostTensor x = randomTensor(type, dims, 9, -4, 4);
  HostTensor rounded = x;
  if (isFloatType(type)) {
    std::vector<double> v = toDoubles(x);
    for (double& e : v) e = std::round(e);
    rounded = makeTensor(type, dims, v);
  }
  for (int32_t axis : {2, 1, 0}) {
    for (int32_t k : {1, 2, static_cast<int32_t>(dims.d[axis])}) {
      for (DataType indexType : {DataType::kINT32, DataType::kINT64}) {
        for (uint32_t dynamicMask : {0u, 0b111u}) {
          SCOPED_TRACE("axis " + std::to_string(axis) + " k " + std::to_string(k) + " " + dataTypeName(indexType) +
                       (dynamicMask ? " dynamic" : " static"));
          const RunResult result = runTopK(rounded, op, k, 1u << axis, indexType, dynamicMask);
          ASSERT_TRUE(result.status.isOk()) << result.status.message();
          ASSERT_EQ(result.ordered.size(), 2u);
          const TopKResult expected = referenceTopK(rounded, op, k, axis, indexType);
          expectEqual(result.ordered[0], expected.values);
          expectEqual(result.ordered[1], expected.indices);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, TopKTest,
                         ::testing::Combine(::testing::Values(TopKOperation::kMAX, TopKOperation::kMIN),
                                            ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16,
                                                              DataType::kINT32, DataType::kINT64)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == TopKOperation::kMAX ? "Max" : "Min") + "_" +
                                  dataTypeName(std::get<1>(info.param));
                         });

TEST(TopK, LongRowsSmallAndLargeK) {
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{6, 3000}, 4, -100, 100);
  for (int32_t k : {5, 2500}) {
    for (TopKOperation op : {TopKOperation::kMAX, TopKOperation::kMIN}) {
      const RunResult result = runTopK(x, op, k, 0b10, DataType::kINT32, 0);
      ASSERT_TRUE(result.status.isOk()) << result.status.message();
      const TopKResult expected = referenceTopK(x, op, k, 1, DataType::kINT32);
      expectEqual(result.ordered[0], expected.values);
      expectEqual(result.ordered[1], expected.indices);
    }
  }
}

TEST(TopK, NaNRanksAboveEveryNumber) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const HostTensor x = makeTensor(DataType::kFLOAT, Dims{6}, {1, nan, 3, nan, -2, 3});
  const RunResult largest = runTopK(x, TopKOperation::kMAX, 4, 1, DataType::kINT64, 0);
  ASSERT_TRUE(largest.status.isOk()) << largest.status.message();
  expectClose(largest.ordered[0], makeTensor(DataType::kFLOAT, Dims{4}, {nan, nan, 3, 3}));
  expectEqual(largest.ordered[1], makeTensor(DataType::kINT64, Dims{4}, {1, 3, 2, 5}));
  const RunResult smallest = runTopK(x, TopKOperation::kMIN, 6, 1, DataType::kINT32, 0);
  ASSERT_TRUE(smallest.status.isOk()) << smallest.status.message();
  expectClose(smallest.ordered[0], makeTensor(DataType::kFLOAT, Dims{6}, {-2, 1, 3, 3, nan, nan}));
  expectEqual(smallest.ordered[1], makeTensor(DataType::kINT32, Dims{6}, {4, 0, 2, 5, 1, 3}));
}

TEST(TopK, AccessorsRoundTrip) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{4, -1});
  ITopKLayer* layer = net.addTopK(*x, TopKOperation::kMAX, 2, 0b10);
  ASSERT_NE(layer, nullptr) << net.status().message();
  EXPECT_EQ(layer->getIndicesType(), DataType::kINT32);
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{4, 2}));
  EXPECT_EQ(layer->getOutput(1)->getType(), DataType::kINT32);
  layer->setK(3);
  layer->setReduceAxes(0b01);
  layer->setOperation(TopKOperation::kMIN);
  layer->setIndicesType(DataType::kINT64);
  EXPECT_EQ(layer->getK(), 3);
  EXPECT_EQ(layer->getReduceAxes(), 0b01u);
  EXPECT_EQ(layer->getOperation(), TopKOperation::kMIN);
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{3, -1}));
  EXPECT_EQ(layer->getOutput(1)->getType(), DataType::kINT64);
  EXPECT_TRUE(net.validate().isOk());
}

TEST(TopKErrors, InvalidParametersAreRejected) {
  struct Bad {
    const char* name;
    DataType type;
    int32_t k;
    uint32_t mask;
  };
  const Bad cases[] = {
      {"k beyond extent", DataType::kFLOAT, 6, 0b10},
      {"negative k", DataType::kFLOAT, -1, 0b10},
      {"two axes", DataType::kFLOAT, 1, 0b11},
      {"no axis", DataType::kFLOAT, 1, 0},
      {"axis beyond rank", DataType::kFLOAT, 1, 0b100},
      {"int8", DataType::kINT8, 1, 0b10},
      {"bool", DataType::kBOOL, 1, 0b10},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.name);
    NetworkDefinition net;
    ITensor* x = net.addInput("x", c.type, Dims{3, 5});
    EXPECT_EQ(net.addTopK(*x, TopKOperation::kMAX, c.k, c.mask), nullptr);
    EXPECT_FALSE(net.status().isOk());
  }
}

TEST(TopKErrors, FloatIndicesFailValidation) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{3, 5});
  ITopKLayer* layer = net.addTopK(*x, TopKOperation::kMAX, 2, 0b10);
  ASSERT_NE(layer, nullptr);
  layer->setIndicesType(DataType::kFLOAT);
  EXPECT_FALSE(net.validate().isOk());
}

TEST(TopKErrors, KBeyondARunTimeExtentFails) {
  // The axis is dynamic ([2, 8]); k = 4 is fine for the profile's larger shapes but not for the 3 given.
  const RunResult result = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ITopKLayer* layer = net.addTopK(*in[0], TopKOperation::kMAX, 4, 0b10);
        ASSERT_NE(layer, nullptr) << net.status().message();
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", randomTensor(DataType::kFLOAT, Dims{2, 3}, 1), 0b10, Dims{2, 2}, Dims{2, 8}}});
  EXPECT_FALSE(result.status.isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
