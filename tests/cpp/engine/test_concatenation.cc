// Concatenation layers against a naive reference: every dtype, each axis (negative and default), dynamic
// shapes, empty inputs, and mismatched inputs.
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

const DataType kAllTypes[] = {DataType::kFLOAT, DataType::kHALF,  DataType::kBF16, DataType::kINT8,
                              DataType::kINT32, DataType::kINT64, DataType::kBOOL, DataType::kUINT8};

HostTensor sample(DataType type, const Dims& dims, uint64_t seed) { return randomTensor(type, dims, seed, -50, 50); }

// Walks the output in row-major order, taking each element from the input that owns its axis position.
HostTensor concatRef(const std::vector<HostTensor>& parts, int32_t axis) {
  Dims out = parts[0].dims;
  out.d[axis] = 0;
  for (const HostTensor& p : parts) out.d[axis] += p.dims.d[axis];
  std::vector<std::vector<double>> values;
  for (const HostTensor& p : parts) values.push_back(toDoubles(p));
  std::vector<double> result;
  for (int64_t o = 0; o < volume(out); ++o) {
    std::vector<int64_t> c(static_cast<size_t>(out.nbDims));
    int64_t rem = o;
    for (int32_t d = out.nbDims - 1; d >= 0; --d) {
      c[static_cast<size_t>(d)] = rem % out.d[d];
      rem /= out.d[d];
    }
    size_t k = 0;
    while (c[static_cast<size_t>(axis)] >= parts[k].dims.d[axis])
      c[static_cast<size_t>(axis)] -= parts[k++].dims.d[axis];
    int64_t src = 0;
    for (int32_t d = 0; d < out.nbDims; ++d) src = src * parts[k].dims.d[d] + c[static_cast<size_t>(d)];
    result.push_back(values[k][static_cast<size_t>(src)]);
  }
  return makeTensor(parts[0].type, out, result);
}

HostTensor runConcat(const std::vector<HostTensor>& parts, int32_t axis, bool setAxis, bool alsoDynamic = true) {
  std::vector<TestInput> inputs;
  for (size_t i = 0; i < parts.size(); ++i) inputs.push_back({"x" + std::to_string(i), parts[i]});
  return runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IConcatenationLayer* layer = net.addConcatenation(in.data(), static_cast<int32_t>(in.size()));
        ASSERT_NE(layer, nullptr);
        if (setAxis) {
          layer->setAxis(axis);
          EXPECT_EQ(layer->getAxis(), axis);
        }
        net.markOutput(*layer->getOutput(0));
      },
      inputs, alsoDynamic);
}

class ConcatenationTypes : public ::testing::TestWithParam<DataType> {};

TEST_P(ConcatenationTypes, MiddleAxis) {
  const DataType type = GetParam();
  const std::vector<HostTensor> parts = {sample(type, Dims{2, 3, 4}, 1), sample(type, Dims{2, 1, 4}, 2),
                                         sample(type, Dims{2, 2, 4}, 3)};
  expectEqual(runConcat(parts, 1, true), concatRef(parts, 1));
}

TEST_P(ConcatenationTypes, FirstAndLastAxis) {
  const DataType type = GetParam();
  const std::vector<HostTensor> rows = {sample(type, Dims{1, 5}, 4), sample(type, Dims{3, 5}, 5)};
  expectEqual(runConcat(rows, 0, true), concatRef(rows, 0));
  const std::vector<HostTensor> cols = {sample(type, Dims{3, 2}, 6), sample(type, Dims{3, 5}, 7)};
  expectEqual(runConcat(cols, -1, true), concatRef(cols, 1));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ConcatenationTypes, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

TEST(Concatenation, DefaultAxisIsTheChannelDim) {
  // TensorRT's default: rank - 3 (the C of NCHW), or 0 below rank 3.
  const std::vector<HostTensor> nchw = {sample(DataType::kFLOAT, Dims{2, 1, 3, 2}, 1),
                                        sample(DataType::kFLOAT, Dims{2, 2, 3, 2}, 2)};
  expectEqual(runConcat(nchw, 0, false), concatRef(nchw, 1));
  const std::vector<HostTensor> vectors = {sample(DataType::kINT32, Dims{3}, 1), sample(DataType::kINT32, Dims{4}, 2)};
  expectEqual(runConcat(vectors, 0, false), concatRef(vectors, 0));

  NetworkDefinition net(0);
  ITensor* a = net.addInput("a", DataType::kFLOAT, Dims{1, 2, 3, 4});
  ITensor* parts[] = {a, a};
  EXPECT_EQ(net.addConcatenation(parts, 2)->getAxis(), 1);
}

TEST(Concatenation, LargeRowsAndManyInputs) {
  std::vector<HostTensor> parts;
  for (int i = 0; i < 9; ++i) parts.push_back(sample(DataType::kHALF, Dims{40, i + 1, 33}, 10 + i));
  expectEqual(runConcat(parts, 1, true, false), concatRef(parts, 1));
}

TEST(Concatenation, EmptyInputsContributeNothing) {
  const std::vector<HostTensor> parts = {sample(DataType::kINT64, Dims{2, 0, 3}, 1),
                                         sample(DataType::kINT64, Dims{2, 2, 3}, 2)};
  expectEqual(runConcat(parts, 1, true, false), concatRef(parts, 1));
}

TEST(Concatenation, DynamicExtentsInferred) {
  NetworkDefinition net(0);
  ITensor* a = net.addInput("a", DataType::kFLOAT, Dims{-1, 3});
  ITensor* b = net.addInput("b", DataType::kFLOAT, Dims{2, -1});
  ITensor* parts[] = {a, b};
  IConcatenationLayer* layer = net.addConcatenation(parts, 2);
  layer->setAxis(1);
  EXPECT_EQ(dimsToString(layer->getOutput(0)->getDimensions()), "[2,-1]");
  layer->setAxis(0);
  EXPECT_EQ(dimsToString(layer->getOutput(0)->getDimensions()), "[-1,3]");
}

TEST(ConcatenationErrors, AxisThatOnlyFitsLaterIsCheckedLazily) {
  // [2,1,4] and [2,3,4] fit only axis 1, not the default 0: the add succeeds so setAxis can follow, and
  // the mismatch is reported if it never does.
  NetworkDefinition net(0);
  ITensor* a = net.addInput("a", DataType::kFLOAT, Dims{2, 1, 4});
  ITensor* b = net.addInput("b", DataType::kFLOAT, Dims{2, 3, 4});
  ITensor* parts[] = {a, b};
  IConcatenationLayer* layer = net.addConcatenation(parts, 2);
  ASSERT_NE(layer, nullptr);
  EXPECT_EQ(layer->getAxis(), 0);
  EXPECT_FALSE(net.validate().isOk());
  layer->setAxis(1);
  EXPECT_TRUE(net.validate().isOk());
  EXPECT_EQ(dimsToString(layer->getOutput(0)->getDimensions()), "[2,4,4]");
}

TEST(ConcatenationErrors, MismatchedInputs) {
  NetworkDefinition net(0);
  ITensor* f = net.addInput("f", DataType::kFLOAT, Dims{2, 3});
  ITensor* i = net.addInput("i", DataType::kINT32, Dims{2, 3});
  ITensor* r = net.addInput("r", DataType::kFLOAT, Dims{2, 3, 1});
  ITensor* w = net.addInput("w", DataType::kFLOAT, Dims{4, 3});
  ITensor* s = net.addInput("s", DataType::kFLOAT, Dims{});
  ITensor* types[] = {f, i};
  EXPECT_EQ(net.addConcatenation(types, 2), nullptr);
  ITensor* ranks[] = {f, r};
  EXPECT_EQ(net.addConcatenation(ranks, 2), nullptr);
  ITensor* scalars[] = {s, s};
  EXPECT_EQ(net.addConcatenation(scalars, 2), nullptr);
  EXPECT_EQ(net.addConcatenation(types, 0), nullptr);
  ITensor* withNull[] = {f, nullptr};
  EXPECT_EQ(net.addConcatenation(withNull, 2), nullptr);
  EXPECT_FALSE(net.status().isOk());

  NetworkDefinition net2(0);
  ITensor* f2 = net2.addInput("f", DataType::kFLOAT, Dims{2, 3});
  ITensor* w2 = net2.addInput("w", DataType::kFLOAT, Dims{4, 3});
  ITensor* extents[] = {f2, w2};
  IConcatenationLayer* layer = net2.addConcatenation(extents, 2);  // default axis 0: fine
  ASSERT_NE(layer, nullptr);
  EXPECT_TRUE(net2.validate().isOk());
  layer->setAxis(1);  // dim 0 differs
  EXPECT_FALSE(net2.validate().isOk());
  layer->setAxis(2);
  EXPECT_FALSE(net2.validate().isOk());
  layer->setAxis(-2);
  EXPECT_TRUE(net2.validate().isOk());
  (void)w;
}

}  // namespace
}  // namespace testing
}  // namespace kiln
