// The library's ATen converters end to end: IR graphs as torch.export writes them, converted with the global
// registry, run on the CPU backend and compared with references computed here.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "conversion/converter_test_util.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace testing {
namespace {

constexpr const char* kCONV =
    "aten::convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, "
    "SymInt[] dilation, bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor";
constexpr const char* kBN =
    "aten::_native_batch_norm_legit_no_training(Tensor input, Tensor? weight, Tensor? bias, Tensor running_mean, "
    "Tensor running_var, float momentum, float eps) -> (Tensor, Tensor, Tensor)";
constexpr const char* kRELU = "aten::relu(Tensor self) -> Tensor";
constexpr const char* kPERMUTE = "aten::permute(Tensor(a) self, int[] dims) -> Tensor(a)";
constexpr const char* kADDMM =
    "aten::addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor";
constexpr const char* kLINEAR = "aten::linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor";
constexpr const char* kSOFTMAX = "aten::_softmax(Tensor self, int dim, bool half_to_float) -> Tensor";
constexpr const char* kLOG_SOFTMAX = "aten::_log_softmax(Tensor self, int dim, bool half_to_float) -> Tensor";
constexpr const char* kLAYER_NORM =
    "aten::native_layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias, float eps) -> "
    "(Tensor, Tensor, Tensor)";
constexpr const char* kADD = "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";
constexpr const char* kSUB = "aten::sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";
constexpr const char* kMUL = "aten::mul.Tensor(Tensor self, Tensor other) -> Tensor";
constexpr const char* kDIV = "aten::div.Tensor(Tensor self, Tensor other) -> Tensor";
constexpr const char* kDIV_MODE = "aten::div.Tensor_mode(Tensor self, Tensor other, *, str? rounding_mode) -> Tensor";
constexpr const char* kRSUB = "aten::rsub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor";
constexpr const char* kEQ_SCALAR = "aten::eq.Scalar(Tensor self, Scalar other) -> Tensor";
constexpr const char* kGE = "aten::ge.Tensor(Tensor self, Tensor other) -> Tensor";
constexpr const char* kWHERE = "aten::where.self(Tensor condition, Tensor self, Tensor other) -> Tensor";
constexpr const char* kEMBEDDING =
    "aten::embedding(Tensor weight, Tensor indices, SymInt padding_idx=-1, bool scale_grad_by_freq=False, "
    "bool sparse=False) -> Tensor";
constexpr const char* kSDPA =
    "aten::scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_mask=None, "
    "float dropout_p=0., bool is_causal=False, *, float? scale=None, bool enable_gqa=False) -> Tensor";

// ---- convolution + batch norm + relu ---------------------------------------------------------------------

TEST(ConvertersTest, ConvBatchNormRelu) {
  const int64_t n = 2, cin = 2, h = 5, w = 5, cout = 3, k = 3;
  const std::vector<double> xv = ramp(n * cin * h * w, -1, 1, 1), wv = ramp(cout * cin * k * k, -0.5, 0.5, 2);
  const std::vector<double> bv = {0.1, -0.2, 0.3}, gamma = {1.5, 0.5, -1.0}, beta = {0.0, 0.25, -0.5};
  const std::vector<double> mean = {0.1, -0.1, 0.2}, var = {0.5, 2.0, 1.0};
  const double eps = 1e-5;
  for (bool dynamicBatch : {false, true}) {
    SCOPED_TRACE(dynamicBatch ? "dynamic batch" : "static");
    GraphCase g;
    const int64_t b = dynamicBatch ? -1 : n;
    ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{n, cin, h, w}, xv), {b, cin, h, w});
    ir::Value* wt = g.weight("conv_weight", tensorOf(DataType::kFLOAT, Dims{cout, cin, k, k}, wv));
    ir::Value* bias = g.weight("conv_bias", tensorOf(DataType::kFLOAT, Dims{cout}, bv));
    ir::Node* conv = g.call(
        kCONV, "conv", {v(x), v(wt), v(bias), ints({1, 1}), ints({1, 1}), ints({1, 1}), c(false), ints({0, 0}), c(1)},
        {meta({b, cout, h, w})});
    std::vector<ir::Value*> p;
    for (const auto& [name, values] : std::vector<std::pair<std::string, std::vector<double>>>{
             {"bn_weight", gamma}, {"bn_bias", beta}, {"bn_mean", mean}, {"bn_var", var}}) {
      p.push_back(g.weight(name, tensorOf(DataType::kFLOAT, Dims{cout}, values)));
    }
    ir::Node* bn = g.call(kBN, "bn", {v(conv), v(p[0]), v(p[1]), v(p[2]), v(p[3]), c(0.1), c(eps)},
                          {meta({b, cout, h, w}), meta({0}), meta({0})});
    ir::Node* relu = g.call(kRELU, "relu", {v(bn, 0)}, {meta({b, cout, h, w})});
    g.outputs({relu->output(0)});
    auto out = g.run();

    std::vector<double> expected(static_cast<size_t>(n * cout * h * w));
    for (int64_t bi = 0; bi < n; ++bi) {
      for (int64_t o = 0; o < cout; ++o) {
        for (int64_t y = 0; y < h; ++y) {
          for (int64_t xx = 0; xx < w; ++xx) {
            double acc = bv[static_cast<size_t>(o)];
            for (int64_t ci = 0; ci < cin; ++ci) {
              for (int64_t ky = 0; ky < k; ++ky) {
                for (int64_t kx = 0; kx < k; ++kx) {
                  const int64_t iy = y + ky - 1, ix = xx + kx - 1;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                  acc += xv[static_cast<size_t>(((bi * cin + ci) * h + iy) * w + ix)] *
                         wv[static_cast<size_t>(((o * cin + ci) * k + ky) * k + kx)];
                }
              }
            }
            const auto c0 = static_cast<size_t>(o);
            const double normed = (acc - mean[c0]) / std::sqrt(var[c0] + eps) * gamma[c0] + beta[c0];
            expected[static_cast<size_t>(((bi * cout + o) * h + y) * w + xx)] = std::max(normed, 0.0);
          }
        }
      }
    }
    expectValues(out["relu"], DataType::kFLOAT, Dims{n, cout, h, w}, expected, 1e-4);
  }
}

// ---- linear layers ------------------------------------------------------------------------------------------

TEST(ConvertersTest, AddmmWithPermutedWeightIsLinear) {
  GraphCase g;
  const std::vector<double> xv = ramp(2 * 4, -1, 1, 3), wv = ramp(3 * 4, -1, 1, 4), bv = {0.5, -1, 2};
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 4}, xv), {-1, 4});
  ir::Value* w = g.weight("fc_weight", tensorOf(DataType::kFLOAT, Dims{3, 4}, wv));
  ir::Value* b = g.weight("fc_bias", tensorOf(DataType::kFLOAT, Dims{3}, bv));
  ir::Node* wt = g.call(kPERMUTE, "permute", {v(w), ints({1, 0})}, {meta({4, 3})});
  ir::Node* mm = g.call(kADDMM, "addmm", {v(b), v(x), v(wt)}, {meta({-1, 3})});
  ir::Node* mm2 =
      g.call(kADDMM, "addmm_scaled", {v(b), v(x), v(wt)}, {meta({-1, 3})}, {{"beta", c(0.5)}, {"alpha", c(2.0)}});
  ir::Node* lin = g.call(kLINEAR, "linear", {v(x), v(w), v(b)}, {meta({-1, 3})});
  g.outputs({mm->output(0), mm2->output(0), lin->output(0)});
  auto out = g.run();
  std::vector<double> expected(6), scaled(6);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      double acc = 0;
      for (int k = 0; k < 4; ++k) acc += xv[static_cast<size_t>(i * 4 + k)] * wv[static_cast<size_t>(j * 4 + k)];
      expected[static_cast<size_t>(i * 3 + j)] = acc + bv[static_cast<size_t>(j)];
      scaled[static_cast<size_t>(i * 3 + j)] = 2 * acc + 0.5 * bv[static_cast<size_t>(j)];
    }
  }
  expectValues(out["addmm"], DataType::kFLOAT, Dims{2, 3}, expected);
  expectValues(out["addmm_scaled"], DataType::kFLOAT, Dims{2, 3}, scaled);
  expectValues(out["linear"], DataType::kFLOAT, Dims{2, 3}, expected);
}

// ---- softmax and layer norm -----------------------------------------------------------------------------

TEST(ConvertersTest, SoftmaxAndLogSoftmax) {
  GraphCase g;
  const std::vector<double> xv = {1, 2, 3, 4, -1, 0, 100, 101, 99, 100};
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 5}, xv));
  ir::Node* sm = g.call(kSOFTMAX, "softmax", {v(x), c(-1), c(false)}, {meta({2, 5})});
  ir::Node* lsm = g.call(kLOG_SOFTMAX, "log_softmax", {v(x), c(1), c(false)}, {meta({2, 5})});
  ir::Node* sm0 = g.call(kSOFTMAX, "softmax_dim0", {v(x), c(0), c(false)}, {meta({2, 5})});
  g.outputs({sm->output(0), lsm->output(0), sm0->output(0)});
  auto out = g.run();
  std::vector<double> soft(10), logSoft(10), soft0(10);
  for (int r = 0; r < 2; ++r) {
    double mx = -1e300, sum = 0;
    for (int i = 0; i < 5; ++i) mx = std::max(mx, xv[static_cast<size_t>(r * 5 + i)]);
    for (int i = 0; i < 5; ++i) sum += std::exp(xv[static_cast<size_t>(r * 5 + i)] - mx);
    for (int i = 0; i < 5; ++i) {
      const double z = xv[static_cast<size_t>(r * 5 + i)] - mx;
      soft[static_cast<size_t>(r * 5 + i)] = std::exp(z) / sum;
      logSoft[static_cast<size_t>(r * 5 + i)] = z - std::log(sum);
    }
  }
  for (int i = 0; i < 5; ++i) {
    const double a = xv[static_cast<size_t>(i)], b = xv[static_cast<size_t>(5 + i)], m = std::max(a, b);
    soft0[static_cast<size_t>(i)] = std::exp(a - m) / (std::exp(a - m) + std::exp(b - m));
    soft0[static_cast<size_t>(5 + i)] = std::exp(b - m) / (std::exp(a - m) + std::exp(b - m));
  }
  expectValues(out["softmax"], DataType::kFLOAT, Dims{2, 5}, soft);
  expectValues(out["log_softmax"], DataType::kFLOAT, Dims{2, 5}, logSoft);
  expectValues(out["softmax_dim0"], DataType::kFLOAT, Dims{2, 5}, soft0);
}

TEST(ConvertersTest, LayerNormOverTheLastDim) {
  GraphCase g;
  const std::vector<double> xv = ramp(2 * 3 * 4, -2, 2, 5), wv = {1, 2, 0.5, -1}, bv = {0, 0.1, 0.2, 0.3};
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 3, 4}, xv), {-1, 3, 4});
  ir::Value* w = g.weight("ln_weight", tensorOf(DataType::kFLOAT, Dims{4}, wv));
  ir::Value* b = g.weight("ln_bias", tensorOf(DataType::kFLOAT, Dims{4}, bv));
  ir::Node* ln = g.call(kLAYER_NORM, "ln", {v(x), ints({4}), v(w), v(b), c(1e-5)},
                        {meta({-1, 3, 4}), meta({-1, 3, 1}), meta({-1, 3, 1})});
  g.outputs({ln->output(0)});
  EXPECT_TRUE(g.supported(ln));
  auto out = g.run();
  std::vector<double> expected(xv.size());
  for (size_t row = 0; row < 6; ++row) {
    double mean = 0, var = 0;
    for (size_t i = 0; i < 4; ++i) mean += xv[row * 4 + i] / 4;
    for (size_t i = 0; i < 4; ++i) var += (xv[row * 4 + i] - mean) * (xv[row * 4 + i] - mean) / 4;
    for (size_t i = 0; i < 4; ++i) {
      expected[row * 4 + i] = (xv[row * 4 + i] - mean) / std::sqrt(var + 1e-5) * wv[i] + bv[i];
    }
  }
  expectValues(out["ln.0"], DataType::kFLOAT, Dims{2, 3, 4}, expected, 1e-4);

  // The mean/rstd outputs are not computed: a graph reading them keeps the node in PyTorch.
  GraphCase used;
  ir::Value* ux = used.input("x", tensorOf(DataType::kFLOAT, Dims{1, 4}, {1, 2, 3, 4}));
  ir::Node* uln = used.call(kLAYER_NORM, "ln", {v(ux), ints({4}), none(), none(), c(1e-5)},
                            {meta({1, 4}), meta({1, 1}), meta({1, 1})});
  used.outputs({uln->output(0), uln->output(1)});
  EXPECT_FALSE(used.supported(uln));
}

// ---- view with a dynamic batch ------------------------------------------------------------------------------

TEST(ConvertersTest, ViewWithADynamicBatch) {
  GraphCase g;
  const std::vector<double> xv = ramp(3 * 6, -1, 1, 6);
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{3, 6}, xv), {-1, 6});
  ir::Node* batch = g.call("aten::sym_size.int(Tensor self, int dim) -> SymInt", "sym_size_int", {v(x), c(0)}, {});
  ir::Node* view = g.call("aten::view(Tensor(a) self, SymInt[] size) -> Tensor(a)", "view",
                          {v(x), list({v(batch), c(2), c(3)})}, {meta({-1, 2, 3})});
  // Two dynamic dims in one size list need a shape tensor (no single -1 can stand for both).
  ir::Node* expanded = g.call("aten::expand(Tensor(a) self, SymInt[] size, *, bool implicit=False) -> Tensor(a)",
                              "expand", {v(view), list({v(batch), c(2), c(3)})}, {meta({-1, 2, 3})});
  ir::Node* unsq = g.call("aten::unsqueeze(Tensor(a) self, int dim) -> Tensor(a)", "unsqueeze", {v(expanded), c(1)},
                          {meta({-1, 1, 2, 3})});
  ir::Node* back = g.call("aten::view(Tensor(a) self, SymInt[] size) -> Tensor(a)", "flat",
                          {v(unsq), list({v(batch), c(-1)})}, {meta({-1, 6})});
  ir::Node* reshaped = g.call("aten::reshape(Tensor(a) self, SymInt[] shape) -> Tensor(a)", "reshape",
                              {v(x), list({c(-1), c(3)})}, {meta({-1, 3})});
  g.outputs({view->output(0), back->output(0), reshaped->output(0)});
  EXPECT_TRUE(g.supported(batch));
  auto out = g.run();
  expectValues(out["view"], DataType::kFLOAT, Dims{3, 2, 3}, xv);
  expectValues(out["flat"], DataType::kFLOAT, Dims{3, 6}, xv);
  expectValues(out["reshape"], DataType::kFLOAT, Dims{6, 3}, xv);
}

// ---- scalar operands and type promotion ----------------------------------------------------------------------

TEST(ConvertersTest, AddWithScalarTypePromotion) {
  GraphCase g;
  ir::Value* i32 = g.input("i32", tensorOf(DataType::kINT32, Dims{4}, {1, -2, 3, 7}));
  ir::Value* i64 = g.input("i64", tensorOf(DataType::kINT64, Dims{4}, {10, 20, 30, 40}));
  ir::Value* f = g.input("f", tensorOf(DataType::kFLOAT, Dims{4}, {0.5, 1.5, -2, 4}));
  ir::Value* flag = g.input("flag", tensorOf(DataType::kBOOL, Dims{4}, {1, 0, 1, 0}));
  // int32 tensor + Python float -> float32; int32 + int64 -> int64; bool + bool stays bool (logical or).
  ir::Node* a = g.call(kADD, "int_plus_float", {v(i32), c(1.5)}, {meta({4})});
  ir::Node* b = g.call(kADD, "int32_plus_int64", {v(i32), v(i64)}, {meta({4}, DataType::kINT64)});
  ir::Node* cc = g.call(kADD, "int_plus_int_alpha", {v(i32), c(3)}, {meta({4}, DataType::kINT32)}, {{"alpha", c(2)}});
  ir::Node* d = g.call(kADD, "bool_plus_bool", {v(flag), v(flag)}, {meta({4}, DataType::kBOOL)});
  ir::Node* e = g.call(kMUL, "bool_times_int", {v(flag), v(i64)}, {meta({4}, DataType::kINT64)});
  ir::Node* q = g.call(kDIV, "int_div_int", {v(i32), c(2)}, {meta({4})});
  ir::Node* fl =
      g.call(kDIV_MODE, "floor_div", {v(i32), c(2)}, {meta({4}, DataType::kINT32)}, {{"rounding_mode", c("floor")}});
  ir::Node* tr = g.call(kDIV_MODE, "trunc_div", {v(f), c(1.0)}, {meta({4})}, {{"rounding_mode", c("trunc")}});
  ir::Node* s = g.call(kSUB, "sub_alpha", {v(f), v(i32)}, {meta({4})}, {{"alpha", c(2)}});
  ir::Node* r = g.call(kRSUB, "rsub", {v(i64), c(1)}, {meta({4}, DataType::kINT64)});
  g.outputs({a->output(0), b->output(0), cc->output(0), d->output(0), e->output(0), q->output(0), fl->output(0),
             tr->output(0), s->output(0), r->output(0)});
  auto out = g.run();
  expectValues(out["int_plus_float"], DataType::kFLOAT, Dims{4}, {2.5, -0.5, 4.5, 8.5});
  expectValues(out["int32_plus_int64"], DataType::kINT64, Dims{4}, {11, 18, 33, 47});
  expectValues(out["int_plus_int_alpha"], DataType::kINT32, Dims{4}, {7, 4, 9, 13});
  expectValues(out["bool_plus_bool"], DataType::kBOOL, Dims{4}, {1, 0, 1, 0});
  expectValues(out["bool_times_int"], DataType::kINT64, Dims{4}, {10, 0, 30, 0});
  expectValues(out["int_div_int"], DataType::kFLOAT, Dims{4}, {0.5, -1, 1.5, 3.5});
  expectValues(out["floor_div"], DataType::kINT32, Dims{4}, {0, -1, 1, 3});
  expectValues(out["trunc_div"], DataType::kFLOAT, Dims{4}, {0, 1, -2, 4});
  expectValues(out["sub_alpha"], DataType::kFLOAT, Dims{4}, {-1.5, 5.5, -8, -10});
  expectValues(out["rsub"], DataType::kINT64, Dims{4}, {-9, -19, -29, -39});
}

// ---- where / eq -------------------------------------------------------------------------------------------------

TEST(ConvertersTest, WhereWithEqualityMask) {
  GraphCase g;
  const double inf = std::numeric_limits<double>::infinity();
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 3}, {0, 1, -inf, 2, -inf, 0}), {-1, 3});
  ir::Value* y = g.input("y", tensorOf(DataType::kFLOAT, Dims{3}, {10, 20, 30}));
  ir::Node* masked = g.call(kEQ_SCALAR, "eq", {v(x), c(-inf)}, {meta({-1, 3}, DataType::kBOOL)});
  ir::Node* w = g.call(kWHERE, "where", {v(masked), v(y), v(x)}, {meta({-1, 3})});
  // A Python number as a branch: int 0 with a float tensor stays float32.
  ir::Node* w0 = g.call(kWHERE, "where_zero", {v(masked), c(0), v(x)}, {meta({-1, 3})});
  ir::Node* ge = g.call(kGE, "ge", {v(x), v(y)}, {meta({-1, 3}, DataType::kBOOL)});
  g.outputs({masked->output(0), w->output(0), w0->output(0), ge->output(0)});
  auto out = g.run();
  expectValues(out["eq"], DataType::kBOOL, Dims{2, 3}, {0, 0, 1, 0, 1, 0});
  expectValues(out["where"], DataType::kFLOAT, Dims{2, 3}, {0, 1, 30, 2, 20, 0});
  expectValues(out["where_zero"], DataType::kFLOAT, Dims{2, 3}, {0, 1, 0, 2, 0, 0});
  expectValues(out["ge"], DataType::kBOOL, Dims{2, 3}, {0, 0, 0, 0, 0, 0});
}

// ---- embedding --------------------------------------------------------------------------------------------------

TEST(ConvertersTest, EmbeddingGathersRows) {
  GraphCase g;
  const std::vector<double> table = ramp(5 * 3, -1, 1, 7);
  ir::Value* ids = g.input("ids", tensorOf(DataType::kINT64, Dims{2, 2}, {4, 0, 2, 4}), {-1, 2});
  ir::Value* w = g.weight("emb_weight", tensorOf(DataType::kFLOAT, Dims{5, 3}, table));
  ir::Node* e = g.call(kEMBEDDING, "embedding", {v(w), v(ids)}, {meta({-1, 2, 3})});
  g.outputs({e->output(0)});
  auto out = g.run();
  std::vector<double> expected;
  for (int id : {4, 0, 2, 4}) {
    for (int j = 0; j < 3; ++j) expected.push_back(table[static_cast<size_t>(id * 3 + j)]);
  }
  expectValues(out["embedding"], DataType::kFLOAT, Dims{2, 2, 3}, expected);
}

// ---- attention --------------------------------------------------------------------------------------------------

// softmax(q k^T / sqrt(E) [+ causal mask]) v for [B, H, S, E] tensors, in double.
std::vector<double> attentionReference(const std::vector<double>& q, const std::vector<double>& k,
                                       const std::vector<double>& vv, int64_t bh, int64_t s, int64_t e, bool causal) {
  std::vector<double> out(static_cast<size_t>(bh * s * e), 0.0);
  for (int64_t b = 0; b < bh; ++b) {
    for (int64_t i = 0; i < s; ++i) {
      std::vector<double> scores(static_cast<size_t>(s), -std::numeric_limits<double>::infinity());
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < s; ++j) {
        if (causal && j > i) continue;
        double dot = 0;
        for (int64_t d = 0; d < e; ++d) {
          dot += q[static_cast<size_t>((b * s + i) * e + d)] * k[static_cast<size_t>((b * s + j) * e + d)];
        }
        scores[static_cast<size_t>(j)] = dot / std::sqrt(static_cast<double>(e));
        mx = std::max(mx, scores[static_cast<size_t>(j)]);
      }
      double sum = 0;
      for (double& sc : scores) sum += (sc = std::exp(sc - mx));
      for (int64_t j = 0; j < s; ++j) {
        for (int64_t d = 0; d < e; ++d) {
          out[static_cast<size_t>((b * s + i) * e + d)] +=
              scores[static_cast<size_t>(j)] / sum * vv[static_cast<size_t>((b * s + j) * e + d)];
        }
      }
    }
  }
  return out;
}

TEST(ConvertersTest, ScaledDotProductAttentionCausal) {
  const int64_t b = 1, h = 2, s = 4, e = 3;
  const std::vector<double> q = ramp(b * h * s * e, -1, 1, 8), k = ramp(b * h * s * e, -1, 1, 9),
                            vv = ramp(b * h * s * e, -1, 1, 10);
  GraphCase g;
  ir::Value* qi = g.input("q", tensorOf(DataType::kFLOAT, Dims{b, h, s, e}, q), {-1, h, s, e});
  ir::Value* ki = g.input("k", tensorOf(DataType::kFLOAT, Dims{b, h, s, e}, k), {-1, h, s, e});
  ir::Value* vi = g.input("v", tensorOf(DataType::kFLOAT, Dims{b, h, s, e}, vv), {-1, h, s, e});
  ir::Node* causal = g.call(kSDPA, "causal", {v(qi), v(ki), v(vi)}, {meta({-1, h, s, e})}, {{"is_causal", c(true)}});
  ir::Node* full = g.call(kSDPA, "full", {v(qi), v(ki), v(vi)}, {meta({-1, h, s, e})});
  g.outputs({causal->output(0), full->output(0)});
  auto out = g.run();
  expectValues(out["causal"], DataType::kFLOAT, Dims{b, h, s, e}, attentionReference(q, k, vv, b * h, s, e, true),
               1e-4);
  expectValues(out["full"], DataType::kFLOAT, Dims{b, h, s, e}, attentionReference(q, k, vv, b * h, s, e, false), 1e-4);

  // Dropout is random: such nodes stay in PyTorch.
  GraphCase dropout;
  ir::Value* dq = dropout.input("q", tensorOf(DataType::kFLOAT, Dims{b, h, s, e}, q));
  ir::Node* d = dropout.call(kSDPA, "sdpa", {v(dq), v(dq), v(dq)}, {meta({b, h, s, e})}, {{"dropout_p", c(0.1)}});
  EXPECT_FALSE(dropout.supported(d));
}

}  // namespace
}  // namespace testing
}  // namespace conversion
}  // namespace kiln
