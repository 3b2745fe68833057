// More ATen converters end to end (pooling, reductions, slicing, activations, factories, casts, the
// transformer-encoder patterns of torch.export) and the validators that keep unsupported nodes in PyTorch.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "conversion/converter_test_util.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace testing {
namespace {

constexpr const char* kMAX_POOL =
    "aten::max_pool2d_with_indices(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, "
    "int[2] dilation=1, bool ceil_mode=False) -> (Tensor, Tensor)";
constexpr const char* kAVG_POOL =
    "aten::avg_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, bool ceil_mode=False, "
    "bool count_include_pad=True, int? divisor_override=None) -> Tensor";
constexpr const char* kADAPTIVE = "aten::adaptive_avg_pool2d(Tensor self, SymInt[2] output_size) -> Tensor";
constexpr const char* kMEAN =
    "aten::mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor";
constexpr const char* kSUM =
    "aten::sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor";
constexpr const char* kAMAX = "aten::amax(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor";
constexpr const char* kANY = "aten::any.dim(Tensor self, int dim, bool keepdim=False) -> Tensor";
constexpr const char* kNOT = "aten::logical_not(Tensor self) -> Tensor";
constexpr const char* kSLICE =
    "aten::slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1) -> Tensor(a)";
constexpr const char* kSELECT = "aten::select.int(Tensor(a) self, int dim, SymInt index) -> Tensor(a)";
constexpr const char* kCAT = "aten::cat(Tensor[] tensors, int dim=0) -> Tensor";
constexpr const char* kSYM_SIZE = "aten::sym_size.int(Tensor self, int dim) -> SymInt";
constexpr const char* kGELU = "aten::gelu(Tensor self, *, str approximate=\"none\") -> Tensor";
constexpr const char* kHARDTANH = "aten::hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> Tensor";
constexpr const char* kCLAMP = "aten::clamp(Tensor self, Scalar? min=None, Scalar? max=None) -> Tensor";
constexpr const char* kHARDSWISH = "aten::hardswish(Tensor self) -> Tensor";
constexpr const char* kSIGMOID = "aten::sigmoid(Tensor self) -> Tensor";
constexpr const char* kFULL_LIKE =
    "aten::full_like(Tensor self, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, "
    "Device? device=None, bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor";
constexpr const char* kFULL =
    "aten::full(SymInt[] size, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, "
    "Device? device=None, bool? pin_memory=None) -> Tensor";
constexpr const char* kTO_COPY =
    "aten::_to_copy(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
    "bool? pin_memory=None, bool non_blocking=False, MemoryFormat? memory_format=None) -> Tensor";
constexpr const char* kCONV =
    "aten::convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, "
    "SymInt[] dilation, bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor";
constexpr const char* kEXPAND = "aten::expand(Tensor(a) self, SymInt[] size, *, bool implicit=False) -> Tensor(a)";
constexpr const char* kBMM = "aten::bmm(Tensor self, Tensor mat2) -> Tensor";
constexpr const char* kPERMUTE = "aten::permute(Tensor(a) self, int[] dims) -> Tensor(a)";
constexpr const char* kSQUEEZE = "aten::squeeze.dims(Tensor(a) self, int[] dim) -> Tensor(a)";
constexpr const char* kFLATTEN =
    "aten::flatten.using_ints(Tensor(a) self, int start_dim=0, int end_dim=-1) -> Tensor(a)";
constexpr const char* kDROPOUT = "aten::dropout(Tensor input, float p, bool train) -> Tensor";
constexpr const char* kDIV_MODE = "aten::div.Tensor_mode(Tensor self, Tensor other, *, str? rounding_mode) -> Tensor";

constexpr int64_t kFLOAT32 = 6, kINT32 = 3;  // torch ScalarType codes

TEST(ConvertersOpsTest, MaxPoolWithUnusedIndicesAndAveragePools) {
  GraphCase g;
  std::vector<double> xv(16);
  for (int i = 0; i < 16; ++i) xv[static_cast<size_t>(i)] = (i * 7) % 16 - 8;
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{1, 1, 4, 4}, xv), {-1, 1, -1, -1}, 2);
  ir::Node* mp = g.call(kMAX_POOL, "maxpool", {v(x), ints({2, 2}), ints({2, 2})},
                        {meta({-1, 1, -1, -1}), meta({-1, 1, -1, -1}, DataType::kINT64)});
  ir::Node* ap = g.call(kAVG_POOL, "avgpool", {v(x), ints({3, 3}), ints({1, 1}), ints({1, 1})}, {meta({-1, 1, -1, -1})},
                        {{"count_include_pad", c(false)}});
  ir::Node* global = g.call(kADAPTIVE, "global", {v(x), ints({1, 1})}, {meta({-1, 1, 1, 1})});
  g.outputs({mp->output(0), ap->output(0), global->output(0)});
  EXPECT_TRUE(g.supported(mp));
  auto out = g.run();
  std::vector<double> maxes, avgs, mean(1, 0.0);
  for (int oy = 0; oy < 2; ++oy) {
    for (int ox = 0; ox < 2; ++ox) {
      double m = -1e9;
      for (int dy = 0; dy < 2; ++dy) {
        for (int dx = 0; dx < 2; ++dx) m = std::max(m, xv[static_cast<size_t>((2 * oy + dy) * 4 + 2 * ox + dx)]);
      }
      maxes.push_back(m);
    }
  }
  for (int y = 0; y < 4; ++y) {
    for (int xx = 0; xx < 4; ++xx) {
      double sum = 0;
      int count = 0;
      for (int dy = -1; dy <= 1; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          if (y + dy < 0 || y + dy >= 4 || xx + dx < 0 || xx + dx >= 4) continue;
          sum += xv[static_cast<size_t>((y + dy) * 4 + xx + dx)];
          ++count;
        }
      }
      avgs.push_back(sum / count);
    }
  }
  for (double e : xv) mean[0] += e / 16;
  expectValues(out["maxpool.0"], DataType::kFLOAT, Dims{1, 1, 2, 2}, maxes);
  expectValues(out["avgpool"], DataType::kFLOAT, Dims{1, 1, 4, 4}, avgs);
  expectValues(out["global"], DataType::kFLOAT, Dims{1, 1, 1, 1}, mean);

  // Indices that somebody reads, dilation, and adaptive pools with more windows per dim than Kiln builds
  // (uneven windows that fit are converted) stay in PyTorch.
  GraphCase refused;
  ir::Value* rx = refused.input("x", tensorOf(DataType::kFLOAT, Dims{1, 1, 5, 5}, std::vector<double>(25, 1.0)));
  ir::Node* used = refused.call(kMAX_POOL, "used", {v(rx), ints({2, 2})},
                                {meta({1, 1, 2, 2}), meta({1, 1, 2, 2}, DataType::kINT64)});
  ir::Node* dilated =
      refused.call(kMAX_POOL, "dilated", {v(rx), ints({2, 2}), ints({1, 1}), ints({0, 0}), ints({2, 2})},
                   {meta({1, 1, 3, 3}), meta({1, 1, 3, 3}, DataType::kINT64)});
  ir::Node* adaptive = refused.call(kADAPTIVE, "adaptive", {v(rx), ints({65, 65})}, {meta({1, 1, 65, 65})});
  refused.outputs({used->output(1), dilated->output(0), adaptive->output(0)});
  EXPECT_FALSE(refused.supported(used));
  EXPECT_FALSE(refused.supported(dilated));
  EXPECT_FALSE(refused.supported(adaptive));
}

TEST(ConvertersOpsTest, Reductions) {
  GraphCase g;
  const std::vector<double> xv = {1, 2, 3, 4, 5, 6};
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 3}, xv), {-1, 3});
  ir::Value* n = g.input("n", tensorOf(DataType::kINT32, Dims{2, 3}, {1, 2, 3, 4, 5, 6}));
  ir::Value* b = g.input("b", tensorOf(DataType::kBOOL, Dims{2, 3}, {0, 0, 0, 0, 1, 0}));
  ir::Node* mean = g.call(kMEAN, "mean", {v(x), ints({-1}), c(true)}, {meta({-1, 1})});
  ir::Node* sum = g.call(kSUM, "sum", {v(n), ints({0})}, {meta({3}, DataType::kINT64)});
  ir::Node* sumAll = g.call(kSUM, "sum_all_float", {v(n), none()}, {meta({})}, {{"dtype", c(kFLOAT32)}});
  ir::Node* amax = g.call(kAMAX, "amax", {v(x), ints({0})}, {meta({3})});
  ir::Node* any = g.call(kANY, "any", {v(b), c(-1), c(true)}, {meta({2, 1}, DataType::kBOOL)});
  ir::Node* notAny = g.call(kNOT, "not_any", {v(any)}, {meta({2, 1}, DataType::kBOOL)});
  g.outputs({mean->output(0), sum->output(0), sumAll->output(0), amax->output(0), notAny->output(0)});
  auto out = g.run();
  expectValues(out["mean"], DataType::kFLOAT, Dims{2, 1}, {2, 5});
  expectValues(out["sum"], DataType::kINT64, Dims{3}, {5, 7, 9});
  expectValues(out["sum_all_float"], DataType::kFLOAT, Dims{}, {21});
  expectValues(out["amax"], DataType::kFLOAT, Dims{3}, {4, 5, 6});
  expectValues(out["not_any"], DataType::kBOOL, Dims{2, 1}, {1, 0});
}

TEST(ConvertersOpsTest, SliceSelectAndCatWithDynamicExtents) {
  GraphCase g;
  const std::vector<double> xv = ramp(4 * 5, -1, 1, 11);
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{4, 5}, xv), {-1, 5});
  ir::Value* ints32 = g.input("i", tensorOf(DataType::kINT32, Dims{4, 1}, {1, 2, 3, 4}), {-1, 1});
  const int64_t big = std::numeric_limits<int64_t>::max();
  // x[1:, 1:5:2] with a dynamic first dim; x[:, -2] and x[-1]; cat([x[:, :1], i], 1) promotes int32 to float.
  ir::Node* rows = g.call(kSLICE, "rows", {v(x), c(0), c(1), c(big)}, {meta({-1, 5})});
  ir::Node* cols = g.call(kSLICE, "cols", {v(rows), c(1), c(1), c(5), c(2)}, {meta({-1, 2})});
  ir::Node* col = g.call(kSELECT, "col", {v(x), c(1), c(-2)}, {meta({-1})});
  ir::Node* last = g.call(kSELECT, "last", {v(x), c(0), c(-1)}, {meta({5})});
  ir::Node* first = g.call(kSLICE, "first", {v(x), c(1), none(), c(1)}, {meta({-1, 1})});
  ir::Node* cat = g.call(kCAT, "cat", {list({v(first), v(ints32)}), c(1)}, {meta({-1, 2})});
  // A bound from the dynamic extent itself, x[0:x.size(0)], as torch.export writes it (sym_size feeds the slice).
  ir::Node* size = g.call(kSYM_SIZE, "batch", {v(x), c(0)}, {});
  ir::Node* head = g.call(kSLICE, "head", {v(x), c(0), c(0), v(size)}, {meta({-1, 5})});
  g.outputs({cols->output(0), col->output(0), last->output(0), cat->output(0), head->output(0)});
  auto out = g.run();
  std::vector<double> colsExpected, colExpected, catExpected;
  for (size_t r = 1; r < 4; ++r) {
    for (size_t j : {1, 3}) colsExpected.push_back(xv[r * 5 + j]);
  }
  for (size_t r = 0; r < 4; ++r) {
    colExpected.push_back(xv[r * 5 + 3]);
    catExpected.push_back(xv[r * 5]);
    catExpected.push_back(static_cast<double>(r + 1));
  }
  expectValues(out["cols"], DataType::kFLOAT, Dims{3, 2}, colsExpected);
  expectValues(out["col"], DataType::kFLOAT, Dims{4}, colExpected);
  expectValues(out["last"], DataType::kFLOAT, Dims{5}, std::vector<double>(xv.begin() + 15, xv.end()));
  expectValues(out["cat"], DataType::kFLOAT, Dims{4, 2}, catExpected);
  expectValues(out["head"], DataType::kFLOAT, Dims{4, 5}, xv);
}

TEST(ConvertersOpsTest, Activations) {
  GraphCase g;
  const std::vector<double> xv = {-4, -1.5, -0.5, 0, 0.5, 2, 3.5, 7};
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{8}, xv));
  ir::Value* n = g.input("n", tensorOf(DataType::kINT64, Dims{4}, {-3, 0, 2, 9}));
  ir::Node* gelu = g.call(kGELU, "gelu", {v(x)}, {meta({8})});
  ir::Node* geluTanh = g.call(kGELU, "gelu_tanh", {v(x)}, {meta({8})}, {{"approximate", c("tanh")}});
  ir::Node* relu6 = g.call(kHARDTANH, "relu6", {v(x), c(0.0), c(6.0)}, {meta({8})});
  ir::Node* clampInt = g.call(kCLAMP, "clamp_int", {v(n), c(0), c(5)}, {meta({4}, DataType::kINT64)});
  ir::Node* clampFloat = g.call(kCLAMP, "clamp_float", {v(n), c(0.5)}, {meta({4})});
  ir::Node* hswish = g.call(kHARDSWISH, "hardswish", {v(x)}, {meta({8})});
  ir::Node* sigmoidInt = g.call(kSIGMOID, "sigmoid_int", {v(n)}, {meta({4})});
  g.outputs({gelu->output(0), geluTanh->output(0), relu6->output(0), clampInt->output(0), clampFloat->output(0),
             hswish->output(0), sigmoidInt->output(0)});
  auto out = g.run();
  std::vector<double> ge, gt, r6, hs;
  for (double e : xv) {
    ge.push_back(0.5 * e * (1 + std::erf(e / std::sqrt(2.0))));
    gt.push_back(0.5 * e * (1 + std::tanh(std::sqrt(2 / M_PI) * (e + 0.044715 * e * e * e))));
    r6.push_back(std::min(std::max(e, 0.0), 6.0));
    hs.push_back(e * std::min(std::max(e + 3, 0.0), 6.0) / 6);
  }
  expectValues(out["gelu"], DataType::kFLOAT, Dims{8}, ge, 1e-5);
  expectValues(out["gelu_tanh"], DataType::kFLOAT, Dims{8}, gt, 1e-5);
  expectValues(out["relu6"], DataType::kFLOAT, Dims{8}, r6);
  expectValues(out["clamp_int"], DataType::kINT64, Dims{4}, {0, 0, 2, 5});
  expectValues(out["clamp_float"], DataType::kFLOAT, Dims{4}, {0.5, 0.5, 2, 9});
  expectValues(out["hardswish"], DataType::kFLOAT, Dims{8}, hs, 1e-5);
  std::vector<double> sig;
  for (double e : {-3.0, 0.0, 2.0, 9.0}) sig.push_back(1 / (1 + std::exp(-e)));
  expectValues(out["sigmoid_int"], DataType::kFLOAT, Dims{4}, sig, 1e-5);
}

TEST(ConvertersOpsTest, FactoriesAndCasts) {
  GraphCase g;
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 3}, {-1.7, -0.5, 0, 0.5, 1.9, 3}), {-1, 3});
  ir::Value* mask = g.input("mask", tensorOf(DataType::kBOOL, Dims{2, 3}, {1, 0, 0, 1, 1, 0}), {-1, 3});
  // full_like(mask, 0, dtype=float32) as torch.export writes the padding mask of a transformer encoder.
  ir::Node* zeros = g.call(kFULL_LIKE, "full_like", {v(mask), c(0)}, {meta({-1, 3})}, {{"dtype", c(kFLOAT32)}});
  ir::Node* sevens = g.call(kFULL_LIKE, "sevens", {v(x), c(7)}, {meta({-1, 3})});
  ir::Node* full = g.call(kFULL, "full", {ints({2, 2}), c(true)}, {meta({2, 2}, DataType::kBOOL)});
  ir::Node* batch = g.call(kSYM_SIZE, "batch", {v(x), c(0)}, {});
  ir::Node* fullDynamic = g.call(kFULL, "full_dynamic", {list({v(batch), c(2)}), c(1.5)}, {meta({-1, 2})});
  ir::Node* asInt = g.call(kTO_COPY, "to_int", {v(x)}, {meta({-1, 3}, DataType::kINT32)}, {{"dtype", c(kINT32)}});
  ir::Node* same = g.call(kTO_COPY, "to_same", {v(x)}, {meta({-1, 3})}, {{"dtype", c(kFLOAT32)}});
  g.outputs({zeros->output(0), sevens->output(0), full->output(0), fullDynamic->output(0), asInt->output(0),
             same->output(0)});
  auto out = g.run();
  expectValues(out["full_like"], DataType::kFLOAT, Dims{2, 3}, std::vector<double>(6, 0.0));
  expectValues(out["sevens"], DataType::kFLOAT, Dims{2, 3}, std::vector<double>(6, 7.0));
  expectValues(out["full"], DataType::kBOOL, Dims{2, 2}, {1, 1, 1, 1});
  expectValues(out["full_dynamic"], DataType::kFLOAT, Dims{2, 2}, std::vector<double>(4, 1.5));
  expectValues(out["to_int"], DataType::kINT32, Dims{2, 3}, {-1, 0, 0, 0, 1, 3});
  expectValues(out["to_same"], DataType::kFLOAT, Dims{2, 3}, {-1.7, -0.5, 0, 0.5, 1.9, 3});

  GraphCase refused;
  ir::Value* rx = refused.input("x", tensorOf(DataType::kFLOAT, Dims{2}, {1, 2}));
  ir::Node* move = refused.call(kTO_COPY, "to_cuda", {v(rx)}, {meta({2})}, {{"device", c("cuda:0")}});
  ir::Node* dropout = refused.call(kDROPOUT, "dropout", {v(rx), c(0.5), c(true)}, {meta({2})});
  ir::Node* eval = refused.call(kDROPOUT, "eval_dropout", {v(rx), c(0.5), c(false)}, {meta({2})});
  ir::Node* div = refused.call(kDIV_MODE, "div", {v(rx), v(rx)}, {meta({2})}, {{"rounding_mode", c("round")}});
  refused.outputs({move->output(0), dropout->output(0), eval->output(0), div->output(0)});
  EXPECT_FALSE(refused.supported(move));
  EXPECT_FALSE(refused.supported(dropout));
  EXPECT_TRUE(refused.supported(eval));
  EXPECT_FALSE(refused.supported(div));
}

TEST(ConvertersOpsTest, DepthwiseAndTransposedConvolutions) {
  GraphCase g;
  const std::vector<double> xv = ramp(1 * 2 * 3 * 3, -1, 1, 12);
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{1, 2, 3, 3}, xv));
  // Depthwise (groups = channels), 1x1 kernels scaled per channel: y[c] = w[c] * x[c].
  ir::Value* dw = g.weight("dw", tensorOf(DataType::kFLOAT, Dims{2, 1, 1, 1}, {2, -1}));
  ir::Node* depthwise = g.call(
      kCONV, "depthwise", {v(x), v(dw), none(), ints({1, 1}), ints({0, 0}), ints({1, 1}), c(false), ints({0, 0}), c(2)},
      {meta({1, 2, 3, 3})});
  // Transposed 2x2 stride 2 with one input and one output channel of ones: every input spreads to a 2x2 block;
  // output_padding 1 adds a row and a column that receive nothing (bias only).
  ir::Value* tw = g.weight("tw", tensorOf(DataType::kFLOAT, Dims{2, 1, 2, 2}, {1, 1, 1, 1, 0, 0, 0, 0}));
  ir::Value* tb = g.weight("tb", tensorOf(DataType::kFLOAT, Dims{1}, {0.5}));
  ir::Node* up =
      g.call(kCONV, "up", {v(x), v(tw), v(tb), ints({2, 2}), ints({0, 0}), ints({1, 1}), c(true), ints({1, 1}), c(1)},
             {meta({1, 1, 7, 7})});
  g.outputs({depthwise->output(0), up->output(0)});
  auto out = g.run();
  std::vector<double> dwExpected, upExpected(49, 0.5);
  for (size_t i = 0; i < 18; ++i) dwExpected.push_back(xv[i] * (i < 9 ? 2 : -1));
  for (int y = 0; y < 6; ++y) {
    for (int xx = 0; xx < 6; ++xx)
      upExpected[static_cast<size_t>(y * 7 + xx)] += xv[static_cast<size_t>(y / 2 * 3 + xx / 2)];
  }
  expectValues(out["depthwise"], DataType::kFLOAT, Dims{1, 2, 3, 3}, dwExpected);
  expectValues(out["up"], DataType::kFLOAT, Dims{1, 1, 7, 7}, upExpected);
}

// Maps smaller than the kernel (the last stage of a ResNet on small images): only the padding makes them fit.
TEST(ConvertersOpsTest, KernelsLargerThanTheUnpaddedMap) {
  GraphCase g;
  const std::vector<double> xv = {1, -2, 3, 4};
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{1, 1, 2, 2}, xv));
  ir::Value* w = g.weight("w", tensorOf(DataType::kFLOAT, Dims{1, 1, 3, 3}, std::vector<double>(9, 1.0)));
  ir::Node* conv = g.call(kCONV, "conv",
                          {v(x), v(w), none(), ints({1, 1}), ints({1, 1}), ints({1, 1}), c(false), ints({0, 0}), c(1)},
                          {meta({1, 1, 2, 2})});
  ir::Node* mp = g.call(kMAX_POOL, "maxpool", {v(x), ints({3, 3}), ints({2, 2}), ints({1, 1})},
                        {meta({1, 1, 1, 1}), meta({1, 1, 1, 1}, DataType::kINT64)});
  ir::Node* ap = g.call(kAVG_POOL, "avgpool", {v(x), ints({3, 3}), ints({1, 1}), ints({1, 1})}, {meta({1, 1, 2, 2})});
  g.outputs({conv->output(0), mp->output(0), ap->output(0)});
  auto out = g.run();
  // Every output position of the padded 3x3 conv and the 3x3 average sees all four inputs (sum 6).
  expectValues(out["conv"], DataType::kFLOAT, Dims{1, 1, 2, 2}, {6, 6, 6, 6});
  expectValues(out["maxpool.0"], DataType::kFLOAT, Dims{1, 1, 1, 1}, {4});
  expectValues(out["avgpool"], DataType::kFLOAT, Dims{1, 1, 2, 2}, {6.0 / 9, 6.0 / 9, 6.0 / 9, 6.0 / 9});
}

// The multi-head attention block of nn.TransformerEncoder as torch.export writes it: a projection through an
// expanded weight and bmm, heads split by view/permute, squeeze.dims and flatten, with a dynamic batch.
TEST(ConvertersOpsTest, TransformerEncoderPatternsWithADynamicBatch) {
  const int64_t s = 3, e = 4;
  const std::vector<double> xv = ramp(2 * s * e, -1, 1, 13), wv = ramp(e * 2 * e, -1, 1, 14);
  GraphCase g;
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, s, e}, xv), {-1, s, e});
  ir::Value* w = g.weight("in_proj", tensorOf(DataType::kFLOAT, Dims{2 * e, e}, wv));
  ir::Node* batch = g.call(kSYM_SIZE, "batch", {v(x), c(0)}, {});
  ir::Node* wt = g.call(kPERMUTE, "wt", {v(w), ints({1, 0})}, {meta({e, 2 * e})});
  ir::Node* we = g.call(kEXPAND, "we", {v(wt), list({v(batch), c(e), c(2 * e)})}, {meta({-1, e, 2 * e})});
  ir::Node* proj = g.call(kBMM, "proj", {v(x), v(we)}, {meta({-1, s, 2 * e})});
  ir::Node* heads = g.call("aten::view(Tensor(a) self, SymInt[] size) -> Tensor(a)", "heads",
                           {v(proj), list({v(batch), c(s), c(2), c(1), c(e)})}, {meta({-1, s, 2, 1, e})});
  ir::Node* squeezed = g.call(kSQUEEZE, "squeezed", {v(heads), ints({-2})}, {meta({-1, s, 2, e})});
  ir::Node* perm = g.call(kPERMUTE, "perm", {v(squeezed), ints({2, 0, 1, 3})}, {meta({2, -1, s, e})});
  ir::Node* flat = g.call(kFLATTEN, "flat", {v(perm), c(1), c(2)}, {meta({2, -1, e})});
  g.outputs({flat->output(0)});
  auto out = g.run();
  // proj[b, i, j] = sum_k x[b, i, k] w[j, k]; flat[h, b*s + i, d] = proj[b, i, h*e + d].
  std::vector<double> expected(static_cast<size_t>(2 * 2 * s * e));
  for (int64_t h = 0; h < 2; ++h) {
    for (int64_t b = 0; b < 2; ++b) {
      for (int64_t i = 0; i < s; ++i) {
        for (int64_t d = 0; d < e; ++d) {
          double acc = 0;
          for (int64_t k = 0; k < e; ++k) {
            acc += xv[static_cast<size_t>((b * s + i) * e + k)] * wv[static_cast<size_t>((h * e + d) * e + k)];
          }
          expected[static_cast<size_t>(((h * 2 + b) * s + i) * e + d)] = acc;
        }
      }
    }
  }
  expectValues(out["flat"], DataType::kFLOAT, Dims{2, 2 * s, e}, expected, 1e-5);
}

// A positional-embedding table (a weight larger than the engine evaluates on the host) sliced to a dynamic
// sequence length and expanded over a batch: the slice and expand are sized by shape tensors, yet their data
// must not be taken for a shape computation, and the static extents must survive for the expand to broadcast.
TEST(ConvertersOpsTest, DynamicSliceAndExpandOfALargeWeight) {
  const int64_t rows = 512, width = 64;
  const std::vector<double> table = ramp(rows * width, -1, 1, 16);
  GraphCase g;
  ir::Value* ids = g.input("ids", tensorOf(DataType::kINT64, Dims{2, 3}, std::vector<double>(6, 0.0)), {2, -1});
  ir::Value* pos = g.weight("pos", tensorOf(DataType::kFLOAT, Dims{rows, width}, table));
  ir::Node* seq = g.call(kSYM_SIZE, "seq", {v(ids), c(1)}, {});
  ir::Node* head = g.call(kSLICE, "head", {v(pos), c(0), c(0), v(seq)}, {meta({-1, width})});
  ir::Node* wide = g.call(kEXPAND, "wide", {v(head), list({c(2), v(seq), c(width)})}, {meta({2, -1, width})});
  g.outputs({wide->output(0)});
  auto out = g.run();
  std::vector<double> expected;
  for (int b = 0; b < 2; ++b) expected.insert(expected.end(), table.begin(), table.begin() + 3 * width);
  expectValues(out["wide"], DataType::kFLOAT, Dims{2, 3, width}, expected);
}

// Batch norm whose parameters are computed in the graph (not weights): the same math through layers.
TEST(ConvertersOpsTest, BatchNormWithComputedParameters) {
  GraphCase g;
  const std::vector<double> xv = ramp(2 * 2 * 2, -1, 1, 15);
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 2, 2}, xv));
  ir::Value* mean = g.input("mean", tensorOf(DataType::kFLOAT, Dims{2}, {0.5, -0.5}));
  ir::Value* var = g.input("var", tensorOf(DataType::kFLOAT, Dims{2}, {4, 0.25}));
  ir::Value* gamma = g.input("gamma", tensorOf(DataType::kFLOAT, Dims{2}, {1, 2}));
  ir::Node* bn = g.call(
      "aten::_native_batch_norm_legit_no_training(Tensor input, Tensor? weight, Tensor? bias, "
      "Tensor running_mean, Tensor running_var, float momentum, float eps) -> (Tensor, Tensor, Tensor)",
      "bn", {v(x), v(gamma), none(), v(mean), v(var), c(0.1), c(0.0)}, {meta({2, 2, 2}), meta({0}), meta({0})});
  g.outputs({bn->output(0)});
  auto out = g.run();
  std::vector<double> expected;
  const double m[] = {0.5, -0.5}, sd[] = {2, 0.5}, w[] = {1, 2};
  for (size_t i = 0; i < 8; ++i) {
    const size_t ch = (i / 2) % 2;
    expected.push_back((xv[i] - m[ch]) / sd[ch] * w[ch]);
  }
  expectValues(out["bn.0"], DataType::kFLOAT, Dims{2, 2, 2}, expected);
}

}  // namespace
}  // namespace testing
}  // namespace conversion
}  // namespace kiln
