// Reduce layers against a naive reference (double for floats, wrapping 64-bit integers for integer types):
// every op, several axis masks with and without keepDims, every numeric type, static and dynamic shapes.
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

// Wraps an exact 64-bit result to the width of an integer type, as two's complement does.
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

HostTensor referenceReduce(const HostTensor& x, ReduceOperation op, uint32_t mask, bool keep) {
  const std::vector<double> v = toDoubles(x);
  const Dims& d = x.dims;
  Dims out;
  for (int32_t i = 0; i < d.nbDims; ++i) {
    if (((mask >> i) & 1u) == 0) {
      out.d[out.nbDims++] = d.d[i];
    } else if (keep) {
      out.d[out.nbDims++] = 1;
    }
  }
  const int64_t n = volume(out);
  const bool integer = !isFloatType(x.type);
  std::vector<double> acc(static_cast<size_t>(n));
  std::vector<uint64_t> iacc(static_cast<size_t>(n));
  std::vector<int64_t> count(static_cast<size_t>(n), 0);
  for (int64_t o = 0; o < n; ++o) {
    switch (op) {
      case ReduceOperation::kSUM:
      case ReduceOperation::kAVG:
        acc[o] = 0;
        iacc[o] = 0;
        break;
      case ReduceOperation::kPROD:
        acc[o] = 1;
        iacc[o] = 1;
        break;
      case ReduceOperation::kMAX:
        acc[o] = -std::numeric_limits<double>::infinity();
        break;
      case ReduceOperation::kMIN:
        acc[o] = std::numeric_limits<double>::infinity();
        break;
    }
  }
  for (int64_t i = 0; i < volume(d); ++i) {
    // Output index: the input's coordinates on the kept dims, row-major.
    int64_t rest = i, o = 0, stride = 1;
    for (int32_t k = d.nbDims - 1; k >= 0; --k) {
      const int64_t idx = rest % d.d[k];
      rest /= d.d[k];
      if (((mask >> k) & 1u) == 0) {
        o += idx * stride;
        stride *= d.d[k];
      }
    }
    const double x_i = v[static_cast<size_t>(i)];
    const auto xi = static_cast<uint64_t>(static_cast<int64_t>(x_i));
    ++count[o];
    switch (op) {
      case ReduceOperation::kSUM:
      case ReduceOperation::kAVG:
        acc[o] += x_i;
        iacc[o] += xi;
        break;
      case ReduceOperation::kPROD:
        acc[o] *= x_i;
        iacc[o] *= xi;
        break;
      case ReduceOperation::kMAX:
        acc[o] = std::max(acc[o], x_i);
        break;
      case ReduceOperation::kMIN:
        acc[o] = std::min(acc[o], x_i);
        break;
    }
  }
  std::vector<double> result(static_cast<size_t>(n));
  for (int64_t o = 0; o < n; ++o) {
    const bool wraps = integer && (op == ReduceOperation::kSUM || op == ReduceOperation::kPROD);
    result[o] = wraps ? wrapTo(x.type, iacc[o]) : acc[o];
    if (op == ReduceOperation::kAVG) result[o] = acc[o] / static_cast<double>(count[o]);
  }
  return makeTensor(x.type, out, result);
}

const DataType kAllTypes[] = {DataType::kFLOAT, DataType::kHALF,  DataType::kBF16, DataType::kINT8,
                              DataType::kUINT8, DataType::kINT32, DataType::kINT64};
const ReduceOperation kOps[] = {ReduceOperation::kSUM, ReduceOperation::kPROD, ReduceOperation::kMAX,
                                ReduceOperation::kMIN, ReduceOperation::kAVG};

HostTensor inputFor(DataType type, ReduceOperation op, const Dims& dims, uint64_t seed) {
  if (op == ReduceOperation::kPROD) {
    // Products of many values: keep floats near 1; integers overflow and wrap (checked exactly).
    if (isFloatType(type)) return randomTensor(type, dims, seed, 0.7, 1.3);
    return randomTensor(type, dims, seed, type == DataType::kUINT8 ? 0 : -3, 4);
  }
  if (isFloatType(type)) return randomTensor(type, dims, seed, -2.0, 2.0);
  if (type == DataType::kUINT8) return randomTensor(type, dims, seed, 0, 40);
  return randomTensor(type, dims, seed, -40, 40);
}

class ReduceTest : public ::testing::TestWithParam<std::tuple<ReduceOperation, DataType>> {};

TEST_P(ReduceTest, MasksAndKeepDims) {
  const auto [op, type] = GetParam();
  if (op == ReduceOperation::kAVG && !isFloatType(type)) {
    // Integer averages would have to round somehow: they are rejected (cast to a float type first).
    NetworkDefinition net;
    ITensor* x = net.addInput("x", type, Dims{2, 3});
    EXPECT_EQ(net.addReduce(*x, op, 1, false), nullptr);
    EXPECT_NE(net.status().message().find("average"), std::string::npos) << net.status().message();
    return;
  }
  const Dims dims{2, 3, 4, 5};
  const HostTensor x = inputFor(type, op, dims, 5);
  for (uint32_t mask : {0b1000u, 0b0001u, 0b0110u, 0b1010u, 0b0101u, 0b1111u, 0b0111u, 0u}) {
    for (bool keep : {false, true}) {
      SCOPED_TRACE("mask " + std::to_string(mask) + (keep ? " keepDims" : ""));
      const HostTensor y = runSingleOutput(
          [&, op = op](NetworkDefinition& net, const std::vector<ITensor*>& in) {
            IReduceLayer* layer = net.addReduce(*in[0], op, mask, keep);
            ASSERT_NE(layer, nullptr) << net.status().message();
            net.markOutput(*layer->getOutput(0));
          },
          {{"x", x}});
      const HostTensor expected = referenceReduce(x, op, mask, keep);
      if (isFloatType(type)) {
        expectClose(y, expected, defaultAtol(type), defaultAtol(type));
      } else {
        expectEqual(y, expected);
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllOpsAndTypes, ReduceTest,
                         ::testing::Combine(::testing::ValuesIn(kOps), ::testing::ValuesIn(kAllTypes)),
                         [](const auto& info) {
                           return std::to_string(static_cast<int>(std::get<0>(info.param))) + "_" +
                                  dataTypeName(std::get<1>(info.param));
                         });

TEST(Reduce, LargeTensorsTakeTheParallelPaths) {
  // [70, 300, 9]: reducing dim 0 runs the trailing-lanes path, dim 2 the row path, dims 0 and 2 both.
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{70, 300, 9}, 3, -1, 1);
  for (uint32_t mask : {0b001u, 0b100u, 0b101u, 0b011u}) {
    for (ReduceOperation op : {ReduceOperation::kSUM, ReduceOperation::kMAX, ReduceOperation::kAVG}) {
      SCOPED_TRACE("mask " + std::to_string(mask) + " op " + std::to_string(static_cast<int>(op)));
      const HostTensor y = runSingleOutput(
          [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
            net.markOutput(*net.addReduce(*in[0], op, mask, false)->getOutput(0));
          },
          {{"x", x}}, /*alsoDynamic=*/false);
      expectClose(y, referenceReduce(x, op, mask, false), 1e-5, 1e-5);
    }
  }
}

TEST(Reduce, FewOutputsFromManyInputsSplitTheReduction) {
  // A full reduction and the long leading dim of [N, 3]: the reduced range is split over threads.
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{60000, 3}, 6, -1, 1);
  const HostTensor xi = randomTensor(DataType::kINT32, Dims{60000, 3}, 7, -1000, 1000);
  for (uint32_t mask : {0b01u, 0b11u}) {
    for (ReduceOperation op : {ReduceOperation::kSUM, ReduceOperation::kMIN, ReduceOperation::kAVG}) {
      SCOPED_TRACE("mask " + std::to_string(mask) + " op " + std::to_string(static_cast<int>(op)));
      auto define = [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        net.markOutput(*net.addReduce(*in[0], op, mask, true)->getOutput(0));
      };
      expectClose(runSingleOutput(define, {{"x", x}}, false), referenceReduce(x, op, mask, true), 1e-6, 1e-6);
      if (op != ReduceOperation::kAVG) {
        expectEqual(runSingleOutput(define, {{"x", xi}}, false), referenceReduce(xi, op, mask, true));
      }
    }
  }
}

TEST(Reduce, NaNPropagatesThroughMaxAndMin) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const HostTensor x = makeTensor(DataType::kFLOAT, Dims{2, 3}, {1, nan, 3, 4, 5, 6});
  for (ReduceOperation op : {ReduceOperation::kMAX, ReduceOperation::kMIN}) {
    const HostTensor y = runSingleOutput(
        [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          net.markOutput(*net.addReduce(*in[0], op, 0b10, false)->getOutput(0));
        },
        {{"x", x}});
    expectClose(y, makeTensor(DataType::kFLOAT, Dims{2}, {nan, op == ReduceOperation::kMAX ? 6.0 : 4.0}));
  }
}

TEST(Reduce, AccessorsRoundTripAndReshape) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{2, -1, 4});
  IReduceLayer* layer = net.addReduce(*x, ReduceOperation::kSUM, 0b010, false);
  ASSERT_NE(layer, nullptr) << net.status().message();
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{2, 4}));
  layer->setReduceAxes(0b101);
  layer->setKeepDimensions(true);
  layer->setOperation(ReduceOperation::kMIN);
  EXPECT_EQ(layer->getReduceAxes(), 0b101u);
  EXPECT_TRUE(layer->getKeepDimensions());
  EXPECT_EQ(layer->getOperation(), ReduceOperation::kMIN);
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{1, -1, 1}));
}

TEST(ReduceErrors, InvalidParametersAreRejected) {
  struct Bad {
    const char* name;
    DataType type;
    ReduceOperation op;
    uint32_t mask;
  };
  const Bad cases[] = {
      {"integer average", DataType::kINT32, ReduceOperation::kAVG, 1},
      {"bool input", DataType::kBOOL, ReduceOperation::kSUM, 1},
      {"mask beyond rank", DataType::kFLOAT, ReduceOperation::kSUM, 0b1000},
      {"unknown op", DataType::kFLOAT, static_cast<ReduceOperation>(9), 1},
  };
  for (const Bad& c : cases) {
    SCOPED_TRACE(c.name);
    NetworkDefinition net;
    ITensor* x = net.addInput("x", c.type, Dims{2, 3, 4});
    EXPECT_EQ(net.addReduce(*x, c.op, c.mask, false), nullptr);
    EXPECT_FALSE(net.status().isOk());
  }
}

TEST(ReduceErrors, SetterToABadMaskFailsValidation) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{2, 3});
  IReduceLayer* layer = net.addReduce(*x, ReduceOperation::kSUM, 1, false);
  ASSERT_NE(layer, nullptr);
  layer->setReduceAxes(0b100);
  EXPECT_FALSE(net.validate().isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
