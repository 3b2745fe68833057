// Convolution and deconvolution layers against naive double-precision references: 1D/2D/3D, groups
// (depthwise too), dilation, stride, asymmetric and SAME padding, bias or none, weights as tensor inputs,
// each float type, static and dynamic shapes, every CPU tactic, and invalid parameters.
#include <algorithm>
#include <string>
#include <vector>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/network_impl.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

struct ConvCase {
  std::string name;
  std::vector<int64_t> input;  // [N, C, spatial...]
  int64_t outMaps;
  std::vector<int64_t> kernel;
  std::vector<int64_t> stride = {}, dilation = {}, pre = {}, post = {};  // empty: layer defaults
  PaddingMode mode = PaddingMode::kEXPLICIT_ROUND_DOWN;
  int64_t groups = 1;
  bool bias = true;
  bool weightsAsInput = false;  // kernel (and bias) from inputs 1 and 2
};

void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.name; }

Dims toDims(const std::vector<int64_t>& v) {
  Dims d;
  d.nbDims = static_cast<int32_t>(v.size());
  for (size_t i = 0; i < v.size(); ++i) d.d[i] = v[i];
  return d;
}

int64_t floorDivide(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// The reference's own view of the geometry, spatial dims padded to 3 at the front.
struct RefGeometry {
  int64_t n, c, k, groups;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, ker[3] = {1, 1, 1}, str[3] = {1, 1, 1}, dil[3] = {1, 1, 1};
  int64_t pre[3] = {0, 0, 0};
  std::vector<int64_t> outDims;
};

RefGeometry refGeometry(const ConvCase& c, bool deconv) {
  RefGeometry g;
  const size_t ns = c.kernel.size();
  g.n = c.input[0];
  g.c = c.input[1];
  g.k = c.outMaps;
  g.groups = c.groups;
  g.outDims = {g.n, g.k};
  for (size_t i = 0; i < ns; ++i) {
    const size_t j = 3 - ns + i;
    const int64_t in = c.input[2 + i], k = c.kernel[i];
    const int64_t s = c.stride.empty() ? 1 : c.stride[i], d = c.dilation.empty() ? 1 : c.dilation[i];
    const int64_t pre = c.pre.empty() ? 0 : c.pre[i], post = c.post.empty() ? 0 : c.post[i];
    const int64_t ek = d * (k - 1) + 1;
    int64_t out = 0, p = pre;
    const bool same = c.mode == PaddingMode::kSAME_UPPER || c.mode == PaddingMode::kSAME_LOWER;
    const bool upper = c.mode == PaddingMode::kSAME_UPPER;
    if (deconv) {
      const int64_t full = (in - 1) * s + ek;
      out = same ? in * s : full - pre - post;
      if (same) {
        const int64_t total = full - out;
        p = upper ? floorDivide(total, 2) : total - floorDivide(total, 2);
      }
    } else if (same) {
      out = (in + s - 1) / s;
      const int64_t total = std::max<int64_t>(0, (out - 1) * s + ek - in);
      p = upper ? total / 2 : total - total / 2;
    } else {
      const int64_t span = in + pre + post - ek;
      out = (c.mode == PaddingMode::kEXPLICIT_ROUND_UP ? (span + s - 1) / s : span / s) + 1;
    }
    g.in[j] = in;
    g.out[j] = out;
    g.ker[j] = k;
    g.str[j] = s;
    g.dil[j] = d;
    g.pre[j] = p;
    g.outDims.push_back(out);
  }
  return g;
}

std::vector<int64_t> weightShape(const ConvCase& c, bool deconv) {
  std::vector<int64_t> shape = deconv ? std::vector<int64_t>{c.input[1], c.outMaps / c.groups}
                                      : std::vector<int64_t>{c.outMaps, c.input[1] / c.groups};
  shape.insert(shape.end(), c.kernel.begin(), c.kernel.end());
  return shape;
}

int64_t at(const RefGeometry& g, const int64_t* ext, int64_t d, int64_t h, int64_t w) {
  return (d * ext[1] + h) * ext[2] + w;
}

std::vector<double> referenceConv(const RefGeometry& g, const std::vector<double>& x, const std::vector<double>& w,
                                  const std::vector<double>& b) {
  const int64_t cg = g.c / g.groups, kg = g.k / g.groups;
  const int64_t inVol = g.in[0] * g.in[1] * g.in[2], outVol = g.out[0] * g.out[1] * g.out[2];
  const int64_t kVol = g.ker[0] * g.ker[1] * g.ker[2];
  std::vector<double> y(static_cast<size_t>(g.n * g.k * outVol), 0.0);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t k = 0; k < g.k; ++k)
      for (int64_t od = 0; od < g.out[0]; ++od)
        for (int64_t oh = 0; oh < g.out[1]; ++oh)
          for (int64_t ow = 0; ow < g.out[2]; ++ow) {
            double acc = b.empty() ? 0.0 : b[static_cast<size_t>(k)];
            for (int64_t c = 0; c < cg; ++c)
              for (int64_t kd = 0; kd < g.ker[0]; ++kd)
                for (int64_t kh = 0; kh < g.ker[1]; ++kh)
                  for (int64_t kw = 0; kw < g.ker[2]; ++kw) {
                    const int64_t id = od * g.str[0] - g.pre[0] + kd * g.dil[0];
                    const int64_t ih = oh * g.str[1] - g.pre[1] + kh * g.dil[1];
                    const int64_t iw = ow * g.str[2] - g.pre[2] + kw * g.dil[2];
                    if (id < 0 || ih < 0 || iw < 0 || id >= g.in[0] || ih >= g.in[1] || iw >= g.in[2]) continue;
                    const int64_t ci = (k / kg) * cg + c;
                    acc += x[static_cast<size_t>((n * g.c + ci) * inVol + at(g, g.in, id, ih, iw))] *
                           w[static_cast<size_t>((k * cg + c) * kVol + at(g, g.ker, kd, kh, kw))];
                  }
            y[static_cast<size_t>((n * g.k + k) * outVol + at(g, g.out, od, oh, ow))] = acc;
          }
  return y;
}

std::vector<double> referenceDeconv(const RefGeometry& g, const std::vector<double>& x, const std::vector<double>& w,
                                    const std::vector<double>& b) {
  const int64_t cg = g.c / g.groups, kg = g.k / g.groups;
  const int64_t inVol = g.in[0] * g.in[1] * g.in[2], outVol = g.out[0] * g.out[1] * g.out[2];
  const int64_t kVol = g.ker[0] * g.ker[1] * g.ker[2];
  std::vector<double> y(static_cast<size_t>(g.n * g.k * outVol), 0.0);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t k = 0; k < g.k; ++k)
      for (int64_t o = 0; o < outVol; ++o) y[static_cast<size_t>((n * g.k + k) * outVol + o)] = b.empty() ? 0.0 : b[k];
  // Scatter form: each input element adds its kernel-weighted copy to the (cropped) output.
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t id = 0; id < g.in[0]; ++id)
        for (int64_t ih = 0; ih < g.in[1]; ++ih)
          for (int64_t iw = 0; iw < g.in[2]; ++iw) {
            const double v = x[static_cast<size_t>((n * g.c + c) * inVol + at(g, g.in, id, ih, iw))];
            for (int64_t kc = 0; kc < kg; ++kc)
              for (int64_t kd = 0; kd < g.ker[0]; ++kd)
                for (int64_t kh = 0; kh < g.ker[1]; ++kh)
                  for (int64_t kw = 0; kw < g.ker[2]; ++kw) {
                    const int64_t od = id * g.str[0] + kd * g.dil[0] - g.pre[0];
                    const int64_t oh = ih * g.str[1] + kh * g.dil[1] - g.pre[1];
                    const int64_t ow = iw * g.str[2] + kw * g.dil[2] - g.pre[2];
                    if (od < 0 || oh < 0 || ow < 0 || od >= g.out[0] || oh >= g.out[1] || ow >= g.out[2]) continue;
                    const int64_t k = (c / cg) * kg + kc;
                    y[static_cast<size_t>((n * g.k + k) * outVol + at(g, g.out, od, oh, ow))] +=
                        v * w[static_cast<size_t>((c * kg + kc) * kVol + at(g, g.ker, kd, kh, kw))];
                  }
          }
  return y;
}

// Float32 accumulation against a double reference, plus the rounding of the output type.
double tolerance(DataType type) { return type == DataType::kFLOAT ? 2e-4 : type == DataType::kHALF ? 1e-2 : 4e-2; }

Weights weightsOf(const HostTensor& t) { return Weights{t.type, t.data(), t.count()}; }

// Applies the case's optional parameters to a freshly added layer.
void configure(IConvolutionLayer* layer, const ConvCase& c) {
  if (!c.stride.empty()) layer->setStrideNd(toDims(c.stride));
  if (!c.dilation.empty()) layer->setDilationNd(toDims(c.dilation));
  if (!c.pre.empty()) layer->setPrePadding(toDims(c.pre));
  if (!c.post.empty()) layer->setPostPadding(toDims(c.post));
  if (c.mode != PaddingMode::kEXPLICIT_ROUND_DOWN) layer->setPaddingMode(c.mode);
  if (c.groups != 1) layer->setNbGroups(c.groups);
}

struct CaseData {
  HostTensor x, w, b;
  HostTensor expected;
};

CaseData makeCaseData(const ConvCase& c, bool deconv, DataType type, DataType weightType, uint64_t seed) {
  CaseData data;
  data.x = randomTensor(type, toDims(c.input), seed);
  data.w = randomTensor(weightType, toDims(weightShape(c, deconv)), seed + 1, -0.5, 0.5);
  data.b = randomTensor(weightType, Dims{c.outMaps}, seed + 2);
  const RefGeometry g = refGeometry(c, deconv);
  const std::vector<double> bias = c.bias ? toDoubles(data.b) : std::vector<double>{};
  const std::vector<double> y = deconv ? referenceDeconv(g, toDoubles(data.x), toDoubles(data.w), bias)
                                       : referenceConv(g, toDoubles(data.x), toDoubles(data.w), bias);
  data.expected = makeTensor(type, toDims(g.outDims), y);
  return data;
}

IConvolutionLayer* addLayer(NetworkDefinition& net, const std::vector<ITensor*>& in, const ConvCase& c, bool deconv,
                            const CaseData& data) {
  const Weights kernel = c.weightsAsInput ? Weights{} : weightsOf(data.w);
  const Weights bias = c.weightsAsInput || !c.bias ? Weights{} : weightsOf(data.b);
  IConvolutionLayer* layer =
      deconv
          ? static_cast<IConvolutionLayer*>(net.addDeconvolutionNd(*in[0], c.outMaps, toDims(c.kernel), kernel, bias))
          : net.addConvolutionNd(*in[0], c.outMaps, toDims(c.kernel), kernel, bias);
  if (layer == nullptr) return nullptr;
  configure(layer, c);
  if (c.weightsAsInput) {
    layer->setInput(1, *in[1]);
    if (c.bias) layer->setInput(2, *in[2]);
  }
  return layer;
}

// Builds and runs the case twice: with static shapes, then with the batch and spatial dims of x dynamic
// (profile [value, 2 * value]). With fixed Weights the channel count is fixed too; with weight tensors the
// channels of x and the matching dim of the weights are dynamic together. Each run is checked against the
// reference (not bitwise against each other: the builder times the tactics separately for each build, and
// two tactics round differently).
void runCase(const ConvCase& c, bool deconv, DataType type, DataType weightType) {
  const CaseData data = makeCaseData(c, deconv, type, weightType, 17);
  const uint32_t rank = static_cast<uint32_t>(c.input.size());
  const uint32_t allDims = (1u << rank) - 1;
  for (bool dynamic : {false, true}) {
    SCOPED_TRACE(dynamic ? "dynamic shapes" : "static shapes");
    std::vector<TestInput> inputs = {{"x", data.x, dynamic ? (c.weightsAsInput ? allDims : allDims & ~2u) : 0u}};
    if (c.weightsAsInput) {
      // Conv weights [K, C/g, k...] follow C on dim 1, deconv weights [C, K/g, k...] on dim 0.
      inputs.push_back({"w", data.w, dynamic ? (deconv ? 1u : 2u) : 0u});
      if (c.bias) inputs.push_back({"b", data.b});
    }
    RunResult result = buildAndRun(
        [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          IConvolutionLayer* layer = addLayer(net, in, c, deconv, data);
          ASSERT_NE(layer, nullptr) << net.status().toString();
          EXPECT_EQ(layer->getType(), deconv ? LayerType::kDECONVOLUTION : LayerType::kCONVOLUTION);
          net.markOutput(*layer->getOutput(0));
        },
        inputs);
    ASSERT_TRUE(result.status.isOk()) << result.status.toString();
    ASSERT_EQ(result.ordered.size(), 1u);
    expectClose(result.ordered[0], data.expected, tolerance(type), tolerance(type));
  }
}

const ConvCase kConvCases[] = {
    {"d1_basic", {2, 4, 11}, 6, {3}},
    {"d1_stride_dilation_asym", {2, 4, 20}, 5, {3}, {2}, {2}, {1}, {2}, PaddingMode::kEXPLICIT_ROUND_DOWN, 1, false},
    {"d2_pad1", {2, 3, 9, 8}, 4, {3, 3}, {}, {}, {1, 1}, {1, 1}},
    {"d2_groups_asym", {2, 6, 7, 9}, 9, {3, 2}, {2, 1}, {}, {1, 0}, {0, 1}, PaddingMode::kEXPLICIT_ROUND_DOWN, 3},
    {"d2_depthwise", {2, 8, 10, 10}, 8, {3, 3}, {2, 2}, {}, {1, 1}, {1, 1}, PaddingMode::kEXPLICIT_ROUND_DOWN, 8},
    {"d2_depthwise_multiplier",
     {1, 4, 6, 7},
     8,
     {5, 5},
     {},
     {2, 1},
     {4, 2},
     {4, 2},
     PaddingMode::kEXPLICIT_ROUND_DOWN,
     4,
     false},
    {"d2_pointwise", {3, 16, 5, 6}, 8, {1, 1}},
    {"d2_round_up", {1, 2, 10, 9}, 3, {3, 3}, {3, 2}, {}, {}, {}, PaddingMode::kEXPLICIT_ROUND_UP},
    {"d2_same_upper", {2, 3, 9, 10}, 4, {4, 3}, {2, 3}, {}, {}, {}, PaddingMode::kSAME_UPPER},
    {"d2_same_lower_dilated", {2, 3, 9, 10}, 4, {4, 3}, {2, 1}, {2, 2}, {}, {}, PaddingMode::kSAME_LOWER},
    {"d3_asym", {2, 4, 5, 6, 7}, 4, {3, 3, 3}, {1, 2, 1}, {}, {1, 0, 1}, {0, 1, 1}},
    {"d3_groups_dilation",
     {1, 4, 6, 6, 6},
     6,
     {2, 3, 2},
     {2, 2, 1},
     {2, 1, 2},
     {},
     {},
     PaddingMode::kEXPLICIT_ROUND_DOWN,
     2,
     false},
    {"d2_weights_input",
     {2, 4, 7, 6},
     6,
     {3, 3},
     {1, 2},
     {},
     {1, 1},
     {0, 1},
     PaddingMode::kEXPLICIT_ROUND_DOWN,
     2,
     true,
     true},
    {"d2_weights_input_no_bias",
     {2, 3, 6, 6},
     2,
     {2, 2},
     {},
     {},
     {},
     {},
     PaddingMode::kEXPLICIT_ROUND_DOWN,
     1,
     false,
     true},
    {"d2_large", {2, 16, 30, 28}, 32, {3, 3}, {}, {}, {1, 1}, {1, 1}},
};

const ConvCase kDeconvCases[] = {
    {"d1_stride", {2, 4, 7}, 6, {3}, {2}},
    {"d2_pad1", {2, 3, 5, 6}, 4, {3, 3}, {2, 2}, {}, {1, 1}, {1, 1}},
    {"d2_output_padding",
     {1, 3, 5, 4},
     2,
     {3, 3},
     {2, 2},
     {},
     {1, 1},
     {0, 0},
     PaddingMode::kEXPLICIT_ROUND_DOWN,
     1,
     false},
    {"d2_negative_padding_extends", {1, 2, 4, 4}, 3, {2, 3}, {2, 1}, {}, {-1, 0}, {0, -2}},
    {"d2_groups_dilation",
     {1, 6, 4, 5},
     4,
     {3, 2},
     {1, 2},
     {2, 2},
     {1, 0},
     {0, 2},
     PaddingMode::kEXPLICIT_ROUND_DOWN,
     2},
    {"d2_depthwise", {2, 4, 5, 5}, 4, {4, 4}, {2, 2}, {}, {1, 1}, {1, 1}, PaddingMode::kEXPLICIT_ROUND_DOWN, 4},
    {"d3_asym", {1, 2, 3, 4, 3}, 3, {2, 3, 2}, {2, 1, 2}, {}, {0, 1, 0}, {1, 0, -1}},
    {"d2_pointwise", {2, 8, 4, 5}, 6, {1, 1}},
    {"d2_same_upper", {2, 3, 5, 4}, 2, {3, 3}, {2, 2}, {}, {}, {}, PaddingMode::kSAME_UPPER},
    {"d2_same_lower", {1, 2, 4, 3}, 2, {4, 3}, {2, 1}, {}, {}, {}, PaddingMode::kSAME_LOWER},
    {"d2_weights_input",
     {2, 4, 4, 3},
     6,
     {3, 2},
     {2, 2},
     {},
     {1, 0},
     {0, 0},
     PaddingMode::kEXPLICIT_ROUND_DOWN,
     2,
     true,
     true},
    {"d2_large", {2, 32, 14, 14}, 16, {4, 4}, {2, 2}, {}, {1, 1}, {1, 1}},
};

std::string paramName(const std::string& name, DataType type) { return name + "_" + dataTypeName(type); }

class ConvolutionTest : public ::testing::TestWithParam<std::tuple<ConvCase, DataType>> {};

TEST_P(ConvolutionTest, MatchesReference) {
  const auto& [c, type] = GetParam();
  runCase(c, /*deconv=*/false, type, type);
}

INSTANTIATE_TEST_SUITE_P(Cases, ConvolutionTest,
                         ::testing::Combine(::testing::ValuesIn(kConvCases),
                                            ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16)),
                         [](const auto& info) {
                           return paramName(std::get<0>(info.param).name, std::get<1>(info.param));
                         });

class DeconvolutionTest : public ::testing::TestWithParam<std::tuple<ConvCase, DataType>> {};

TEST_P(DeconvolutionTest, MatchesReference) {
  const auto& [c, type] = GetParam();
  runCase(c, /*deconv=*/true, type, type);
}

INSTANTIATE_TEST_SUITE_P(Cases, DeconvolutionTest,
                         ::testing::Combine(::testing::ValuesIn(kDeconvCases),
                                            ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16)),
                         [](const auto& info) {
                           return paramName(std::get<0>(info.param).name, std::get<1>(info.param));
                         });

// Weights of another float type than the activations are converted.
TEST(ConvolutionWeights, MixedWeightTypesAreConverted) {
  const ConvCase conv = kConvCases[3];
  const ConvCase deconv = kDeconvCases[4];
  for (DataType weightType : {DataType::kHALF, DataType::kBF16}) runCase(conv, false, DataType::kFLOAT, weightType);
  runCase(conv, false, DataType::kHALF, DataType::kFLOAT);
  runCase(deconv, true, DataType::kFLOAT, DataType::kBF16);
}

// Dynamic batch and spatial dims with a fixed channel count, as a converter declares them.
TEST(ConvolutionDynamic, DynamicBatchAndSpatialDims) {
  for (bool deconv : {false, true}) {
    const ConvCase& c = deconv ? kDeconvCases[1] : kConvCases[3];
    const CaseData data = makeCaseData(c, deconv, DataType::kFLOAT, DataType::kFLOAT, 5);
    TestInput x{"x", data.x, /*dynamicMask=*/0b1101};
    x.minDims = Dims{1, c.input[1], c.input[2] - 1, c.input[3] - 1};
    x.maxDims = Dims{4, c.input[1], c.input[2] + 3, c.input[3] + 3};
    RunResult result = buildAndRun(
        [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          IConvolutionLayer* layer = addLayer(net, in, c, deconv, data);
          ASSERT_NE(layer, nullptr) << net.status().toString();
          const Dims dims = layer->getOutput(0)->getDimensions();
          EXPECT_EQ(dims.d[0], -1);
          EXPECT_EQ(dims.d[1], c.outMaps);
          EXPECT_EQ(dims.d[2], -1);
          net.markOutput(*layer->getOutput(0));
        },
        {x});
    ASSERT_TRUE(result.status.isOk()) << result.status.toString();
    ASSERT_EQ(result.ordered.size(), 1u);
    expectClose(result.ordered[0], data.expected, 2e-4, 2e-4);
  }
}

// Every registered CPU tactic, run directly so that each is checked whatever the builder would choose.
TEST(ConvolutionTactics, EveryTacticMatchesReference) {
  for (bool deconv : {false, true}) {
    const LayerType kind = deconv ? LayerType::kDECONVOLUTION : LayerType::kCONVOLUTION;
    const auto& tactics = CpuKernelTable::instance().tactics(kind);
    ASSERT_GE(tactics.size(), 2u);
    const std::vector<ConvCase> cases = deconv ? std::vector<ConvCase>(std::begin(kDeconvCases), std::end(kDeconvCases))
                                               : std::vector<ConvCase>(std::begin(kConvCases), std::end(kConvCases));
    for (const ConvCase& c : cases) {
      for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
        CaseData data = makeCaseData(c, deconv, type, type, 23);
        NetworkDefinition net;
        std::vector<ITensor*> in = {net.addInput("x", type, data.x.dims)};
        if (c.weightsAsInput) {
          in.push_back(net.addInput("w", type, data.w.dims));
          if (c.bias) in.push_back(net.addInput("b", type, data.b.dims));
        }
        IConvolutionLayer* layer = addLayer(net, in, c, deconv, data);
        ASSERT_NE(layer, nullptr) << net.status().toString();
        ASSERT_TRUE(net.validate().isOk()) << net.status().toString();
        const LayerParams& params = layer->data().params;
        for (const CpuTactic& tactic : tactics) {
          SCOPED_TRACE(c.name + " " + tactic.name + " " + dataTypeName(type));
          HostTensor y(type, layer->getOutput(0)->getDimensions());
          KernelIO io;
          io.inputs.push_back({data.x.data(), data.x.dims, type});
          if (c.weightsAsInput) {
            io.inputs.push_back({data.w.data(), data.w.dims, type});
            io.inputs.push_back(c.bias ? TensorView{data.b.data(), data.b.dims, type} : TensorView{});
          }
          io.outputs.push_back({y.data(), y.dims, type});
          std::vector<uint8_t> workspace(
              static_cast<size_t>(tactic.workspace != nullptr ? tactic.workspace(params, io) : 0));
          io.workspace = workspace.empty() ? nullptr : workspace.data();
          io.workspaceSize = static_cast<int64_t>(workspace.size());
          const Status status = tactic.run(params, io);
          ASSERT_TRUE(status.isOk()) << status.toString();
          expectClose(y, data.expected, tolerance(type), tolerance(type));
        }
      }
    }
  }
}

TEST(ConvolutionAccessors, RoundTrip) {
  // A kernel for fewer input channels than the input has starts out grouped: setNbGroups may follow the add.
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{1, 4, 8, 8});
  std::vector<float> w(4 * 2 * 9, 0.1f);
  IConvolutionLayer* conv = net.addConvolutionNd(*x, 4, Dims{3, 3}, Weights{DataType::kFLOAT, w.data(), 72}, Weights{});
  ASSERT_NE(conv, nullptr) << net.status().toString();
  EXPECT_EQ(conv->getNbGroups(), 2);
  conv->setNbGroups(2);
  EXPECT_TRUE(net.validate().isOk()) << net.status().toString();

  NetworkDefinition net2;
  x = net2.addInput("x", DataType::kFLOAT, Dims{1, 4, 8, 8});
  std::vector<float> w2(4 * 4 * 9, 0.1f);
  conv = net2.addConvolutionNd(*x, 4, Dims{3, 3}, Weights{DataType::kFLOAT, w2.data(), 144}, Weights{});
  ASSERT_NE(conv, nullptr) << net2.status().toString();
  EXPECT_EQ(conv->getKernelSizeNd(), (Dims{3, 3}));
  EXPECT_EQ(conv->getStrideNd(), (Dims{1, 1}));
  EXPECT_EQ(conv->getDilationNd(), (Dims{1, 1}));
  EXPECT_EQ(conv->getNbGroups(), 1);
  EXPECT_EQ(conv->getNbOutputMaps(), 4);
  EXPECT_EQ(conv->getPaddingMode(), PaddingMode::kEXPLICIT_ROUND_DOWN);
  conv->setPaddingNd(Dims{1, 2});
  EXPECT_EQ(conv->getPrePadding(), (Dims{1, 2}));
  EXPECT_EQ(conv->getPostPadding(), (Dims{1, 2}));
  EXPECT_EQ(conv->getPaddingNd(), (Dims{1, 2}));
  conv->setStrideNd(Dims{2, 2});
  EXPECT_EQ(conv->getOutput(0)->getDimensions(), (Dims{1, 4, 4, 5}));
  conv->setPaddingMode(PaddingMode::kSAME_UPPER);
  EXPECT_EQ(conv->getOutput(0)->getDimensions(), (Dims{1, 4, 4, 4}));
  EXPECT_TRUE(net2.status().isOk()) << net2.status().toString();
}

// ---- invalid parameters: errors, never crashes -------------------------------------------------------------

std::vector<float> ones(size_t n) { return std::vector<float>(n, 1.f); }

TEST(ConvolutionErrors, WrongWeightCount) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{1, 3, 8, 8});
  const auto w = ones(5 * 3 * 9 - 1);
  EXPECT_EQ(net.addConvolutionNd(*x, 5, Dims{3, 3}, Weights{DataType::kFLOAT, w.data(), 5 * 3 * 9 - 1}, Weights{}),
            nullptr);
  EXPECT_NE(net.status().message().find("weights"), std::string::npos) << net.status().message();
  NetworkDefinition net2;
  x = net2.addInput("x", DataType::kFLOAT, Dims{1, 3, 8, 8});
  const auto w2 = ones(5 * 3 * 9);
  const auto b = ones(4);
  EXPECT_EQ(net2.addDeconvolutionNd(*x, 5, Dims{3, 3}, Weights{DataType::kFLOAT, w2.data(), 45},
                                    Weights{DataType::kFLOAT, b.data(), 4}),
            nullptr);
  EXPECT_FALSE(net2.status().isOk());
}

TEST(ConvolutionErrors, KernelBiggerThanPaddedInput) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{1, 1, 4, 4});
  const auto w = ones(25);
  // TensorRT's API sets padding after the add, so a kernel that does not fit yet is reported by status(),
  // once shapes are re-inferred, rather than by a null layer.
  IConvolutionLayer* tooBig =
      net.addConvolutionNd(*x, 1, Dims{5, 5}, Weights{DataType::kFLOAT, w.data(), 25}, Weights{});
  ASSERT_NE(tooBig, nullptr);
  EXPECT_FALSE(net.status().isOk());
  EXPECT_NE(net.status().message().find("exceeds the padded input"), std::string::npos) << net.status().toString();
  tooBig->setPaddingNd(Dims{1, 1});  // 4 + 2 >= 5: now it fits
  EXPECT_TRUE(net.status().isOk()) << net.status().toString();
  // Dilation makes a fitting kernel too big; found when the setter re-runs inference.
  NetworkDefinition net2;
  x = net2.addInput("x", DataType::kFLOAT, Dims{1, 1, 6, 6});
  const auto w9 = ones(9);
  IConvolutionLayer* conv = net2.addConvolutionNd(*x, 1, Dims{3, 3}, Weights{DataType::kFLOAT, w9.data(), 9}, {});
  ASSERT_NE(conv, nullptr);
  conv->setDilationNd(Dims{3, 3});
  EXPECT_FALSE(net2.validate().isOk());
}

TEST(ConvolutionErrors, GroupsMustDivideChannels) {
  NetworkDefinition net;
  ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{1, 4, 6, 6});
  const auto w = ones(6 * 4 * 9);
  IConvolutionLayer* conv = net.addConvolutionNd(*x, 6, Dims{3, 3}, Weights{DataType::kFLOAT, w.data(), 216}, {});
  ASSERT_NE(conv, nullptr);
  conv->setNbGroups(3);  // divides 6 maps but not 4 channels
  EXPECT_FALSE(net.validate().isOk());
  EXPECT_NE(net.status().message().find("groups"), std::string::npos) << net.status().message();
}

TEST(ConvolutionErrors, BadParametersAreRejected) {
  const auto w = ones(64);
  auto expectInvalid = [&](const std::function<void(IConvolutionLayer*)>& mutate, bool deconv) {
    NetworkDefinition net;
    ITensor* x = net.addInput("x", DataType::kFLOAT, Dims{1, 2, 6, 6});
    IConvolutionLayer* layer =
        deconv ? static_cast<IConvolutionLayer*>(
                     net.addDeconvolutionNd(*x, 2, Dims{2, 2}, Weights{DataType::kFLOAT, w.data(), 16}, {}))
               : net.addConvolutionNd(*x, 2, Dims{2, 2}, Weights{DataType::kFLOAT, w.data(), 16}, {});
    ASSERT_NE(layer, nullptr) << net.status().toString();
    mutate(layer);
    EXPECT_FALSE(net.validate().isOk());
  };
  for (bool deconv : {false, true}) {
    expectInvalid([](IConvolutionLayer* l) { l->setStrideNd(Dims{0, 1}); }, deconv);
    expectInvalid([](IConvolutionLayer* l) { l->setStrideNd(Dims{1, 1, 1}); }, deconv);
    expectInvalid([](IConvolutionLayer* l) { l->setDilationNd(Dims{1, -1}); }, deconv);
    expectInvalid([](IConvolutionLayer* l) { l->setNbGroups(0); }, deconv);
    expectInvalid([](IConvolutionLayer* l) { l->setNbOutputMaps(3); }, deconv);  // weight count no longer fits
    expectInvalid([](IConvolutionLayer* l) { l->setPaddingMode(static_cast<PaddingMode>(9)); }, deconv);
    const std::vector<int32_t> bad = {1, 2};
    expectInvalid([&](IConvolutionLayer* l) { l->setBiasWeights(Weights{DataType::kINT32, bad.data(), 2}); }, deconv);
  }
  expectInvalid([](IConvolutionLayer* l) { l->setPrePadding(Dims{-1, 0}); }, false);
  expectInvalid([](IConvolutionLayer* l) { l->setPaddingNd(Dims{4, 4}); }, true);  // crops the whole output

  NetworkDefinition net;
  ITensor* x3 = net.addInput("x", DataType::kFLOAT, Dims{1, 2, 6});
  EXPECT_EQ(net.addConvolutionNd(*x3, 2, Dims{2, 2}, Weights{DataType::kFLOAT, w.data(), 16}, {}), nullptr)
      << "a 2D kernel on a 1D input";
  NetworkDefinition net2;
  ITensor* xi = net2.addInput("x", DataType::kINT32, Dims{1, 2, 6});
  EXPECT_EQ(net2.addConvolutionNd(*xi, 2, Dims{2}, Weights{DataType::kFLOAT, w.data(), 8}, {}), nullptr);
  NetworkDefinition net3;
  ITensor* x4 = net3.addInput("x", DataType::kFLOAT, Dims{1, 2, 6, 6});
  EXPECT_EQ(net3.addConvolutionNd(*x4, 2, Dims{1, 2, 2, 2}, Weights{DataType::kFLOAT, w.data(), 32}, {}), nullptr);
  EXPECT_EQ(net3.addConvolutionNd(*x4, 0, Dims{2, 2}, Weights{DataType::kFLOAT, w.data(), 16}, {}), nullptr);
  EXPECT_EQ(net3.addConvolutionNd(*x4, 2, Dims{2, 2}, Weights{DataType::kFLOAT, nullptr, 16}, {}), nullptr);
}

// A layer that never received kernel weights fails at execution with its name, not with a crash.
TEST(ConvolutionErrors, MissingKernelWeightsFailsWithLayerName) {
  RunResult result = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IConvolutionLayer* conv = net.addConvolutionNd(*in[0], 2, Dims{3}, Weights{}, Weights{});
        ASSERT_NE(conv, nullptr) << net.status().toString();
        conv->setName("weightless");
        net.markOutput(*conv->getOutput(0));
      },
      {{"x", randomTensor(DataType::kFLOAT, Dims{1, 2, 8}, 3)}});
  ASSERT_FALSE(result.status.isOk());
  EXPECT_NE(result.status.message().find("weightless"), std::string::npos) << result.status.toString();
}

// Weights as an input tensor whose shape contradicts the layer: found at build time or at run time.
TEST(ConvolutionErrors, WeightsInputOfWrongShape) {
  RunResult result = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IConvolutionLayer* conv = net.addConvolutionNd(*in[0], 2, Dims{3}, Weights{}, Weights{});
        ASSERT_NE(conv, nullptr);
        conv->setInput(1, *in[1]);
        net.markOutput(*conv->getOutput(0));
      },
      {{"x", randomTensor(DataType::kFLOAT, Dims{1, 2, 8}, 3)},
       {"w", randomTensor(DataType::kFLOAT, Dims{2, 3, 3}, 4), /*dynamicMask=*/0b010}});
  EXPECT_FALSE(result.status.isOk());
}

// The channel count is dynamic, so a kernel that fits only some channel counts fails at build or run time.
TEST(ConvolutionErrors, DynamicChannelsMismatchIsAnError) {
  const auto w = ones(2 * 2 * 3);
  RunResult result = buildAndRun(
      [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IConvolutionLayer* conv = net.addConvolutionNd(*in[0], 2, Dims{3}, Weights{DataType::kFLOAT, w.data(), 12}, {});
        ASSERT_NE(conv, nullptr) << net.status().toString();
        net.markOutput(*conv->getOutput(0));
      },
      {{"x", randomTensor(DataType::kFLOAT, Dims{1, 3, 8}, 3), /*dynamicMask=*/0b010}});
  EXPECT_FALSE(result.status.isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
