// aten::_assert_tensor_metadata: decided when the engine is built from the IR metadata; a node whose assertion
// the metadata does not prove is left to PyTorch.
#include "conversion/converter_test_util.h"

namespace kiln {
namespace conversion {
namespace testing {
namespace {

const char* const kAssert =
    "aten::_assert_tensor_metadata(Tensor a, SymInt[]? size=None, SymInt[]? stride=None, ScalarType? dtype=None, *, "
    "Device? device=None, Layout? layout=None) -> ()";
const char* const kRelu = "aten::relu(Tensor self) -> Tensor";
constexpr int64_t kFLOAT_CODE = 6;
constexpr int64_t kHALF_CODE = 5;

TEST(AssertTensorMetadataTest, HoldsAndAddsNothing) {
  GraphCase g;
  const std::vector<double> xv = ramp(6, -1, 1, 3);
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 3}, xv));
  ir::Node* check = g.call(kAssert, "check", {v(x), ints({2, 3}), ints({3, 1}), c(kFLOAT_CODE)}, {},
                           {{"device", c("cpu")}, {"layout", c("torch.strided")}});
  ir::Node* relu = g.call(kRelu, "relu", {v(x)}, {meta({2, 3})});
  g.outputs({relu->output(0)});
  EXPECT_TRUE(g.supported(check));
  auto out = g.run();
  std::vector<double> expected;
  for (double e : xv) expected.push_back(e > 0 ? e : 0);
  expectValues(out["relu"], DataType::kFLOAT, Dims{2, 3}, expected);
}

TEST(AssertTensorMetadataTest, UnprovedAssertionsStayInPyTorch) {
  GraphCase g;
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 3}, ramp(6, 0, 1)));
  ir::Value* dyn = g.input("d", tensorOf(DataType::kFLOAT, Dims{2, 3}, ramp(6, 0, 1)), {-1, 3});
  std::map<std::string, ir::Arg> cpu = {{"device", c("cpu")}};
  ir::Node* dtype = g.call(kAssert, "dtype", {v(x), none(), none(), c(kHALF_CODE)}, {}, cpu);
  ir::Node* size = g.call(kAssert, "size", {v(x), ints({3, 2})}, {}, cpu);
  ir::Node* stride = g.call(kAssert, "stride", {v(x), none(), ints({1, 2})}, {}, cpu);
  ir::Node* dynamic = g.call(kAssert, "dynamic", {v(dyn), ints({2, 3})}, {}, cpu);
  ir::Node* device = g.call(kAssert, "device", {v(x)}, {}, {{"device", c("cuda:0")}});
  ir::Node* fine = g.call(kAssert, "fine", {v(dyn), none(), none(), c(kFLOAT_CODE)}, {}, cpu);
  g.outputs({x});
  EXPECT_FALSE(g.supported(dtype));
  EXPECT_FALSE(g.supported(size));
  EXPECT_FALSE(g.supported(stride));
  EXPECT_FALSE(g.supported(dynamic));
  EXPECT_FALSE(g.supported(device));
  EXPECT_TRUE(g.supported(fine));
}

}  // namespace
}  // namespace testing
}  // namespace conversion
}  // namespace kiln
