// Patch-embedding convolutions as a GEMM: which convolutions the pass rewrites (checked on the graph it
// produces) and that the rewritten network computes the convolution (every backend).
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "engine/builder_fusion.h"
#include "engine/builder_patch_conv.h"
#include "engine/network_impl.h"
#include "engine/plan.h"
#include "engine/shape_resolution.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);

// One convolution of input "x"; by default a small patch embedding: [2,3,32,32], 8x8 patches, 64 maps, bias.
struct PatchCase {
  DataType type = DataType::kFLOAT;
  DataType weightType = DataType::kFLOAT;
  Dims input{2, 3, 32, 32};
  int64_t maps = 64;
  Dims kernelSize{8, 8};
  Dims stride{8, 8};
  Dims padding{0, 0};
  Dims dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
  // ViT's continuation: flatten the patch grid and transpose to [N, tokens, maps]; else the convolution's
  // output is the network output.
  bool tokens = true;
  HostTensor kernel, biasValues;

  void makeWeights() {
    Dims dims{maps, input.d[1] / groups};
    for (int32_t i = 0; i < kernelSize.nbDims; ++i) dims.d[dims.nbDims++] = kernelSize.d[i];
    kernel = randomTensor(weightType, dims, 21);
    biasValues = randomTensor(weightType, Dims{maps}, 22);
  }

  NetworkFn network() const {
    return [this](NetworkDefinition& net, const std::vector<ITensor*>& in) {
      const Weights b = bias ? Weights{weightType, biasValues.data(), maps} : Weights{weightType, nullptr, 0};
      IConvolutionLayer* conv =
          net.addConvolutionNd(*in[0], maps, kernelSize, Weights{weightType, kernel.data(), kernel.count()}, b);
      conv->setStrideNd(stride);
      conv->setPaddingNd(padding);
      conv->setDilationNd(dilation);
      conv->setNbGroups(groups);
      ITensor* y = conv->getOutput(0);
      if (tokens) {
        IShuffleLayer* flatten = net.addShuffle(*y);
        flatten->setReshapeDimensions(Dims{0, 0, -1});
        IShuffleLayer* transpose = net.addShuffle(*flatten->getOutput(0));
        Permutation p;
        p.order[1] = 2;
        p.order[2] = 1;
        transpose->setSecondTranspose(p);
        y = transpose->getOutput(0);
      }
      net.markOutput(*y);
    };
  }

  // The patch embedding in double, laid out as the network's output ([N, tokens, maps] or [N, maps, H/p, W/q]).
  HostTensor expected(const HostTensor& x) const {
    const int64_t n = input.d[0], c = input.d[1], h = input.d[2], w = input.d[3];
    const int64_t p = kernelSize.d[0], q = kernelSize.d[1], hp = h / p, wq = w / q;
    const std::vector<double> xs = toDoubles(x), ks = toDoubles(kernel), bs = toDoubles(biasValues);
    std::vector<double> out(static_cast<size_t>(n * maps * hp * wq));
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t k = 0; k < maps; ++k) {
        for (int64_t i = 0; i < hp; ++i) {
          for (int64_t j = 0; j < wq; ++j) {
            double acc = bias ? bs[static_cast<size_t>(k)] : 0.0;
            for (int64_t ch = 0; ch < c; ++ch) {
              for (int64_t u = 0; u < p; ++u) {
                for (int64_t v = 0; v < q; ++v) {
                  acc += ks[static_cast<size_t>(((k * c + ch) * p + u) * q + v)] *
                         xs[static_cast<size_t>(((b * c + ch) * h + i * p + u) * w + j * q + v)];
                }
              }
            }
            const int64_t at = tokens ? (b * hp * wq + i * wq + j) * maps + k : ((b * maps + k) * hp + i) * wq + j;
            out[static_cast<size_t>(at)] = acc;
          }
        }
      }
    }
    return makeTensor(type, tokens ? Dims{n, hp * wq, maps} : Dims{n, maps, hp, wq}, out);
  }
};

PatchCase patchCase(const std::function<void(PatchCase&)>& change = nullptr) {
  PatchCase c;
  if (change) change(c);
  c.makeWeights();
  return c;
}

Graph graphOf(const PatchCase& c) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  c.network()(*net, {net->addInput("x", c.type, c.input)});
  StatusOr<Graph> g = net->impl().toGraph();
  EXPECT_TRUE(g.isOk()) << g.status().toString();
  return std::move(g).value();
}

int32_t countType(const Graph& g, LayerType type) {
  int32_t n = 0;
  for (const LayerInfo& l : g.layers) n += l.params.type == type ? 1 : 0;
  return n;
}

const LayerInfo* firstOfType(const Graph& g, LayerType type) {
  for (const LayerInfo& l : g.layers) {
    if (l.params.type == type) return &l;
  }
  return nullptr;
}

// Shape inference over the rewritten graph agrees with the dims the pass recorded for every tensor.
void expectShapesInfer(const Graph& g) {
  std::vector<Dims> inputs;
  for (int32_t t : g.inputs) inputs.push_back(g.tensors[static_cast<size_t>(t)].dims);
  ShapeState state;
  const Status status = resolveShapes(g, inputs, constantHostValues(g), state);
  ASSERT_TRUE(status.isOk()) << status.toString();
  for (const LayerInfo& l : g.layers) {
    for (int32_t t : l.outputs) {
      const TensorInfo& info = g.tensors[static_cast<size_t>(t)];
      EXPECT_EQ(dimsToString(state.dims[static_cast<size_t>(t)]), dimsToString(info.dims)) << info.name;
      EXPECT_EQ(state.types[static_cast<size_t>(t)], info.type) << info.name;
    }
  }
}

TEST(PatchConv, PatchEmbeddingBecomesOneGemm) {
  const PatchCase c = patchCase();
  Graph g = graphOf(c);
  const int32_t convOutput = firstOfType(g, LayerType::kCONVOLUTION)->outputs[0];
  ASSERT_EQ(convertPatchConvolutions(g), 1);
  EXPECT_EQ(countType(g, LayerType::kCONVOLUTION), 0);
  EXPECT_EQ(countType(g, LayerType::kMATRIX_MULTIPLY), 1);
  EXPECT_EQ(countType(g, LayerType::kELEMENTWISE), 1);  // the bias
  EXPECT_EQ(countType(g, LayerType::kSHUFFLE), 5);      // patches, rows, back to NCHW; ViT's flatten, transpose
  const LayerInfo& gemm = *firstOfType(g, LayerType::kMATRIX_MULTIPLY);
  EXPECT_EQ(g.tensors[static_cast<size_t>(gemm.inputs[0])].dims, (Dims{2, 16, 192}));
  EXPECT_EQ(g.tensors[static_cast<size_t>(gemm.inputs[1])].dims, (Dims{64, 192}));
  EXPECT_EQ(gemm.params.attrs.getInt("op1", -1), static_cast<int64_t>(MatrixOperation::kTRANSPOSE));
  // The convolution's output tensor is still produced (by the last new shuffle), so its readers are unchanged.
  const std::vector<int32_t> producer = g.producers();
  ASSERT_GE(producer[static_cast<size_t>(convOutput)], 0);
  EXPECT_EQ(g.layers[static_cast<size_t>(producer[static_cast<size_t>(convOutput)])].params.type, LayerType::kSHUFFLE);
  expectShapesInfer(g);

  // On CUDA the bias becomes the GEMM's epilogue.
  EXPECT_EQ(fuseEpilogues(g), 1);
  EXPECT_EQ(countType(g, LayerType::kELEMENTWISE), 0);
  EXPECT_EQ(firstOfType(g, LayerType::kMATRIX_MULTIPLY)->params.attrs.getInt("fused_bias", 0), 1);
}

TEST(PatchConv, ConvolutionWithoutBiasOrReadersBecomesAGemm) {
  const PatchCase c = patchCase([](PatchCase& p) {
    p.bias = false;
    p.tokens = false;
  });
  Graph g = graphOf(c);
  ASSERT_EQ(convertPatchConvolutions(g), 1);
  EXPECT_EQ(countType(g, LayerType::kELEMENTWISE), 0);
  EXPECT_EQ(countType(g, LayerType::kMATRIX_MULTIPLY), 1);
  // The graph output is the convolution's output tensor, now produced by a shuffle.
  EXPECT_EQ(g.layers.back().params.type, LayerType::kSHUFFLE);
  EXPECT_EQ(g.layers.back().outputs[0], g.outputs[0]);
  expectShapesInfer(g);
}

TEST(PatchConv, WeightsTakeTheActivationType) {
  // A float16 convolution with float32 weights (as a weakly typed network keeps them): the GEMM's operands
  // must share one type, so the weights become float16.
  const PatchCase c = patchCase([](PatchCase& p) { p.type = DataType::kHALF; });
  Graph g = graphOf(c);
  ASSERT_EQ(convertPatchConvolutions(g), 1);
  for (const LayerInfo& l : g.layers) {
    if (l.params.type != LayerType::kCONSTANT) continue;
    const WeightsBlob* w = l.params.attrs.getWeights("weights");
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->type, DataType::kHALF);
    EXPECT_EQ(w->byteSize(), w->count * 2);
  }
  expectShapesInfer(g);
}

TEST(PatchConv, OtherConvolutionsStay) {
  const std::vector<std::pair<std::string, std::function<void(PatchCase&)>>> cases = {
      {"padding", [](PatchCase& p) { p.padding = Dims{1, 1}; }},
      {"overlapping patches", [](PatchCase& p) { p.stride = Dims{4, 4}; }},
      {"stride above the kernel", [](PatchCase& p) { p.stride = Dims{16, 16}; }},
      {"dilation", [](PatchCase& p) { p.dilation = Dims{2, 2}; }},
      {"groups",
       [](PatchCase& p) {
         p.input = Dims{2, 4, 32, 32};
         p.groups = 2;
       }},
      {"partial patches", [](PatchCase& p) { p.input = Dims{2, 3, 36, 32}; }},
      {"few output maps", [](PatchCase& p) { p.maps = 32; }},
      {"small patches", [](PatchCase& p) {  // 3 x 4 x 4 = 48 values per patch
         p.kernelSize = Dims{4, 4};
         p.stride = Dims{4, 4};
       }},
      {"pointwise (1x1) convolution", [](PatchCase& p) {
         p.input = Dims{2, 64, 8, 8};
         p.kernelSize = Dims{1, 1};
         p.stride = Dims{1, 1};
         p.tokens = false;
       }},
      {"2x2 downsampler", [](PatchCase& p) {  // ConvNeXt's, between stages
         p.input = Dims{2, 96, 8, 8};
         p.maps = 192;
         p.kernelSize = Dims{2, 2};
         p.stride = Dims{2, 2};
         p.tokens = false;
       }},
      {"1-D", [](PatchCase& p) {
         p.input = Dims{2, 3, 1024};
         p.kernelSize = Dims{32};
         p.stride = Dims{32};
         p.padding = Dims{0};
         p.dilation = Dims{1};
         p.tokens = false;
       }},
  };
  for (const auto& [what, change] : cases) {
    SCOPED_TRACE(what);
    const PatchCase c = patchCase(change);
    Graph g = graphOf(c);
    EXPECT_EQ(convertPatchConvolutions(g), 0);
    EXPECT_EQ(countType(g, LayerType::kCONVOLUTION), 1);
    EXPECT_EQ(countType(g, LayerType::kMATRIX_MULTIPLY), 0);
  }
}

TEST(PatchConv, ChannelsLastFusedOrDynamicConvolutionsStay) {
  const PatchCase c = patchCase();
  const std::vector<std::pair<std::string, std::function<void(Graph&)>>> cases = {
      {"channels_last", [](Graph& g) {
         for (LayerInfo& l : g.layers) {
           if (l.params.type == LayerType::kCONVOLUTION) l.params.attrs.setInt("channels_last", 1);
         }
       }},
      {"fused activation", [](Graph& g) {
         for (LayerInfo& l : g.layers) {
           if (l.params.type == LayerType::kCONVOLUTION) {
             l.params.attrs.setInt("fused_activation", static_cast<int64_t>(ActivationType::kRELU));
           }
         }
       }},
      {"dynamic batch", [](Graph& g) {
         g.tensors[static_cast<size_t>(g.inputs[0])].dims.d[0] = -1;
       }},
  };
  for (const auto& [what, change] : cases) {
    SCOPED_TRACE(what);
    Graph g = graphOf(c);
    change(g);
    EXPECT_EQ(convertPatchConvolutions(g), 0);
    EXPECT_EQ(countType(g, LayerType::kCONVOLUTION), 1);
  }
}

TEST(PatchConv, KernelGivenAsATensorStays) {
  const PatchCase c = patchCase();
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", c.type, c.input);
  ITensor* w = net->addConstant(c.kernel.dims, Weights{c.weightType, c.kernel.data(), c.kernel.count()})->getOutput(0);
  IConvolutionLayer* conv = net->addConvolutionNd(*x, c.maps, c.kernelSize, Weights{c.weightType, nullptr, 0},
                                                  Weights{c.weightType, nullptr, 0});
  conv->setStrideNd(c.stride);
  conv->setInput(1, *w);
  net->markOutput(*conv->getOutput(0));
  StatusOr<Graph> g = net->impl().toGraph();
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  EXPECT_EQ(convertPatchConvolutions(g.value()), 0);
}

// The network with the pass (once the builder runs it) and without it (KILN_PATCH_GEMM=0), each against the
// double reference, and against each other.
void expectPatchEmbeddingValues(const PatchCase& c, double atol, double rtol) {
  const HostTensor x = randomTensor(c.type, c.input, 11);
  RunResult gemm = buildAndRun(c.network(), {{"x", x}});
  ASSERT_TRUE(gemm.status.isOk()) << gemm.status.toString();
  setenv("KILN_PATCH_GEMM", "0", 1);
  RunResult conv = buildAndRun(c.network(), {{"x", x}});
  unsetenv("KILN_PATCH_GEMM");
  ASSERT_TRUE(conv.status.isOk()) << conv.status.toString();
  ASSERT_EQ(gemm.ordered.size(), 1u);
  const HostTensor expected = c.expected(x);
  expectClose(gemm.ordered[0], expected, atol, rtol);
  expectClose(conv.ordered[0], expected, atol, rtol);
  expectClose(gemm.ordered[0], conv.ordered[0], atol, rtol);
}

TEST(PatchConv, GemmComputesTheConvolutionFloat32) {
  expectPatchEmbeddingValues(patchCase(), 1e-4, 1e-4);
  expectPatchEmbeddingValues(patchCase([](PatchCase& p) {
                               p.bias = false;
                               p.tokens = false;
                             }),
                             1e-4, 1e-4);
}

TEST(PatchConv, GemmComputesTheConvolutionFloat16) {
  // Sums of 192 products reach about 8, where float16 steps by 2^-8.
  expectPatchEmbeddingValues(patchCase([](PatchCase& p) {
                               p.type = DataType::kHALF;
                               p.weightType = DataType::kHALF;
                             }),
                             1e-2, 4e-3);
  expectPatchEmbeddingValues(patchCase([](PatchCase& p) { p.type = DataType::kHALF; }), 1e-2, 4e-3);
}

TEST(PatchConv, BuilderRewritesThePatchEmbedding) {
  // Checks that the builder runs the pass (and that KILN_PATCH_GEMM=0 turns it off).
  const PatchCase c = patchCase();
  for (bool enabled : {true, false}) {
    SCOPED_TRACE(enabled ? "enabled" : "KILN_PATCH_GEMM=0");
    if (!enabled) setenv("KILN_PATCH_GEMM", "0", 1);
    Builder builder;
    auto net = builder.createNetworkV2(kSTRONG);
    c.network()(*net, {net->addInput("x", c.type, c.input)});
    auto config = builder.createBuilderConfig();
    config->setBackend(testBackend());
    auto plan = builder.buildSerializedNetwork(*net, *config);
    unsetenv("KILN_PATCH_GEMM");
    ASSERT_TRUE(plan.isOk()) << plan.status().toString();
    StatusOr<PlanContents> contents = deserializePlan(plan.value()->data(), plan.value()->size());
    ASSERT_TRUE(contents.isOk()) << contents.status().toString();
    EXPECT_EQ(countType(contents.value().graph, LayerType::kCONVOLUTION), enabled ? 0 : 1);
    EXPECT_EQ(countType(contents.value().graph, LayerType::kMATRIX_MULTIPLY), enabled ? 1 : 0);
  }
}

}  // namespace
}  // namespace testing
}  // namespace kiln
