// Resize layers against a reference that follows PyTorch's F.interpolate definitions (ATen UpSample.h),
// computed in double; for each mode, coordinate transformation and rounding, 1D/2D/3D, up and down, explicit
// sizes, scales and shape-tensor size inputs, each accepted dtype, static and dynamic shapes.
#include <cmath>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

using CT = ResizeCoordinateTransformation;

struct ResizeSpec {
  InterpolationMode mode = InterpolationMode::kNEAREST;
  CT transform = CT::kASYMMETRIC;
  ResizeRoundMode rounding = ResizeRoundMode::kFLOOR;
  std::vector<float> scales;  // empty: explicit output dims
  Dims out;
  bool setCubic = false;
  float cubicA = -0.75f;
  bool excludeOutside = false;
};

// Nearest source index. PyTorch computes it in float32 (ties then fall where ATen's do): its "nearest" is
// floor(i * scale), "nearest-exact" is floor((i + 0.5) * scale) (= half-pixel rounded half up).
int64_t nearestSource(const ResizeSpec& s, int64_t in, int64_t out, double explicitScale, int64_t o) {
  float scale;
  if (s.transform == CT::kALIGN_CORNERS) {
    scale = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.f;
  } else {
    scale = explicitScale > 0 ? static_cast<float>(1.0 / explicitScale) : static_cast<float>(in) / out;
  }
  double index = 0;
  if (s.transform == CT::kHALF_PIXEL) {
    const double t = static_cast<float>(scale * (static_cast<float>(o) + 0.5f));  // src + 0.5
    switch (s.rounding) {
      case ResizeRoundMode::kFLOOR:
        index = std::floor(t - 0.5);
        break;
      case ResizeRoundMode::kCEIL:
        index = std::ceil(t - 0.5);
        break;
      case ResizeRoundMode::kHALF_UP:
        index = std::floor(t);
        break;
      case ResizeRoundMode::kHALF_DOWN:
        index = std::ceil(t) - 1;
        break;
    }
  } else {
    const double src = static_cast<float>(scale * static_cast<float>(o));
    switch (s.rounding) {
      case ResizeRoundMode::kFLOOR:
        index = std::floor(src);
        break;
      case ResizeRoundMode::kCEIL:
        index = std::ceil(src);
        break;
      case ResizeRoundMode::kHALF_UP:
        index = std::floor(src + 0.5);
        break;
      case ResizeRoundMode::kHALF_DOWN:
        index = std::ceil(src - 0.5);
        break;
    }
  }
  return std::max<int64_t>(0, std::min<int64_t>(static_cast<int64_t>(index), in - 1));
}

double cubicWeight(double x, double a) {
  x = std::fabs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return 0;
}

// The taps (source indices and weights) of output index o along one dim.
void axisTaps(const ResizeSpec& s, int64_t in, int64_t out, double explicitScale, int64_t o,
              std::vector<int64_t>& index, std::vector<double>& weight) {
  index.clear();
  weight.clear();
  if (in == out) {
    index.push_back(o);
    weight.push_back(1);
    return;
  }
  if (s.mode == InterpolationMode::kNEAREST) {
    index.push_back(nearestSource(s, in, out, explicitScale, o));
    weight.push_back(1);
    return;
  }
  double scale;
  if (s.transform == CT::kALIGN_CORNERS) {
    scale = out > 1 ? static_cast<double>(in - 1) / (out - 1) : 0;
  } else {
    scale = explicitScale > 0 ? 1.0 / explicitScale : static_cast<double>(in) / out;
  }
  double src = s.transform == CT::kHALF_PIXEL ? scale * (o + 0.5) - 0.5 : scale * o;
  if (s.mode == InterpolationMode::kLINEAR) {
    src = std::max(src, 0.0);
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(std::floor(src)), in - 1);
    const double lambda = std::min(std::max(src - i0, 0.0), 1.0);
    index = {i0, std::min(i0 + 1, in - 1)};
    weight = {1 - lambda, lambda};
    return;
  }
  // Cubic: taps floor(src)-1 .. floor(src)+2 at distances from src, clamped to the border.
  const int64_t i0 = static_cast<int64_t>(std::floor(src));
  double total = 0;
  for (int64_t k = -1; k <= 2; ++k) {
    const int64_t tap = i0 + k;
    double w = cubicWeight(src - static_cast<double>(tap), s.cubicA);
    if (s.excludeOutside && (tap < 0 || tap >= in)) w = 0;
    index.push_back(std::max<int64_t>(0, std::min(tap, in - 1)));
    weight.push_back(w);
    total += w;
  }
  if (s.excludeOutside) {
    for (double& w : weight) w /= total;
  }
}

Dims outputDims(const ResizeSpec& s, const Dims& in) {
  if (s.scales.empty()) return s.out;
  Dims out = in;
  for (int32_t i = 0; i < in.nbDims; ++i) out.d[i] = static_cast<int64_t>(std::floor(in.d[i] * double{s.scales[i]}));
  return out;
}

std::vector<double> referenceResize(const ResizeSpec& s, const HostTensor& x, const Dims& out) {
  const std::vector<double> values = toDoubles(x);
  const Dims& in = x.dims;
  const int32_t rank = in.nbDims;
  std::vector<double> result(static_cast<size_t>(volume(out)));
  std::vector<std::vector<int64_t>> index(rank);
  std::vector<std::vector<double>> weight(rank);
  for (int64_t linear = 0; linear < volume(out); ++linear) {
    int64_t rest = linear;
    for (int32_t d = rank - 1; d >= 0; --d) {
      const double explicitScale = s.scales.empty() ? 0.0 : s.scales[d];
      axisTaps(s, in.d[d], out.d[d], explicitScale, rest % out.d[d], index[d], weight[d]);
      rest /= out.d[d];
    }
    // Sum over every combination of taps (an odometer over the dims).
    std::vector<size_t> pick(rank, 0);
    double sum = 0;
    while (true) {
      double w = 1;
      int64_t offset = 0;
      for (int32_t d = 0; d < rank; ++d) {
        w *= weight[d][pick[d]];
        offset = offset * in.d[d] + index[d][pick[d]];
      }
      sum += w * values[static_cast<size_t>(offset)];
      int32_t d = rank - 1;
      while (d >= 0 && ++pick[d] == index[d].size()) pick[d--] = 0;
      if (d < 0) break;
    }
    result[static_cast<size_t>(linear)] = sum;
  }
  return result;
}

void configure(IResizeLayer* layer, const ResizeSpec& s) {
  layer->setResizeMode(s.mode);
  layer->setCoordinateTransformation(s.transform);
  layer->setNearestRounding(s.rounding);
  if (s.setCubic) layer->setCubicCoeff(s.cubicA);
  layer->setExcludeOutside(s.excludeOutside);
  if (s.scales.empty()) {
    layer->setOutputDimensions(s.out);
  } else {
    layer->setScales(s.scales.data(), static_cast<int32_t>(s.scales.size()));
  }
}

// Runs with static shapes, then with the dims in `dynamicMask` declared dynamic; both runs must agree.
HostTensor runStaticAndDynamic(const NetworkFn& define, const HostTensor& x, uint32_t dynamicMask) {
  RunResult fixed = buildAndRun(define, {{"x", x}});
  EXPECT_TRUE(fixed.status.isOk()) << "static run: " << fixed.status.toString();
  if (!fixed.status.isOk() || fixed.ordered.empty()) return HostTensor();
  RunResult dyn = buildAndRun(define, {{"x", x, dynamicMask}});
  EXPECT_TRUE(dyn.status.isOk()) << "dynamic-shape run: " << dyn.status.toString();
  if (dyn.status.isOk() && !dyn.ordered.empty()) {
    EXPECT_EQ(dimsToString(dyn.ordered[0].dims), dimsToString(fixed.ordered[0].dims));
    expectSameRun(dyn.ordered[0], fixed.ordered[0]);
  }
  return fixed.ordered[0];
}

// Fixed output dims only fit inputs whose resized dims vary (a linear resize cannot change a leading dim),
// so those dims are the dynamic ones; with scales every dim is.
uint32_t dynamicDims(const ResizeSpec& s, const Dims& in) {
  if (!s.scales.empty()) return (1u << in.nbDims) - 1;
  uint32_t mask = 0;
  for (int32_t d = 0; d < in.nbDims; ++d) {
    if (in.d[d] != s.out.d[d]) mask |= 1u << d;
  }
  return mask;
}

HostTensor runResize(const HostTensor& x, const ResizeSpec& s) {
  return runStaticAndDynamic(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IResizeLayer* layer = net.addResize(*in[0]);
        ASSERT_NE(layer, nullptr);
        configure(layer, s);
        net.markOutput(*layer->getOutput(0));
      },
      x, dynamicDims(s, x.dims));
}

struct ResizeCase {
  const char* name;
  Dims in;
  ResizeSpec spec;
};

ResizeSpec spec(InterpolationMode mode, CT transform, Dims out, ResizeRoundMode rounding = ResizeRoundMode::kFLOOR) {
  ResizeSpec s;
  s.mode = mode;
  s.transform = transform;
  s.out = out;
  s.rounding = rounding;
  return s;
}
ResizeSpec withScales(ResizeSpec s, std::vector<float> scales) {
  s.scales = std::move(scales);
  return s;
}
ResizeSpec withCubic(ResizeSpec s, float a, bool exclude) {
  s.setCubic = true;
  s.cubicA = a;
  s.excludeOutside = exclude;
  return s;
}

constexpr auto kN = InterpolationMode::kNEAREST;
constexpr auto kL = InterpolationMode::kLINEAR;
constexpr auto kC = InterpolationMode::kCUBIC;

const ResizeCase kCases[] = {
    // PyTorch "nearest" (asymmetric + floor) and "nearest-exact" (half-pixel + half-up).
    {"Nearest1dUp", {2, 3, 5}, spec(kN, CT::kASYMMETRIC, {2, 3, 12})},
    {"Nearest1dDown", {2, 3, 9}, spec(kN, CT::kASYMMETRIC, {2, 3, 4})},
    {"Nearest2dScales", {1, 2, 5, 4}, withScales(spec(kN, CT::kASYMMETRIC, {}), {1, 1, 2.5f, 1.5f})},
    {"Nearest3d", {1, 2, 3, 4, 5}, spec(kN, CT::kASYMMETRIC, {1, 2, 6, 2, 7})},
    {"NearestEveryDim", {2, 3, 4}, spec(kN, CT::kASYMMETRIC, {3, 5, 2})},
    {"NearestExactUp", {1, 2, 5, 7}, spec(kN, CT::kHALF_PIXEL, {1, 2, 8, 17}, ResizeRoundMode::kHALF_UP)},
    {"NearestExactDown", {1, 2, 10, 7}, spec(kN, CT::kHALF_PIXEL, {1, 2, 3, 4}, ResizeRoundMode::kHALF_UP)},
    {"NearestExactScales",
     {1, 2, 5, 7},
     withScales(spec(kN, CT::kHALF_PIXEL, {}, ResizeRoundMode::kHALF_UP), {1, 1, 1.7f, 0.6f})},
    {"NearestHalfPixelHalfDown", {1, 2, 5, 6}, spec(kN, CT::kHALF_PIXEL, {1, 2, 10, 9}, ResizeRoundMode::kHALF_DOWN)},
    {"NearestHalfPixelFloor", {1, 2, 5, 6}, spec(kN, CT::kHALF_PIXEL, {1, 2, 10, 4}, ResizeRoundMode::kFLOOR)},
    {"NearestHalfPixelCeil", {1, 2, 5, 6}, spec(kN, CT::kHALF_PIXEL, {1, 2, 7, 15}, ResizeRoundMode::kCEIL)},
    {"NearestAsymmetricCeil", {1, 2, 5, 6}, spec(kN, CT::kASYMMETRIC, {1, 2, 9, 4}, ResizeRoundMode::kCEIL)},
    {"NearestAsymmetricHalfUp", {1, 2, 5, 6}, spec(kN, CT::kASYMMETRIC, {1, 2, 8, 4}, ResizeRoundMode::kHALF_UP)},
    {"NearestAlignCornersHalfUp", {1, 2, 5, 6}, spec(kN, CT::kALIGN_CORNERS, {1, 2, 9, 4}, ResizeRoundMode::kHALF_UP)},
    {"NearestAlignCornersHalfDown",
     {1, 2, 5, 6},
     spec(kN, CT::kALIGN_CORNERS, {1, 2, 9, 11}, ResizeRoundMode::kHALF_DOWN)},
    // PyTorch linear / bilinear / trilinear, align_corners False (half-pixel) and True.
    {"Linear1dUp", {2, 3, 5}, spec(kL, CT::kHALF_PIXEL, {2, 3, 11})},
    {"Linear1dDown", {2, 3, 11}, spec(kL, CT::kHALF_PIXEL, {2, 3, 4})},
    {"Linear1dAlignCorners", {2, 3, 5}, spec(kL, CT::kALIGN_CORNERS, {2, 3, 9})},
    {"Linear1dToOneAlignCorners", {2, 3, 5}, spec(kL, CT::kALIGN_CORNERS, {2, 3, 1})},
    {"Bilinear2dUp", {2, 3, 6, 5}, spec(kL, CT::kHALF_PIXEL, {2, 3, 9, 13})},
    {"Bilinear2dDown", {2, 3, 9, 13}, spec(kL, CT::kHALF_PIXEL, {2, 3, 4, 6})},
    {"Bilinear2dAlignCorners", {1, 2, 5, 6}, spec(kL, CT::kALIGN_CORNERS, {1, 2, 10, 3})},
    {"Bilinear2dScales", {1, 2, 5, 6}, withScales(spec(kL, CT::kHALF_PIXEL, {}), {1, 1, 1.7f, 0.6f})},
    {"Bilinear2dAsymmetric", {1, 2, 4, 5}, spec(kL, CT::kASYMMETRIC, {1, 2, 7, 9})},
    {"Bilinear2dHeightOnly", {1, 2, 4, 5}, spec(kL, CT::kHALF_PIXEL, {1, 2, 7, 5})},
    {"Trilinear3d", {1, 2, 3, 4, 5}, spec(kL, CT::kHALF_PIXEL, {1, 2, 5, 7, 3})},
    {"Trilinear3dAlignCorners", {1, 2, 3, 4, 5}, spec(kL, CT::kALIGN_CORNERS, {1, 2, 6, 3, 8})},
    {"Trilinear3dScales", {1, 1, 3, 4, 5}, withScales(spec(kL, CT::kHALF_PIXEL, {}), {1, 1, 2.f, 1.5f, 0.5f})},
    // PyTorch bicubic (A = -0.75), and the ONNX-style options.
    {"Bicubic2dUp", {1, 2, 5, 6}, spec(kC, CT::kHALF_PIXEL, {1, 2, 11, 13})},
    {"Bicubic2dDown", {1, 2, 11, 13}, spec(kC, CT::kHALF_PIXEL, {1, 2, 5, 4})},
    {"Bicubic2dAlignCorners", {1, 2, 5, 6}, spec(kC, CT::kALIGN_CORNERS, {1, 2, 9, 8})},
    {"Bicubic2dScales", {1, 2, 5, 6}, withScales(spec(kC, CT::kHALF_PIXEL, {}), {1, 1, 2.2f, 1.5f})},
    {"Bicubic2dExcludeOutside", {1, 1, 6, 5}, withCubic(spec(kC, CT::kHALF_PIXEL, {1, 1, 9, 3}), -0.5f, true)},
    {"Bicubic2dAsymmetric", {1, 1, 6, 5}, withCubic(spec(kC, CT::kASYMMETRIC, {1, 1, 9, 8}), -0.5f, false)},
    {"Cubic1d", {3, 7}, spec(kC, CT::kHALF_PIXEL, {3, 15})},
};

void PrintTo(const ResizeCase& c, std::ostream* os) { *os << c.name; }

class ResizeTest : public ::testing::TestWithParam<std::tuple<ResizeCase, DataType>> {};

TEST_P(ResizeTest, MatchesReference) {
  const auto [c, type] = GetParam();
  const HostTensor x = randomTensor(type, c.in, 11, -3.0, 3.0);
  const HostTensor y = runResize(x, c.spec);
  const Dims out = outputDims(c.spec, c.in);
  ASSERT_EQ(y.dims, out) << dimsToString(y.dims);
  const HostTensor expected = makeTensor(type, out, referenceResize(c.spec, x, out));
  if (c.spec.mode == InterpolationMode::kNEAREST) {
    expectEqual(y, expected);
  } else {
    expectClose(y, expected, 2 * defaultAtol(type), 2 * defaultAtol(type));
  }
}

INSTANTIATE_TEST_SUITE_P(AllModes, ResizeTest,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  dataTypeName(std::get<1>(info.param));
                         });

// Nearest copies elements of every type exactly.
class ResizeNearestTypes : public ::testing::TestWithParam<DataType> {};

TEST_P(ResizeNearestTypes, CopiesExactly) {
  const DataType type = GetParam();
  for (const ResizeSpec& s :
       {spec(kN, CT::kASYMMETRIC, {2, 7, 3}), spec(kN, CT::kHALF_PIXEL, {3, 2, 9}, ResizeRoundMode::kHALF_UP)}) {
    const HostTensor x = randomTensor(type, Dims{2, 3, 5}, 5, -100, 100);
    const HostTensor y = runResize(x, s);
    expectEqual(y, makeTensor(type, s.out, referenceResize(s, x, s.out)));
  }
}

INSTANTIATE_TEST_SUITE_P(IntegerAndBool, ResizeNearestTypes,
                         ::testing::Values(DataType::kINT32, DataType::kINT64, DataType::kINT8, DataType::kUINT8,
                                           DataType::kBOOL),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

// Values printed by PyTorch's F.interpolate, so the reference's reading of ATen is itself pinned.
void expectExact(const HostTensor& actual, const HostTensor& expected) { expectClose(actual, expected, 0, 0); }

HostTensor resizeOf(const std::vector<double>& values, const Dims& in, const ResizeSpec& s) {
  return runResize(makeTensor(DataType::kFLOAT, in, values), s);
}

TEST(ResizeLiterals, NearestAndNearestExact) {
  const std::vector<double> x = {0, 1, 2, 3};
  expectExact(resizeOf(x, Dims{1, 1, 4}, spec(kN, CT::kASYMMETRIC, {1, 1, 6})),
              makeTensor(DataType::kFLOAT, Dims{1, 1, 6}, {0, 0, 1, 2, 2, 3}));
  expectExact(resizeOf(x, Dims{1, 1, 4}, spec(kN, CT::kHALF_PIXEL, {1, 1, 6}, ResizeRoundMode::kHALF_UP)),
              makeTensor(DataType::kFLOAT, Dims{1, 1, 6}, {0, 1, 1, 2, 3, 3}));
  // size 3 from 10: nearest floor(i*10/3) = 0,3,6; nearest-exact floor((i+.5)*10/3) = 1,5,8.
  std::vector<double> ten;
  for (int i = 0; i < 10; ++i) ten.push_back(i);
  expectExact(resizeOf(ten, Dims{10}, spec(kN, CT::kASYMMETRIC, {3})),
              makeTensor(DataType::kFLOAT, Dims{3}, {0, 3, 6}));
  expectExact(resizeOf(ten, Dims{10}, spec(kN, CT::kHALF_PIXEL, {3}, ResizeRoundMode::kHALF_UP)),
              makeTensor(DataType::kFLOAT, Dims{3}, {1, 5, 8}));
}

// With explicit scales, source coordinates use 1/scale, not in/out (PyTorch's scale_factor with
// recompute_scale_factor unset). Index lists recorded from PyTorch 2.11's F.interpolate.
TEST(ResizeLiterals, ExplicitScalesMapThroughTheirInverse) {
  const std::vector<double> x = {0, 1, 2, 3, 4};
  ResizeSpec nearest = spec(kN, CT::kASYMMETRIC, {10});
  expectExact(resizeOf(x, Dims{5}, nearest), makeTensor(DataType::kFLOAT, Dims{10}, {0, 0, 1, 1, 2, 2, 3, 3, 4, 4}));
  expectExact(resizeOf(x, Dims{5}, withScales(nearest, {2.1f})),
              makeTensor(DataType::kFLOAT, Dims{10}, {0, 0, 0, 1, 1, 2, 2, 3, 3, 4}));
  expectExact(resizeOf(x, Dims{5}, withScales(spec(kN, CT::kHALF_PIXEL, {}, ResizeRoundMode::kHALF_UP), {2.1f})),
              makeTensor(DataType::kFLOAT, Dims{10}, {0, 0, 1, 1, 2, 2, 3, 3, 4, 4}));
  // Linear on a ramp returns the (clamped) source coordinate itself: (i + 0.5) / 1.7 - 0.5.
  std::vector<double> ramp;
  for (int i = 0; i < 8; ++i) ramp.push_back(std::max(0.0, (i + 0.5) / double{1.7f} - 0.5));
  expectClose(resizeOf(x, Dims{5}, withScales(spec(kL, CT::kHALF_PIXEL, {}), {1.7f})),
              makeTensor(DataType::kFLOAT, Dims{8}, ramp));
}

TEST(ResizeLiterals, Bilinear) {
  const std::vector<double> x = {1, 2, 3, 4};
  expectClose(resizeOf(x, Dims{1, 1, 2, 2}, spec(kL, CT::kHALF_PIXEL, {1, 1, 4, 4})),
              makeTensor(DataType::kFLOAT, Dims{1, 1, 4, 4},
                         {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}));
  const double t = 1.0 / 3;
  expectClose(resizeOf(x, Dims{1, 1, 2, 2}, spec(kL, CT::kALIGN_CORNERS, {1, 1, 4, 4})),
              makeTensor(DataType::kFLOAT, Dims{1, 1, 4, 4},
                         {1, 1 + t, 1 + 2 * t, 2, 1 + 2 * t, 2, 2 + t, 2 + 2 * t, 2 + t, 2 + 2 * t, 3, 3 + t, 3, 3 + t,
                          3 + 2 * t, 4}));
}

TEST(ResizeLiterals, Bicubic) {
  expectClose(resizeOf({1, 2, 3, 4}, Dims{1, 1, 2, 2}, spec(kC, CT::kHALF_PIXEL, {1, 1, 4, 4})),
              makeTensor(DataType::kFLOAT, Dims{1, 1, 4, 4},
                         {0.68359375, 1.015625, 1.5625, 1.89453125, 1.34765625, 1.6796875, 2.2265625, 2.55859375,
                          2.44140625, 2.7734375, 3.3203125, 3.65234375, 3.10546875, 3.4375, 3.984375, 4.31640625}));
}

// Output size from input 1: a constant shape tensor (known at build time) and one computed from the input's
// shape (known only at run time when the input is dynamic).
TEST(ResizeShapeInput, ConstantSize) {
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{1, 2, 4, 5}, 3);
  const ResizeSpec s = spec(kL, CT::kHALF_PIXEL, {1, 2, 7, 9});
  const HostTensor y = runStaticAndDynamic(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        const int32_t size[] = {1, 2, 7, 9};
        IConstantLayer* shape = net.addConstant(Dims{4}, Weights{DataType::kINT32, size, 4});
        ASSERT_NE(shape, nullptr);
        IResizeLayer* layer = net.addResize(*in[0]);
        ASSERT_NE(layer, nullptr);
        layer->setResizeMode(kL);
        layer->setCoordinateTransformation(CT::kHALF_PIXEL);
        layer->setInput(1, *shape->getOutput(0));
        EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{1, 2, 7, 9}));
        net.markOutput(*layer->getOutput(0));
      },
      x, 0b1100);
  expectClose(y, makeTensor(DataType::kFLOAT, s.out, referenceResize(s, x, s.out)));
}

TEST(ResizeShapeInput, SizeComputedFromInputShape) {
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{2, 3, 4, 5}, 4);
  const ResizeSpec s = spec(kC, CT::kALIGN_CORNERS, {2, 3, 8, 15});
  const HostTensor y = runSingleOutput(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IShapeLayer* shape = net.addShape(*in[0]);
        ASSERT_NE(shape, nullptr);
        const int64_t factors[] = {1, 1, 2, 3};
        IConstantLayer* constant = net.addConstant(Dims{4}, Weights{DataType::kINT64, factors, 4});
        ASSERT_NE(constant, nullptr);
        IElementWiseLayer* size =
            net.addElementWise(*shape->getOutput(0), *constant->getOutput(0), ElementWiseOperation::kPROD);
        ASSERT_NE(size, nullptr);
        IResizeLayer* layer = net.addResize(*in[0]);
        ASSERT_NE(layer, nullptr);
        layer->setResizeMode(kC);
        layer->setCoordinateTransformation(CT::kALIGN_CORNERS);
        layer->setInput(1, *size->getOutput(0));
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", x}});
  expectClose(y, makeTensor(DataType::kFLOAT, s.out, referenceResize(s, x, s.out)), 1e-5, 1e-5);
}

TEST(ResizeShapeInput, DynamicInputGivesDynamicExtentsAtBuildTime) {
  TestInput input{"x", randomTensor(DataType::kFLOAT, Dims{1, 2, 3, 4}, 9), 0b1111};
  RunResult result = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IResizeLayer* layer = net.addResize(*in[0]);
        ASSERT_NE(layer, nullptr);
        const float scales[] = {1, 1, 2, 2};
        layer->setScales(scales, 4);
        EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{-1, -1, -1, -1}));
        net.markOutput(*layer->getOutput(0));
      },
      {input});
  ASSERT_TRUE(result.status.isOk()) << result.status.toString();
  EXPECT_EQ(result.ordered.at(0).dims, (Dims{1, 2, 6, 8}));
}

TEST(ResizeAccessors, RoundTrip) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{1, 2, 3, 4});
  IResizeLayer* layer = net.addResize(*x);
  ASSERT_NE(layer, nullptr);
  EXPECT_EQ(layer->getResizeMode(), InterpolationMode::kNEAREST);
  EXPECT_EQ(layer->getCoordinateTransformation(), CT::kASYMMETRIC);
  EXPECT_EQ(layer->getNearestRounding(), ResizeRoundMode::kFLOOR);
  EXPECT_FLOAT_EQ(layer->getCubicCoeff(), -0.75f);
  EXPECT_FALSE(layer->getExcludeOutside());
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{1, 2, 3, 4}));
  const float scales[] = {1, 1, 2, 0.5f};
  layer->setScales(scales, 4);
  float back[4] = {};
  EXPECT_EQ(layer->getScales(4, back), 4);
  EXPECT_FLOAT_EQ(back[3], 0.5f);
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{1, 2, 6, 2}));
  layer->setOutputDimensions(Dims{1, 2, 5, 5});
  EXPECT_EQ(layer->getScales(4, back), -1);
  EXPECT_EQ(layer->getOutputDimensions(), (Dims{1, 2, 5, 5}));
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{1, 2, 5, 5}));
  layer->setCubicCoeff(-0.5f);
  layer->setExcludeOutside(true);
  EXPECT_FLOAT_EQ(layer->getCubicCoeff(), -0.5f);
  EXPECT_TRUE(layer->getExcludeOutside());
  EXPECT_TRUE(net.validate().isOk()) << net.status().toString();
}

// Builds x -> resize, lets `change` misconfigure it, and expects the network to report an error.
void expectResizeError(DataType type, const Dims& dims, const std::function<void(IResizeLayer*)>& change,
                       const char* needle) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", type, dims);
  IResizeLayer* layer = net.addResize(*x);
  ASSERT_NE(layer, nullptr);
  change(layer);
  const Status status = net.validate();
  EXPECT_FALSE(status.isOk());
  EXPECT_NE(status.message().find(needle), std::string::npos) << status.message();
}

TEST(ResizeErrors, InvalidConfigurations) {
  const Dims d{1, 2, 4, 5};
  expectResizeError(
      DataType::kINT32, d, [](IResizeLayer* l) { l->setResizeMode(kL); }, "float");
  expectResizeError(
      DataType::kFLOAT, d,
      [](IResizeLayer* l) {
        l->setResizeMode(kL);
        l->setOutputDimensions(Dims{2, 3, 8, 10});
      },
      "innermost");
  expectResizeError(
      DataType::kFLOAT, d,
      [](IResizeLayer* l) {
        l->setResizeMode(kC);
        l->setOutputDimensions(Dims{1, 3, 8, 10});
      },
      "innermost");
  expectResizeError(
      DataType::kFLOAT, d,
      [](IResizeLayer* l) {
        l->setOutputDimensions(Dims{2, 8, 10});
      },
      "rank");
  expectResizeError(
      DataType::kFLOAT, d,
      [](IResizeLayer* l) {
        const float scales[] = {1, 2, 2};
        l->setScales(scales, 3);
      },
      "scales");
  expectResizeError(
      DataType::kFLOAT, d,
      [](IResizeLayer* l) {
        const float scales[] = {1, 1, -2, 2};
        l->setScales(scales, 4);
      },
      "positive");
  expectResizeError(
      DataType::kFLOAT, d,
      [](IResizeLayer* l) {
        l->setOutputDimensions(Dims{1, 2, -3, 5});
      },
      "non-negative");
  expectResizeError(
      DataType::kFLOAT, d, [](IResizeLayer* l) { l->setResizeMode(static_cast<InterpolationMode>(9)); }, "mode");
  expectResizeError(
      DataType::kFLOAT, Dims{1, 0, 4},
      [](IResizeLayer* l) {
        l->setOutputDimensions(Dims{1, 3, 4});
      },
      "empty");
}

TEST(ResizeErrors, BadSizeInput) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{1, 2, 4, 5});
  const float wrongType[] = {1, 2, 8, 10};
  IConstantLayer* floats = net.addConstant(Dims{4}, Weights{DataType::kFLOAT, wrongType, 4});
  IResizeLayer* layer = net.addResize(*x);
  ASSERT_NE(floats, nullptr);
  ASSERT_NE(layer, nullptr);
  layer->setInput(1, *floats->getOutput(0));
  EXPECT_FALSE(net.validate().isOk());

  NetworkDefinition net2;
  ITensor* x2 = net2.addInput("x", DataType::kFLOAT, Dims{1, 2, 4, 5});
  const int32_t tooFew[] = {8, 10};
  IConstantLayer* shape = net2.addConstant(Dims{2}, Weights{DataType::kINT32, tooFew, 2});
  IResizeLayer* layer2 = net2.addResize(*x2);
  ASSERT_NE(shape, nullptr);
  ASSERT_NE(layer2, nullptr);
  layer2->setInput(1, *shape->getOutput(0));
  const Status status = net2.validate();
  EXPECT_FALSE(status.isOk());
  EXPECT_NE(status.message().find("Resize"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace testing
}  // namespace kiln
