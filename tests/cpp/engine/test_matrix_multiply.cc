// Matrix multiply against a double-precision numpy.matmul-style reference: batch broadcasting, transposes,
// vector operands, float and integer types, static and dynamic shapes, every CPU tactic, and bad parameters.
#include <cstdint>
#include <string>
#include <vector>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/layer_kinds.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

// An operand as a stack of matrices: vectors become one row (input 0) or one column (input 1).
struct RefOperand {
  std::vector<int64_t> batch;
  int64_t rows = 0, cols = 0;
  bool vector = false;
  std::vector<double> values;
  double at(int64_t b, int64_t r, int64_t c) const { return values[static_cast<size_t>((b * rows + r) * cols + c)]; }
};

RefOperand toOperand(const HostTensor& t, MatrixOperation op, bool isRight) {
  RefOperand o;
  const std::vector<double> v = toDoubles(t);
  const int32_t rank = t.dims.nbDims;
  o.vector = op == MatrixOperation::kVECTOR || rank == 1;
  const int32_t tail = o.vector ? 1 : 2;
  for (int32_t i = 0; i < rank - tail; ++i) o.batch.push_back(t.dims.d[i]);
  int64_t count = 1;
  for (int64_t e : o.batch) count *= e;
  int64_t r = o.vector ? 1 : t.dims.d[rank - 2], c = t.dims.d[rank - 1];
  const bool transpose = !o.vector && op == MatrixOperation::kTRANSPOSE;
  if (o.vector && isRight) std::swap(r, c);  // a column
  o.rows = transpose ? c : r;
  o.cols = transpose ? r : c;
  o.values.resize(static_cast<size_t>(count * o.rows * o.cols));
  for (int64_t b = 0; b < count; ++b) {
    for (int64_t i = 0; i < o.rows; ++i) {
      for (int64_t j = 0; j < o.cols; ++j) {
        // The stored element: transposed operands swap the indices; a column vector reads element i.
        const int64_t stored = transpose ? (b * r + j) * c + i : (b * r + i) * c + j;
        o.values[static_cast<size_t>((b * o.rows + i) * o.cols + j)] = v[static_cast<size_t>(stored)];
      }
    }
  }
  return o;
}

// Returns dims and values of matmul(a, b) in double.
std::pair<Dims, std::vector<double>> referenceMatmul(const HostTensor& a, MatrixOperation op0, const HostTensor& b,
                                                     MatrixOperation op1) {
  const RefOperand A = toOperand(a, op0, false), B = toOperand(b, op1, true);
  const size_t rank = std::max(A.batch.size(), B.batch.size());
  std::vector<int64_t> batch(rank), ea(rank, 1), eb(rank, 1);
  for (size_t i = 0; i < A.batch.size(); ++i) ea[rank - A.batch.size() + i] = A.batch[i];
  for (size_t i = 0; i < B.batch.size(); ++i) eb[rank - B.batch.size() + i] = B.batch[i];
  int64_t count = 1;
  for (size_t i = 0; i < rank; ++i) {
    batch[i] = std::max(ea[i], eb[i]);
    count *= batch[i];
  }
  const int64_t M = A.rows, N = B.cols, K = A.cols;
  EXPECT_EQ(K, B.rows);
  std::vector<double> out(static_cast<size_t>(count * M * N));
  for (int64_t t = 0; t < count; ++t) {
    int64_t rest = t, ia = 0, ib = 0, sa = 1, sb = 1;
    for (size_t d = rank; d-- > 0;) {
      const int64_t idx = rest % batch[d];
      rest /= batch[d];
      ia += (ea[d] == 1 ? 0 : idx) * sa;
      ib += (eb[d] == 1 ? 0 : idx) * sb;
      sa *= ea[d];
      sb *= eb[d];
    }
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        double sum = 0;
        for (int64_t k = 0; k < K; ++k) sum += A.at(ia, i, k) * B.at(ib, k, j);
        out[static_cast<size_t>((t * M + i) * N + j)] = sum;
      }
    }
  }
  Dims dims;
  for (int64_t e : batch) dims.d[dims.nbDims++] = e;
  if (!A.vector) dims.d[dims.nbDims++] = M;
  if (!B.vector) dims.d[dims.nbDims++] = N;
  return {dims, out};
}

HostTensor expectedMatmul(const HostTensor& a, MatrixOperation op0, const HostTensor& b, MatrixOperation op1) {
  auto [dims, values] = referenceMatmul(a, op0, b, op1);
  if (isFloatType(a.type)) return makeTensor(a.type, dims, values);
  // Integers wrap like two's complement at the type's width.
  HostTensor t(a.type, dims);
  for (size_t i = 0; i < values.size(); ++i) {
    const auto v = static_cast<int64_t>(values[i]);
    if (a.type == DataType::kINT32) {
      static_cast<int32_t*>(t.data())[i] = static_cast<int32_t>(v);
    } else {
      static_cast<int64_t*>(t.data())[i] = v;
    }
  }
  return t;
}

double tolerance(DataType type, int64_t k) {
  // Rounding of the float16/bfloat16 inputs is in the reference; the float32 sum's error grows with K.
  return defaultAtol(type) * (type == DataType::kFLOAT ? std::max<double>(1.0, static_cast<double>(k) / 16) : 2.0);
}

struct MatmulCase {
  const char* name;
  Dims a, b;
  MatrixOperation op0, op1;
};

const MatmulCase kCases[] = {
    {"Plain2D", {3, 4}, {4, 5}, MatrixOperation::kNONE, MatrixOperation::kNONE},
    {"BatchBroadcast", {2, 1, 3, 4}, {5, 4, 6}, MatrixOperation::kNONE, MatrixOperation::kNONE},
    {"BatchBroadcastRight", {3, 4}, {2, 3, 4, 6}, MatrixOperation::kNONE, MatrixOperation::kNONE},
    {"TransposeA", {3, 4, 2}, {3, 4, 5}, MatrixOperation::kTRANSPOSE, MatrixOperation::kNONE},
    {"TransposeB", {3, 2, 4}, {3, 5, 4}, MatrixOperation::kNONE, MatrixOperation::kTRANSPOSE},
    {"TransposeBoth", {2, 1, 4, 3}, {1, 3, 5, 4}, MatrixOperation::kTRANSPOSE, MatrixOperation::kTRANSPOSE},
    {"SharedRightFolds", {4, 7, 5}, {5, 6}, MatrixOperation::kNONE, MatrixOperation::kNONE},
    {"VectorRight", {2, 3, 4}, {4}, MatrixOperation::kNONE, MatrixOperation::kVECTOR},
    {"VectorRightBatched", {2, 3, 4}, {2, 4}, MatrixOperation::kNONE, MatrixOperation::kVECTOR},
    {"VectorLeft", {4}, {2, 4, 5}, MatrixOperation::kVECTOR, MatrixOperation::kNONE},
    {"VectorLeftBatchedTransposedRight", {3, 5}, {3, 6, 5}, MatrixOperation::kVECTOR, MatrixOperation::kTRANSPOSE},
    {"VectorsBatchedDot", {3, 4}, {3, 4}, MatrixOperation::kVECTOR, MatrixOperation::kVECTOR},
    {"VectorDot", {7}, {7}, MatrixOperation::kVECTOR, MatrixOperation::kVECTOR},
    {"Rank1WithoutVectorFlag", {4}, {4, 3}, MatrixOperation::kNONE, MatrixOperation::kNONE},
    {"SingleRow", {1, 5}, {5, 7}, MatrixOperation::kNONE, MatrixOperation::kNONE},
    {"SingleRowTransposed", {5, 1}, {7, 5}, MatrixOperation::kTRANSPOSE, MatrixOperation::kTRANSPOSE},
    {"SingleColumnTransposedA", {5, 3}, {5, 1}, MatrixOperation::kTRANSPOSE, MatrixOperation::kNONE},
    {"ManySmallBatches", {64, 3, 5}, {64, 5, 2}, MatrixOperation::kNONE, MatrixOperation::kNONE},
    {"ParallelBatches", {300, 16, 12}, {300, 20, 12}, MatrixOperation::kNONE, MatrixOperation::kTRANSPOSE},
    {"Large", {96, 130}, {130, 70}, MatrixOperation::kNONE, MatrixOperation::kNONE},
};

class MatrixMultiplyTest : public ::testing::TestWithParam<std::tuple<MatmulCase, DataType>> {};

// Dims of extent 1 broadcast against the other operand, so they stay static in the dynamic run (a
// profile spanning [1, 2] would not broadcast at its max corner); every other dim is dynamic.
uint32_t nonUnitMask(const Dims& dims) {
  uint32_t mask = 0;
  for (int32_t d = 0; d < dims.nbDims; ++d) mask |= dims.d[d] != 1 ? 1u << d : 0u;
  return mask;
}

HostTensor runMatmul(const HostTensor& a, MatrixOperation op0, const HostTensor& b, MatrixOperation op1) {
  const NetworkFn define = [&](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    IMatrixMultiplyLayer* layer = net.addMatrixMultiply(*in[0], op0, *in[1], op1);
    ASSERT_NE(layer, nullptr) << net.status().message();
    net.markOutput(*layer->getOutput(0));
  };
  const HostTensor fixed = runSingleOutput(define, {{"a", a}, {"b", b}}, /*alsoDynamic=*/false);
  const uint32_t maskA = nonUnitMask(a.dims), maskB = nonUnitMask(b.dims);
  if (maskA != 0 || maskB != 0) {
    const RunResult dynamic = buildAndRun(define, {{"a", a, maskA}, {"b", b, maskB}});
    EXPECT_TRUE(dynamic.status.isOk()) << "dynamic-shape run: " << dynamic.status.toString();
    if (dynamic.status.isOk()) expectEqual(dynamic.ordered.at(0), fixed);
  }
  return fixed;
}

TEST_P(MatrixMultiplyTest, MatchesReference) {
  const auto [c, type] = GetParam();
  const bool integer = !isFloatType(type);
  const HostTensor a = randomTensor(type, c.a, 11, integer ? -20 : -1, integer ? 20 : 1);
  const HostTensor b = randomTensor(type, c.b, 12, integer ? -20 : -1, integer ? 20 : 1);
  const HostTensor y = runMatmul(a, c.op0, b, c.op1);
  const HostTensor expected = expectedMatmul(a, c.op0, b, c.op1);
  if (integer) {
    expectEqual(y, expected);
  } else {
    const int64_t k = c.op0 == MatrixOperation::kTRANSPOSE ? c.a.d[c.a.nbDims - 2] : c.a.d[c.a.nbDims - 1];
    expectClose(y, expected, tolerance(type, k), tolerance(type, k));
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatrixMultiplyTest,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16,
                                                              DataType::kINT32, DataType::kINT64)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  dataTypeName(std::get<1>(info.param));
                         });

// Runs one registered CPU tactic directly, so every tactic is checked whatever the builder would pick.
Status runTactic(const CpuTactic& tactic, const LayerParams& params, const std::vector<HostTensor>& inputs,
                 HostTensor& out) {
  std::vector<ShapeInput> shapes;
  for (const HostTensor& t : inputs) shapes.push_back({true, t.dims, t.type, nullptr});
  std::vector<ShapeOutput> outs;
  KILN_RETURN_IF_ERROR(inferLayerShapes(params, shapes, outs));
  out = HostTensor(outs[0].type, outs[0].dims);
  KernelIO io;
  for (const HostTensor& t : inputs) io.inputs.push_back({const_cast<void*>(t.data()), t.dims, t.type});
  io.outputs.push_back({out.data(), out.dims, out.type});
  return tactic.run(params, io);
}

TEST(MatrixMultiplyTactics, EveryTacticMatchesTheReference) {
  const auto& tactics = CpuKernelTable::instance().tactics(LayerType::kMATRIX_MULTIPLY);
  ASSERT_EQ(tactics.size(), 2u);
  EXPECT_EQ(tactics[0].name, "cpu_gemm_blas");
  EXPECT_EQ(tactics[1].name, "cpu_matmul_int_exact");
  for (const CpuTactic& tactic : tactics) {
    for (const MatmulCase& c : kCases) {
      for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kINT32, DataType::kINT64}) {
        SCOPED_TRACE(tactic.name + " " + c.name + " " + dataTypeName(type));
        LayerParams params;
        params.type = LayerType::kMATRIX_MULTIPLY;
        params.name = "mm";
        params.attrs.setInt("op0", static_cast<int64_t>(c.op0));
        params.attrs.setInt("op1", static_cast<int64_t>(c.op1));
        const HostTensor a = randomTensor(type, c.a, 21, -8, 8);
        const HostTensor b = randomTensor(type, c.b, 22, -8, 8);
        HostTensor y;
        const Status status = runTactic(tactic, params, {a, b}, y);
        if (isFloatType(type) && tactic.name == "cpu_matmul_int_exact") {
          EXPECT_EQ(status.code(), StatusCode::kUNIMPLEMENTED);  // declined: the builder skips it
          continue;
        }
        ASSERT_TRUE(status.isOk()) << status.message();
        const HostTensor expected = expectedMatmul(a, c.op0, b, c.op1);
        if (isFloatType(type)) {
          // Inputs up to 8 in magnitude: scale the tolerance with the products' size.
          expectClose(y, expected, 64 * tolerance(type, 130), tolerance(type, 130));
        } else {
          expectEqual(y, expected);
        }
      }
    }
  }
}

TEST(MatrixMultiply, IntegerAccumulationWrapsLikeTwosComplement) {
  // 3 * (2^20 * 2^12) = 3 * 2^32 overflows int32: the result wraps to 0, as torch's int32 matmul does.
  const HostTensor a = makeTensor(DataType::kINT32, Dims{1, 3}, {1 << 20, 1 << 20, 1 << 20});
  const HostTensor b = makeTensor(DataType::kINT32, Dims{3, 1}, {1 << 12, 1 << 12, 1 << 12});
  const HostTensor y = runSingleOutput(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        net.markOutput(
            *net.addMatrixMultiply(*in[0], MatrixOperation::kNONE, *in[1], MatrixOperation::kNONE)->getOutput(0));
      },
      {{"a", a}, {"b", b}});
  expectEqual(y, makeTensor(DataType::kINT32, Dims{1, 1}, {0}));
}

TEST(MatrixMultiply, EmptyContractionGivesZeros) {
  const HostTensor a = makeTensor(DataType::kFLOAT, Dims{2, 0}, {});
  const HostTensor b = makeTensor(DataType::kFLOAT, Dims{0, 3}, {});
  const HostTensor y = runSingleOutput(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        net.markOutput(
            *net.addMatrixMultiply(*in[0], MatrixOperation::kNONE, *in[1], MatrixOperation::kNONE)->getOutput(0));
      },
      {{"a", a}, {"b", b}}, /*alsoDynamic=*/false);
  expectEqual(y, makeTensor(DataType::kFLOAT, Dims{2, 3}, {0, 0, 0, 0, 0, 0}));
}

TEST(MatrixMultiply, DynamicBatchAndRowsInferMinusOne) {
  NetworkDefinition net;
  ITensor* a = net.addInput("a", DataType::kFLOAT, Dims{-1, 1, -1, 4});
  ITensor* b = net.addInput("b", DataType::kFLOAT, Dims{5, 4, 6});
  IMatrixMultiplyLayer* layer = net.addMatrixMultiply(*a, MatrixOperation::kNONE, *b, MatrixOperation::kNONE);
  ASSERT_NE(layer, nullptr) << net.status().message();
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{-1, 5, -1, 6}));
  // As a vector operand b is a [5, 4] batch of length-6 vectors: 6 no longer matches a's contraction of 4.
  layer->setOperation(1, MatrixOperation::kVECTOR);
  EXPECT_FALSE(net.validate().isOk());
}

TEST(MatrixMultiply, SetOperationReshapesTheOutput) {
  NetworkDefinition net;
  ITensor* a = net.addInput("a", DataType::kFLOAT, Dims{3, 4});
  ITensor* b = net.addInput("b", DataType::kFLOAT, Dims{3, 4});
  IMatrixMultiplyLayer* layer = net.addMatrixMultiply(*a, MatrixOperation::kNONE, *b, MatrixOperation::kTRANSPOSE);
  ASSERT_NE(layer, nullptr) << net.status().message();
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{3, 3}));
  layer->setOperation(0, MatrixOperation::kTRANSPOSE);
  layer->setOperation(1, MatrixOperation::kNONE);
  EXPECT_EQ(layer->getOperation(0), MatrixOperation::kTRANSPOSE);
  EXPECT_EQ(layer->getOperation(1), MatrixOperation::kNONE);
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{4, 4}));
  EXPECT_TRUE(net.validate().isOk());
}

struct BadCase {
  const char* name;
  DataType typeA, typeB;
  Dims a, b;
  MatrixOperation op0, op1;
};

TEST(MatrixMultiplyErrors, InvalidShapesAndTypesAreRejected) {
  const BadCase cases[] = {
      {"contraction",
       DataType::kFLOAT,
       DataType::kFLOAT,
       {3, 4},
       {5, 6},
       MatrixOperation::kNONE,
       MatrixOperation::kNONE},
      {"batch",
       DataType::kFLOAT,
       DataType::kFLOAT,
       {2, 3, 4},
       {3, 4, 5},
       MatrixOperation::kNONE,
       MatrixOperation::kNONE},
      {"rank0", DataType::kFLOAT, DataType::kFLOAT, {}, {4, 5}, MatrixOperation::kNONE, MatrixOperation::kNONE},
      {"mixed types",
       DataType::kFLOAT,
       DataType::kHALF,
       {3, 4},
       {4, 5},
       MatrixOperation::kNONE,
       MatrixOperation::kNONE},
      {"int8", DataType::kINT8, DataType::kINT8, {3, 4}, {4, 5}, MatrixOperation::kNONE, MatrixOperation::kNONE},
      {"bool", DataType::kBOOL, DataType::kBOOL, {3, 4}, {4, 5}, MatrixOperation::kNONE, MatrixOperation::kNONE},
      {"bad op",
       DataType::kFLOAT,
       DataType::kFLOAT,
       {3, 4},
       {4, 5},
       static_cast<MatrixOperation>(7),
       MatrixOperation::kNONE},
      {"vector length",
       DataType::kFLOAT,
       DataType::kFLOAT,
       {3, 4},
       {5},
       MatrixOperation::kNONE,
       MatrixOperation::kVECTOR},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    NetworkDefinition net;
    ITensor* a = net.addInput("a", c.typeA, c.a);
    ITensor* b = net.addInput("b", c.typeB, c.b);
    EXPECT_EQ(net.addMatrixMultiply(*a, c.op0, *b, c.op1), nullptr);
    EXPECT_FALSE(net.status().isOk());
  }
}

TEST(MatrixMultiplyErrors, BadOperandIndexIsRecorded) {
  NetworkDefinition net;
  ITensor* a = net.addInput("a", DataType::kFLOAT, Dims{3, 4});
  ITensor* b = net.addInput("b", DataType::kFLOAT, Dims{4, 5});
  IMatrixMultiplyLayer* layer = net.addMatrixMultiply(*a, MatrixOperation::kNONE, *b, MatrixOperation::kNONE);
  ASSERT_NE(layer, nullptr);
  layer->setOperation(2, MatrixOperation::kTRANSPOSE);
  EXPECT_FALSE(net.status().isOk());
  EXPECT_EQ(layer->getOperation(2), MatrixOperation::kNONE);
}

TEST(MatrixMultiplyErrors, RunTimeShapeMismatchFailsCleanly) {
  // Both contraction dims are dynamic: consistent at build time, 4 vs 5 at run time.
  RunResult result = buildAndRun(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        net.markOutput(
            *net.addMatrixMultiply(*in[0], MatrixOperation::kNONE, *in[1], MatrixOperation::kNONE)->getOutput(0));
      },
      {{"a", randomTensor(DataType::kFLOAT, Dims{3, 4}, 1), 0b10, Dims{3, 1}, Dims{3, 8}},
       {"b", randomTensor(DataType::kFLOAT, Dims{5, 2}, 2), 0b01, Dims{1, 2}, Dims{8, 2}}});
  EXPECT_FALSE(result.status.isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
