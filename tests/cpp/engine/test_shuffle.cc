// Shuffle layers (transpose -> reshape -> transpose) against naive index-loop references: every dtype,
// static and dynamic shapes, reshape dims from shape tensors, and invalid parameters.
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

const DataType kAllTypes[] = {DataType::kFLOAT, DataType::kHALF,  DataType::kBF16, DataType::kINT8,
                              DataType::kINT32, DataType::kINT64, DataType::kBOOL, DataType::kUINT8};

HostTensor sample(DataType type, const Dims& dims, uint64_t seed) { return randomTensor(type, dims, seed, -50, 50); }

std::vector<int64_t> unravel(int64_t i, const Dims& dims) {
  std::vector<int64_t> c(static_cast<size_t>(dims.nbDims));
  for (int32_t d = dims.nbDims - 1; d >= 0; --d) {
    c[static_cast<size_t>(d)] = i % dims.d[d];
    i /= dims.d[d];
  }
  return c;
}

int64_t ravel(const std::vector<int64_t>& c, const Dims& dims) {
  int64_t i = 0;
  for (int32_t d = 0; d < dims.nbDims; ++d) i = i * dims.d[d] + c[static_cast<size_t>(d)];
  return i;
}

// out[c] = in[c permuted back]: output dim i is input dim perm[i].
HostTensor transposeRef(const HostTensor& in, const std::vector<int32_t>& perm) {
  Dims outDims = in.dims;
  for (int32_t i = 0; i < in.dims.nbDims; ++i) outDims.d[i] = in.dims.d[perm[static_cast<size_t>(i)]];
  const std::vector<double> x = toDoubles(in);
  std::vector<double> y(x.size());
  for (int64_t o = 0; o < volume(outDims); ++o) {
    const std::vector<int64_t> oc = unravel(o, outDims);
    std::vector<int64_t> ic(oc.size());
    for (size_t i = 0; i < oc.size(); ++i) ic[static_cast<size_t>(perm[i])] = oc[i];
    y[static_cast<size_t>(o)] = x[static_cast<size_t>(ravel(ic, in.dims))];
  }
  return makeTensor(in.type, outDims, y);
}

HostTensor reshapeRef(HostTensor t, const Dims& dims) {
  t.dims = dims;
  return t;
}

Permutation perm(std::initializer_list<int32_t> order) {
  Permutation p;
  int32_t i = 0;
  for (int32_t v : order) p.order[i++] = v;
  return p;
}

ITensor* int64Constant(NetworkDefinition& net, const std::vector<int64_t>& values) {
  return net
      .addConstant(Dims{static_cast<int64_t>(values.size())},
                   Weights{DataType::kINT64, values.data(), static_cast<int64_t>(values.size())})
      ->getOutput(0);
}

class ShuffleTypes : public ::testing::TestWithParam<DataType> {};

TEST_P(ShuffleTypes, TransposeReshapeTranspose) {
  const DataType type = GetParam();
  const HostTensor x = sample(type, Dims{2, 3, 4}, 11);
  const HostTensor y = runSingleOutput(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IShuffleLayer* layer = net.addShuffle(*in[0]);
        ASSERT_NE(layer, nullptr);
        layer->setFirstTranspose(perm({2, 0, 1}));  // [4,2,3]
        layer->setReshapeDimensions(Dims{0, -1});   // [4,6]
        layer->setSecondTranspose(perm({1, 0}));    // [6,4]
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", x}});
  const HostTensor expected = transposeRef(reshapeRef(transposeRef(x, {2, 0, 1}), Dims{4, 6}), {1, 0});
  expectEqual(y, expected);
}

TEST_P(ShuffleTypes, LargeTransposesUseTiles) {
  const DataType type = GetParam();
  const HostTensor x = sample(type, Dims{3, 70, 45}, 5);
  for (const std::vector<int32_t>& p : {std::vector<int32_t>{0, 2, 1}, {2, 1, 0}, {1, 0, 2}, {2, 0, 1}}) {
    const HostTensor y = runSingleOutput(
        [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          IShuffleLayer* layer = net.addShuffle(*in[0]);
          ASSERT_NE(layer, nullptr);
          layer->setFirstTranspose(perm({p[0], p[1], p[2]}));
          net.markOutput(*layer->getOutput(0));
        },
        {{"x", x}}, /*alsoDynamic=*/false);
    expectEqual(y, transposeRef(x, p));
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ShuffleTypes, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

TEST(Shuffle, ReshapeInfersMinusOneAndKeepsDynamicBatch) {
  const HostTensor x = sample(DataType::kFLOAT, Dims{3, 4, 5}, 2);
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{-1, 4, 5});
  IShuffleLayer* layer = net.addShuffle(*in);
  ASSERT_NE(layer, nullptr);
  layer->setReshapeDimensions(Dims{0, -1});
  // The placeholder copies the unknown batch; its factor cancels, so the -1 is known.
  EXPECT_EQ(dimsToString(layer->getOutput(0)->getDimensions()), "[-1,20]");
  EXPECT_EQ(layer->getReshapeDimensions(), (Dims{0, -1}));
  const HostTensor y = runSingleOutput(
      [](NetworkDefinition& n, const std::vector<ITensor*>& inputs) {
        IShuffleLayer* s = n.addShuffle(*inputs[0]);
        s->setReshapeDimensions(Dims{0, -1});
        n.markOutput(*s->getOutput(0));
      },
      {{"x", x}});
  expectEqual(y, reshapeRef(x, Dims{3, 20}));
}

TEST(Shuffle, ZeroIsNotAPlaceholderWhenDisabled) {
  const HostTensor x = sample(DataType::kINT32, Dims{2, 0, 3}, 2);
  RunResult r = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IShuffleLayer* s = net.addShuffle(*in[0]);
        s->setZeroIsPlaceholder(false);
        EXPECT_FALSE(s->getZeroIsPlaceholder());
        s->setReshapeDimensions(Dims{5, 0, 7});
        net.markOutput(*s->getOutput(0));
      },
      {{"x", x}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  EXPECT_EQ(dimsToString(r.ordered[0].dims), "[5,0,7]");
}

TEST(Shuffle, ScalarRoundTrip) {
  const HostTensor x = sample(DataType::kINT64, Dims{1, 1}, 9);
  const HostTensor y = runSingleOutput(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IShuffleLayer* toScalar = net.addShuffle(*in[0]);
        toScalar->setReshapeDimensions(Dims{});
        IShuffleLayer* back = net.addShuffle(*toScalar->getOutput(0));
        back->setReshapeDimensions(Dims{1});
        net.markOutput(*back->getOutput(0));
      },
      {{"x", x}}, /*alsoDynamic=*/false);  // a fixed reshape fits only the one input shape
  expectEqual(y, reshapeRef(x, Dims{1}));
}

TEST(Shuffle, NoReshapeReadsAsRankMinusOne) {
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{2, 3});
  IShuffleLayer* layer = net.addShuffle(*in);
  EXPECT_EQ(layer->getReshapeDimensions().nbDims, -1);
  layer->setFirstTranspose(perm({1, 0}));
  EXPECT_EQ(layer->getFirstTranspose().order[0], 1);
  EXPECT_EQ(layer->getSecondTranspose().order[1], 1);
  EXPECT_EQ(dimsToString(layer->getOutput(0)->getDimensions()), "[3,2]");
  EXPECT_TRUE(net.validate().isOk());
}

// Reshape to [shape(x)[0], -1] computed from a Shape layer: known at build time for static inputs,
// only at run time for dynamic ones.
TEST(Shuffle, ReshapeDimsFromShapeTensor) {
  for (DataType type : {DataType::kFLOAT, DataType::kINT8}) {
    const HostTensor x = sample(type, Dims{2, 3, 4}, 4);
    const HostTensor y = runSingleOutput(
        [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          ITensor* shape = net.addShape(*in[0])->getOutput(0);
          const int32_t zero = 0;
          ITensor* index = net.addConstant(Dims{1}, Weights{DataType::kINT32, &zero, 1})->getOutput(0);
          ITensor* batch = net.addGather(*shape, *index, 0)->getOutput(0);
          ITensor* parts[] = {batch, int64Constant(net, {-1})};
          ITensor* dims = net.addConcatenation(parts, 2)->getOutput(0);
          IShuffleLayer* layer = net.addShuffle(*in[0]);
          layer->setInput(1, *dims);
          EXPECT_EQ(layer->getReshapeDimensions().nbDims, -1);
          EXPECT_EQ(layer->getOutput(0)->getDimensions().nbDims, 2);
          net.markOutput(*layer->getOutput(0));
        },
        {{"x", x}});
    expectEqual(y, reshapeRef(x, Dims{2, 12}));
  }
}

TEST(Shuffle, ConstantShapeTensorWithPlaceholder) {
  const HostTensor x = sample(DataType::kBF16, Dims{2, 3, 4}, 4);
  const HostTensor y = runSingleOutput(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IShuffleLayer* layer = net.addShuffle(*in[0]);
        layer->setInput(1, *int64Constant(net, {0, 0, -1, 2}));
        layer->setSecondTranspose(perm({3, 2, 1, 0}));
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", x}});
  expectEqual(y, transposeRef(reshapeRef(x, Dims{2, 3, 2, 2}), {3, 2, 1, 0}));
}

TEST(ShuffleErrors, BadPermutationIsAnError) {
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{2, 3, 4});
  IShuffleLayer* layer = net.addShuffle(*in);
  ASSERT_NE(layer, nullptr);
  layer->setName("bad_perm");
  layer->setFirstTranspose(perm({0, 0, 2}));
  const Status s = net.validate();
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("bad_perm"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("permutation"), std::string::npos) << s.message();
}

TEST(ShuffleErrors, SecondPermutationOutOfRange) {
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{2, 3});
  IShuffleLayer* layer = net.addShuffle(*in);
  layer->setSecondTranspose(perm({2, 0}));
  EXPECT_FALSE(net.validate().isOk());
}

TEST(ShuffleErrors, ReshapeVolumeMismatch) {
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{2, 3, 4});
  IShuffleLayer* layer = net.addShuffle(*in);
  layer->setReshapeDimensions(Dims{5, 5});
  EXPECT_FALSE(net.validate().isOk());
  layer->setReshapeDimensions(Dims{5, -1});  // 24 is not a multiple of 5
  EXPECT_FALSE(net.validate().isOk());
  layer->setReshapeDimensions(Dims{-1, -1});
  EXPECT_FALSE(net.validate().isOk());
  layer->setReshapeDimensions(Dims{0, 0, 0, 0});  // placeholder beyond the input rank
  EXPECT_FALSE(net.validate().isOk());
  layer->setReshapeDimensions(Dims{-3, 8});
  EXPECT_FALSE(net.validate().isOk());
  layer->setReshapeDimensions(Dims{4, -1});
  EXPECT_TRUE(net.validate().isOk());
}

TEST(ShuffleErrors, RunTimeVolumeMismatchIsAStatus) {
  // Reshape y [n,3] to shape(x) = [n,4]: unknown while building with dynamic shapes, wrong for every n.
  RunResult r = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IShuffleLayer* layer = net.addShuffle(*in[1]);
        layer->setInput(1, *net.addShape(*in[0])->getOutput(0));
        layer->setName("mismatch");
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", sample(DataType::kFLOAT, Dims{2, 4}, 1), 1u}, {"y", sample(DataType::kFLOAT, Dims{2, 3}, 2), 1u}});
  EXPECT_FALSE(r.status.isOk());
  EXPECT_NE(r.status.message().find("mismatch"), std::string::npos) << r.status.message();
}

TEST(ShuffleErrors, ShapeInputMustBeIntegerVector) {
  NetworkDefinition net(0);
  ITensor* in = net.addInput("x", DataType::kFLOAT, Dims{2, 3});
  ITensor* bad = net.addInput("dims", DataType::kFLOAT, Dims{2});
  IShuffleLayer* layer = net.addShuffle(*in);
  layer->setInput(1, *bad);
  EXPECT_FALSE(net.validate().isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
