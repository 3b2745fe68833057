// Padding layers against a naive reference: zero padding and negative cropping of the innermost dims,
// every dtype, static and dynamic shapes, and invalid paddings.
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

const DataType kAllTypes[] = {DataType::kFLOAT, DataType::kHALF,  DataType::kBF16, DataType::kINT8,
                              DataType::kINT32, DataType::kINT64, DataType::kBOOL, DataType::kUINT8};

HostTensor sample(DataType type, const Dims& dims, uint64_t seed) { return randomTensor(type, dims, seed, -50, 50); }

HostTensor padRef(const HostTensor& x, const Dims& pre, const Dims& post) {
  Dims out = x.dims;
  const int32_t first = x.dims.nbDims - pre.nbDims;
  for (int32_t i = 0; i < pre.nbDims; ++i) out.d[first + i] += pre.d[i] + post.d[i];
  const std::vector<double> v = toDoubles(x);
  std::vector<double> result(static_cast<size_t>(volume(out)), 0.0);
  for (int64_t o = 0; o < volume(out); ++o) {
    int64_t rem = o, src = 0, mul = 1;
    bool inside = true;
    for (int32_t d = out.nbDims - 1; d >= 0; --d) {
      const int64_t c = rem % out.d[d];
      rem /= out.d[d];
      const int64_t i = d >= first ? c - pre.d[d - first] : c;
      if (i < 0 || i >= x.dims.d[d]) inside = false;
      src += i * mul;
      mul *= x.dims.d[d];
    }
    if (inside) result[static_cast<size_t>(o)] = v[static_cast<size_t>(src)];
  }
  return makeTensor(x.type, out, result);
}

HostTensor runPad(const HostTensor& x, const Dims& pre, const Dims& post, bool alsoDynamic = true) {
  return runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IPaddingLayer* layer = net.addPaddingNd(*in[0], pre, post);
        ASSERT_NE(layer, nullptr);
        EXPECT_EQ(layer->getPrePaddingNd(), pre);
        EXPECT_EQ(layer->getPostPaddingNd(), post);
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", x}}, alsoDynamic);
}

class PaddingTypes : public ::testing::TestWithParam<DataType> {};

TEST_P(PaddingTypes, PadsInnermostDims) {
  const DataType type = GetParam();
  const HostTensor x = sample(type, Dims{2, 3, 4, 5}, 7);
  expectEqual(runPad(x, Dims{1, 2}, Dims{2, 0}), padRef(x, Dims{1, 2}, Dims{2, 0}));
}

TEST_P(PaddingTypes, NegativePaddingCrops) {
  const DataType type = GetParam();
  const HostTensor x = sample(type, Dims{3, 6, 5}, 8);
  expectEqual(runPad(x, Dims{-1, 1}, Dims{1, -2}), padRef(x, Dims{-1, 1}, Dims{1, -2}));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, PaddingTypes, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

TEST(Padding, ThreeDimsOneDimAndNone) {
  const HostTensor x = sample(DataType::kFLOAT, Dims{2, 3, 4, 5}, 9);
  expectEqual(runPad(x, Dims{1, 0, 2}, Dims{0, 3, 1}), padRef(x, Dims{1, 0, 2}, Dims{0, 3, 1}));
  expectEqual(runPad(x, Dims{4}, Dims{3}), padRef(x, Dims{4}, Dims{3}));
  expectEqual(runPad(x, Dims{}, Dims{}), x);
  expectEqual(runPad(x, Dims{1, 1, 1, 1}, Dims{1, 1, 1, 1}), padRef(x, Dims{1, 1, 1, 1}, Dims{1, 1, 1, 1}));
}

TEST(Padding, CropToNothingAndPadFromNothing) {
  const HostTensor x = sample(DataType::kINT32, Dims{2, 3}, 1);
  expectEqual(runPad(x, Dims{-2}, Dims{-1}, false), padRef(x, Dims{-2}, Dims{-1}));
  const HostTensor empty = sample(DataType::kINT32, Dims{2, 0}, 1);
  expectEqual(runPad(empty, Dims{1}, Dims{2}, false), padRef(empty, Dims{1}, Dims{2}));
}

TEST(Padding, DynamicExtentsStayDynamic) {
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{2, -1, 5});
  IPaddingLayer* layer = net.addPaddingNd(*in, Dims{1, 1}, Dims{1, -2});
  ASSERT_NE(layer, nullptr);
  EXPECT_EQ(dimsToString(layer->getOutput(0)->getDimensions()), "[2,-1,4]");
  layer->setPrePaddingNd(Dims{0, 0});
  EXPECT_EQ(dimsToString(layer->getOutput(0)->getDimensions()), "[2,-1,3]");
}

TEST(PaddingErrors, InvalidPaddings) {
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{2, 3});
  EXPECT_EQ(net.addPaddingNd(*in, Dims{1}, Dims{1, 1}), nullptr);           // ranks differ
  EXPECT_EQ(net.addPaddingNd(*in, Dims{1, 1, 1}, Dims{1, 1, 1}), nullptr);  // more dims than the input
  EXPECT_EQ(net.addPaddingNd(*in, Dims{-2}, Dims{-2}), nullptr);            // crops below zero
  IPaddingLayer* layer = net.addPaddingNd(*in, Dims{1}, Dims{1});
  ASSERT_NE(layer, nullptr);
  layer->setName("pad");
  layer->setPostPaddingNd(Dims{1, 1});
  const Status s = net.validate();
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("pad"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace testing
}  // namespace kiln
