// Slice layers against a naive reference: every dtype, negative strides, the out-of-bounds sampling modes,
// parameters and fill values from tensors, dynamic shapes, and bounds errors at build and run time.
#include <algorithm>
#include <cstring>
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

const DataType kAllTypes[] = {DataType::kFLOAT, DataType::kHALF,  DataType::kBF16, DataType::kINT8,
                              DataType::kINT32, DataType::kINT64, DataType::kBOOL, DataType::kUINT8};

HostTensor sample(DataType type, const Dims& dims, uint64_t seed) { return randomTensor(type, dims, seed, -50, 50); }

// Source index of position i in an extent n; -1 for "fill". Reflection bounces off the edges step by step,
// independently of the kernel's closed form.
int64_t refIndex(SampleMode mode, int64_t i, int64_t n) {
  switch (mode) {
    case SampleMode::kSTRICT_BOUNDS:
      return i;
    case SampleMode::kWRAP: {
      while (i < 0) i += n;
      while (i >= n) i -= n;
      return i;
    }
    case SampleMode::kCLAMP:
      return std::min(std::max<int64_t>(i, 0), n - 1);
    case SampleMode::kFILL:
      return i >= 0 && i < n ? i : -1;
    case SampleMode::kREFLECT: {
      if (n == 1) return 0;
      while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
      return i;
    }
  }
  return -1;
}

HostTensor sliceRef(const HostTensor& x, const Dims& start, const Dims& size, const Dims& stride, SampleMode mode,
                    double fill = 0) {
  const std::vector<double> v = toDoubles(x);
  std::vector<double> out(static_cast<size_t>(volume(size)));
  for (int64_t o = 0; o < volume(size); ++o) {
    int64_t rem = o, src = 0, mul = 1;
    bool isFill = false;
    for (int32_t d = size.nbDims - 1; d >= 0; --d) {
      const int64_t k = rem % size.d[d];
      rem /= size.d[d];
      const int64_t idx = refIndex(mode, start.d[d] + k * stride.d[d], x.dims.d[d]);
      if (idx < 0) isFill = true;
      src += idx * mul;
      mul *= x.dims.d[d];
    }
    out[static_cast<size_t>(o)] = isFill ? fill : v[static_cast<size_t>(src)];
  }
  return makeTensor(x.type, size, out);
}

ITensor* int64Constant(NetworkDefinition& net, const std::vector<int64_t>& values) {
  return net
      .addConstant(Dims{static_cast<int64_t>(values.size())},
                   Weights{DataType::kINT64, values.data(), static_cast<int64_t>(values.size())})
      ->getOutput(0);
}

class SliceTypes : public ::testing::TestWithParam<DataType> {};

TEST_P(SliceTypes, StridedWindow) {
  const DataType type = GetParam();
  const HostTensor x = sample(type, Dims{4, 5, 6}, 3);
  const Dims start{1, 0, 2}, size{2, 5, 3}, stride{2, 1, 1};
  const HostTensor y = runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ISliceLayer* layer = net.addSlice(*in[0], start, size, stride);
        ASSERT_NE(layer, nullptr);
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", x}});
  expectEqual(y, sliceRef(x, start, size, stride, SampleMode::kSTRICT_BOUNDS));
}

TEST_P(SliceTypes, NegativeStrideReverses) {
  const DataType type = GetParam();
  const HostTensor x = sample(type, Dims{3, 7}, 8);
  const Dims start{2, 6}, size{3, 4}, stride{-1, -2};
  const HostTensor y = runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        net.markOutput(*net.addSlice(*in[0], start, size, stride)->getOutput(0));
      },
      {{"x", x}});
  expectEqual(y, sliceRef(x, start, size, stride, SampleMode::kSTRICT_BOUNDS));
}

TEST_P(SliceTypes, EveryModeOutOfBounds) {
  const DataType type = GetParam();
  const HostTensor x = sample(type, Dims{3, 5}, 21);
  const Dims start{-4, -3}, size{11, 14}, stride{1, 1};
  for (SampleMode mode : {SampleMode::kWRAP, SampleMode::kCLAMP, SampleMode::kFILL, SampleMode::kREFLECT}) {
    const HostTensor y = runSingleOutput(
        [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          ISliceLayer* layer = net.addSlice(*in[0], start, size, stride);
          layer->setMode(mode);
          EXPECT_EQ(layer->getMode(), mode);
          net.markOutput(*layer->getOutput(0));
        },
        {{"x", x}}, /*alsoDynamic=*/false);  // the output size is fixed while the input is not
    expectEqual(y, sliceRef(x, start, size, stride, mode));
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, SliceTypes, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

TEST(Slice, ModesWithStridesAndSingletonDims) {
  const HostTensor x = sample(DataType::kFLOAT, Dims{1, 4, 6}, 5);
  const Dims start{-2, 7, -5}, size{3, 5, 6}, stride{1, -3, 2};
  for (SampleMode mode : {SampleMode::kWRAP, SampleMode::kCLAMP, SampleMode::kFILL, SampleMode::kREFLECT}) {
    const HostTensor y = runSingleOutput(
        [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          ISliceLayer* layer = net.addSlice(*in[0], start, size, stride);
          layer->setMode(mode);
          net.markOutput(*layer->getOutput(0));
        },
        {{"x", x}}, false);
    expectEqual(y, sliceRef(x, start, size, stride, mode));
  }
}

TEST(Slice, StrideZeroRepeats) {
  const HostTensor x = sample(DataType::kINT32, Dims{4}, 5);
  const HostTensor y = runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        net.markOutput(*net.addSlice(*in[0], Dims{2}, Dims{3}, Dims{0})->getOutput(0));
      },
      {{"x", x}}, false);
  expectEqual(y, sliceRef(x, Dims{2}, Dims{3}, Dims{0}, SampleMode::kSTRICT_BOUNDS));
}

TEST(Slice, FillValueFromTensorIsConverted) {
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT64, DataType::kUINT8}) {
    const HostTensor x = sample(type, Dims{2, 3}, 2);
    const HostTensor y = runSingleOutput(
        [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          ISliceLayer* layer = net.addSlice(*in[0], Dims{-1, -2}, Dims{4, 6}, Dims{1, 1});
          layer->setMode(SampleMode::kFILL);
          const float seven = 7.f;
          layer->setInput(4, *net.addConstant(Dims{}, Weights{DataType::kFLOAT, &seven, 1})->getOutput(0));
          net.markOutput(*layer->getOutput(0));
        },
        {{"x", x}}, false);
    expectEqual(y, sliceRef(x, Dims{-1, -2}, Dims{4, 6}, Dims{1, 1}, SampleMode::kFILL, 7.0));
  }
}

// size = shape(x) - [1, 2], start = [1, 2]: the window drops the first row and two columns, for any shape.
TEST(Slice, ParametersFromShapeTensors) {
  for (DataType type : {DataType::kFLOAT, DataType::kBOOL}) {
    const HostTensor x = sample(type, Dims{4, 6}, 12);
    const HostTensor y = runSingleOutput(
        [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          ISliceLayer* layer = net.addSlice(*in[0], Dims{0, 0}, Dims{0, 0}, Dims{1, 1});
          ITensor* start = int64Constant(net, {1, 2});
          ITensor* shape = net.addShape(*in[0])->getOutput(0);
          ITensor* size = net.addElementWise(*shape, *start, ElementWiseOperation::kSUB)->getOutput(0);
          layer->setInput(1, *start);
          layer->setInput(2, *size);
          layer->setInput(3, *int64Constant(net, {1, 1}));
          net.markOutput(*layer->getOutput(0));
        },
        {{"x", x}});
    expectEqual(y, sliceRef(x, Dims{1, 2}, Dims{3, 4}, Dims{1, 1}, SampleMode::kSTRICT_BOUNDS));
  }
}

TEST(Slice, ZeroSizeAndScalar) {
  const HostTensor x = sample(DataType::kFLOAT, Dims{3, 4}, 1);
  RunResult r = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        net.markOutput(*net.addSlice(*in[0], Dims{0, 9}, Dims{2, 0}, Dims{1, 1})->getOutput(0));
      },
      {{"x", x}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  EXPECT_EQ(dimsToString(r.ordered[0].dims), "[2,0]");

  const HostTensor s = sample(DataType::kINT64, Dims{}, 3);
  const HostTensor y = runSingleOutput(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        net.markOutput(*net.addSlice(*in[0], Dims{}, Dims{}, Dims{})->getOutput(0));
      },
      {{"s", s}}, false);
  expectEqual(y, s);
}

TEST(SliceErrors, StrictOutOfBoundsAtBuildTime) {
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{4, 5});
  ISliceLayer* layer = net.addSlice(*in, Dims{0, 3}, Dims{2, 3}, Dims{1, 1});
  ASSERT_NE(layer, nullptr);  // the mode may still change, so bounds are checked lazily
  layer->setName("strict_slice");
  const Status s = net.validate();
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("strict"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("strict_slice"), std::string::npos) << s.message();
  layer->setMode(SampleMode::kCLAMP);
  EXPECT_TRUE(net.validate().isOk());
}

TEST(SliceErrors, StrictOutOfBoundsWithNegativeStride) {
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{4});
  ASSERT_NE(net.addSlice(*in, Dims{2}, Dims{4}, Dims{-1}), nullptr);
  EXPECT_FALSE(net.validate().isOk());
}

TEST(SliceErrors, MismatchedRanks) {
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{4, 5});
  EXPECT_EQ(net.addSlice(*in, Dims{0}, Dims{2, 2}, Dims{1, 1}), nullptr);
  EXPECT_EQ(net.addSlice(*in, Dims{0}, Dims{2}, Dims{1}), nullptr);  // rank 1 for a rank-2 input
  EXPECT_EQ(net.addSlice(*in, Dims{0, 0}, Dims{-2, 2}, Dims{1, 1}), nullptr);
}

TEST(SliceErrors, SamplingAnEmptyDim) {
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{0, 5});
  ISliceLayer* layer = net.addSlice(*in, Dims{0, 0}, Dims{0, 5}, Dims{1, 1});
  ASSERT_NE(layer, nullptr);
  layer->setSize(Dims{2, 5});
  layer->setMode(SampleMode::kWRAP);
  EXPECT_FALSE(net.validate().isOk());
  layer->setMode(SampleMode::kFILL);
  EXPECT_TRUE(net.validate().isOk());
}

TEST(SliceErrors, RunTimeOutOfBoundsIsAStatus) {
  // size = shape(x) with start 1: always one element too many, known only once the shape is.
  RunResult r = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ISliceLayer* layer = net.addSlice(*in[0], Dims{1}, Dims{1}, Dims{1});
        layer->setInput(2, *net.addShape(*in[0])->getOutput(0));
        layer->setName("too_far");
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", sample(DataType::kFLOAT, Dims{5}, 1), 1u}});
  EXPECT_FALSE(r.status.isOk());
  EXPECT_NE(r.status.message().find("too_far"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("strict"), std::string::npos) << r.status.message();
}

TEST(SliceErrors, StartFromAnOrdinaryTensorIsCheckedByTheKernel) {
  if (testBackend() == BackendKind::kCUDA) {
    // GPU kernels guard memory on bad data (the element becomes 0) but can only report it by waiting for the
    // device, which the runtime never does in the steady state; the CPU backend reports it.
    GTEST_SKIP() << "bad-data errors are reported by the CPU backend only";
  }

  // A start that is not a shape tensor is unknown to shape inference; the kernel checks it.
  const int64_t bad[] = {3};
  HostTensor start(DataType::kINT64, Dims{1});
  std::memcpy(start.data(), bad, sizeof(bad));
  RunResult r = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        ISliceLayer* layer = net.addSlice(*in[0], Dims{0}, Dims{2}, Dims{1});
        layer->setInput(1, *in[1]);
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", sample(DataType::kFLOAT, Dims{4}, 1)}, {"start", start}});
  EXPECT_FALSE(r.status.isOk());
  EXPECT_NE(r.status.message().find("outside"), std::string::npos) << r.status.message();
}

}  // namespace
}  // namespace testing
}  // namespace kiln
