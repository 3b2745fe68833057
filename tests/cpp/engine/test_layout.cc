// The channels-last layout pass: what it converts (checked on the graph it produces) and that converted
// networks compute what the NCHW ones do (KILN_CHANNELS_LAST=1 against =0, on the test backend; the CPU runs
// channels_last layers through its reference staging).
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "engine/builder_layout.h"
#include "engine/layer_kinds.h"
#include "engine/network_impl.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

// Sets KILN_CHANNELS_LAST for one scope and restores what was there.
class ScopedChannelsLast {
 public:
  explicit ScopedChannelsLast(const char* value) {
    if (const char* old = std::getenv("KILN_CHANNELS_LAST")) saved_ = old;
    setenv("KILN_CHANNELS_LAST", value, 1);
  }
  ~ScopedChannelsLast() {
    if (saved_) {
      setenv("KILN_CHANNELS_LAST", saved_->c_str(), 1);
    } else {
      unsetenv("KILN_CHANNELS_LAST");
    }
  }

 private:
  std::optional<std::string> saved_;
};

std::vector<float> ramp(size_t n, float scale, float offset) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>((i * 37) % 17) / 17.f + offset;
  return v;
}

// Weights outlive the network definition: the layers copy them, the test keeps the sources.
struct Params {
  std::vector<float> k1 = ramp(8 * 4 * 9, 0.4f, -0.2f), b1 = ramp(8, 0.2f, -0.1f);
  std::vector<float> k2 = ramp(8 * 8 * 9, 0.3f, -0.15f), b2 = ramp(8, 0.1f, 0.f);
  std::vector<float> dw = ramp(8 * 9, 0.5f, -0.25f), pw = ramp(8 * 8, 0.4f, -0.2f);
  std::vector<float> scale = ramp(8, 1.f, 0.5f), shift = ramp(8, 0.5f, -0.25f);
  std::vector<float> ka = ramp(4 * 3 * 9, 0.4f, -0.2f), kb = ramp(2 * 3 * 9, 0.4f, -0.2f);
  std::vector<float> channel = ramp(6, 2.f, -1.f), channel3 = ramp(6, 1.f, 0.25f);
};

Weights floats(const std::vector<float>& v) {
  return Weights{DataType::kFLOAT, v.data(), static_cast<int64_t>(v.size())};
}

// conv -> relu -> conv -> + residual -> maxpool 2x2 -> mean over H, W: input [N,4,8,8], output [N,8].
NetworkFn residualNet(const Params& p) {
  return [&p](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    auto* c1 = net.addConvolutionNd(*in[0], 8, Dims{3, 3}, floats(p.k1), floats(p.b1));
    c1->setPaddingNd(Dims{1, 1});
    ITensor* r = net.addActivation(*c1->getOutput(0), ActivationType::kRELU)->getOutput(0);
    auto* c2 = net.addConvolutionNd(*r, 8, Dims{3, 3}, floats(p.k2), floats(p.b2));
    c2->setPaddingNd(Dims{1, 1});
    ITensor* sum = net.addElementWise(*c2->getOutput(0), *r, ElementWiseOperation::kSUM)->getOutput(0);
    auto* pool = net.addPoolingNd(*sum, PoolingType::kMAX, Dims{2, 2});
    pool->setStrideNd(Dims{2, 2});
    net.markOutput(*net.addReduce(*pool->getOutput(0), ReduceOperation::kAVG, 0b1100, false)->getOutput(0));
  };
}

// ConvNeXt's block: depthwise conv -> permute to NHWC -> layer norm over C -> scale -> GELU -> permute back
// -> + input -> 1x1 conv. Input [N,8,6,6].
NetworkFn convNextNet(const Params& p) {
  return [&p](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    auto* dw = net.addConvolutionNd(*in[0], 8, Dims{3, 3}, floats(p.dw), Weights{});
    dw->setPaddingNd(Dims{1, 1});
    dw->setNbGroups(8);
    auto* toLast = net.addShuffle(*dw->getOutput(0));
    toLast->setFirstTranspose(Permutation{{0, 2, 3, 1}});
    ITensor* gamma = net.addConstant(Dims{1, 1, 1, 8}, floats(p.scale))->getOutput(0);
    ITensor* beta = net.addConstant(Dims{1, 1, 1, 8}, floats(p.shift))->getOutput(0);
    ITensor* ln = net.addNormalization(*toLast->getOutput(0), *gamma, *beta, 1u << 3)->getOutput(0);
    ITensor* s = net.addConstant(Dims{8}, floats(p.scale))->getOutput(0);
    ITensor* scaled = net.addElementWise(*ln, *s, ElementWiseOperation::kPROD)->getOutput(0);
    ITensor* act = net.addActivation(*scaled, ActivationType::kGELU_ERF)->getOutput(0);
    auto* toFirst = net.addShuffle(*act);
    toFirst->setFirstTranspose(Permutation{{0, 3, 1, 2}});
    ITensor* res = net.addElementWise(*toFirst->getOutput(0), *in[0], ElementWiseOperation::kSUM)->getOutput(0);
    net.markOutput(*net.addConvolutionNd(*res, 8, Dims{1, 1}, floats(p.pw), floats(p.b2))->getOutput(0));
  };
}

// Two convolutions concatenated along C, times per-channel constants of rank 4 and 3, softmax over C,
// padded average pooling. Input [N,3,5,5], output [N,6,3,3].
NetworkFn concatNet(const Params& p) {
  return [&p](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    auto* a = net.addConvolutionNd(*in[0], 4, Dims{3, 3}, floats(p.ka), Weights{});
    a->setPaddingNd(Dims{1, 1});
    auto* b = net.addConvolutionNd(*in[0], 2, Dims{3, 3}, floats(p.kb), Weights{});
    b->setPaddingNd(Dims{1, 1});
    ITensor* parts[] = {a->getOutput(0), b->getOutput(0)};
    auto* cat = net.addConcatenation(parts, 2);
    cat->setAxis(1);
    ITensor* c4 = net.addConstant(Dims{1, 6, 1, 1}, floats(p.channel))->getOutput(0);
    ITensor* c3 = net.addConstant(Dims{6, 1, 1}, floats(p.channel3))->getOutput(0);
    ITensor* y = net.addElementWise(*cat->getOutput(0), *c4, ElementWiseOperation::kPROD)->getOutput(0);
    y = net.addElementWise(*c3, *y, ElementWiseOperation::kSUM)->getOutput(0);
    auto* sm = net.addSoftMax(*y);
    sm->setAxes(1u << 1);
    // Average pooling counting the padding: the window clipping must follow H and W, not C.
    auto* pool = net.addPoolingNd(*sm->getOutput(0), PoolingType::kAVERAGE, Dims{3, 3});
    pool->setStrideNd(Dims{2, 2});
    pool->setPaddingNd(Dims{1, 1});
    pool->setAverageCountExcludesPadding(false);
    net.markOutput(*pool->getOutput(0));
  };
}

StatusOr<Graph> graphFor(const NetworkFn& define, DataType type, const Dims& dims) {
  Builder builder;
  auto net = builder.createNetworkV2(1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED));
  define(*net, {net->addInput("x", type, dims)});
  return net->impl().toGraph();
}

int count(const Graph& g, LayerType type) {
  int n = 0;
  for (const LayerInfo& l : g.layers) n += l.params.type == type ? 1 : 0;
  return n;
}

const LayerInfo* first(const Graph& g, LayerType type) {
  for (const LayerInfo& l : g.layers) {
    if (l.params.type == type) return &l;
  }
  return nullptr;
}

// How many layers a build with KILN_CHANNELS_LAST=1 converts (static input shape).
int32_t convertedByBuilder(const NetworkFn& define, const HostTensor& x) {
  ScopedChannelsLast env("1");
  Builder builder;
  auto net = builder.createNetworkV2(1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED));
  define(*net, {net->addInput("x", x.type, x.dims)});
  auto config = builder.createBuilderConfig();
  config->setBackend(testBackend());
  StatusOr<std::unique_ptr<HostMemory>> plan = builder.buildSerializedNetwork(*net, *config);
  EXPECT_TRUE(plan.isOk()) << plan.status().toString();
  return builder.lastBuildReport().layersChannelsLast;
}

// Builds and runs with the pass forced on and off; both must succeed and agree up to rounding.
void expectSameWithAndWithout(const NetworkFn& define, const TestInput& input, double tol) {
  const int32_t converted = convertedByBuilder(define, input.value);
  // CUDA has no exact float32 channels-last convolution (cuDNN's graph engines run float32 in TF32), so there
  // the pass must leave float32 networks in NCHW, and both builds must still agree.
  if (testBackend() != BackendKind::kCUDA || input.value.type != DataType::kFLOAT) {
    EXPECT_GT(converted, 0) << "the comparison would not exercise the pass";
  }
  RunResult on, off;
  {
    ScopedChannelsLast env("1");
    on = buildAndRun(define, {input});
  }
  {
    ScopedChannelsLast env("0");
    off = buildAndRun(define, {input});
  }
  ASSERT_TRUE(on.status.isOk()) << on.status.toString();
  ASSERT_TRUE(off.status.isOk()) << off.status.toString();
  ASSERT_EQ(on.ordered.size(), off.ordered.size());
  for (size_t i = 0; i < on.ordered.size(); ++i) expectClose(on.ordered[i], off.ordered[i], tol, tol);
}

TEST(Layout, ResidualBlockBecomesOneRegion) {
  Params p;
  StatusOr<Graph> g = graphFor(residualNet(p), DataType::kHALF, Dims{-1, 4, 8, 8});
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  // float16 convolutions seed a region without the float32 override.
  const LayoutChoice choice = chooseChannelsLastLayout(g.value());
  EXPECT_EQ(choice.layersConverted, 6);     // 2 conv, relu, add, pool, reduce
  EXPECT_EQ(choice.transposesInserted, 1);  // the input; the reduce's [N, C] output needs none
  EXPECT_EQ(count(g.value(), LayerType::kSHUFFLE), 1);
  for (const LayerInfo& l : g.value().layers) {
    if (l.params.type == LayerType::kCONVOLUTION || l.params.type == LayerType::kPOOLING) {
      EXPECT_EQ(l.params.attrs.getInt("channels_last", 0), 1) << l.params.name;
    }
  }
  EXPECT_EQ(first(g.value(), LayerType::kREDUCE)->params.attrs.getInt("axes"), 0b0110);
  const TensorInfo& out = g.value().tensors[static_cast<size_t>(g.value().outputs[0])];
  EXPECT_EQ(out.dims, (Dims{-1, 8}));
}

TEST(Layout, LayersWithoutAKernelStayOut) {
  // A backend that cannot pool channels-last: the pooling becomes the region's edge instead of failing the build.
  Params p;
  StatusOr<Graph> g = graphFor(residualNet(p), DataType::kHALF, Dims{2, 4, 8, 8});
  ASSERT_TRUE(g.isOk());
  int probed = 0;
  const ChannelsLastProbe noPooling = [&probed](const LayerInfo& layer, const Graph& graph) {
    ++probed;
    EXPECT_EQ(layer.params.attrs.getInt("channels_last", 0), 1);
    EXPECT_EQ(graph.tensors[static_cast<size_t>(layer.inputs[0])].dims.d[3],
              layer.params.type == LayerType::kCONVOLUTION && probed == 1 ? 4 : 8);  // NHWC dims in the probe
    return layer.params.type != LayerType::kPOOLING;
  };
  const LayoutChoice choice = chooseChannelsLastLayout(g.value(), false, noPooling);
  EXPECT_EQ(probed, 3);
  EXPECT_EQ(choice.layersConverted, 4);  // 2 conv, relu, add
  EXPECT_EQ(choice.transposesInserted, 2);
  EXPECT_EQ(first(g.value(), LayerType::kPOOLING)->params.attrs.getInt("channels_last", 0), 0);
  EXPECT_EQ(first(g.value(), LayerType::kREDUCE)->params.attrs.getInt("axes"), 0b1100);
}

TEST(Layout, Float32NeedsTheOverride) {
  Params p;
  StatusOr<Graph> g = graphFor(residualNet(p), DataType::kFLOAT, Dims{2, 4, 8, 8});
  ASSERT_TRUE(g.isOk());
  EXPECT_EQ(chooseChannelsLastLayout(g.value()).layersConverted, 0);
  EXPECT_EQ(chooseChannelsLastLayout(g.value(), /*float32Seeds=*/true).layersConverted, 6);
}

TEST(Layout, LoneConvolutionDoesNotPay) {
  // Transposing in and out costs two shuffles for one convolution.
  std::vector<float> k = ramp(4 * 4 * 9, 0.4f, -0.2f);
  NetworkFn one = [&k](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    net.markOutput(*net.addConvolutionNd(*in[0], 4, Dims{3, 3}, floats(k), Weights{})->getOutput(0));
  };
  StatusOr<Graph> g = graphFor(one, DataType::kHALF, Dims{1, 4, 6, 6});
  ASSERT_TRUE(g.isOk());
  const size_t before = g.value().layers.size();
  EXPECT_EQ(chooseChannelsLastLayout(g.value()).layersConverted, 0);
  EXPECT_EQ(g.value().layers.size(), before);
}

TEST(Layout, ResidualBlockMatchesNchw) {
  Params p;
  for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
    TestInput x{"x", randomTensor(type, Dims{2, 4, 8, 8}, 3)};
    expectSameWithAndWithout(residualNet(p), x, type == DataType::kHALF ? 2e-2 : 1e-5);
    x.dynamicMask = 1u;  // dynamic batch: profile [2, 4]
    expectSameWithAndWithout(residualNet(p), x, type == DataType::kHALF ? 2e-2 : 1e-5);
  }
}

TEST(Layout, ConvNextPermutesBecomeIdentities) {
  Params p;
  StatusOr<Graph> g = graphFor(convNextNet(p), DataType::kFLOAT, Dims{-1, 8, 6, 6});
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  const LayoutChoice choice = chooseChannelsLastLayout(g.value(), true);
  // Convolutions and the residual add convert; both permutes compose to identities and disappear, leaving
  // only the input and output transposes. Layer norm, scale and GELU already see [N,H,W,C] and stay as they are.
  EXPECT_EQ(choice.layersConverted, 3);
  EXPECT_EQ(choice.transposesInserted, 2);
  EXPECT_EQ(count(g.value(), LayerType::kSHUFFLE), 2);
  EXPECT_EQ(first(g.value(), LayerType::kNORMALIZATION)->params.attrs.getInt("axes"), 1 << 3);
  const TensorInfo& out = g.value().tensors[static_cast<size_t>(g.value().outputs[0])];
  EXPECT_EQ(out.dims, (Dims{-1, 8, 6, 6}));

  TestInput x{"x", randomTensor(DataType::kFLOAT, Dims{2, 8, 6, 6}, 4)};
  expectSameWithAndWithout(convNextNet(p), x, 1e-5);
  x.dynamicMask = 1u;
  expectSameWithAndWithout(convNextNet(p), x, 1e-5);
}

TEST(Layout, ConcatenationConstantsAndSoftmaxFollowTheChannels) {
  Params p;
  StatusOr<Graph> g = graphFor(concatNet(p), DataType::kFLOAT, Dims{1, 3, 5, 5});
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  const LayoutChoice choice = chooseChannelsLastLayout(g.value(), true);
  EXPECT_EQ(choice.layersConverted, 7);  // 2 conv, concat, mul, add, softmax, pool
  EXPECT_EQ(choice.transposesInserted, 2);
  EXPECT_EQ(first(g.value(), LayerType::kCONCATENATION)->params.attrs.getInt("axis"), 3);
  EXPECT_EQ(first(g.value(), LayerType::kSOFTMAX)->params.attrs.getInt("axes"), 1 << 3);
  int permutedConstants = 0;
  for (const LayerInfo& l : g.value().layers) {
    if (l.params.type != LayerType::kCONSTANT) continue;
    EXPECT_EQ(l.params.attrs.getDims("dims"), (Dims{1, 1, 1, 6})) << l.params.name;
    ++permutedConstants;
  }
  EXPECT_EQ(permutedConstants, 2);

  TestInput x{"x", randomTensor(DataType::kFLOAT, Dims{2, 3, 5, 5}, 5)};
  expectSameWithAndWithout(concatNet(p), x, 1e-5);
  x.dynamicMask = 0b1101u;  // batch, H and W dynamic
  expectSameWithAndWithout(concatNet(p), x, 1e-5);
}

// Two regions joined by a transpose of H and W, with a network output in the middle: the transpose keeps its
// meaning on NHWC data ([0,2,1,3]) and the middle output gets its own leaving transpose. Input [N,4,6,8].
NetworkFn swappedNet(const Params& p) {
  return [&p](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    auto conv = [&](ITensor& t, const std::vector<float>& k) {
      auto* c = net.addConvolutionNd(t, 8, Dims{3, 3}, floats(k), floats(p.b1));
      c->setPaddingNd(Dims{1, 1});
      return c->getOutput(0);
    };
    ITensor* a = conv(*net.addActivation(*conv(*in[0], p.k1), ActivationType::kRELU)->getOutput(0), p.k2);
    net.markOutput(*a);
    auto* swap = net.addShuffle(*a);
    swap->setFirstTranspose(Permutation{{0, 1, 3, 2}});
    net.markOutput(*conv(*conv(*swap->getOutput(0), p.k2), p.k2));
  };
}

TEST(Layout, TransposeBetweenRegionsIsComposed) {
  Params p;
  StatusOr<Graph> g = graphFor(swappedNet(p), DataType::kFLOAT, Dims{-1, 4, 6, 8});
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  const LayoutChoice choice = chooseChannelsLastLayout(g.value(), true);
  EXPECT_EQ(choice.layersConverted, 5);
  EXPECT_EQ(choice.transposesInserted, 3);  // the input, the middle output, the last output
  bool composed = false;
  for (const LayerInfo& l : g.value().layers) {
    if (l.params.type != LayerType::kSHUFFLE) continue;
    const std::vector<int64_t> order = l.params.attrs.getInts("first_transpose");
    composed = composed || std::vector<int64_t>(order.begin(), order.begin() + 4) == std::vector<int64_t>{0, 2, 1, 3};
  }
  EXPECT_TRUE(composed);
  for (int32_t t : g.value().outputs) EXPECT_EQ(g.value().tensors[static_cast<size_t>(t)].dims.d[1], 8);

  TestInput x{"x", randomTensor(DataType::kFLOAT, Dims{2, 4, 6, 8}, 6)};
  expectSameWithAndWithout(swappedNet(p), x, 1e-5);
  x.dynamicMask = 1u;
  expectSameWithAndWithout(swappedNet(p), x, 1e-5);
}

// The attribute on its own: NHWC in, NHWC out, the geometry unchanged; misuse is an error, not a guess.
TEST(Layout, ChannelsLastShapeInference) {
  std::vector<float> k(5 * 3 * 9, 0.f);
  Builder builder;
  auto net = builder.createNetworkV2(1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED));
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{2, 3, 7, 9});
  auto* conv = net->addConvolutionNd(*x, 5, Dims{3, 3}, floats(k), Weights{});
  conv->setStrideNd(Dims{2, 2});
  conv->setPaddingNd(Dims{1, 1});
  auto* pool = net->addPoolingNd(*x, PoolingType::kAVERAGE, Dims{2, 3});
  net->markOutput(*conv->getOutput(0));
  net->markOutput(*pool->getOutput(0));
  StatusOr<Graph> g = net->impl().toGraph();
  ASSERT_TRUE(g.isOk());
  LayerParams convParams, poolParams;
  for (const LayerInfo& l : g.value().layers) {
    if (l.params.type == LayerType::kCONVOLUTION) convParams = l.params;
    if (l.params.type == LayerType::kPOOLING) poolParams = l.params;
  }
  convParams.attrs.setInt("channels_last", 1);
  poolParams.attrs.setInt("channels_last", 1);
  std::vector<ShapeInput> in(1);
  in[0] = {true, Dims{-1, 7, 9, 3}, DataType::kFLOAT, nullptr};
  std::vector<ShapeOutput> out;
  ASSERT_TRUE(inferLayerShapes(convParams, in, out).isOk());
  EXPECT_EQ(out[0].dims, (Dims{-1, 4, 5, 5}));
  ASSERT_TRUE(inferLayerShapes(poolParams, in, out).isOk());
  EXPECT_EQ(out[0].dims, (Dims{-1, 6, 7, 3}));

  in[0].dims = Dims{7, 9, 3};  // no batch: channels_last is defined for rank 4 only
  EXPECT_FALSE(inferLayerShapes(convParams, in, out).isOk());
  EXPECT_FALSE(inferLayerShapes(poolParams, in, out).isOk());
  in[0].dims = Dims{1, 7, 9, 3};
  convParams.attrs.setInt("channels_last", 2);
  EXPECT_FALSE(inferLayerShapes(convParams, in, out).isOk());
  LayerParams deconv = convParams;
  deconv.type = LayerType::kDECONVOLUTION;
  deconv.attrs.setInt("channels_last", 1);
  EXPECT_FALSE(inferLayerShapes(deconv, in, out).isOk());
}

TEST(Layout, BuildReportCountsTheRegion) {
  Params p;
  for (const char* mode : {"1", "0"}) {
    ScopedChannelsLast env(mode);
    Builder builder;
    auto net = builder.createNetworkV2(1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED));
    // CUDA converts float16 only (no exact float32 channels-last convolution there).
    const DataType type = testBackend() == BackendKind::kCUDA ? DataType::kHALF : DataType::kFLOAT;
    residualNet(p)(*net, {net->addInput("x", type, Dims{1, 4, 8, 8})});
    auto config = builder.createBuilderConfig();
    config->setBackend(testBackend());
    ASSERT_TRUE(builder.buildSerializedNetwork(*net, *config).isOk());
    const bool on = std::string(mode) == "1";
    EXPECT_EQ(builder.lastBuildReport().layersChannelsLast, on ? 6 : 0);
    EXPECT_EQ(builder.lastBuildReport().layoutTransposes, on ? 1 : 0);
  }
}

}  // namespace
}  // namespace testing
}  // namespace kiln
