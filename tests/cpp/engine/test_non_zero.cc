// Non-zero layers: int64 [rank, count] coordinates in row-major order, with a data-dependent count fetched
// through the output allocator. Every input dtype, -0.0 and NaN, empty results, many elements, scalars,
// dynamic input shapes, and layers downstream of the data-dependent extent.
#include <cmath>
#include <limits>
#include <vector>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

const DataType kAllTypes[] = {DataType::kFLOAT, DataType::kHALF,  DataType::kBF16, DataType::kINT8,
                              DataType::kINT32, DataType::kINT64, DataType::kBOOL, DataType::kUINT8};

HostTensor nonZeroRef(const HostTensor& x) {
  const std::vector<double> v = toDoubles(x);
  std::vector<std::vector<int64_t>> coords;
  for (int64_t i = 0; i < x.count(); ++i) {
    if (v[static_cast<size_t>(i)] == 0) continue;  // NaN != 0: counted
    std::vector<int64_t> c(static_cast<size_t>(x.dims.nbDims));
    int64_t rem = i;
    for (int32_t d = x.dims.nbDims - 1; d >= 0; --d) {
      c[static_cast<size_t>(d)] = rem % x.dims.d[d];
      rem /= x.dims.d[d];
    }
    coords.push_back(c);
  }
  const auto count = static_cast<int64_t>(coords.size());
  HostTensor out(DataType::kINT64, Dims{x.dims.nbDims, count});
  auto* o = static_cast<int64_t*>(out.data());
  for (int32_t d = 0; d < x.dims.nbDims; ++d) {
    for (int64_t k = 0; k < count; ++k) o[d * count + k] = coords[static_cast<size_t>(k)][static_cast<size_t>(d)];
  }
  return out;
}

// Every third element zero, the rest small non-zero values (also non-zero after narrowing to bool).
HostTensor withZeros(DataType type, const Dims& dims, uint64_t seed) {
  std::vector<double> values(static_cast<size_t>(volume(dims)));
  for (size_t i = 0; i < values.size(); ++i) {
    const auto r = static_cast<int64_t>((i * 2654435761u + seed) % 7);
    const double nonZero = isFloatType(type) ? static_cast<double>(r) - 3.5 : static_cast<double>(r);  // r is 1..6
    values[i] = r % 3 == 0 ? 0.0 : nonZero;
  }
  return makeTensor(type, dims, values);
}

NetworkFn nonZeroNet() {
  return [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    INonZeroLayer* layer = net.addNonZero(*in[0]);
    ASSERT_NE(layer, nullptr);
    EXPECT_EQ(dimsToString(layer->getOutput(0)->getDimensions()),
              "[" + std::to_string(in[0]->getDimensions().nbDims) + ",-1]");
    EXPECT_EQ(layer->getOutput(0)->getType(), DataType::kINT64);
    net.markOutput(*layer->getOutput(0));
  };
}

void checkNonZero(const HostTensor& x, bool dynamic = true) {
  const HostTensor expected = nonZeroRef(x);
  RunResult r = buildAndRun(nonZeroNet(), {{"x", x}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  expectEqual(r.ordered[0], expected);
  if (!dynamic) return;
  r = buildAndRun(nonZeroNet(), {{"x", x, (1u << x.dims.nbDims) - 1}});
  ASSERT_TRUE(r.status.isOk()) << "dynamic: " << r.status.toString();
  expectEqual(r.ordered[0], expected);
}

class NonZeroTypes : public ::testing::TestWithParam<DataType> {};

TEST_P(NonZeroTypes, CoordinatesInRowMajorOrder) {
  const DataType type = GetParam();
  checkNonZero(withZeros(type, Dims{3, 4}, 1));
  checkNonZero(withZeros(type, Dims{2, 3, 5}, 2));
  checkNonZero(withZeros(type, Dims{7}, 3));
}

TEST_P(NonZeroTypes, AllZeroGivesAnEmptyResult) {
  const DataType type = GetParam();
  const HostTensor x = makeTensor(type, Dims{2, 3}, std::vector<double>(6, 0.0));
  RunResult r = buildAndRun(nonZeroNet(), {{"x", x}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  EXPECT_EQ(dimsToString(r.ordered[0].dims), "[2,0]");
}

INSTANTIATE_TEST_SUITE_P(AllTypes, NonZeroTypes, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(dataTypeName(info.param)); });

TEST(NonZero, NegativeZeroIsZeroAndNanIsNot) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}) {
    const HostTensor x = makeTensor(type, Dims{6}, {0.0, -0.0, nan, 1.0, -2.0, -0.0});
    RunResult r = buildAndRun(nonZeroNet(), {{"x", x}});
    ASSERT_TRUE(r.status.isOk()) << r.status.toString();
    expectEqual(r.ordered[0], makeTensor(DataType::kINT64, Dims{1, 3}, {2, 3, 4}));
  }
}

TEST(NonZero, ManyElementsAcrossChunks) {
  checkNonZero(withZeros(DataType::kFLOAT, Dims{3, 300, 257}, 4), false);
  checkNonZero(withZeros(DataType::kUINT8, Dims{200001}, 5), false);
}

TEST(NonZero, ScalarInput) {
  RunResult r = buildAndRun(nonZeroNet(), {{"x", makeTensor(DataType::kINT32, Dims{}, {5})}});
  ASSERT_TRUE(r.status.isOk()) << r.status.toString();
  EXPECT_EQ(dimsToString(r.ordered[0].dims), "[0,1]");
}

TEST(NonZero, DownstreamLayersSeeTheCount) {
  // torch.nonzero layout: transpose to [count, rank], then gather the last coordinate column.
  const HostTensor x = withZeros(DataType::kINT8, Dims{4, 5}, 6);
  for (uint32_t mask : {0u, 3u}) {
    RunResult r = buildAndRun(
        [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          ITensor* coords = net.addNonZero(*in[0])->getOutput(0);
          IShuffleLayer* t = net.addShuffle(*coords);
          Permutation p;
          p.order[0] = 1;
          p.order[1] = 0;
          t->setFirstTranspose(p);
          t->getOutput(0)->setName("rows");
          net.markOutput(*t->getOutput(0));
          const int32_t last = 1;
          ITensor* idx = net.addConstant(Dims{}, Weights{DataType::kINT32, &last, 1})->getOutput(0);
          ITensor* cols = net.addGather(*t->getOutput(0), *idx, 1)->getOutput(0);
          cols->setName("cols");
          net.markOutput(*cols);
        },
        {{"x", x, mask}});
    ASSERT_TRUE(r.status.isOk()) << r.status.toString();
    const HostTensor expected = nonZeroRef(x);
    const int64_t count = expected.dims.d[1];
    const auto* e = static_cast<const int64_t*>(expected.data());
    std::vector<double> rows, cols;
    for (int64_t k = 0; k < count; ++k) {
      rows.push_back(static_cast<double>(e[k]));
      rows.push_back(static_cast<double>(e[count + k]));
      cols.push_back(static_cast<double>(e[count + k]));
    }
    expectEqual(r.outputs["rows"], makeTensor(DataType::kINT64, Dims{count, 2}, rows));
    expectEqual(r.outputs["cols"], makeTensor(DataType::kINT64, Dims{count}, cols));
  }
}

}  // namespace
}  // namespace testing
}  // namespace kiln
