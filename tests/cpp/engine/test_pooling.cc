// Pooling layers against a naive double-precision reference with PyTorch's semantics: max and average,
// 1D/2D/3D, stride, asymmetric padding, ceil mode, SAME padding, count_include_pad both ways, each float
// type, static and dynamic shapes, and invalid parameters.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

struct PoolCase {
  std::string name;
  std::vector<int64_t> input;  // [leading..., spatial...]
  PoolingType type;
  std::vector<int64_t> window;
  std::vector<int64_t> stride = {}, pre = {}, post = {};  // empty: layer defaults
  PaddingMode mode = PaddingMode::kEXPLICIT_ROUND_DOWN;
  bool exclusive = true;  // average excludes padding (count_include_pad=False)
};

void PrintTo(const PoolCase& c, std::ostream* os) { *os << c.name; }

Dims toDims(const std::vector<int64_t>& v) {
  Dims d;
  d.nbDims = static_cast<int32_t>(v.size());
  for (size_t i = 0; i < v.size(); ++i) d.d[i] = v[i];
  return d;
}

struct RefDim {
  int64_t in, out, k, s, pre, post;
};

// PyTorch's output extent (ceil_mode drops a last window that would start in the right padding), or
// TensorRT's SAME rule out = ceil(in / stride).
RefDim refDim(const PoolCase& c, size_t i) {
  const size_t ns = c.window.size();
  RefDim d;
  d.in = c.input[c.input.size() - ns + i];
  d.k = c.window[i];
  d.s = c.stride.empty() ? 1 : c.stride[i];
  d.pre = c.pre.empty() ? 0 : c.pre[i];
  d.post = c.post.empty() ? 0 : c.post[i];
  if (c.mode == PaddingMode::kSAME_UPPER || c.mode == PaddingMode::kSAME_LOWER) {
    d.out = (d.in + d.s - 1) / d.s;
    const int64_t total = std::max<int64_t>(0, (d.out - 1) * d.s + d.k - d.in);
    d.pre = c.mode == PaddingMode::kSAME_UPPER ? total / 2 : total - total / 2;
    d.post = total - d.pre;
    return d;
  }
  const bool ceil = c.mode == PaddingMode::kEXPLICIT_ROUND_UP;
  d.out = (d.in + d.pre + d.post - d.k + (ceil ? d.s - 1 : 0)) / d.s + 1;
  if (ceil && (d.out - 1) * d.s >= d.in + d.pre) --d.out;
  return d;
}

HostTensor referencePool(const PoolCase& c, const HostTensor& x) {
  const size_t ns = c.window.size();
  std::vector<RefDim> dims;
  for (size_t i = 0; i < ns; ++i) dims.push_back(refDim(c, i));
  while (dims.size() < 3) dims.insert(dims.begin(), RefDim{1, 1, 1, 1, 0, 0});
  int64_t planes = 1;
  std::vector<int64_t> outShape;
  for (size_t i = 0; i + ns < c.input.size(); ++i) {
    planes *= c.input[i];
    outShape.push_back(c.input[i]);
  }
  for (size_t i = 0; i < ns; ++i) outShape.push_back(dims[3 - ns + i].out);
  const std::vector<double> xs = toDoubles(x);
  std::vector<double> y;
  const int64_t inVol = dims[0].in * dims[1].in * dims[2].in;
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t o0 = 0; o0 < dims[0].out; ++o0)
      for (int64_t o1 = 0; o1 < dims[1].out; ++o1)
        for (int64_t o2 = 0; o2 < dims[2].out; ++o2) {
          const int64_t o[3] = {o0, o1, o2};
          int64_t start[3], padded = 1;
          for (int j = 0; j < 3; ++j) {
            start[j] = o[j] * dims[j].s - dims[j].pre;
            padded *= std::min(start[j] + dims[j].k, dims[j].in + dims[j].post) - start[j];
          }
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int64_t count = 0;
          for (int64_t a = start[0]; a < start[0] + dims[0].k; ++a)
            for (int64_t b = start[1]; b < start[1] + dims[1].k; ++b)
              for (int64_t e = start[2]; e < start[2] + dims[2].k; ++e) {
                if (a < 0 || b < 0 || e < 0 || a >= dims[0].in || b >= dims[1].in || e >= dims[2].in) continue;
                const double v = xs[static_cast<size_t>(p * inVol + (a * dims[1].in + b) * dims[2].in + e)];
                best = std::max(best, v);
                sum += v;
                ++count;
              }
          y.push_back(c.type == PoolingType::kMAX ? best : sum / static_cast<double>(c.exclusive ? count : padded));
        }
  return makeTensor(x.type, toDims(outShape), y);
}

IPoolingLayer* addPool(NetworkDefinition& net, ITensor& x, const PoolCase& c) {
  IPoolingLayer* layer = net.addPoolingNd(x, c.type, toDims(c.window));
  if (layer == nullptr) return nullptr;
  if (!c.stride.empty()) layer->setStrideNd(toDims(c.stride));
  if (!c.pre.empty()) layer->setPrePadding(toDims(c.pre));
  if (!c.post.empty()) layer->setPostPadding(toDims(c.post));
  if (c.mode != PaddingMode::kEXPLICIT_ROUND_DOWN) layer->setPaddingMode(c.mode);
  if (!c.exclusive) layer->setAverageCountExcludesPadding(false);
  return layer;
}

// Float32 accumulation against a double reference, plus the rounding of the output type.
double tolerance(DataType type) { return type == DataType::kFLOAT ? 1e-5 : type == DataType::kHALF ? 2e-3 : 1.6e-2; }

constexpr PoolingType kMax = PoolingType::kMAX;
constexpr PoolingType kAvg = PoolingType::kAVERAGE;
constexpr PaddingMode kDown = PaddingMode::kEXPLICIT_ROUND_DOWN;
constexpr PaddingMode kUp = PaddingMode::kEXPLICIT_ROUND_UP;

const PoolCase kCases[] = {
    {"max_1d_pad", {2, 3, 12}, kMax, {3}, {2}, {1}, {1}},
    {"avg_1d_asym_exclusive", {2, 3, 12}, kAvg, {4}, {3}, {2}, {1}},
    {"avg_1d_asym_include_pad", {2, 3, 12}, kAvg, {4}, {3}, {2}, {1}, kDown, false},
    {"avg_1d_ceil_drops_last_window", {1, 2, 5}, kAvg, {2}, {2}, {1}, {1}, kUp, false},
    {"max_1d_unbatched_ceil", {3, 10}, kMax, {3}, {3}, {}, {}, kUp},
    {"max_2d_default_stride", {2, 3, 8, 9}, kMax, {2, 2}},
    {"max_2d_stride", {2, 3, 8, 9}, kMax, {2, 2}, {2, 2}},
    {"max_2d_pad_ceil", {1, 2, 7, 8}, kMax, {3, 3}, {2, 2}, {1, 1}, {1, 1}, kUp},
    {"avg_2d_ceil_include_pad", {2, 2, 7, 6}, kAvg, {3, 2}, {2, 2}, {1, 0}, {1, 1}, kUp, false},
    {"avg_2d_ceil_exclusive", {2, 2, 7, 6}, kAvg, {3, 2}, {2, 2}, {1, 0}, {1, 1}, kUp, true},
    {"avg_2d_same_upper_include_pad", {1, 3, 7, 9}, kAvg, {3, 4}, {2, 3}, {}, {}, PaddingMode::kSAME_UPPER, false},
    {"avg_2d_same_lower_exclusive", {1, 3, 7, 9}, kAvg, {3, 4}, {2, 3}, {}, {}, PaddingMode::kSAME_LOWER, true},
    {"max_2d_same_lower", {1, 3, 7, 9}, kMax, {2, 3}, {2, 2}, {}, {}, PaddingMode::kSAME_LOWER},
    {"avg_2d_global", {2, 4, 5, 6}, kAvg, {5, 6}},
    {"max_3d_asym", {1, 2, 5, 6, 7}, kMax, {2, 3, 2}, {1, 2, 2}, {1, 1, 0}, {0, 1, 1}},
    {"avg_3d_ceil_include_pad", {2, 2, 5, 5, 6}, kAvg, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, kUp, false},
    {"avg_3d_ceil_exclusive", {2, 2, 5, 5, 6}, kAvg, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, kUp, true},
    {"max_2d_large", {4, 16, 32, 32}, kMax, {3, 3}, {2, 2}, {1, 1}, {1, 1}},
    {"avg_2d_large", {4, 16, 32, 32}, kAvg, {3, 3}, {2, 2}, {1, 1}, {1, 1}, kDown, false},
};

class PoolingTest : public ::testing::TestWithParam<std::tuple<PoolCase, DataType>> {};

TEST_P(PoolingTest, MatchesReference) {
  const auto& [c, type] = GetParam();
  const HostTensor x = randomTensor(type, toDims(c.input), 11, -3.0, 3.0);
  const HostTensor y = runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IPoolingLayer* layer = addPool(net, *in[0], c);
        ASSERT_NE(layer, nullptr) << net.status().toString();
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", x}});
  expectClose(y, referencePool(c, x), tolerance(type), tolerance(type));
}

INSTANTIATE_TEST_SUITE_P(Cases, PoolingTest,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" + dataTypeName(std::get<1>(info.param));
                         });

TEST(PoolingShapes, CeilModeFollowsPyTorch) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{1, 1, 5, 6});
  IPoolingLayer* pool = net.addPoolingNd(*x, PoolingType::kMAX, Dims{2, 2});
  ASSERT_NE(pool, nullptr);
  pool->setStrideNd(Dims{2, 2});
  pool->setPaddingNd(Dims{1, 1});
  EXPECT_EQ(pool->getOutput(0)->getDimensions(), (Dims{1, 1, 3, 4}));
  pool->setPaddingMode(PaddingMode::kEXPLICIT_ROUND_UP);
  // H: ceil((5+2-2)/2)+1 = 4, but the 4th window would start in the right padding: 3. W: ceil(6/2)+1 = 4.
  EXPECT_EQ(pool->getOutput(0)->getDimensions(), (Dims{1, 1, 3, 4}));
  pool->setPaddingNd(Dims{0, 0});
  EXPECT_EQ(pool->getOutput(0)->getDimensions(), (Dims{1, 1, 3, 3}));
  EXPECT_TRUE(pool->getAverageCountExcludesPadding());
  EXPECT_EQ(pool->getWindowSizeNd(), (Dims{2, 2}));
  EXPECT_EQ(pool->getPoolingType(), PoolingType::kMAX);
  EXPECT_TRUE(net.status().isOk()) << net.status().toString();
}

// Dynamic batch and spatial dims with fixed channels.
TEST(PoolingDynamic, DynamicBatchAndSpatialDims) {
  const PoolCase& c = kCases[8];
  const HostTensor x = randomTensor(DataType::kFLOAT, toDims(c.input), 3);
  TestInput input{"x", x, /*dynamicMask=*/0b1101};
  input.minDims = Dims{1, c.input[1], 4, 3};
  input.maxDims = Dims{8, c.input[1], 20, 20};
  RunResult result = buildAndRun(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IPoolingLayer* layer = addPool(net, *in[0], c);
        ASSERT_NE(layer, nullptr) << net.status().toString();
        EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{-1, c.input[1], -1, -1}));
        net.markOutput(*layer->getOutput(0));
      },
      {input});
  ASSERT_TRUE(result.status.isOk()) << result.status.toString();
  ASSERT_EQ(result.ordered.size(), 1u);
  expectClose(result.ordered[0], referencePool(c, x), 1e-5, 1e-5);
}

TEST(PoolingErrors, BadParametersAreRejected) {
  auto expectInvalid = [](const std::function<void(IPoolingLayer*)>& mutate) {
    NetworkDefinition net;
    ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{1, 2, 6, 6});
    IPoolingLayer* layer = net.addPoolingNd(*x, PoolingType::kAVERAGE, Dims{3, 3});
    ASSERT_NE(layer, nullptr) << net.status().toString();
    mutate(layer);
    EXPECT_FALSE(net.validate().isOk());
  };
  expectInvalid([](IPoolingLayer* l) { l->setPaddingNd(Dims{3, 0}); });  // a window wholly in padding
  expectInvalid([](IPoolingLayer* l) { l->setPrePadding(Dims{-1, 0}); });
  expectInvalid([](IPoolingLayer* l) { l->setStrideNd(Dims{0, 1}); });
  expectInvalid([](IPoolingLayer* l) { l->setStrideNd(Dims{1, 1, 1}); });
  expectInvalid([](IPoolingLayer* l) { l->setWindowSizeNd(Dims{7, 3}); });  // bigger than the input
  expectInvalid([](IPoolingLayer* l) { l->setPaddingMode(static_cast<PaddingMode>(7)); });
  expectInvalid([](IPoolingLayer* l) { l->setPoolingType(static_cast<PoolingType>(5)); });

  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{4, 4});
  EXPECT_EQ(net.addPoolingNd(*x, PoolingType::kMAX, Dims{2, 2}), nullptr) << "a 2D window needs a leading dim";
  EXPECT_EQ(net.addPoolingNd(*x, PoolingType::kMAX, Dims{}), nullptr);
  EXPECT_EQ(net.addPoolingNd(*x, PoolingType::kMAX, Dims{0}), nullptr);
  ITensor* xi = net.addInput("xi", DataType::kINT32, Dims{1, 2, 4});
  EXPECT_EQ(net.addPoolingNd(*xi, PoolingType::kMAX, Dims{2}), nullptr);
  EXPECT_FALSE(net.status().isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
