// Builder fusions: batch-norm folding into convolutions (every backend; results must match the unfused
// network), column-scale folding into GEMM weights, and the CUDA epilogue fusions (checked on the graph the
// pass produces).
#include <gtest/gtest.h>

#include <cmath>

#include "engine/builder_fusion.h"
#include "engine/builder_passes.h"
#include "engine/network_impl.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);

struct ConvBn {
  std::vector<float> kernel, bias, scale, shift;
  ConvBn() {
    HostTensor k = randomTensor(DataType::kFLOAT, Dims{4, 3, 3, 3}, 11);
    kernel.assign(static_cast<const float*>(k.data()), static_cast<const float*>(k.data()) + 108);
    bias = {0.1f, -0.2f, 0.3f, 0.0f};
    scale = {1.5f, 0.5f, -1.0f, 2.0f};
    shift = {0.25f, -0.5f, 0.0f, 1.0f};
  }
  // conv -> (x * scale) -> (+ shift) -> relu, optionally stopping after the multiply.
  NetworkFn network(bool withShift) const {
    return [this, withShift](NetworkDefinition& net, const std::vector<ITensor*>& in) {
      auto* conv = net.addConvolutionNd(*in[0], 4, Dims{3, 3}, Weights{DataType::kFLOAT, kernel.data(), 108},
                                        Weights{DataType::kFLOAT, bias.data(), 4});
      conv->setPaddingNd(Dims{1, 1});
      ITensor* s = net.addConstant(Dims{1, 4, 1, 1}, Weights{DataType::kFLOAT, scale.data(), 4})->getOutput(0);
      ITensor* y = net.addElementWise(*conv->getOutput(0), *s, ElementWiseOperation::kPROD)->getOutput(0);
      if (withShift) {
        ITensor* t = net.addConstant(Dims{1, 4, 1, 1}, Weights{DataType::kFLOAT, shift.data(), 4})->getOutput(0);
        y = net.addElementWise(*y, *t, ElementWiseOperation::kSUM)->getOutput(0);
      }
      net.markOutput(*net.addActivation(*y, ActivationType::kRELU)->getOutput(0));
    };
  }
  // The reference: plain loops over the same weights.
  HostTensor expected(const HostTensor& x, bool withShift) const {
    HostTensor out(DataType::kFLOAT, Dims{1, 4, 5, 5});
    const float* in = static_cast<const float*>(x.data());
    for (int o = 0; o < 4; ++o) {
      for (int i = 0; i < 5; ++i) {
        for (int j = 0; j < 5; ++j) {
          double acc = bias[o];
          for (int c = 0; c < 3; ++c) {
            for (int ki = 0; ki < 3; ++ki) {
              for (int kj = 0; kj < 3; ++kj) {
                const int y = i + ki - 1, xx = j + kj - 1;
                if (y < 0 || y >= 5 || xx < 0 || xx >= 5) continue;
                acc += static_cast<double>(kernel[((o * 3 + c) * 3 + ki) * 3 + kj]) * in[(c * 5 + y) * 5 + xx];
              }
            }
          }
          double v = acc * scale[o] + (withShift ? shift[o] : 0.0);
          static_cast<float*>(out.data())[(o * 5 + i) * 5 + j] = static_cast<float>(v > 0 ? v : 0);
        }
      }
    }
    return out;
  }
};

TEST(Fusion, BatchNormFoldsIntoConvolution) {
  ConvBn case_;
  HostTensor x = randomTensor(DataType::kFLOAT, Dims{1, 3, 5, 5}, 5);
  for (bool withShift : {true, false}) {
    HostTensor out = runSingleOutput(case_.network(withShift), {{"x", x}});
    expectClose(out, case_.expected(x, withShift), 1e-4, 1e-4);

    Builder builder;
    auto net = builder.createNetworkV2(kSTRONG);
    case_.network(withShift)(*net, {net->addInput("x", DataType::kFLOAT, Dims{1, 3, 5, 5})});
    auto config = builder.createBuilderConfig();
    config->setBackend(testBackend());
    ASSERT_TRUE(builder.buildSerializedNetwork(*net, *config).isOk());
    // On CUDA the ReLU also becomes the convolution's epilogue.
    const int32_t epilogue = testBackend() == BackendKind::kCUDA ? 1 : 0;
    EXPECT_EQ(builder.lastBuildReport().layersFused, (withShift ? 2 : 1) + epilogue);
  }
}

TEST(Fusion, AffineWithOtherReadersIsNotFolded) {
  // The convolution output is also a network output: folding would change what that output holds.
  ConvBn case_;
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{1, 3, 5, 5});
  auto* conv = net->addConvolutionNd(*x, 4, Dims{3, 3}, Weights{DataType::kFLOAT, case_.kernel.data(), 108},
                                     Weights{DataType::kFLOAT, case_.bias.data(), 4});
  ITensor* s = net->addConstant(Dims{1, 4, 1, 1}, Weights{DataType::kFLOAT, case_.scale.data(), 4})->getOutput(0);
  net->markOutput(*net->addElementWise(*conv->getOutput(0), *s, ElementWiseOperation::kPROD)->getOutput(0));
  net->markOutput(*conv->getOutput(0));
  auto config = builder.createBuilderConfig();
  ASSERT_TRUE(builder.buildSerializedNetwork(*net, *config).isOk());
  EXPECT_EQ(builder.lastBuildReport().layersFused, 0);
}

StatusOr<Graph> graphOf(NetworkDefinition& net) { return net.impl().toGraph(); }

TEST(Fusion, ConvolutionTakesResidualAddAndRelu) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", DataType::kHALF, Dims{2, 4, 8, 8});
  std::vector<uint16_t> k(4 * 4 * 9, 0x3c00);
  auto* conv = net->addConvolutionNd(*x, 4, Dims{3, 3}, Weights{DataType::kHALF, k.data(), 144}, Weights{});
  conv->setPaddingNd(Dims{1, 1});
  ITensor* sum = net->addElementWise(*conv->getOutput(0), *x, ElementWiseOperation::kSUM)->getOutput(0);
  net->markOutput(*net->addActivation(*sum, ActivationType::kRELU)->getOutput(0));
  StatusOr<Graph> g = graphOf(*net);
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  EXPECT_EQ(fuseEpilogues(g.value()), 2);
  ASSERT_EQ(g.value().layers.size(), 1u);
  const LayerInfo& fused = g.value().layers[0];
  EXPECT_EQ(fused.params.attrs.getInt("fused_residual", 0), 1);
  EXPECT_EQ(fused.params.attrs.getInt("fused_activation", -1), static_cast<int64_t>(ActivationType::kRELU));
  ASSERT_EQ(fused.inputs.size(), 4u);
  EXPECT_EQ(fused.inputs[3], g.value().inputs[0]);
  EXPECT_EQ(fused.outputs[0], g.value().outputs[0]);
}

TEST(Fusion, MatrixMultiplyTakesBiasAndGelu) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* a = net->addInput("a", DataType::kHALF, Dims{8, 16});
  std::vector<uint16_t> w(16 * 32, 0x3c00), b(32, 0x3c00);
  ITensor* weight = net->addConstant(Dims{16, 32}, Weights{DataType::kHALF, w.data(), 512})->getOutput(0);
  ITensor* bias = net->addConstant(Dims{1, 32}, Weights{DataType::kHALF, b.data(), 32})->getOutput(0);
  ITensor* mm = net->addMatrixMultiply(*a, MatrixOperation::kNONE, *weight, MatrixOperation::kNONE)->getOutput(0);
  ITensor* sum = net->addElementWise(*mm, *bias, ElementWiseOperation::kSUM)->getOutput(0);
  net->markOutput(*net->addActivation(*sum, ActivationType::kGELU_ERF)->getOutput(0));
  StatusOr<Graph> g = graphOf(*net);
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  EXPECT_EQ(fuseEpilogues(g.value()), 2);
  int gemms = 0;
  for (const LayerInfo& l : g.value().layers) {
    if (l.params.type != LayerType::kMATRIX_MULTIPLY) continue;
    ++gemms;
    EXPECT_EQ(l.params.attrs.getInt("fused_bias", 0), 1);
    EXPECT_EQ(l.params.attrs.getInt("fused_activation", -1), static_cast<int64_t>(ActivationType::kGELU_ERF));
    ASSERT_EQ(l.inputs.size(), 3u);
    EXPECT_EQ(l.outputs[0], g.value().outputs[0]);
  }
  EXPECT_EQ(gemms, 1);
}

// relu(a @ w + bias + r): on CUDA one matmul with the bias, the residual (cuBLASLt's C) and the ReLU fused.
bool isProduct(const LayerInfo& l) {
  return l.params.type == LayerType::kELEMENTWISE &&
         l.params.attrs.getInt("operation", -1) == static_cast<int64_t>(ElementWiseOperation::kPROD);
}

NetworkFn matmulBiasResidualRelu(const std::vector<float>& w, const std::vector<float>& b) {
  return [&w, &b](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    ITensor* weight = net.addConstant(Dims{16, 32}, Weights{DataType::kFLOAT, w.data(), 512})->getOutput(0);
    ITensor* bias = net.addConstant(Dims{1, 32}, Weights{DataType::kFLOAT, b.data(), 32})->getOutput(0);
    ITensor* mm = net.addMatrixMultiply(*in[0], MatrixOperation::kNONE, *weight, MatrixOperation::kNONE)->getOutput(0);
    ITensor* biased = net.addElementWise(*mm, *bias, ElementWiseOperation::kSUM)->getOutput(0);
    ITensor* sum = net.addElementWise(*in[1], *biased, ElementWiseOperation::kSUM)->getOutput(0);
    net.markOutput(*net.addActivation(*sum, ActivationType::kRELU)->getOutput(0));
  };
}

TEST(Fusion, MatrixMultiplyTakesBiasResidualAndRelu) {
  std::vector<float> w(512, 0.5f), b(32, 0.25f);
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* a = net->addInput("a", DataType::kFLOAT, Dims{8, 16});
  ITensor* r = net->addInput("r", DataType::kFLOAT, Dims{8, 32});
  matmulBiasResidualRelu(w, b)(*net, {a, r});
  StatusOr<Graph> g = graphOf(*net);
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  EXPECT_EQ(fuseEpilogues(g.value()), 3);
  ASSERT_EQ(g.value().layers.size(), 3u);  // two constants and the matmul
  const LayerInfo& mm = g.value().layers.back();
  ASSERT_EQ(mm.params.type, LayerType::kMATRIX_MULTIPLY);
  EXPECT_EQ(mm.params.attrs.getInt("fused_bias", 0), 1);
  EXPECT_EQ(mm.params.attrs.getInt("fused_residual", 0), 1);
  EXPECT_EQ(mm.params.attrs.getInt("fused_activation", -1), static_cast<int64_t>(ActivationType::kRELU));
  ASSERT_EQ(mm.inputs.size(), 4u);
  EXPECT_EQ(mm.inputs[3], g.value().inputs[1]);
  EXPECT_EQ(mm.outputs[0], g.value().outputs[0]);
}

TEST(Fusion, MatrixMultiplyResidualGivesTheUnfusedValues) {
  const HostTensor a = randomTensor(DataType::kFLOAT, Dims{8, 16}, 21);
  const HostTensor r = randomTensor(DataType::kFLOAT, Dims{8, 32}, 22, -4.0, 4.0);
  const HostTensor wt = randomTensor(DataType::kFLOAT, Dims{16, 32}, 23);
  std::vector<float> w(static_cast<const float*>(wt.data()), static_cast<const float*>(wt.data()) + 512);
  std::vector<float> b(32);
  for (int j = 0; j < 32; ++j) b[static_cast<size_t>(j)] = 0.125f * static_cast<float>(j % 5) - 0.25f;
  const HostTensor out = runSingleOutput(matmulBiasResidualRelu(w, b), {{"a", a}, {"r", r}});
  const std::vector<double> av = toDoubles(a), rv = toDoubles(r), got = toDoubles(out);
  ASSERT_EQ(got.size(), 256u);
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 32; ++j) {
      double acc = b[static_cast<size_t>(j)] + rv[static_cast<size_t>(i * 32 + j)];
      for (int k = 0; k < 16; ++k) acc += av[static_cast<size_t>(i * 16 + k)] * w[static_cast<size_t>(k * 32 + j)];
      EXPECT_NEAR(got[static_cast<size_t>(i * 32 + j)], acc > 0 ? acc : 0.0, 1e-4) << i << "," << j;
    }
  }
}

// gelu_erf(a @ w + bias): on CUDA cuBLASLt adds the bias and Kiln's epilogue kernel applies the erf GELU,
// 16 bytes at a time where the row length allows (n = 32) and element by element where it does not (n = 10).
TEST(Fusion, MatrixMultiplyBiasAndErfGeluGiveTheUnfusedValues) {
  for (const int32_t n : {32, 10}) {
    const HostTensor a = randomTensor(DataType::kFLOAT, Dims{8, 16}, 41, -2.0, 2.0);
    const HostTensor wt = randomTensor(DataType::kFLOAT, Dims{16, n}, 42);
    const std::vector<float> w(static_cast<const float*>(wt.data()), static_cast<const float*>(wt.data()) + 16 * n);
    std::vector<float> b(static_cast<size_t>(n));
    for (int32_t j = 0; j < n; ++j) b[static_cast<size_t>(j)] = 0.25f * static_cast<float>(j % 7) - 0.75f;
    const NetworkFn network = [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
      ITensor* weight = net.addConstant(Dims{16, n}, Weights{DataType::kFLOAT, w.data(), 16 * n})->getOutput(0);
      ITensor* bias = net.addConstant(Dims{1, n}, Weights{DataType::kFLOAT, b.data(), n})->getOutput(0);
      ITensor* mm = net.addMatrixMultiply(*in[0], MatrixOperation::kNONE, *weight, MatrixOperation::kNONE)->getOutput(0);
      ITensor* sum = net.addElementWise(*mm, *bias, ElementWiseOperation::kSUM)->getOutput(0);
      net.markOutput(*net.addActivation(*sum, ActivationType::kGELU_ERF)->getOutput(0));
    };
    const HostTensor out = runSingleOutput(network, {{"a", a}});
    const std::vector<double> av = toDoubles(a), got = toDoubles(out);
    ASSERT_EQ(got.size(), static_cast<size_t>(8 * n));
    for (int32_t i = 0; i < 8; ++i) {
      for (int32_t j = 0; j < n; ++j) {
        double x = b[static_cast<size_t>(j)];
        for (int32_t k = 0; k < 16; ++k) x += av[static_cast<size_t>(i * 16 + k)] * w[static_cast<size_t>(k * n + j)];
        const double expected = 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
        EXPECT_NEAR(got[static_cast<size_t>(i * n + j)], expected, 1e-4) << "n " << n << " at " << i << "," << j;
      }
    }
  }
}

// ConvNeXt's block tail: linear (x W^T + b), then a per-column layer scale, then the residual add.
NetworkFn linearScaleResidual(const std::vector<float>& w, const std::vector<float>& b, const std::vector<float>& g) {
  return [&w, &b, &g](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    ITensor* weight = net.addConstant(Dims{32, 16}, Weights{DataType::kFLOAT, w.data(), 512})->getOutput(0);
    ITensor* bias = net.addConstant(Dims{32}, Weights{DataType::kFLOAT, b.data(), 32})->getOutput(0);
    ITensor* gamma = net.addConstant(Dims{1, 32}, Weights{DataType::kFLOAT, g.data(), 32})->getOutput(0);
    ITensor* mm =
        net.addMatrixMultiply(*in[0], MatrixOperation::kNONE, *weight, MatrixOperation::kTRANSPOSE)->getOutput(0);
    ITensor* biased = net.addElementWise(*mm, *bias, ElementWiseOperation::kSUM)->getOutput(0);
    ITensor* scaled = net.addElementWise(*gamma, *biased, ElementWiseOperation::kPROD)->getOutput(0);
    net.markOutput(*net.addElementWise(*in[1], *scaled, ElementWiseOperation::kSUM)->getOutput(0));
  };
}

TEST(Fusion, ColumnScaleFoldsIntoGemmWeightsAndBias) {
  const HostTensor a = randomTensor(DataType::kFLOAT, Dims{8, 16}, 31);
  const HostTensor r = randomTensor(DataType::kFLOAT, Dims{8, 32}, 32);
  const HostTensor wt = randomTensor(DataType::kFLOAT, Dims{32, 16}, 33);
  const HostTensor bt = randomTensor(DataType::kFLOAT, Dims{32}, 34);
  const HostTensor gt = randomTensor(DataType::kFLOAT, Dims{32}, 35, 0.5, 2.0);
  const auto vec = [](const HostTensor& t) {
    return std::vector<float>(static_cast<const float*>(t.data()), static_cast<const float*>(t.data()) + t.count());
  };
  const std::vector<float> w = vec(wt), b = vec(bt), gamma = vec(gt);
  {
    Builder builder;
    auto net = builder.createNetworkV2(kSTRONG);
    ITensor* x = net->addInput("a", DataType::kFLOAT, Dims{8, 16});
    ITensor* res = net->addInput("r", DataType::kFLOAT, Dims{8, 32});
    linearScaleResidual(w, b, gamma)(*net, {x, res});
    StatusOr<Graph> g = graphOf(*net);
    ASSERT_TRUE(g.isOk()) << g.status().toString();
    EXPECT_EQ(foldColumnScaleIntoGemm(g.value()), 1);
    int32_t products = 0;
    for (const LayerInfo& l : g.value().layers) products += isProduct(l) ? 1 : 0;
    EXPECT_EQ(products, 0);
    // Then the whole tail is one GEMM on CUDA.
    EXPECT_EQ(fuseEpilogues(g.value()), 2);
  }
  const HostTensor out = runSingleOutput(linearScaleResidual(w, b, gamma), {{"a", a}, {"r", r}});
  const std::vector<double> av = toDoubles(a), rv = toDoubles(r), got = toDoubles(out);
  ASSERT_EQ(got.size(), 256u);
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 32; ++j) {
      double acc = b[static_cast<size_t>(j)];
      for (int k = 0; k < 16; ++k) acc += av[static_cast<size_t>(i * 16 + k)] * w[static_cast<size_t>(j * 16 + k)];
      const double expected = rv[static_cast<size_t>(i * 32 + j)] + gamma[static_cast<size_t>(j)] * acc;
      EXPECT_NEAR(got[static_cast<size_t>(i * 32 + j)], expected, 1e-4) << i << "," << j;
    }
  }
}

// GPT-2's MLP activation as transformers writes it, after a linear.
void linearNewGelu(NetworkDefinition& net, const std::vector<ITensor*>& in) {
  static const HostTensor w = randomTensor(DataType::kFLOAT, Dims{16, 24}, 51);
  static const HostTensor b = randomTensor(DataType::kFLOAT, Dims{1, 24}, 52);
  const auto scalar = [&](float v) {
    return net.addConstant(Dims{1, 1}, Weights{DataType::kFLOAT, &v, 1})->getOutput(0);
  };
  const auto op = [&](ITensor* a, ITensor* c, ElementWiseOperation o) {
    return net.addElementWise(*a, *c, o)->getOutput(0);
  };
  ITensor* weight = net.addConstant(Dims{16, 24}, Weights{DataType::kFLOAT, w.data(), 384})->getOutput(0);
  ITensor* bias = net.addConstant(Dims{1, 24}, Weights{DataType::kFLOAT, b.data(), 24})->getOutput(0);
  ITensor* x = op(net.addMatrixMultiply(*in[0], MatrixOperation::kNONE, *weight, MatrixOperation::kNONE)->getOutput(0),
                  bias, ElementWiseOperation::kSUM);
  ITensor* half = op(x, scalar(0.5f), ElementWiseOperation::kPROD);
  ITensor* cube = op(op(x, scalar(3.0f), ElementWiseOperation::kPOW), scalar(0.044715f), ElementWiseOperation::kPROD);
  ITensor* inner = op(op(x, cube, ElementWiseOperation::kSUM), scalar(0.7978845608f), ElementWiseOperation::kPROD);
  ITensor* t = net.addActivation(*inner, ActivationType::kTANH)->getOutput(0);
  net.markOutput(*op(half, op(t, scalar(1.0f), ElementWiseOperation::kSUM), ElementWiseOperation::kPROD));
}

TEST(Fusion, WrittenOutTanhGeluBecomesTheGemmEpilogue) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  linearNewGelu(*net, {net->addInput("a", DataType::kFLOAT, Dims{8, 16})});
  StatusOr<Graph> g = graphOf(*net);
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  EXPECT_EQ(fuseEpilogues(g.value()), 9);  // the bias and the eight layers of the GELU
  int32_t computing = 0;
  for (const LayerInfo& l : g.value().layers) computing += l.params.type != LayerType::kCONSTANT ? 1 : 0;
  EXPECT_EQ(computing, 1);
  for (const LayerInfo& l : g.value().layers) {
    if (l.params.type != LayerType::kMATRIX_MULTIPLY) continue;
    EXPECT_EQ(l.params.attrs.getInt("fused_activation", -1), static_cast<int64_t>(ActivationType::kGELU_TANH));
    EXPECT_EQ(l.outputs[0], g.value().outputs[0]);
  }
  const HostTensor a = randomTensor(DataType::kFLOAT, Dims{8, 16}, 53);
  const HostTensor out = runSingleOutput(linearNewGelu, {{"a", a}});
  const std::vector<double> av = toDoubles(a), got = toDoubles(out);
  const std::vector<double> w = toDoubles(randomTensor(DataType::kFLOAT, Dims{16, 24}, 51));
  const std::vector<double> b = toDoubles(randomTensor(DataType::kFLOAT, Dims{1, 24}, 52));
  ASSERT_EQ(got.size(), 192u);
  for (int i = 0; i < 8; ++i) {
    for (int j = 0; j < 24; ++j) {
      double x = b[static_cast<size_t>(j)];
      for (int k = 0; k < 16; ++k) x += av[static_cast<size_t>(i * 16 + k)] * w[static_cast<size_t>(k * 24 + j)];
      const double expected = 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
      EXPECT_NEAR(got[static_cast<size_t>(i * 24 + j)], expected, 1e-4) << i << "," << j;
    }
  }
}

TEST(Fusion, FusedBiasDefinedAfterTheGemmIsSortedBeforeIt) {
  // The bias constant comes after the matmul in the network; once fused, the matmul reads it, so the layers
  // are reordered (and an ordered graph is left as it is).
  std::vector<float> w(512, 0.5f), b(32, 0.25f);
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* a = net->addInput("a", DataType::kFLOAT, Dims{8, 16});
  ITensor* weight = net->addConstant(Dims{16, 32}, Weights{DataType::kFLOAT, w.data(), 512})->getOutput(0);
  ITensor* mm = net->addMatrixMultiply(*a, MatrixOperation::kNONE, *weight, MatrixOperation::kNONE)->getOutput(0);
  ITensor* bias = net->addConstant(Dims{1, 32}, Weights{DataType::kFLOAT, b.data(), 32})->getOutput(0);
  net->markOutput(*net->addElementWise(*mm, *bias, ElementWiseOperation::kSUM)->getOutput(0));
  StatusOr<Graph> g = graphOf(*net);
  ASSERT_TRUE(g.isOk()) << g.status().toString();
  EXPECT_EQ(fuseEpilogues(g.value()), 1);
  sortLayersTopologically(g.value());
  std::vector<bool> defined(g.value().tensors.size(), false);
  for (int32_t t : g.value().inputs) defined[static_cast<size_t>(t)] = true;
  for (const LayerInfo& l : g.value().layers) {
    for (int32_t t : l.inputs) EXPECT_TRUE(t < 0 || defined[static_cast<size_t>(t)]) << l.params.name;
    for (int32_t t : l.outputs) defined[static_cast<size_t>(t)] = true;
  }
  const std::vector<std::string> before = [&] {
    std::vector<std::string> names;
    for (const LayerInfo& l : g.value().layers) names.push_back(l.params.name);
    return names;
  }();
  sortLayersTopologically(g.value());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(g.value().layers[i].params.name, before[i]);
}

TEST(Fusion, BroadcastingAddIsNotAnEpilogue) {
  // [8,32] + [8,1] broadcasts along rows, not the last dim: not a GEMM bias.
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* a = net->addInput("a", DataType::kFLOAT, Dims{8, 16});
  ITensor* b = net->addInput("b", DataType::kFLOAT, Dims{16, 32});
  std::vector<float> c(8, 1.f);
  ITensor* col = net->addConstant(Dims{8, 1}, Weights{DataType::kFLOAT, c.data(), 8})->getOutput(0);
  ITensor* mm = net->addMatrixMultiply(*a, MatrixOperation::kNONE, *b, MatrixOperation::kNONE)->getOutput(0);
  net->markOutput(*net->addElementWise(*mm, *col, ElementWiseOperation::kSUM)->getOutput(0));
  StatusOr<Graph> g = graphOf(*net);
  ASSERT_TRUE(g.isOk());
  EXPECT_EQ(fuseEpilogues(g.value()), 0);
}

}  // namespace
}  // namespace testing
}  // namespace kiln
