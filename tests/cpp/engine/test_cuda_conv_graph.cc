// Convolutions on cuDNN's graph API ("cuda_conv_graph*" tactics): each tactic is forced on small layers (bias,
// fused residual and ReLU, groups, depthwise, stride, dilation, float16/bfloat16/float32, channels_last) and
// compared with a double-precision reference computed here. The tactic table checks run anywhere (no GPU
// needed); the numeric ones skip without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/backends/cuda/cuda_kernels.h"
#include "engine/builder_fusion.h"
#include "engine/network_impl.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);
const char* const kGRAPH_TACTICS[] = {"cuda_conv_graph",      "cuda_conv_graph_1",      "cuda_conv_graph_2",
                                      "cuda_conv_graph_nhwc", "cuda_conv_graph_nhwc_1", "cuda_conv_graph_nhwc_2"};

struct ConvCase {
  DataType type = DataType::kHALF;
  int64_t n = 2, c = 8, h = 9, w = 7, k = 16, r = 3, s = 3, stride = 1, pad = 1, dilation = 1, groups = 1;
  bool bias = true, residual = false, relu = false, channelsLast = false, allowTf32 = false;
  int64_t p() const { return (h + 2 * pad - dilation * (r - 1) - 1) / stride + 1; }
  int64_t q() const { return (w + 2 * pad - dilation * (s - 1) - 1) / stride + 1; }
};

// [N, C, H, W] <-> [N, H, W, C] on host tensors.
HostTensor toNhwc(const HostTensor& t) {
  const int64_t n = t.dims.d[0], c = t.dims.d[1], h = t.dims.d[2], w = t.dims.d[3];
  HostTensor out(t.type, Dims{n, h, w, c});
  const size_t e = static_cast<size_t>(dataTypeSize(t.type));
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < c; ++b)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
          std::memcpy(out.bytes.data() + static_cast<size_t>(((a * h + y) * w + x) * c + b) * e,
                      t.bytes.data() + static_cast<size_t>(((a * c + b) * h + y) * w + x) * e, e);
  return out;
}

struct Operands {
  HostTensor x, w, b, res;
};

Operands makeOperands(const ConvCase& cc) {
  Operands o;
  o.x = randomTensor(cc.type, Dims{cc.n, cc.c, cc.h, cc.w}, 1);
  o.w = randomTensor(cc.type, Dims{cc.k, cc.c / cc.groups, cc.r, cc.s}, 2);
  o.b = randomTensor(cc.type, Dims{cc.k}, 3);
  o.res = randomTensor(cc.type, Dims{cc.n, cc.k, cc.p(), cc.q()}, 4);
  return o;
}

// The convolution in double from the (already type-rounded) operands, NCHW, then rounded to the type.
HostTensor reference(const ConvCase& cc, const Operands& o) {
  const std::vector<double> x = toDoubles(o.x), w = toDoubles(o.w), b = toDoubles(o.b), res = toDoubles(o.res);
  const int64_t cg = cc.c / cc.groups, kg = cc.k / cc.groups, p = cc.p(), q = cc.q();
  std::vector<double> out(static_cast<size_t>(cc.n * cc.k * p * q));
  for (int64_t n = 0; n < cc.n; ++n)
    for (int64_t k = 0; k < cc.k; ++k)
      for (int64_t i = 0; i < p; ++i)
        for (int64_t j = 0; j < q; ++j) {
          double acc = cc.bias ? b[static_cast<size_t>(k)] : 0.0;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t r = 0; r < cc.r; ++r)
              for (int64_t s = 0; s < cc.s; ++s) {
                const int64_t y = i * cc.stride - cc.pad + r * cc.dilation, xx = j * cc.stride - cc.pad + s * cc.dilation;
                if (y < 0 || y >= cc.h || xx < 0 || xx >= cc.w) continue;
                const int64_t ci = (k / kg) * cg + c;
                acc += x[static_cast<size_t>(((n * cc.c + ci) * cc.h + y) * cc.w + xx)] *
                       w[static_cast<size_t>(((k * cg + c) * cc.r + r) * cc.s + s)];
              }
          const size_t at = static_cast<size_t>(((n * cc.k + k) * p + i) * q + j);
          if (cc.residual) acc += res[at];
          if (cc.relu && acc < 0) acc = 0;
          out[at] = acc;
        }
  HostTensor t = makeTensor(cc.type, Dims{cc.n, cc.k, p, q}, out);
  return cc.channelsLast ? toNhwc(t) : t;
}

// The engine graph of the case: the builder's epilogue fusion applied, channels_last dims set like the layout
// pass would (the layer's input, output and residual become [N, H, W, C]). Returns the convolution's index.
size_t makeGraph(const ConvCase& cc, const Operands& o, Graph& graph) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", cc.type, Dims{cc.n, cc.c, cc.h, cc.w});
  Weights bias{cc.type, nullptr, 0};
  if (cc.bias) bias = Weights{cc.type, o.b.data(), cc.k};
  auto* conv = net->addConvolutionNd(*x, cc.k, Dims{cc.r, cc.s}, Weights{cc.type, o.w.data(), o.w.count()}, bias);
  conv->setStrideNd(Dims{cc.stride, cc.stride});
  conv->setPaddingNd(Dims{cc.pad, cc.pad});
  conv->setDilationNd(Dims{cc.dilation, cc.dilation});
  conv->setNbGroups(cc.groups);
  ITensor* y = conv->getOutput(0);
  if (cc.residual) {
    ITensor* res = net->addInput("res", cc.type, Dims{cc.n, cc.k, cc.p(), cc.q()});
    y = net->addElementWise(*y, *res, ElementWiseOperation::kSUM)->getOutput(0);
  }
  if (cc.relu) y = net->addActivation(*y, ActivationType::kRELU)->getOutput(0);
  net->markOutput(*y);
  StatusOr<Graph> g = net->impl().toGraph();
  EXPECT_TRUE(g.isOk()) << g.status().toString();
  if (!g.isOk()) return 0;
  graph = std::move(g).value();
  EXPECT_EQ(fuseEpilogues(graph), (cc.residual ? 1 : 0) + (cc.relu ? 1 : 0));
  size_t index = graph.layers.size();
  for (size_t i = 0; i < graph.layers.size(); ++i) {
    if (graph.layers[i].params.type == LayerType::kCONVOLUTION) index = i;
  }
  EXPECT_LT(index, graph.layers.size());
  if (index == graph.layers.size()) return 0;
  LayerInfo& layer = graph.layers[index];
  if (cc.allowTf32) layer.params.attrs.setInt("allow_tf32", 1);
  if (cc.channelsLast) {
    layer.params.attrs.setInt("channels_last", 1);
    std::vector<int32_t> nhwc = {layer.inputs[0], layer.outputs[0]};
    if (cc.residual) nhwc.push_back(layer.inputs[3]);
    for (int32_t t : nhwc) {
      Dims& d = graph.tensors[static_cast<size_t>(t)].dims;
      d = Dims{d.d[0], d.d[2], d.d[3], d.d[1]};
    }
  }
  return index;
}

std::vector<std::string> tacticNames(LayerType type, const LayerInfo* layer = nullptr, const Graph* graph = nullptr) {
  std::vector<std::string> names;
  for (const CudaTactic& t : CudaKernelTable::instance().tactics(type)) {
    if (layer != nullptr && t.supports != nullptr && !t.supports(*layer, *graph)) continue;
    names.push_back(t.name);
  }
  return names;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(CudaConvGraphTactics, RegisteredAfterTheLegacyDefault) {
  const std::vector<std::string> names = tacticNames(LayerType::kCONVOLUTION);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front(), "cuda_conv_cudnn");
  const auto legacyEnd = std::find(names.begin(), names.end(), "cuda_conv_cudnn_nhwc");
  ASSERT_NE(legacyEnd, names.end());
  for (const char* graphName : kGRAPH_TACTICS) {
    const auto at = std::find(names.begin(), names.end(), graphName);
    ASSERT_NE(at, names.end()) << graphName;
    EXPECT_GT(at - names.begin(), legacyEnd - names.begin()) << graphName;
  }
}

TEST(CudaConvGraphTactics, SupportsFollowsLayoutTypeAndPadding) {
  ConvCase cc;
  Operands o = makeOperands(cc);
  Graph g;
  size_t i = makeGraph(cc, o, g);
  std::vector<std::string> names = tacticNames(LayerType::kCONVOLUTION, &g.layers[i], &g);
  for (const char* graphName : kGRAPH_TACTICS) EXPECT_TRUE(contains(names, graphName)) << graphName;
  EXPECT_TRUE(contains(names, "cuda_conv_cudnn"));

  // channels_last: only the graph tactics in the layer's own layout take it.
  cc.channelsLast = true;
  i = makeGraph(cc, o, g);
  names = tacticNames(LayerType::kCONVOLUTION, &g.layers[i], &g);
  EXPECT_EQ(names, (std::vector<std::string>{"cuda_conv_graph", "cuda_conv_graph_1", "cuda_conv_graph_2"}));
  LayerInfo deconv = g.layers[i];
  deconv.params.type = LayerType::kDECONVOLUTION;
  EXPECT_TRUE(tacticNames(LayerType::kDECONVOLUTION, &deconv, &g).empty());

  // Exact float32: no graph tactic (cuDNN's graph engines compute it in TF32 or lower).
  cc = ConvCase();
  cc.type = DataType::kFLOAT;
  o = makeOperands(cc);
  i = makeGraph(cc, o, g);
  EXPECT_FALSE(contains(tacticNames(LayerType::kCONVOLUTION, &g.layers[i], &g), "cuda_conv_graph"));
  // float32 with TF32 allowed: no NHWC variant (no transposes are worth it without tensor cores).
  cc.allowTf32 = true;
  o = makeOperands(cc);
  i = makeGraph(cc, o, g);
  names = tacticNames(LayerType::kCONVOLUTION, &g.layers[i], &g);
  EXPECT_TRUE(contains(names, "cuda_conv_graph"));
  EXPECT_FALSE(contains(names, "cuda_conv_graph_nhwc"));

  // Asymmetric padding is left to the legacy tactics.
  cc = ConvCase();
  o = makeOperands(cc);
  i = makeGraph(cc, o, g);
  g.layers[i].params.attrs.setDims("pre_padding", Dims{0, 0});
  Dims& y = g.tensors[static_cast<size_t>(g.layers[i].outputs[0])].dims;
  y = Dims{cc.n, cc.k, cc.h - 1, cc.w - 1};
  names = tacticNames(LayerType::kCONVOLUTION, &g.layers[i], &g);
  EXPECT_TRUE(contains(names, "cuda_conv_cudnn"));
  EXPECT_FALSE(contains(names, "cuda_conv_graph"));
}

// ---- On the GPU ----

std::shared_ptr<Backend> cudaOrNull() {
  StatusOr<std::shared_ptr<Backend>> b = getBackend(BackendKind::kCUDA);
  return b.isOk() ? b.value() : nullptr;
}

// Device buffers freed on scope exit.
struct DeviceBuffers {
  Backend& backend;
  std::vector<void*> owned;
  explicit DeviceBuffers(Backend& b) : backend(b) {}
  ~DeviceBuffers() {
    for (void* p : owned) backend.deallocate(p);
  }
  void* upload(const HostTensor& t) {
    StatusOr<void*> p = backend.allocate(std::max<int64_t>(static_cast<int64_t>(t.bytes.size()), 1));
    EXPECT_TRUE(p.isOk());
    if (!p.isOk()) return nullptr;
    owned.push_back(p.value());
    EXPECT_TRUE(backend.copyToDevice(p.value(), t.data(), static_cast<int64_t>(t.bytes.size()), nullptr).isOk());
    return p.value();
  }
};

// Runs the layer with the tactic forced; the Status says why it could not (tactic not offered: kNOT_FOUND-like
// failed precondition).
Status runTactic(Backend& cuda, const Graph& g, const LayerInfo& layer, const std::string& tactic,
                 const std::vector<const HostTensor*>& inputs, HostTensor& out) {
  std::vector<TacticCandidate> candidates = cuda.tactics(layer, g);
  auto it = std::find_if(candidates.begin(), candidates.end(), [&](const TacticCandidate& c) { return c.name == tactic; });
  if (it == candidates.end()) return failedPrecondition("tactic " + tactic + " is not offered for the layer");
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, it->create(layer, g));
  DeviceBuffers buffers(cuda);
  KernelIO io;
  for (const HostTensor* t : inputs) {
    TensorView v;
    if (t != nullptr) {
      v.dims = t->dims;
      v.type = t->type;
      v.data = buffers.upload(*t);
    }
    io.inputs.push_back(v);
  }
  TensorView y;
  y.dims = out.dims;
  y.type = out.type;
  y.data = buffers.upload(out);
  io.outputs.push_back(y);
  io.workspaceSize = kernel->workspaceSize(io);
  if (io.workspaceSize > 0) {
    KILN_ASSIGN_OR_RETURN(io.workspace, cuda.allocate(io.workspaceSize));
    buffers.owned.push_back(io.workspace);
  }
  KILN_RETURN_IF_ERROR(kernel->execute(io));
  KILN_RETURN_IF_ERROR(cuda.copyToHost(out.data(), y.data, static_cast<int64_t>(out.bytes.size()), nullptr));
  return cuda.synchronize(nullptr);
}

void tolerances(const ConvCase& cc, double& atol, double& rtol) {
  if (cc.type == DataType::kBF16) {
    atol = 5e-2, rtol = 2e-2;
  } else if (cc.type == DataType::kHALF || cc.allowTf32) {
    atol = 1e-2, rtol = 1e-2;
  } else {
    atol = 1e-4, rtol = 1e-4;
  }
}

// Every graph tactic the layer offers must either run and match, or fail its factory with an unimplemented
// Status (a plan index cuDNN does not reach, no engine for the pattern: the builder then skips it). With
// `requireOne`, at least one graph tactic must run (cuDNN's fused engines cover float16/bfloat16 NHWC with bias,
// residual and ReLU; NCHW layers reach them through the "_nhwc" variants).
void checkCase(const ConvCase& cc, const std::string& label, bool requireOne) {
  std::shared_ptr<Backend> cuda = cudaOrNull();
  if (cuda == nullptr) GTEST_SKIP() << "no CUDA device";
  SCOPED_TRACE(label);
  const Operands o = makeOperands(cc);
  Graph g;
  const size_t index = makeGraph(cc, o, g);
  const LayerInfo& layer = g.layers[index];
  const HostTensor x = cc.channelsLast ? toNhwc(o.x) : o.x;
  const HostTensor res = cc.channelsLast ? toNhwc(o.res) : o.res;
  std::vector<const HostTensor*> inputs(layer.inputs.size(), nullptr);
  inputs[0] = &x;
  if (cc.residual) inputs[3] = &res;
  const HostTensor expected = reference(cc, o);
  double atol = 0, rtol = 0;
  tolerances(cc, atol, rtol);
  int ran = 0;
  for (const char* tactic : kGRAPH_TACTICS) {
    const bool nhwcVariant = std::string(tactic).find("nhwc") != std::string::npos;
    const bool exactFloat32 = cc.type == DataType::kFLOAT && !cc.allowTf32;
    const bool offered = !exactFloat32 && (!nhwcVariant || (cc.type != DataType::kFLOAT && !cc.channelsLast));
    HostTensor out(cc.type, expected.dims);
    Status s = runTactic(*cuda, g, layer, tactic, inputs, out);
    if (!offered) {
      EXPECT_FALSE(s.isOk()) << tactic << " ran a layer it should refuse";
      continue;
    }
    if (!s.isOk()) {
      EXPECT_EQ(s.code(), StatusCode::kUNIMPLEMENTED) << tactic << ": " << s.toString();
      std::printf("  [%s] %s did not run: %s\n", label.c_str(), tactic, s.toString().c_str());
      continue;
    }
    ++ran;
    SCOPED_TRACE(tactic);
    expectClose(out, expected, atol, rtol);
  }
  std::printf("  [%s] %d graph tactic(s) ran\n", label.c_str(), ran);
  if (requireOne) {
    EXPECT_GT(ran, 0) << "no graph tactic ran " << label;
  }
}

TEST(CudaConvGraph, HalfBiasOnly) { checkCase(ConvCase(), "half bias", true); }

TEST(CudaConvGraph, HalfResidualRelu) {
  ConvCase cc;
  cc.residual = cc.relu = true;
  checkCase(cc, "half bias+residual+relu", true);
}

TEST(CudaConvGraph, HalfReluNoBias) {
  ConvCase cc;
  cc.bias = false;
  cc.relu = true;
  checkCase(cc, "half relu, no bias", true);
}

TEST(CudaConvGraph, Bf16GroupsStrideDilation) {
  ConvCase cc;
  cc.type = DataType::kBF16;
  cc.groups = 2;
  cc.stride = 2;
  cc.dilation = 2;
  cc.pad = 2;
  cc.residual = cc.relu = true;
  checkCase(cc, "bf16 groups=2 stride=2 dilation=2", false);
}

TEST(CudaConvGraph, HalfDepthwise) {
  ConvCase cc;
  cc.c = cc.k = cc.groups = 16;
  cc.relu = true;
  checkCase(cc, "half depthwise", false);
}

TEST(CudaConvGraph, Float32StrictAndTf32) {
  ConvCase cc;
  cc.type = DataType::kFLOAT;
  cc.residual = cc.relu = true;
  checkCase(cc, "float32 strict", false);
  cc.allowTf32 = true;
  checkCase(cc, "float32 allow_tf32", false);
}

TEST(CudaConvGraph, ChannelsLastHalfAndBf16) {
  ConvCase cc;
  cc.channelsLast = true;
  cc.residual = cc.relu = true;
  checkCase(cc, "half channels_last", true);
  cc.type = DataType::kBF16;
  cc.stride = 2;
  cc.groups = 4;
  checkCase(cc, "bf16 channels_last stride=2 groups=4", false);
}

TEST(CudaConvGraph, DynamicBatchBuildsPerShape) {
  std::shared_ptr<Backend> cuda = cudaOrNull();
  if (cuda == nullptr) GTEST_SKIP() << "no CUDA device";
  ConvCase cc;
  cc.residual = cc.relu = cc.channelsLast = true;
  Operands o = makeOperands(cc);
  Graph g;
  const size_t index = makeGraph(cc, o, g);
  LayerInfo& layer = g.layers[index];
  for (int32_t t : {layer.inputs[0], layer.inputs[3], layer.outputs[0]}) g.tensors[static_cast<size_t>(t)].dims.d[0] = -1;
  for (int64_t batch : {3, 1, 3}) {
    cc.n = batch;
    o = makeOperands(cc);
    const HostTensor x = toNhwc(o.x), res = toNhwc(o.res);
    std::vector<const HostTensor*> inputs(layer.inputs.size(), nullptr);
    inputs[0] = &x;
    inputs[3] = &res;
    const HostTensor expected = reference(cc, o);
    HostTensor out(cc.type, expected.dims);
    Status s = runTactic(*cuda, g, layer, "cuda_conv_graph", inputs, out);
    ASSERT_TRUE(s.isOk()) << s.toString();
    expectClose(out, expected, 1e-2, 1e-2);
  }
}

TEST(CudaConvGraph, TacticFilterRestrictsTheListing) {
  std::shared_ptr<Backend> cuda = cudaOrNull();
  if (cuda == nullptr) GTEST_SKIP() << "no CUDA device";
  ConvCase cc;
  Operands o = makeOperands(cc);
  Graph g;
  const size_t index = makeGraph(cc, o, g);
  setenv("KILN_CUDA_TACTIC_FILTER", "cuda_conv_graph_nhwc", 1);
  std::vector<TacticCandidate> filtered = cuda->tactics(g.layers[index], g);
  setenv("KILN_CUDA_TACTIC_FILTER", "no_such_tactic", 1);
  const size_t unfilteredCount = cuda->tactics(g.layers[index], g).size();
  unsetenv("KILN_CUDA_TACTIC_FILTER");
  ASSERT_EQ(filtered.size(), 3u);
  for (const TacticCandidate& c : filtered) EXPECT_EQ(c.name.rfind("cuda_conv_graph_nhwc", 0), 0u) << c.name;
  EXPECT_EQ(unfilteredCount, cuda->tactics(g.layers[index], g).size());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
