// Breadth: the remaining elementwise, unary, shape and factory converters, and attention with masks.
#include <gtest/gtest.h>

#include <cmath>

#include "conversion/converter_test_util.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace testing {
namespace {

constexpr const char* kSDPA =
    "aten::scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_mask=None, "
    "float dropout_p=0., bool is_causal=False, *, float? scale=None, bool enable_gqa=False) -> Tensor";
constexpr const char* kFLASH_CPU =
    "aten::_scaled_dot_product_flash_attention_for_cpu(Tensor query, Tensor key, Tensor value, float dropout_p=0., "
    "bool is_causal=False, *, Tensor? attn_mask=None, float? scale=None) -> (Tensor output, Tensor logsumexp)";

TEST(ConvertersMiscTest, ElementwiseAndUnaryOps) {
  GraphCase g;
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{4}, {-2.5, -1, 0.25, 4}));
  ir::Value* n = g.input("n", tensorOf(DataType::kINT64, Dims{4}, {-7, -1, 5, 9}));
  ir::Value* a = g.input("a", tensorOf(DataType::kBOOL, Dims{4}, {1, 1, 0, 0}));
  ir::Value* b = g.input("b", tensorOf(DataType::kBOOL, Dims{4}, {1, 0, 1, 0}));
  auto unaryOp = [&](const char* op, const std::string& name, const ir::Value* in, DataType type) {
    return g.call(std::string("aten::") + op + "(Tensor self) -> Tensor", name, {v(in)}, {meta({4}, type)});
  };
  ir::Node* rem = g.call("aten::remainder.Scalar(Tensor self, Scalar other) -> Tensor", "rem", {v(n), c(3)},
                         {meta({4}, DataType::kINT64)});
  ir::Node* remf =
      g.call("aten::remainder.Scalar(Tensor self, Scalar other) -> Tensor", "remf", {v(x), c(-2.0)}, {meta({4})});
  ir::Node* pw =
      g.call("aten::pow.Tensor_Scalar(Tensor self, Scalar exponent) -> Tensor", "pow", {v(x), c(2)}, {meta({4})});
  ir::Node* pw3 = g.call("aten::pow.Tensor_Scalar(Tensor self, Scalar exponent) -> Tensor", "pow3", {v(n), c(3)},
                         {meta({4}, DataType::kINT64)});
  ir::Node* mx = g.call("aten::maximum(Tensor self, Tensor other) -> Tensor", "maximum", {v(x), v(n)}, {meta({4})});
  ir::Node* ne =
      g.call("aten::ne.Scalar(Tensor self, Scalar other) -> Tensor", "ne", {v(n), c(-1)}, {meta({4}, DataType::kBOOL)});
  ir::Node* land = g.call("aten::logical_and(Tensor self, Tensor other) -> Tensor", "and", {v(a), v(b)},
                          {meta({4}, DataType::kBOOL)});
  ir::Node* lxor = g.call("aten::logical_xor(Tensor self, Tensor other) -> Tensor", "xor", {v(a), v(n)},
                          {meta({4}, DataType::kBOOL)});
  ir::Node* ex = unaryOp("exp", "exp", x, DataType::kFLOAT);
  ir::Node* rs = unaryOp("rsqrt", "rsqrt", n, DataType::kFLOAT);  // int64 -> float32
  ir::Node* ab = unaryOp("abs", "abs", n, DataType::kINT64);
  ir::Node* fl = unaryOp("floor", "floor", x, DataType::kFLOAT);
  ir::Node* ng = unaryOp("neg", "neg", x, DataType::kFLOAT);
  ir::Node* er = unaryOp("erf", "erf", x, DataType::kFLOAT);
  g.outputs({rem->output(0), remf->output(0), pw->output(0), pw3->output(0), mx->output(0), ne->output(0),
             land->output(0), lxor->output(0), ex->output(0), rs->output(0), ab->output(0), fl->output(0),
             ng->output(0), er->output(0)});
  auto out = g.run();
  expectValues(out["rem"], DataType::kINT64, Dims{4}, {2, 2, 2, 0});
  expectValues(out["remf"], DataType::kFLOAT, Dims{4}, {-0.5, -1, -1.75, 0});
  expectValues(out["pow"], DataType::kFLOAT, Dims{4}, {6.25, 1, 0.0625, 16});
  expectValues(out["pow3"], DataType::kINT64, Dims{4}, {-343, -1, 125, 729});
  expectValues(out["maximum"], DataType::kFLOAT, Dims{4}, {-2.5, -1, 5, 9});
  expectValues(out["ne"], DataType::kBOOL, Dims{4}, {1, 0, 1, 1});
  expectValues(out["and"], DataType::kBOOL, Dims{4}, {1, 0, 0, 0});
  expectValues(out["xor"], DataType::kBOOL, Dims{4}, {0, 0, 1, 1});
  expectValues(out["exp"], DataType::kFLOAT, Dims{4}, {std::exp(-2.5), std::exp(-1), std::exp(0.25), std::exp(4)});
  expectValues(out["rsqrt"], DataType::kFLOAT, Dims{4}, {NAN, NAN, 1 / std::sqrt(5.0), 1 / 3.0});
  expectValues(out["abs"], DataType::kINT64, Dims{4}, {7, 1, 5, 9});
  expectValues(out["floor"], DataType::kFLOAT, Dims{4}, {-3, -1, 0, 4});
  expectValues(out["neg"], DataType::kFLOAT, Dims{4}, {2.5, 1, -0.25, -4});
  expectValues(out["erf"], DataType::kFLOAT, Dims{4}, {std::erf(-2.5), std::erf(-1), std::erf(0.25), std::erf(4)});
}

TEST(ConvertersMiscTest, ShapeOpsAndFactories) {
  GraphCase g;
  const std::vector<double> xv = ramp(2 * 3, -1, 1, 21);
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 3}, xv), {-1, 3});
  ir::Node* t = g.call("aten::t(Tensor(a) self) -> Tensor(a)", "t", {v(x)}, {meta({3, -1})});
  ir::Node* tr = g.call("aten::transpose.int(Tensor(a) self, int dim0, int dim1) -> Tensor(a)", "transpose",
                        {v(x), c(-1), c(0)}, {meta({3, -1})});
  ir::Node* un =
      g.call("aten::unsqueeze(Tensor(a) self, int dim) -> Tensor(a)", "unsq", {v(x), c(-1)}, {meta({-1, 3, 1})});
  ir::Node* sq =
      g.call("aten::squeeze.dim(Tensor(a) self, int dim) -> Tensor(a)", "squeeze", {v(un), c(2)}, {meta({-1, 3})});
  ir::Node* range = g.call(
      "aten::arange.start_step(Scalar start, Scalar end, Scalar step=1, *, "
      "ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
      "bool? pin_memory=None) -> Tensor",
      "arange", {c(1), c(8), c(3)}, {meta({3}, DataType::kINT64)});
  ir::Node* scalar = g.call(
      "aten::scalar_tensor(Scalar s, *, ScalarType? dtype=None, Layout? layout=None, "
      "Device? device=None, bool? pin_memory=None) -> Tensor",
      "scalar", {c(-1.5)}, {meta({})}, {{"device", c("cpu")}});
  ir::Node* ones = g.call(
      "aten::ones_like(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, "
      "Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
      "ones", {v(x)}, {meta({-1, 3}, DataType::kINT32)}, {{"dtype", c(3)}});
  ir::Node* fill = g.call("aten::masked_fill.Scalar(Tensor self, Tensor mask, Scalar value) -> Tensor", "masked",
                          {v(x),
                           v(g.call("aten::gt.Scalar(Tensor self, Scalar other) -> Tensor", "gt", {v(x), c(0)},
                                    {meta({-1, 3}, DataType::kBOOL)})),
                           c(9)},
                          {meta({-1, 3})});
  g.outputs({t->output(0), tr->output(0), sq->output(0), range->output(0), scalar->output(0), ones->output(0),
             fill->output(0)});
  auto out = g.run();
  const std::vector<double> transposed = {xv[0], xv[3], xv[1], xv[4], xv[2], xv[5]};
  expectValues(out["t"], DataType::kFLOAT, Dims{3, 2}, transposed);
  expectValues(out["transpose"], DataType::kFLOAT, Dims{3, 2}, transposed);
  expectValues(out["squeeze"], DataType::kFLOAT, Dims{2, 3}, xv);
  expectValues(out["arange"], DataType::kINT64, Dims{3}, {1, 4, 7});
  expectValues(out["scalar"], DataType::kFLOAT, Dims{}, {-1.5});
  expectValues(out["ones"], DataType::kINT32, Dims{2, 3}, std::vector<double>(6, 1.0));
  std::vector<double> masked;
  for (double e : xv) masked.push_back(e > 0 ? 9 : e);
  expectValues(out["masked"], DataType::kFLOAT, Dims{2, 3}, masked);
}

TEST(ConvertersMiscTest, SplitPiecesConcatenated) {
  GraphCase g;
  const std::vector<double> xv = ramp(2 * 4, -1, 1, 22);
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 4}, xv), {-1, 4});
  ir::Node* split = g.call("aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]",
                           "split", {v(x), c(2), c(1)}, {});
  ir::Node* cat = g.call("aten::cat(Tensor[] tensors, int dim=0) -> Tensor", "cat", {v(split), c(0)}, {meta({-1, 2})});
  g.outputs({cat->output(0)});
  auto out = g.run();
  // [x[:, :2]; x[:, 2:]]
  expectValues(out["cat"], DataType::kFLOAT, Dims{4, 2}, {xv[0], xv[1], xv[4], xv[5], xv[2], xv[3], xv[6], xv[7]});
}

TEST(ConvertersMiscTest, AttentionWithMasksAndScale) {
  const int64_t s = 3, e = 2;
  const std::vector<double> q = ramp(s * e, -1, 1, 23), k = ramp(s * e, -1, 1, 24), vv = ramp(s * e, -1, 1, 25);
  const std::vector<double> keep = {1, 0, 1, 1, 1, 0, 0, 1, 1};  // bool mask, true attends
  GraphCase g;
  ir::Value* qi = g.input("q", tensorOf(DataType::kFLOAT, Dims{1, 1, s, e}, q));
  ir::Value* ki = g.input("k", tensorOf(DataType::kFLOAT, Dims{1, 1, s, e}, k));
  ir::Value* vi = g.input("v", tensorOf(DataType::kFLOAT, Dims{1, 1, s, e}, vv));
  ir::Value* mask = g.input("mask", tensorOf(DataType::kBOOL, Dims{s, s}, keep));
  std::vector<double> additive;
  for (double m : keep) additive.push_back(m != 0 ? 0.0 : -1e9);
  ir::Value* bias = g.input("bias", tensorOf(DataType::kFLOAT, Dims{s, s}, additive));
  ir::Node* masked = g.call(kSDPA, "masked", {v(qi), v(ki), v(vi), v(mask)}, {meta({1, 1, s, e})}, {{"scale", c(0.7)}});
  ir::Node* flash = g.call(kFLASH_CPU, "flash", {v(qi), v(ki), v(vi)}, {meta({1, 1, s, e}), meta({1, 1, s})},
                           {{"attn_mask", v(bias)}, {"scale", c(0.7)}});
  g.outputs({masked->output(0), flash->output(0)});
  EXPECT_TRUE(g.supported(flash));
  auto out = g.run();
  std::vector<double> expected(static_cast<size_t>(s * e), 0.0);
  for (int64_t i = 0; i < s; ++i) {
    std::vector<double> w(static_cast<size_t>(s));
    double sum = 0;
    for (int64_t j = 0; j < s; ++j) {
      double dot = 0;
      for (int64_t d = 0; d < e; ++d) dot += q[static_cast<size_t>(i * e + d)] * k[static_cast<size_t>(j * e + d)];
      w[static_cast<size_t>(j)] = keep[static_cast<size_t>(i * s + j)] != 0 ? std::exp(0.7 * dot) : 0.0;
      sum += w[static_cast<size_t>(j)];
    }
    for (int64_t j = 0; j < s; ++j) {
      for (int64_t d = 0; d < e; ++d) {
        expected[static_cast<size_t>(i * e + d)] +=
            w[static_cast<size_t>(j)] / sum * vv[static_cast<size_t>(j * e + d)];
      }
    }
  }
  expectValues(out["masked"], DataType::kFLOAT, Dims{1, 1, s, e}, expected, 1e-5);
  expectValues(out["flash.0"], DataType::kFLOAT, Dims{1, 1, s, e}, expected, 1e-5);

  // The log-sum-exp output is not computed: reading it keeps the node in PyTorch.
  GraphCase lse;
  ir::Value* lq = lse.input("q", tensorOf(DataType::kFLOAT, Dims{1, 1, s, e}, q));
  ir::Node* both = lse.call(kFLASH_CPU, "flash", {v(lq), v(lq), v(lq)}, {meta({1, 1, s, e}), meta({1, 1, s})});
  lse.outputs({both->output(0), both->output(1)});
  EXPECT_FALSE(lse.supported(both));
}

}  // namespace
}  // namespace testing
}  // namespace conversion
}  // namespace kiln
