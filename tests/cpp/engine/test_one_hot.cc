// One-hot layers against a naive reference: each axis, every value dtype, int32/int64 indices, negative
// and out-of-range indices, depth from constants and shape tensors, dynamic shapes, and invalid inputs.
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

const DataType kAllTypes[] = {DataType::kFLOAT, DataType::kHALF,  DataType::kBF16, DataType::kINT8,
                              DataType::kINT32, DataType::kINT64, DataType::kBOOL, DataType::kUINT8};

// out[.., d (at axis), ..] = on when the index (negative ones counted from the end) equals d, else off.
HostTensor oneHotRef(const HostTensor& indices, const HostTensor& values, int64_t depth, int32_t axis) {
  const int32_t rank = indices.dims.nbDims + 1;
  if (axis < 0) axis += rank;
  Dims out;
  out.nbDims = rank;
  for (int32_t d = 0, s = 0; d < rank; ++d) out.d[d] = d == axis ? depth : indices.dims.d[s++];
  const std::vector<double> v = toDoubles(values);
  std::vector<double> result;
  for (int64_t o = 0; o < volume(out); ++o) {
    int64_t rem = o, src = 0, mul = 1, position = 0;
    for (int32_t d = rank - 1; d >= 0; --d) {
      const int64_t c = rem % out.d[d];
      rem /= out.d[d];
      if (d == axis) {
        position = c;
      } else {
        src += c * mul;
        mul *= out.d[d];
      }
    }
    int64_t index = indices.intAt(src);
    if (index < 0) index += depth;
    result.push_back(index == position ? v[1] : v[0]);
  }
  return makeTensor(values.type, out, result);
}

ITensor* depthConstant(NetworkDefinition& net, DataType type, int64_t depth) {
  const auto depth32 = static_cast<int32_t>(depth);
  const void* ptr = type == DataType::kINT64 ? static_cast<const void*>(&depth) : &depth32;
  return net.addConstant(Dims{}, Weights{type, ptr, 1})->getOutput(0);  // the network copies the value
}

ITensor* valuesConstant(NetworkDefinition& net, const HostTensor& values) {
  return net.addConstant(values.dims, Weights{values.type, values.data(), values.count()})->getOutput(0);
}

// The values are a constant so that the dynamic-shape run keeps them at two elements.
NetworkFn oneHotNet(const HostTensor& values, int64_t depth, int32_t axis, DataType depthType = DataType::kINT32) {
  return [=](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    IOneHotLayer* layer =
        net.addOneHot(*in[0], *valuesConstant(net, values), *depthConstant(net, depthType, depth), axis);
    ASSERT_NE(layer, nullptr);
    EXPECT_EQ(layer->getAxis(), axis);
    net.markOutput(*layer->getOutput(0));
  };
}

class OneHotTypes : public ::testing::TestWithParam<DataType> {};

TEST_P(OneHotTypes, LastAxis) {
  const DataType type = GetParam();
  const HostTensor idx = makeTensor(DataType::kINT32, Dims{2, 3}, {0, 3, -1, 2, 7, -5});
  const HostTensor values = makeTensor(type, Dims{2}, {1, 0});  // off = 1, on = 0 also works for bool
  const HostTensor y = runSingleOutput(oneHotNet(values, 4, -1), {{"i", idx}});
  expectEqual(y, oneHotRef(idx, values, 4, -1));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, OneHotTypes, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

TEST(OneHot, EveryAxis) {
  const HostTensor idx = makeTensor(DataType::kINT64, Dims{2, 3}, {1, 0, 4, -2, 2, 3});
  const HostTensor values = makeTensor(DataType::kFLOAT, Dims{2}, {-0.5, 2.5});
  for (int32_t axis : {0, 1, 2, -2, -3}) {
    const HostTensor y = runSingleOutput(oneHotNet(values, 5, axis, DataType::kINT64), {{"i", idx}});
    expectEqual(y, oneHotRef(idx, values, 5, axis));
  }
}

TEST(OneHot, ScalarIndicesAndZeroDepth) {
  const HostTensor scalar = makeTensor(DataType::kINT32, Dims{}, {2});
  const HostTensor values = makeTensor(DataType::kHALF, Dims{2}, {0, 1});
  expectEqual(runSingleOutput(oneHotNet(values, 3, 0), {{"i", scalar}}, false), oneHotRef(scalar, values, 3, 0));
  const HostTensor idx = makeTensor(DataType::kINT32, Dims{2}, {0, 1});
  RunResult r = buildAndRun(oneHotNet(values, 0, -1), {{"i", idx}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  EXPECT_EQ(dimsToString(r.ordered[0].dims), "[2,0]");
}

TEST(OneHot, LargeIndices) {
  std::vector<double> ids;
  for (int i = 0; i < 3000; ++i) ids.push_back((i * 13) % 40 - 20);
  const HostTensor idx = makeTensor(DataType::kINT32, Dims{3, 1000}, ids);
  const HostTensor values = makeTensor(DataType::kINT8, Dims{2}, {-1, 1});
  expectEqual(runSingleOutput(oneHotNet(values, 20, 1), {{"i", idx}}, false), oneHotRef(idx, values, 20, 1));
}

TEST(OneHot, DepthFromShapeTensor) {
  // depth = shape(x)[1] (a 0-D gather of the shape): known only at run time for dynamic shapes.
  const HostTensor idx = makeTensor(DataType::kINT32, Dims{4}, {0, 2, -1, 5});
  const HostTensor values = makeTensor(DataType::kFLOAT, Dims{2}, {0, 1});
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{2, 6}, 1);
  const HostTensor y = runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        const int32_t one = 1;
        ITensor* index = net.addConstant(Dims{}, Weights{DataType::kINT32, &one, 1})->getOutput(0);
        ITensor* depth = net.addGather(*net.addShape(*in[1])->getOutput(0), *index, 0)->getOutput(0);
        IOneHotLayer* layer = net.addOneHot(*in[0], *valuesConstant(net, values), *depth, -1);
        ASSERT_NE(layer, nullptr);
        net.markOutput(*layer->getOutput(0));
      },
      {{"i", idx}, {"x", x}});
  expectEqual(y, oneHotRef(idx, values, 6, -1));
}

TEST(OneHotErrors, InvalidInputs) {
  NetworkDefinition net(0);
  ITensor* idx = net.addInput("i", DataType::kINT32, Dims{3});
  ITensor* floatIdx = net.addInput("f", DataType::kFLOAT, Dims{3});
  ITensor* values = net.addInput("v", DataType::kFLOAT, Dims{2});
  ITensor* threeValues = net.addInput("v3", DataType::kFLOAT, Dims{3});
  ITensor* depth = depthConstant(net, DataType::kINT32, 4);
  const int32_t twoDepths[] = {4, 5};
  ITensor* vectorDepth = net.addConstant(Dims{2}, Weights{DataType::kINT32, twoDepths, 2})->getOutput(0);
  ITensor* negative = depthConstant(net, DataType::kINT64, -3);
  EXPECT_EQ(net.addOneHot(*floatIdx, *values, *depth, -1), nullptr);
  EXPECT_EQ(net.addOneHot(*idx, *threeValues, *depth, -1), nullptr);
  EXPECT_EQ(net.addOneHot(*idx, *values, *vectorDepth, -1), nullptr);
  EXPECT_EQ(net.addOneHot(*idx, *values, *negative, -1), nullptr);
  EXPECT_EQ(net.addOneHot(*idx, *values, *depth, 2), nullptr);
  EXPECT_EQ(net.addOneHot(*idx, *values, *depth, -3), nullptr);
  EXPECT_FALSE(net.status().isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
