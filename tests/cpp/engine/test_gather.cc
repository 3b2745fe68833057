// Gather layers (kDEFAULT = numpy.take, kELEMENT = torch.gather, kND = ONNX GatherND) against naive
// references: every data dtype, int32 and int64 indices, negative indices, batch dims, dynamic shapes,
// shape tensors, out-of-range indices at run time, and invalid parameters.
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

int64_t wrap(int64_t i, int64_t n) { return i < 0 ? i + n : i; }

HostTensor gatherDefaultRef(const HostTensor& data, const HostTensor& indices, int32_t axis, int32_t batch) {
  Dims out;
  for (int32_t d = 0; d < axis; ++d) out.d[out.nbDims++] = data.dims.d[d];
  for (int32_t d = batch; d < indices.dims.nbDims; ++d) out.d[out.nbDims++] = indices.dims.d[d];
  for (int32_t d = axis + 1; d < data.dims.nbDims; ++d) out.d[out.nbDims++] = data.dims.d[d];
  const std::vector<double> v = toDoubles(data);
  const int32_t q = indices.dims.nbDims - batch;
  std::vector<double> result;
  for (int64_t o = 0; o < volume(out); ++o) {
    const std::vector<int64_t> c = unravel(o, out);
    std::vector<int64_t> ic(c.begin(), c.begin() + batch);
    ic.insert(ic.end(), c.begin() + axis, c.begin() + axis + q);
    std::vector<int64_t> dc(c.begin(), c.begin() + axis);
    dc.push_back(wrap(indices.intAt(ravel(ic, indices.dims)), data.dims.d[axis]));
    dc.insert(dc.end(), c.begin() + axis + q, c.end());
    result.push_back(v[static_cast<size_t>(ravel(dc, data.dims))]);
  }
  return makeTensor(data.type, out, result);
}

HostTensor gatherElementRef(const HostTensor& data, const HostTensor& indices, int32_t axis) {
  const std::vector<double> v = toDoubles(data);
  std::vector<double> result;
  for (int64_t o = 0; o < indices.count(); ++o) {
    std::vector<int64_t> c = unravel(o, indices.dims);
    c[static_cast<size_t>(axis)] = wrap(indices.intAt(o), data.dims.d[axis]);
    result.push_back(v[static_cast<size_t>(ravel(c, data.dims))]);
  }
  return makeTensor(data.type, indices.dims, result);
}

HostTensor gatherNdRef(const HostTensor& data, const HostTensor& indices, int32_t batch) {
  const int32_t q = indices.dims.nbDims;
  const auto m = static_cast<int32_t>(indices.dims.d[q - 1]);
  Dims out;
  for (int32_t d = 0; d < q - 1; ++d) out.d[out.nbDims++] = indices.dims.d[d];
  for (int32_t d = batch + m; d < data.dims.nbDims; ++d) out.d[out.nbDims++] = data.dims.d[d];
  const std::vector<double> v = toDoubles(data);
  std::vector<double> result;
  for (int64_t o = 0; o < volume(out); ++o) {
    const std::vector<int64_t> c = unravel(o, out);
    std::vector<int64_t> dc(c.begin(), c.begin() + batch);
    std::vector<int64_t> ic(c.begin(), c.begin() + (q - 1));
    ic.push_back(0);
    for (int32_t j = 0; j < m; ++j) {
      ic.back() = j;
      dc.push_back(wrap(indices.intAt(ravel(ic, indices.dims)), data.dims.d[batch + j]));
    }
    dc.insert(dc.end(), c.begin() + (q - 1), c.end());
    result.push_back(v[static_cast<size_t>(ravel(dc, data.dims))]);
  }
  return makeTensor(data.type, out, result);
}

HostTensor indexTensor(DataType type, const Dims& dims, const std::vector<double>& values) {
  return makeTensor(type, dims, values);
}

NetworkFn gatherNet(GatherMode mode, int32_t axis, int32_t batch) {
  return [=](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    IGatherLayer* layer = net.addGatherV2(*in[0], *in[1], mode);
    ASSERT_NE(layer, nullptr);
    layer->setGatherAxis(axis);
    layer->setNbElementWiseDims(batch);
    EXPECT_EQ(layer->getMode(), mode);
    EXPECT_EQ(layer->getGatherAxis(), axis);
    EXPECT_EQ(layer->getNbElementWiseDims(), batch);
    layer->setName("gather");
    net.markOutput(*layer->getOutput(0));
  };
}

class GatherTypes : public ::testing::TestWithParam<DataType> {};

TEST_P(GatherTypes, DefaultModeTakesAlongAxis) {
  const DataType type = GetParam();
  const HostTensor data = sample(type, Dims{3, 4, 5}, 1);
  const HostTensor idx = indexTensor(DataType::kINT32, Dims{2, 3}, {0, 3, -1, 2, -4, 1});
  const HostTensor y = runSingleOutput(gatherNet(GatherMode::kDEFAULT, 1, 0), {{"data", data}, {"i", idx}});
  expectEqual(y, gatherDefaultRef(data, idx, 1, 0));
}

TEST_P(GatherTypes, ElementModeIsTorchGather) {
  const DataType type = GetParam();
  const HostTensor data = sample(type, Dims{3, 4}, 2);
  const HostTensor idx = indexTensor(DataType::kINT64, Dims{3, 2}, {3, 0, -1, 1, 2, 2});
  expectEqual(runSingleOutput(gatherNet(GatherMode::kELEMENT, 1, 0), {{"data", data}, {"i", idx}}),
              gatherElementRef(data, idx, 1));
}

TEST_P(GatherTypes, NdModeGathersSlices) {
  const DataType type = GetParam();
  const HostTensor data = sample(type, Dims{2, 3, 4}, 3);
  const HostTensor idx = indexTensor(DataType::kINT32, Dims{3, 2}, {1, 2, 0, -1, 1, 0});
  RunResult r = buildAndRun(gatherNet(GatherMode::kND, 0, 0), {{"data", data, 1u}, {"i", idx, 1u}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  expectEqual(r.ordered[0], gatherNdRef(data, idx, 0));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GatherTypes, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

TEST(Gather, DefaultModeAxesAndScalarIndex) {
  const HostTensor data = sample(DataType::kFLOAT, Dims{4, 3, 2}, 4);
  const HostTensor idx = indexTensor(DataType::kINT64, Dims{5}, {3, 0, 0, -2, 1});
  expectEqual(runSingleOutput(gatherNet(GatherMode::kDEFAULT, 0, 0), {{"data", data}, {"i", idx}}),
              gatherDefaultRef(data, idx, 0, 0));
  const HostTensor last = indexTensor(DataType::kINT32, Dims{2, 2}, {1, 0, -1, 1});
  expectEqual(runSingleOutput(gatherNet(GatherMode::kDEFAULT, -1, 0), {{"data", data}, {"i", last}}),
              gatherDefaultRef(data, last, 2, 0));
  const HostTensor scalar = indexTensor(DataType::kINT32, Dims{}, {2});
  const HostTensor y = runSingleOutput(gatherNet(GatherMode::kDEFAULT, 1, 0), {{"data", data}, {"i", scalar}});
  EXPECT_EQ(dimsToString(y.dims), "[4,2]");
  expectEqual(y, gatherDefaultRef(data, scalar, 1, 0));
}

TEST(Gather, DefaultModeWithBatchDims) {
  const HostTensor data = sample(DataType::kINT32, Dims{2, 4, 3}, 5);
  const HostTensor idx = indexTensor(DataType::kINT32, Dims{2, 5}, {0, 1, 2, 3, -1, 3, 3, 0, -4, 2});
  RunResult r = buildAndRun(gatherNet(GatherMode::kDEFAULT, 1, 1), {{"data", data, 1u}, {"i", idx, 1u}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  expectEqual(r.ordered[0], gatherDefaultRef(data, idx, 1, 1));
}

TEST(Gather, ElementModeWithSmallerIndices) {
  const HostTensor data = sample(DataType::kHALF, Dims{4, 5}, 6);
  const HostTensor idx = indexTensor(DataType::kINT32, Dims{2, 3}, {3, 0, 1, -1, 2, 3});
  expectEqual(runSingleOutput(gatherNet(GatherMode::kELEMENT, 0, 0), {{"data", data}, {"i", idx}}),
              gatherElementRef(data, idx, 0));
}

TEST(Gather, ElementAxisSetAfterTheAdd) {
  // torch.gather(x [3,4], 1, idx [3,6]): idx is wider than x off axis 0, so only axis 1 fits.
  const HostTensor data = sample(DataType::kINT64, Dims{3, 4}, 11);
  const HostTensor idx =
      indexTensor(DataType::kINT32, Dims{3, 6}, {0, 1, 2, 3, -1, 0, 2, 2, 2, 1, 1, 0, 3, 3, 0, 0, -4, -2});
  expectEqual(runSingleOutput(gatherNet(GatherMode::kELEMENT, 1, 0), {{"data", data}, {"i", idx}}, false),
              gatherElementRef(data, idx, 1));

  NetworkDefinition net(0);
  IGatherLayer* layer = net.addGatherV2(*net.addInput("data", DataType::kINT64, Dims{3, 4}),
                                        *net.addInput("i", DataType::kINT32, Dims{3, 6}), GatherMode::kELEMENT);
  ASSERT_NE(layer, nullptr);
  EXPECT_EQ(layer->getGatherAxis(), 0);
  EXPECT_FALSE(net.validate().isOk());  // still axis 0
  layer->setGatherAxis(1);
  EXPECT_TRUE(net.validate().isOk());
}

TEST(Gather, NdModeFullTuplesAndBatchDims) {
  const HostTensor data = sample(DataType::kFLOAT, Dims{2, 3, 4}, 7);
  const HostTensor full = indexTensor(DataType::kINT64, Dims{2, 3}, {1, 2, 3, 0, -1, -4});
  RunResult r = buildAndRun(gatherNet(GatherMode::kND, 0, 0), {{"data", data}, {"i", full}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  expectEqual(r.ordered[0], gatherNdRef(data, full, 0));

  const HostTensor batched = indexTensor(DataType::kINT32, Dims{2, 2, 1}, {2, 0, 1, -1});
  r = buildAndRun(gatherNet(GatherMode::kND, 0, 1), {{"data", data, 1u}, {"i", batched, 1u}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  expectEqual(r.ordered[0], gatherNdRef(data, batched, 1));
}

TEST(Gather, AddGatherSetsTheAxis) {
  const HostTensor data = sample(DataType::kUINT8, Dims{3, 6}, 8);
  const HostTensor idx = indexTensor(DataType::kINT32, Dims{4}, {5, 0, -6, 2});
  const HostTensor y = runSingleOutput(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IGatherLayer* layer = net.addGather(*in[0], *in[1], 1);
        EXPECT_EQ(layer->getMode(), GatherMode::kDEFAULT);
        EXPECT_EQ(layer->getGatherAxis(), 1);
        net.markOutput(*layer->getOutput(0));
      },
      {{"data", data}, {"i", idx}});
  expectEqual(y, gatherDefaultRef(data, idx, 1, 0));
}

TEST(Gather, LargeRowsAndManyIndices) {
  const HostTensor data = sample(DataType::kBF16, Dims{50, 300}, 9);
  std::vector<double> ids;
  for (int i = 0; i < 500; ++i) ids.push_back((i * 37) % 100 - 50);
  const HostTensor idx = indexTensor(DataType::kINT32, Dims{500}, ids);
  expectEqual(runSingleOutput(gatherNet(GatherMode::kDEFAULT, 0, 0), {{"data", data}, {"i", idx}}, false),
              gatherDefaultRef(data, idx, 0, 0));
}

TEST(Gather, ShapeTensorDataWithConstantIndices) {
  // gather(shape(x), [0, -1, 1]) is computed on the host and reshapes x [2,3,4] to [2,4,3].
  const HostTensor x = sample(DataType::kFLOAT, Dims{2, 3, 4}, 10);
  const HostTensor y = runSingleOutput(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        const int32_t picks[] = {0, -1, 1};
        ITensor* idx = net.addConstant(Dims{3}, Weights{DataType::kINT32, picks, 3})->getOutput(0);
        ITensor* dims = net.addGather(*net.addShape(*in[0])->getOutput(0), *idx, 0)->getOutput(0);
        EXPECT_TRUE(dims->isShapeTensor());
        IShuffleLayer* layer = net.addShuffle(*in[0]);
        layer->setInput(1, *dims);
        net.markOutput(*layer->getOutput(0));
      },
      {{"x", x}});
  HostTensor expected = x;
  expected.dims = Dims{2, 4, 3};
  expectEqual(y, expected);
}

TEST(GatherErrors, OutOfRangeIndexAtRunTimeIsAStatus) {
  if (testBackend() == BackendKind::kCUDA) {
    // GPU kernels guard memory on bad data (the element becomes 0) but can only report it by waiting for the
    // device, which the runtime never does in the steady state; the CPU backend reports it.
    GTEST_SKIP() << "bad-data errors are reported by the CPU backend only";
  }

  const HostTensor data = sample(DataType::kFLOAT, Dims{3, 4}, 1);
  struct Case {
    GatherMode mode;
    HostTensor indices;
  };
  const Case cases[] = {
      {GatherMode::kDEFAULT, indexTensor(DataType::kINT32, Dims{2}, {1, 4})},
      {GatherMode::kDEFAULT, indexTensor(DataType::kINT64, Dims{2}, {-5, 0})},
      {GatherMode::kELEMENT, indexTensor(DataType::kINT32, Dims{3, 4}, {0, 1, 2, 3, 0, 0, 0, 0, 9, 0, 0, 0})},
      {GatherMode::kND, indexTensor(DataType::kINT64, Dims{2, 2}, {0, 0, 3, 0})},
  };
  for (const Case& c : cases) {
    RunResult r = buildAndRun(gatherNet(c.mode, 1, 0), {{"data", data}, {"i", c.indices}});
    EXPECT_FALSE(r.status.isOk());
    EXPECT_NE(r.status.message().find("'gather'"), std::string::npos) << r.status.message();
    EXPECT_NE(r.status.message().find("out of range"), std::string::npos) << r.status.message();
  }
}

TEST(GatherErrors, InvalidParameters) {
  NetworkDefinition net(0);
  ITensor* data = net.addInput("data", DataType::kFLOAT, Dims{3, 4});
  ITensor* floatIdx = net.addInput("f", DataType::kFLOAT, Dims{2});
  ITensor* idx = net.addInput("i", DataType::kINT32, Dims{2});
  ITensor* tuples = net.addInput("t", DataType::kINT32, Dims{2, 3});
  ITensor* dynamicTuples = net.addInput("d", DataType::kINT32, Dims{2, -1});
  EXPECT_EQ(net.addGather(*data, *floatIdx, 0), nullptr);
  EXPECT_EQ(net.addGather(*data, *idx, 2), nullptr);
  EXPECT_EQ(net.addGatherV2(*data, *idx, GatherMode::kELEMENT), nullptr);  // ranks differ
  EXPECT_EQ(net.addGatherV2(*data, *tuples, GatherMode::kND), nullptr);    // 3 coordinates for rank 2
  EXPECT_EQ(net.addGatherV2(*data, *dynamicTuples, GatherMode::kND), nullptr);
  EXPECT_FALSE(net.status().isOk());

  NetworkDefinition net2(0);
  IGatherLayer* layer = net2.addGather(*net2.addInput("data", DataType::kFLOAT, Dims{3, 4}),
                                       *net2.addInput("i", DataType::kINT32, Dims{2}), 1);
  ASSERT_NE(layer, nullptr);
  layer->setNbElementWiseDims(2);  // more batch dims than the axis
  EXPECT_FALSE(net2.validate().isOk());
  layer->setNbElementWiseDims(0);
  layer->setGatherAxis(-3);
  EXPECT_FALSE(net2.validate().isOk());
  layer->setGatherAxis(-2);
  EXPECT_TRUE(net2.validate().isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
