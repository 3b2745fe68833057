// The channels_last depthwise convolution tactic ("cuda_conv_depthwise"): which layers it takes, and its output
// against a double-precision reference over kernel sizes and shapes, strides, dilation, asymmetric padding,
// channel counts that do (tiled kernel) and do not (direct kernels) fill 16-byte vectors, unaligned tensors,
// bias/residual/ReLU epilogues and float16/bfloat16/float32. The tactic table checks need a CUDA build but no
// GPU; the numeric ones skip without a CUDA device. Without the CUDA backend this file holds no tests.
#include <gtest/gtest.h>

#ifdef KILN_WITH_CUDA

#include <algorithm>
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
const char* const kTACTIC = "cuda_conv_depthwise";

struct DwCase {
  DataType type = DataType::kHALF;
  int64_t n = 2, c = 32, h = 9, w = 9, r = 7, s = 7;
  int64_t k = -1, groups = -1;  // -1: c (depthwise)
  int64_t strideH = 1, strideW = 1, dilationH = 1, dilationW = 1;
  int64_t preH = 3, preW = 3, postH = 3, postW = 3;
  bool bias = true, residual = false, relu = false;

  int64_t maps() const { return k < 0 ? c : k; }
  int64_t nbGroups() const { return groups < 0 ? c : groups; }
  int64_t p() const { return (h + preH + postH - dilationH * (r - 1) - 1) / strideH + 1; }
  int64_t q() const { return (w + preW + postW - dilationW * (s - 1) - 1) / strideW + 1; }
  DwCase& kernel(int64_t kh, int64_t kw) {
    r = kh;
    s = kw;
    return *this;
  }
  DwCase& pad(int64_t ph, int64_t pw) {
    preH = postH = ph;
    preW = postW = pw;
    return *this;
  }
  DwCase& stride(int64_t v) {
    strideH = strideW = v;
    return *this;
  }
  DwCase& dilation(int64_t v) {
    dilationH = dilationW = v;
    return *this;
  }
};

// Operands in the layouts the layer sees: x and the residual [N, H, W, C], weights [K, C/groups, R, S].
struct Operands {
  HostTensor x, w, b, res;
};

Operands makeOperands(const DwCase& dc) {
  Operands o;
  o.x = randomTensor(dc.type, Dims{dc.n, dc.h, dc.w, dc.c}, 1);
  o.w = randomTensor(dc.type, Dims{dc.maps(), dc.c / dc.nbGroups(), dc.r, dc.s}, 2);
  o.b = randomTensor(dc.type, Dims{dc.maps()}, 3);
  o.res = randomTensor(dc.type, Dims{dc.n, dc.p(), dc.q(), dc.maps()}, 4);
  return o;
}

// The depthwise convolution in double from the (already type-rounded) operands, [N, P, Q, C], rounded to the type.
HostTensor reference(const DwCase& dc, const Operands& o) {
  const std::vector<double> x = toDoubles(o.x), w = toDoubles(o.w), b = toDoubles(o.b), res = toDoubles(o.res);
  const int64_t p = dc.p(), q = dc.q();
  std::vector<double> out(static_cast<size_t>(dc.n * p * q * dc.c));
  for (int64_t n = 0; n < dc.n; ++n)
    for (int64_t i = 0; i < p; ++i)
      for (int64_t j = 0; j < q; ++j)
        for (int64_t c = 0; c < dc.c; ++c) {
          double acc = 0.0;
          for (int64_t r = 0; r < dc.r; ++r)
            for (int64_t s = 0; s < dc.s; ++s) {
              const int64_t y = i * dc.strideH - dc.preH + r * dc.dilationH;
              const int64_t xx = j * dc.strideW - dc.preW + s * dc.dilationW;
              if (y < 0 || y >= dc.h || xx < 0 || xx >= dc.w) continue;
              acc += x[static_cast<size_t>(((n * dc.h + y) * dc.w + xx) * dc.c + c)] *
                     w[static_cast<size_t>((c * dc.r + r) * dc.s + s)];
            }
          const size_t at = static_cast<size_t>(((n * p + i) * q + j) * dc.c + c);
          if (dc.bias) acc += b[static_cast<size_t>(c)];
          if (dc.residual) acc += res[at];
          if (dc.relu && acc < 0) acc = 0;
          out[at] = acc;
        }
  return makeTensor(dc.type, Dims{dc.n, p, q, dc.c}, out);
}

// The engine graph of the case: the builder's epilogue fusion applied, then channels_last set the way the
// layout pass does (the convolution's input, output and residual become [N, H, W, C]). Returns the
// convolution's index.
size_t makeGraph(const DwCase& dc, const Operands& o, Graph& graph) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", dc.type, Dims{dc.n, dc.c, dc.h, dc.w});
  Weights bias{dc.type, nullptr, 0};
  if (dc.bias) bias = Weights{dc.type, o.b.data(), dc.maps()};
  auto* conv = net->addConvolutionNd(*x, dc.maps(), Dims{dc.r, dc.s}, Weights{dc.type, o.w.data(), o.w.count()}, bias);
  conv->setStrideNd(Dims{dc.strideH, dc.strideW});
  conv->setPrePadding(Dims{dc.preH, dc.preW});
  conv->setPostPadding(Dims{dc.postH, dc.postW});
  conv->setDilationNd(Dims{dc.dilationH, dc.dilationW});
  conv->setNbGroups(dc.nbGroups());
  ITensor* y = conv->getOutput(0);
  if (dc.residual) {
    ITensor* res = net->addInput("res", dc.type, Dims{dc.n, dc.maps(), dc.p(), dc.q()});
    y = net->addElementWise(*y, *res, ElementWiseOperation::kSUM)->getOutput(0);
  }
  if (dc.relu) y = net->addActivation(*y, ActivationType::kRELU)->getOutput(0);
  net->markOutput(*y);
  StatusOr<Graph> g = net->impl().toGraph();
  EXPECT_TRUE(g.isOk()) << g.status().toString();
  if (!g.isOk()) return 0;
  graph = std::move(g).value();
  EXPECT_EQ(fuseEpilogues(graph), (dc.residual ? 1 : 0) + (dc.relu ? 1 : 0));
  size_t index = graph.layers.size();
  for (size_t i = 0; i < graph.layers.size(); ++i) {
    if (graph.layers[i].params.type == LayerType::kCONVOLUTION) index = i;
  }
  EXPECT_LT(index, graph.layers.size());
  if (index == graph.layers.size()) return 0;
  LayerInfo& layer = graph.layers[index];
  layer.params.attrs.setInt("channels_last", 1);
  std::vector<int32_t> nhwc = {layer.inputs[0], layer.outputs[0]};
  if (dc.residual) nhwc.push_back(layer.inputs[3]);
  for (int32_t t : nhwc) {
    Dims& d = graph.tensors[static_cast<size_t>(t)].dims;
    d = Dims{d.d[0], d.d[2], d.d[3], d.d[1]};
  }
  return index;
}

bool offered(const LayerInfo& layer, const Graph& graph) {
  for (const CudaTactic& t : CudaKernelTable::instance().tactics(LayerType::kCONVOLUTION)) {
    if (t.name == kTACTIC) return t.supports == nullptr || t.supports(layer, graph);
  }
  return false;
}

bool offeredFor(const DwCase& dc) {
  const Operands o = makeOperands(dc);
  Graph g;
  const size_t index = makeGraph(dc, o, g);
  return offered(g.layers[index], g);
}

TEST(CudaConvDepthwiseTactic, RegisteredAfterTheDefault) {
  const std::vector<CudaTactic>& table = CudaKernelTable::instance().tactics(LayerType::kCONVOLUTION);
  ASSERT_FALSE(table.empty());
  EXPECT_EQ(table.front().name, "cuda_conv_cudnn");
  const auto at = std::find_if(table.begin(), table.end(), [](const CudaTactic& t) { return t.name == kTACTIC; });
  ASSERT_NE(at, table.end());
  EXPECT_TRUE(static_cast<bool>(at->factory));
}

TEST(CudaConvDepthwiseTactic, SupportsDepthwiseChannelsLastOnly) {
  for (DataType type : {DataType::kHALF, DataType::kBF16, DataType::kFLOAT}) {
    DwCase dc;
    dc.type = type;
    EXPECT_TRUE(offeredFor(dc)) << dataTypeName(type);
  }
  DwCase odd;
  odd.c = 20;
  odd.kernel(1, 9).pad(0, 4).stride(3).dilation(2);
  EXPECT_TRUE(offeredFor(odd));

  // The NCHW layer: other tactics.
  DwCase dc;
  Operands o = makeOperands(dc);
  Graph g;
  size_t i = makeGraph(dc, o, g);
  g.layers[i].params.attrs.setInt("channels_last", 0);
  EXPECT_FALSE(offered(g.layers[i], g));

  // Not depthwise: a dense convolution, two channels per group, two output maps per channel.
  DwCase dense;
  dense.groups = 1;
  EXPECT_FALSE(offeredFor(dense));
  DwCase pairs;
  pairs.groups = pairs.c / 2;
  EXPECT_FALSE(offeredFor(pairs));
  DwCase multiplier;
  multiplier.k = 2 * multiplier.c;
  EXPECT_FALSE(offeredFor(multiplier));

  // Kernels beyond 9x9, and an epilogue activation other than ReLU.
  DwCase large;
  large.h = large.w = 16;
  large.kernel(11, 11).pad(5, 5);
  EXPECT_FALSE(offeredFor(large));
  dc = DwCase();
  o = makeOperands(dc);
  i = makeGraph(dc, o, g);
  g.layers[i].params.attrs.setInt("fused_activation", static_cast<int64_t>(ActivationType::kSIGMOID));
  EXPECT_FALSE(offered(g.layers[i], g));
}

// ---- On the GPU ----

std::shared_ptr<Backend> cudaOrNull() {
  StatusOr<std::shared_ptr<Backend>> b = getBackend(BackendKind::kCUDA);
  return b.isOk() ? b.value() : nullptr;
}

// Device buffers freed on scope exit. `offset` bytes in front of the data break its 16-byte alignment.
struct DeviceBuffers {
  Backend& backend;
  std::vector<void*> owned;
  explicit DeviceBuffers(Backend& b) : backend(b) {}
  ~DeviceBuffers() {
    for (void* p : owned) backend.deallocate(p);
  }
  void* upload(const HostTensor& t, int64_t offset) {
    StatusOr<void*> p = backend.allocate(static_cast<int64_t>(t.bytes.size()) + offset + 1);
    EXPECT_TRUE(p.isOk());
    if (!p.isOk()) return nullptr;
    owned.push_back(p.value());
    void* data = static_cast<uint8_t*>(p.value()) + offset;
    EXPECT_TRUE(backend.copyToDevice(data, t.data(), static_cast<int64_t>(t.bytes.size()), nullptr).isOk());
    return data;
  }
};

// Runs the layer with the depthwise tactic; `offset` shifts x, y and the residual off 16-byte alignment.
Status runTactic(Backend& cuda, const Graph& g, const LayerInfo& layer, const std::vector<const HostTensor*>& inputs,
                 HostTensor& out, int64_t offset) {
  std::vector<TacticCandidate> candidates = cuda.tactics(layer, g);
  auto it =
      std::find_if(candidates.begin(), candidates.end(), [](const TacticCandidate& c) { return c.name == kTACTIC; });
  if (it == candidates.end()) return failedPrecondition(std::string(kTACTIC) + " is not offered for the layer");
  KILN_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, it->create(layer, g));
  DeviceBuffers buffers(cuda);
  KernelIO io;
  for (const HostTensor* t : inputs) {
    TensorView v;
    if (t != nullptr) {
      v.dims = t->dims;
      v.type = t->type;
      v.data = buffers.upload(*t, offset);
    }
    io.inputs.push_back(v);
  }
  TensorView y;
  y.dims = out.dims;
  y.type = out.type;
  y.data = buffers.upload(out, offset);
  io.outputs.push_back(y);
  EXPECT_EQ(kernel->workspaceSize(io), 0);
  KILN_RETURN_IF_ERROR(kernel->execute(io));
  KILN_RETURN_IF_ERROR(cuda.copyToHost(out.data(), y.data, static_cast<int64_t>(out.bytes.size()), nullptr));
  return cuda.synchronize(nullptr);
}

void tolerances(DataType type, double& atol, double& rtol) {
  if (type == DataType::kBF16) {
    atol = 5e-2, rtol = 2e-2;
  } else if (type == DataType::kHALF) {
    atol = 1e-2, rtol = 1e-2;
  } else {
    atol = 1e-4, rtol = 1e-4;
  }
}

void checkCase(const DwCase& dc, const std::string& label, int64_t offset = 0) {
  std::shared_ptr<Backend> cuda = cudaOrNull();
  if (cuda == nullptr) GTEST_SKIP() << "no CUDA device";
  SCOPED_TRACE(label);
  const Operands o = makeOperands(dc);
  Graph g;
  const size_t index = makeGraph(dc, o, g);
  const LayerInfo& layer = g.layers[index];
  std::vector<const HostTensor*> inputs(layer.inputs.size(), nullptr);
  inputs[0] = &o.x;
  if (dc.residual) inputs[3] = &o.res;
  const HostTensor expected = reference(dc, o);
  HostTensor out(dc.type, expected.dims);
  const Status s = runTactic(*cuda, g, layer, inputs, out, offset);
  ASSERT_TRUE(s.isOk()) << s.toString();
  double atol = 0, rtol = 0;
  tolerances(dc.type, atol, rtol);
  expectClose(out, expected, atol, rtol);
}

// Tiled kernel: ConvNeXt's 7x7, stride 1, padding 3 with bias, in each type.
TEST(CudaConvDepthwise, Convnext7x7Bias) {
  for (DataType type : {DataType::kHALF, DataType::kBF16, DataType::kFLOAT}) {
    DwCase dc;
    dc.type = type;
    checkCase(dc, std::string("7x7 ") + dataTypeName(type));
  }
}

// Several channel groups per image, residual and ReLU.
TEST(CudaConvDepthwise, Convnext7x7ManyChannelsResidualRelu) {
  DwCase dc;
  dc.type = DataType::kBF16;
  dc.c = 96;
  dc.h = dc.w = 14;
  dc.residual = dc.relu = true;
  checkCase(dc, "7x7 c=96 bf16 residual relu");
}

// Partial tiles along both spatial dims (odd extents larger than one tile).
TEST(CudaConvDepthwise, PartialTiles) {
  DwCase dc;
  dc.n = 1;
  dc.c = 16;
  dc.h = dc.w = 37;
  checkCase(dc, "7x7 37x37");
}

// MobileNet: 3x3 stride 2 padding 1 with residual and ReLU on an odd extent; 5x5 stride 2.
TEST(CudaConvDepthwise, Mobilenet3x3Stride2ResidualRelu) {
  DwCase dc;
  dc.c = 16;
  dc.h = dc.w = 13;
  dc.kernel(3, 3).pad(1, 1).stride(2);
  dc.residual = dc.relu = true;
  checkCase(dc, "3x3 s2 half");
  dc.type = DataType::kFLOAT;
  checkCase(dc, "3x3 s2 float32");
}

TEST(CudaConvDepthwise, Mobilenet5x5Stride2) {
  DwCase dc;
  dc.type = DataType::kFLOAT;
  dc.c = 24;
  dc.h = dc.w = 12;
  dc.kernel(5, 5).pad(2, 2).stride(2);
  checkCase(dc, "5x5 s2 float32");
  dc.type = DataType::kHALF;
  dc.stride(1);
  dc.relu = true;
  dc.bias = false;
  checkCase(dc, "5x5 s1 half relu, no bias");
}

// Direct kernel: column dilation.
TEST(CudaConvDepthwise, Dilation2) {
  DwCase dc;
  dc.type = DataType::kBF16;
  dc.c = 24;
  dc.h = dc.w = 13;
  dc.kernel(5, 5).pad(4, 4).dilation(2);
  checkCase(dc, "5x5 dilation 2 bf16");
}

// C not a multiple of the 16-byte vector: element-wise direct kernel (float16), or one-vector tiles (float32).
TEST(CudaConvDepthwise, ChannelsNotAMultipleOfEight) {
  DwCase dc;
  dc.c = 20;
  dc.h = dc.w = 13;
  dc.kernel(3, 3).pad(1, 1);
  dc.residual = true;
  checkCase(dc, "c=20 half");
  dc.type = DataType::kFLOAT;
  checkCase(dc, "c=20 float32");
}

// Rectangular kernels (tiled 1x7, direct 7x1), a 9x9 kernel and asymmetric padding.
TEST(CudaConvDepthwise, RectangularLargeAndAsymmetric) {
  DwCase dc;
  dc.h = 10;
  dc.w = 11;
  dc.kernel(1, 7).pad(0, 3);
  checkCase(dc, "1x7");
  dc.kernel(7, 1).pad(3, 0);
  checkCase(dc, "7x1");
  dc.kernel(9, 9).pad(4, 4);
  checkCase(dc, "9x9");
  dc = DwCase();
  dc.c = 16;
  dc.h = dc.w = 12;
  dc.kernel(3, 3).stride(2);
  dc.preH = dc.preW = 0;
  dc.postH = dc.postW = 1;
  checkCase(dc, "3x3 s2 padding 0/1");
}

// Tensors off 16-byte alignment take the element-wise kernel.
TEST(CudaConvDepthwise, UnalignedTensors) {
  DwCase dc;
  dc.residual = dc.relu = true;
  checkCase(dc, "unaligned half", 2);
  dc.type = DataType::kFLOAT;
  checkCase(dc, "unaligned float32", 4);
}

// A dynamic batch: one kernel runs every batch size (a tile per shape).
TEST(CudaConvDepthwise, DynamicBatch) {
  std::shared_ptr<Backend> cuda = cudaOrNull();
  if (cuda == nullptr) GTEST_SKIP() << "no CUDA device";
  DwCase dc;
  dc.residual = dc.relu = true;
  Operands o = makeOperands(dc);
  Graph g;
  const size_t index = makeGraph(dc, o, g);
  LayerInfo& layer = g.layers[index];
  for (int32_t t : {layer.inputs[0], layer.inputs[3], layer.outputs[0]}) {
    g.tensors[static_cast<size_t>(t)].dims.d[0] = -1;
  }
  ASSERT_TRUE(offered(layer, g));
  for (int64_t batch : {3, 1, 3}) {
    dc.n = batch;
    o = makeOperands(dc);
    std::vector<const HostTensor*> inputs(layer.inputs.size(), nullptr);
    inputs[0] = &o.x;
    inputs[3] = &o.res;
    const HostTensor expected = reference(dc, o);
    HostTensor out(dc.type, expected.dims);
    const Status s = runTactic(*cuda, g, layer, inputs, out, 0);
    ASSERT_TRUE(s.isOk()) << s.toString();
    expectClose(out, expected, 1e-2, 1e-2);
  }
}

// KILN_CUDA_TACTIC_FILTER picks the tactic out of the convolution list.
TEST(CudaConvDepthwise, TacticFilterSelectsIt) {
  std::shared_ptr<Backend> cuda = cudaOrNull();
  if (cuda == nullptr) GTEST_SKIP() << "no CUDA device";
  DwCase dc;
  const Operands o = makeOperands(dc);
  Graph g;
  const size_t index = makeGraph(dc, o, g);
  setenv("KILN_CUDA_TACTIC_FILTER", kTACTIC, 1);
  const std::vector<TacticCandidate> filtered = cuda->tactics(g.layers[index], g);
  unsetenv("KILN_CUDA_TACTIC_FILTER");
  ASSERT_EQ(filtered.size(), 1u);
  EXPECT_EQ(filtered.front().name, kTACTIC);
}

}  // namespace
}  // namespace testing
}  // namespace kiln

#endif  // KILN_WITH_CUDA
