// Attention layers against a double-precision reference of PyTorch's scaled_dot_product_attention (math
// backend): masks (bool and additive, broadcast), causal, custom scale, grouped-query heads, broadcast batch
// dims, Sq != Sk, fully masked rows, each float type, static and dynamic shapes, and invalid configurations.
#include <cmath>
#include <limits>

#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

enum class MaskKind { kNONE, kBOOL, kADDITIVE };

struct AttentionCase {
  const char* name;
  Dims q, k, v;
  MaskKind maskKind = MaskKind::kNONE;
  Dims mask{};
  bool causal = false;
  float scale = 0.f;  // 0: default
};

// Offset of `index` (an index into `full`) in a tensor of `dims` that broadcasts to `full` (aligned right).
int64_t broadcastOffset(const std::vector<int64_t>& index, const Dims& full, const Dims& dims) {
  int64_t offset = 0;
  const int32_t shift = full.nbDims - dims.nbDims;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    const int64_t at = dims.d[i] == 1 ? 0 : index[static_cast<size_t>(i + shift)];
    offset = offset * dims.d[i] + at;
  }
  return offset;
}

// softmax(scale * Q K^T + mask) V in double; a row with every score -inf gives zeros (PyTorch's _safe_softmax).
std::vector<double> referenceAttention(const AttentionCase& c, const HostTensor& qt, const HostTensor& kt,
                                       const HostTensor& vt, const HostTensor* maskTensor, Dims& outDims) {
  const std::vector<double> q = toDoubles(qt), k = toDoubles(kt), v = toDoubles(vt);
  const std::vector<double> m = maskTensor != nullptr ? toDoubles(*maskTensor) : std::vector<double>{};
  const int32_t rank = c.q.nbDims;
  const int64_t hq = c.q.d[rank - 3], e = c.q.d[rank - 1];
  const int64_t hk = c.k.d[rank - 3], sk = c.k.d[rank - 2], ev = c.v.d[rank - 1];
  outDims = c.q;
  for (int32_t i = 0; i < rank - 3; ++i) outDims.d[i] = std::max({c.q.d[i], c.k.d[i], c.v.d[i]});
  outDims.d[rank - 1] = ev;
  Dims scores = outDims;
  scores.d[rank - 1] = sk;
  const double scale = c.scale != 0.f ? c.scale : 1.0 / std::sqrt(static_cast<double>(e));
  std::vector<double> out(static_cast<size_t>(volume(outDims)));
  std::vector<int64_t> index(static_cast<size_t>(rank));
  std::vector<double> row(static_cast<size_t>(sk));
  const int64_t rows = volume(outDims) / ev;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t rest = r;
    for (int32_t d = rank - 2; d >= 0; --d) {
      index[static_cast<size_t>(d)] = rest % outDims.d[d];
      rest /= outDims.d[d];
    }
    const int64_t head = index[static_cast<size_t>(rank - 3)], i = index[static_cast<size_t>(rank - 2)];
    std::vector<int64_t> qi = index, ki = index;
    ki[static_cast<size_t>(rank - 3)] = head / (hq / hk);
    double maxScore = -kInf;
    for (int64_t j = 0; j < sk; ++j) {
      double s = 0;
      ki[static_cast<size_t>(rank - 2)] = j;
      for (int64_t x = 0; x < e; ++x) {
        qi[static_cast<size_t>(rank - 1)] = x;
        ki[static_cast<size_t>(rank - 1)] = x;
        s += q[static_cast<size_t>(broadcastOffset(qi, outDims, c.q))] *
             k[static_cast<size_t>(broadcastOffset(ki, outDims, c.k))];
      }
      s *= scale;
      if (c.causal && j > i) s = -kInf;
      if (maskTensor != nullptr) {
        std::vector<int64_t> mi = index;
        mi[static_cast<size_t>(rank - 1)] = j;
        const double mv = m[static_cast<size_t>(broadcastOffset(mi, scores, c.mask))];
        if (c.maskKind == MaskKind::kBOOL) {
          if (mv == 0) s = -kInf;
        } else {
          s += mv;
        }
      }
      row[static_cast<size_t>(j)] = s;
      maxScore = std::max(maxScore, s);
    }
    for (int64_t y = 0; y < ev; ++y) {
      double acc = 0, sum = 0;
      if (maxScore != -kInf) {
        for (int64_t j = 0; j < sk; ++j) {
          const double p = std::exp(row[static_cast<size_t>(j)] - maxScore);
          std::vector<int64_t> vi = index;
          vi[static_cast<size_t>(rank - 3)] = head / (hq / hk);
          vi[static_cast<size_t>(rank - 2)] = j;
          vi[static_cast<size_t>(rank - 1)] = y;
          acc += p * v[static_cast<size_t>(broadcastOffset(vi, outDims, c.v))];
          sum += p;
        }
      }
      out[static_cast<size_t>(r * ev + y)] = sum > 0 ? acc / sum : 0.0;
    }
  }
  return out;
}

HostTensor makeMask(const AttentionCase& c, DataType floatType, uint64_t seed) {
  if (c.maskKind == MaskKind::kBOOL) {
    // About a quarter of the keys masked.
    const HostTensor r = randomTensor(DataType::kFLOAT, c.mask, seed, 0.0, 1.0);
    std::vector<double> keep;
    for (double x : toDoubles(r)) keep.push_back(x > 0.25 ? 1 : 0);
    return makeTensor(DataType::kBOOL, c.mask, keep);
  }
  const HostTensor r = randomTensor(DataType::kFLOAT, c.mask, seed, -2.0, 2.0);
  std::vector<double> add;
  for (double x : toDoubles(r)) add.push_back(x < -1.5 ? -kInf : x);
  return makeTensor(floatType, c.mask, add);
}

// Runs with static shapes, then with every dim that is not 1 declared dynamic (dims of extent 1 broadcast and
// must stay 1 over the profile); both runs must agree.
HostTensor runStaticAndDynamic(const NetworkFn& define, const std::vector<TestInput>& inputs) {
  RunResult fixed = buildAndRun(define, inputs);
  EXPECT_TRUE(fixed.status.isOk()) << "static run: " << fixed.status.toString();
  if (!fixed.status.isOk() || fixed.ordered.empty()) return HostTensor();
  std::vector<TestInput> dynamicInputs = inputs;
  for (TestInput& in : dynamicInputs) {
    for (int32_t d = 0; d < in.value.dims.nbDims; ++d) {
      if (in.value.dims.d[d] != 1) in.dynamicMask |= 1u << d;
    }
  }
  RunResult dyn = buildAndRun(define, dynamicInputs);
  EXPECT_TRUE(dyn.status.isOk()) << "dynamic-shape run: " << dyn.status.toString();
  if (dyn.status.isOk() && !dyn.ordered.empty()) {
    EXPECT_EQ(dimsToString(dyn.ordered[0].dims), dimsToString(fixed.ordered[0].dims));
    expectSameRun(dyn.ordered[0], fixed.ordered[0]);
  }
  return fixed.ordered[0];
}

void PrintTo(const AttentionCase& c, std::ostream* os) { *os << c.name; }

class AttentionTest : public ::testing::TestWithParam<std::tuple<AttentionCase, DataType>> {};

TEST_P(AttentionTest, MatchesReference) {
  const auto [c, type] = GetParam();
  std::vector<TestInput> inputs = {{"q", randomTensor(type, c.q, 1, -2.0, 2.0)},
                                   {"k", randomTensor(type, c.k, 2, -2.0, 2.0)},
                                   {"v", randomTensor(type, c.v, 3, -2.0, 2.0)}};
  if (c.maskKind != MaskKind::kNONE) inputs.push_back({"mask", makeMask(c, type, 4)});
  const HostTensor y = runStaticAndDynamic(
      [&, c = c](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IAttentionLayer* layer = net.addAttention(*in[0], *in[1], *in[2]);
        ASSERT_NE(layer, nullptr);
        if (c.maskKind != MaskKind::kNONE) layer->setInput(3, *in[3]);
        layer->setCausal(c.causal);
        if (c.scale != 0.f) layer->setScale(c.scale);
        net.markOutput(*layer->getOutput(0));
      },
      inputs);
  Dims outDims;
  const std::vector<double> expected = referenceAttention(c, inputs[0].value, inputs[1].value, inputs[2].value,
                                                          inputs.size() > 3 ? &inputs[3].value : nullptr, outDims);
  ASSERT_EQ(y.dims, outDims);
  const double tol = type == DataType::kFLOAT ? 1e-5 : 2 * defaultAtol(type);
  expectClose(y, makeTensor(type, outDims, expected), tol, tol);
}

const AttentionCase kCases[] = {
    {"Basic", {2, 3, 5, 8}, {2, 3, 5, 8}, {2, 3, 5, 8}},
    {"Rank3", {4, 6, 16}, {4, 6, 16}, {4, 6, 16}},
    {"CrossLengthsAndValueWidth", {2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 6}},
    {"GroupedQuery", {2, 6, 5, 8}, {2, 2, 9, 8}, {2, 2, 9, 4}},
    {"MultiQuery", {1, 4, 7, 8}, {1, 1, 7, 8}, {1, 1, 7, 8}},
    {"BroadcastBatch", {2, 3, 2, 4, 8}, {1, 3, 2, 6, 8}, {2, 1, 2, 6, 8}},
    {"CustomScale", {2, 2, 5, 8}, {2, 2, 6, 8}, {2, 2, 6, 8}, MaskKind::kNONE, {}, false, 0.7f},
    {"BoolMask2d", {2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 8}, MaskKind::kBOOL, {5, 7}},
    {"BoolMaskFull", {2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 8}, MaskKind::kBOOL, {2, 3, 5, 7}},
    {"BoolMaskPerKey", {2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 8}, MaskKind::kBOOL, {2, 1, 1, 7}},
    {"AdditiveMask", {2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 8}, MaskKind::kADDITIVE, {2, 1, 5, 7}},
    {"AdditiveMaskPerHead", {2, 4, 5, 8}, {2, 2, 7, 8}, {2, 2, 7, 8}, MaskKind::kADDITIVE, {4, 1, 7}},
    {"CausalSquare", {2, 3, 9, 8}, {2, 3, 9, 8}, {2, 3, 9, 8}, MaskKind::kNONE, {}, true},
    {"CausalMoreQueries", {1, 2, 9, 8}, {1, 2, 5, 8}, {1, 2, 5, 8}, MaskKind::kNONE, {}, true},
    {"CausalMoreKeys", {1, 2, 5, 8}, {1, 2, 9, 8}, {1, 2, 9, 8}, MaskKind::kNONE, {}, true},
    {"CausalWithMask", {1, 2, 9, 8}, {1, 2, 9, 8}, {1, 2, 9, 8}, MaskKind::kBOOL, {9, 9}, true},
    // Longer than one query block (64 rows), so blocks split and causal blocks read a prefix of the keys.
    {"LongCausalGrouped", {1, 4, 150, 16}, {1, 2, 130, 16}, {1, 2, 130, 12}, MaskKind::kNONE, {}, true},
    {"LongMasked", {1, 2, 100, 16}, {1, 2, 70, 16}, {1, 2, 70, 16}, MaskKind::kADDITIVE, {100, 70}},
    // Wide heads: 64 keys a tile, so the online softmax rescales across several key blocks.
    {"ManyKeyBlocks", {1, 2, 70, 64}, {1, 2, 200, 64}, {1, 2, 200, 48}, MaskKind::kADDITIVE, {70, 200}},
    {"ManyKeyBlocksCausal", {1, 2, 200, 64}, {1, 2, 200, 64}, {1, 2, 200, 64}, MaskKind::kBOOL, {1, 200}, true},
    // BERT's padding mask (one row for every query), a GPT-2 style full bool mask with causal, and head and
    // key counts that fit no tile.
    {"RowMask", {1, 2, 128, 64}, {1, 2, 128, 64}, {1, 2, 128, 64}, MaskKind::kADDITIVE, {1, 1, 1, 128}},
    {"FullBoolMaskCausal", {2, 2, 130, 64}, {2, 2, 130, 64}, {2, 2, 130, 64}, MaskKind::kBOOL, {1, 1, 130, 130}, true},
    {"OddHeadAndKeys", {1, 2, 67, 20}, {1, 2, 65, 20}, {1, 2, 65, 20}},
};

INSTANTIATE_TEST_SUITE_P(AllCases, AttentionTest,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(DataType::kFLOAT, DataType::kHALF, DataType::kBF16)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  dataTypeName(std::get<1>(info.param));
                         });

TEST(AttentionSemantics, FullyMaskedRowsGiveZeros) {
  // Row 1 masks every key (bool), row 2 adds -inf to every key; PyTorch >= 2.5's math backend gives 0 there.
  const Dims q{1, 1, 3, 4};
  std::vector<double> keep(3 * 5, 1), add(3 * 5, 0);
  for (int j = 0; j < 5; ++j) {
    keep[5 + j] = 0;
    add[10 + j] = -kInf;
  }
  for (const bool useBool : {true, false}) {
    const HostTensor mask =
        useBool ? makeTensor(DataType::kBOOL, Dims{3, 5}, keep) : makeTensor(DataType::kFLOAT, Dims{3, 5}, add);
    const HostTensor y = runStaticAndDynamic(
        [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
          IAttentionLayer* layer = net.addAttention(*in[0], *in[1], *in[2]);
          ASSERT_NE(layer, nullptr);
          layer->setInput(3, *in[3]);
          net.markOutput(*layer->getOutput(0));
        },
        {{"q", randomTensor(DataType::kFLOAT, q, 1)},
         {"k", randomTensor(DataType::kFLOAT, Dims{1, 1, 5, 4}, 2)},
         {"v", randomTensor(DataType::kFLOAT, Dims{1, 1, 5, 4}, 3)},
         {"mask", mask}});
    const std::vector<double> out = toDoubles(y);
    for (int x = 0; x < 4; ++x) {
      EXPECT_NE(out[static_cast<size_t>(x)], 0.0);
      EXPECT_EQ(out[static_cast<size_t>((useBool ? 4 : 8) + x)], 0.0);
    }
  }
}

TEST(AttentionSemantics, RowsAttendingOnlyLaterKeyBlocks) {
  // Row r keeps keys [40 r, 40 r + 30): whole key tiles before and after it are masked, so the running max
  // starts at -inf for several tiles and later tiles contribute nothing.
  const AttentionCase c{"Bands", {1, 1, 5, 64}, {1, 1, 200, 64}, {1, 1, 200, 32}, MaskKind::kBOOL, {5, 200}};
  std::vector<double> keep(5 * 200, 0);
  for (int r = 0; r < 5; ++r) {
    for (int j = 40 * r; j < 40 * r + 30; ++j) keep[static_cast<size_t>(r * 200 + j)] = 1;
  }
  const std::vector<TestInput> inputs = {{"q", randomTensor(DataType::kFLOAT, c.q, 1, -2.0, 2.0)},
                                         {"k", randomTensor(DataType::kFLOAT, c.k, 2, -2.0, 2.0)},
                                         {"v", randomTensor(DataType::kFLOAT, c.v, 3, -2.0, 2.0)},
                                         {"mask", makeTensor(DataType::kBOOL, c.mask, keep)}};
  const HostTensor y = runStaticAndDynamic(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IAttentionLayer* layer = net.addAttention(*in[0], *in[1], *in[2]);
        ASSERT_NE(layer, nullptr);
        layer->setInput(3, *in[3]);
        net.markOutput(*layer->getOutput(0));
      },
      inputs);
  Dims outDims;
  const std::vector<double> expected =
      referenceAttention(c, inputs[0].value, inputs[1].value, inputs[2].value, &inputs[3].value, outDims);
  expectClose(y, makeTensor(DataType::kFLOAT, outDims, expected), 1e-5, 1e-5);
}

TEST(AttentionSemantics, SingleKeyReturnsItsValue) {
  // softmax over one key is 1: every query row equals the value row, whatever the scores.
  const HostTensor v = makeTensor(DataType::kFLOAT, Dims{1, 1, 1, 3}, {0.5, -2, 7});
  const HostTensor y = runStaticAndDynamic(
      [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
        IAttentionLayer* layer = net.addAttention(*in[0], *in[1], *in[2]);
        ASSERT_NE(layer, nullptr);
        layer->setScale(100.f);
        net.markOutput(*layer->getOutput(0));
      },
      {{"q", randomTensor(DataType::kFLOAT, Dims{1, 1, 2, 4}, 1)},
       {"k", randomTensor(DataType::kFLOAT, Dims{1, 1, 1, 4}, 2)},
       {"v", v}});
  expectClose(y, makeTensor(DataType::kFLOAT, Dims{1, 1, 2, 3}, {0.5, -2, 7, 0.5, -2, 7}));
}

TEST(AttentionAccessors, RoundTrip) {
  NetworkDefinition net;
  ITensor* q = net.addInput("q", DataType::kFLOAT, Dims{2, 4, 5, 8});
  ITensor* k = net.addInput("k", DataType::kFLOAT, Dims{2, 2, -1, 8});
  ITensor* v = net.addInput("v", DataType::kFLOAT, Dims{2, 2, -1, 6});
  IAttentionLayer* layer = net.addAttention(*q, *k, *v);
  ASSERT_NE(layer, nullptr);
  EXPECT_FALSE(layer->getCausal());
  EXPECT_EQ(layer->getScale(), 0.f);
  layer->setCausal(true);
  layer->setScale(0.25f);
  EXPECT_TRUE(layer->getCausal());
  EXPECT_EQ(layer->getScale(), 0.25f);
  EXPECT_EQ(layer->getOutput(0)->getDimensions(), (Dims{2, 4, 5, 6}));
  EXPECT_TRUE(net.validate().isOk()) << net.status().toString();
}

// Expects addAttention (with an optional mask) to be refused with a message containing `needle`.
void expectAttentionError(const Dims& q, const Dims& k, const Dims& v, const char* needle,
                          DataType type = DataType::kFLOAT, const Dims* mask = nullptr,
                          DataType maskType = DataType::kBOOL) {
  NetworkDefinition net;
  ITensor* qt = net.addInput("q", type, q);
  ITensor* kt = net.addInput("k", type, k);
  ITensor* vt = net.addInput("v", type, v);
  IAttentionLayer* layer = net.addAttention(*qt, *kt, *vt);
  if (layer != nullptr && mask != nullptr) layer->setInput(3, *net.addInput("mask", maskType, *mask));
  const Status status = net.validate();
  EXPECT_FALSE(status.isOk()) << needle;
  EXPECT_NE(status.message().find(needle), std::string::npos) << status.message();
}

TEST(AttentionErrors, InvalidShapesAndTypes) {
  expectAttentionError({2, 3, 5, 8}, {2, 3, 5, 7}, {2, 3, 5, 8}, "embedding");
  expectAttentionError({2, 3, 5, 8}, {2, 2, 5, 8}, {2, 2, 5, 8}, "multiple");
  expectAttentionError({2, 4, 5, 8}, {2, 2, 5, 8}, {2, 2, 6, 8}, "same heads and sequence");
  expectAttentionError({5, 8}, {5, 8}, {5, 8}, "rank");
  expectAttentionError({2, 3, 5, 8}, {3, 5, 8}, {2, 3, 5, 8}, "rank");
  expectAttentionError({2, 3, 5, 8}, {3, 3, 5, 8}, {3, 3, 5, 8}, "broadcast");
  expectAttentionError({2, 3, 5, 8}, {2, 3, 5, 8}, {2, 3, 5, 8}, "float", DataType::kINT32);
  const Dims badMask{5, 6};
  expectAttentionError({2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 8}, "mask", DataType::kFLOAT, &badMask);
  const Dims tooHighRank{1, 2, 3, 5, 7};
  expectAttentionError({2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 8}, "mask", DataType::kFLOAT, &tooHighRank);
  const Dims goodMask{5, 7};
  expectAttentionError({2, 3, 5, 8}, {2, 3, 7, 8}, {2, 3, 7, 8}, "mask", DataType::kFLOAT, &goodMask, DataType::kINT32);
}

TEST(AttentionErrors, MixedTypes) {
  NetworkDefinition net;
  ITensor* q = net.addInput("q", DataType::kFLOAT, Dims{1, 2, 3, 4});
  ITensor* k = net.addInput("k", DataType::kHALF, Dims{1, 2, 3, 4});
  ITensor* v = net.addInput("v", DataType::kFLOAT, Dims{1, 2, 3, 4});
  EXPECT_EQ(net.addAttention(*q, *k, *v), nullptr);
  EXPECT_NE(net.status().message().find("Attention"), std::string::npos) << net.status().message();
}

}  // namespace
}  // namespace testing
}  // namespace kiln
