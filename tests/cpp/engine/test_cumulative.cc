// Cumulative sums and products against a naive reference (double for floats, wrapping 64-bit integers for
// integer types): every axis (negative too), exclusive and reverse, static and dynamic shapes, bad parameters.
#include <cstdint>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

double wrapTo(DataType type, uint64_t v) {
  const auto s = static_cast<int64_t>(v);
  switch (type) {
    case DataType::kINT8:
      return static_cast<int8_t>(s);
    case DataType::kUINT8:
      return static_cast<uint8_t>(s);
    case DataType::kINT32:
      return static_cast<int32_t>(s);
    case DataType::kINT64:
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16:
    case DataType::kBOOL:
      break;
  }
  return static_cast<double>(s);
}

HostTensor referenceCumulative(const HostTensor& x, CumulativeOperation op, int32_t axis, bool exclusive,
                               bool reverse) {
  const std::vector<double> v = toDoubles(x);
  const Dims& d = x.dims;
  if (axis < 0) axis += d.nbDims;
  int64_t outer = 1, inner = 1;
  const int64_t n = d.d[axis];
  for (int32_t i = 0; i < axis; ++i) outer *= d.d[i];
  for (int32_t i = axis + 1; i < d.nbDims; ++i) inner *= d.d[i];
  const bool integer = !isFloatType(x.type);
  const bool product = op == CumulativeOperation::kPROD;
  std::vector<double> result(v.size());
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      double acc = product ? 1 : 0;
      uint64_t iacc = product ? 1 : 0;  // integers: exact modulo 2^64, then wrapped to the type's width
      for (int64_t s = 0; s < n; ++s) {
        const int64_t j = reverse ? n - 1 - s : s;
        const size_t at = static_cast<size_t>((o * n + j) * inner + i);
        const double before = acc;
        const uint64_t ibefore = iacc;
        const auto xi = static_cast<uint64_t>(static_cast<int64_t>(v[at]));
        acc = product ? acc * v[at] : acc + v[at];
        iacc = product ? iacc * xi : iacc + xi;
        result[at] = exclusive ? before : acc;
        if (integer) result[at] = wrapTo(x.type, exclusive ? ibefore : iacc);
      }
    }
  }
  return makeTensor(x.type, d, result);
}

class CumulativeTest : public ::testing::TestWithParam<std::tuple<CumulativeOperation, DataType>> {};

TEST_P(CumulativeTest, AxesExclusiveReverse) {
  const auto [op, type] = GetParam();
  const Dims dims{3, 4, 5};
  const bool product = op == CumulativeOperation::kPROD;
  HostTensor x;
  if (isFloatType(type)) {
    x = randomTensor(type, dims, 3, product ? 0.6 : -2.0, product ? 1.4 : 2.0);
  } else {
    x = randomTensor(type, dims, 3, type == DataType::kUINT8 ? 0 : (product ? -3 : -50), product ? 4 : 50);
  }
  for (int32_t axis : {0, 1, 2, -1, -3}) {
    for (bool exclusive : {false, true}) {
      for (bool reverse : {false, true}) {
        SCOPED_TRACE("axis " + std::to_string(axis) + (exclusive ? " exclusive" : "") + (reverse ? " reverse" : ""));
        const HostTensor y = runSingleOutput(
            [&, op = op](NetworkDefinition& net, const std::vector<ITensor*>& in) {
              ICumulativeLayer* layer = net.addCumulative(*in[0], axis, op, exclusive, reverse);
              ASSERT_NE(layer, nullptr) << net.status().message();
              net.markOutput(*layer->getOutput(0));
            },
            {{"x", x}});
        const HostTensor expected = referenceCumulative(x, op, axis, exclusive, reverse);
        if (isFloatType(type)) {
          expectClose(y, expected, defaultAtol(type), defaultAtol(type));
        } else {
          expectEqual(y, expected);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, CumulativeTest,
                         ::testing::Combine(::testing::Values(CumulativeOperation::kSUM, CumulativeOperation::kPROD),
                                            ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16,
                                                              DataType::kINT8, DataType::kUINT8, DataType::kINT32,
                                                              DataType::kINT64)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == CumulativeOperation::kSUM ? "Sum" : "Prod") +
                                  "_" + dataTypeName(std::get<1>(info.param));
                         });

TEST(Cumulative, LongAxisWithManyLanes) {
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{4, 500, 300}, 8, -1, 1);
  for (int32_t axis : {1, 2}) {
    const HostTensor y = runSingleOutput(
        [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          net.markOutput(*net.addCumulative(*in[0], axis, CumulativeOperation::kSUM, false, true)->getOutput(0));
        },
        {{"x", x}}, /*alsoDynamic=*/false);
    expectClose(y, referenceCumulative(x, CumulativeOperation::kSUM, axis, false, true), 1e-5, 1e-5);
  }
}

TEST(Cumulative, AccessorsRoundTrip) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{2, -1});
  ICumulativeLayer* layer = net.addCumulative(*x, -1, CumulativeOperation::kSUM, false, false);
  ASSERT_NE(layer, nullptr) << net.status().message();
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{2, -1}));
  layer->setAxis(0);
  layer->setOperation(CumulativeOperation::kPROD);
  layer->setExclusive(true);
  layer->setReverse(true);
  EXPECT_EQ(layer->getAxis(), 0);
  EXPECT_EQ(layer->getOperation(), CumulativeOperation::kPROD);
  EXPECT_TRUE(layer->getExclusive());
  EXPECT_TRUE(layer->getReverse());
  EXPECT_TRUE(net.validate().isOk());
  layer->setAxis(2);
  EXPECT_FALSE(net.validate().isOk());
}

TEST(CumulativeErrors, InvalidParametersAreRejected) {
  struct Bad {
    const char* name;
    DataType type;
    Dims dims;
    int32_t axis;
    CumulativeOperation op;
  };
  const Bad cases[] = {
      {"axis too large", DataType::kFLOAT, Dims{2, 3}, 2, CumulativeOperation::kSUM},
      {"axis too negative", DataType::kFLOAT, Dims{2, 3}, -3, CumulativeOperation::kSUM},
      {"rank 0", DataType::kFLOAT, Dims{}, 0, CumulativeOperation::kSUM},
      {"bool", DataType::kBOOL, Dims{2, 3}, 0, CumulativeOperation::kSUM},
      {"unknown op", DataType::kFLOAT, Dims{2, 3}, 0, static_cast<CumulativeOperation>(5)},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.name);
    NetworkDefinition net;
    ITensor* x = net.addInput("x", c.type, c.dims);
    EXPECT_EQ(net.addCumulative(*x, c.axis, c.op, false, false), nullptr);
    EXPECT_FALSE(net.status().isOk());
  }
}

}  // namespace
}  // namespace testing
}  // namespace kiln
