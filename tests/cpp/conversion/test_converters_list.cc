// prim::list_get: items of split / unbind / chunk outputs read inside an engine, run on the CPU backend.
#include "conversion/converter_test_util.h"

namespace kiln {
namespace conversion {
namespace testing {
namespace {

const char* const kSplit = "aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]";
const char* const kUnbind = "aten::unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]";
const char* const kAdd = "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";

TEST(ListGetTest, ItemsOfASplitFeedOtherOps) {
  GraphCase g;
  const std::vector<double> xv = ramp(2 * 6, -1, 1, 7);
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 6}, xv), {-1, 6});
  ir::Node* split = g.call(kSplit, "split", {v(x), c(2), c(1)}, {});
  ir::Node* first = g.call(ir::kLIST_GET_SCHEMA, "first", {v(split), c(0)}, {meta({-1, 2})});
  // A negative index counts from the end, as in Python.
  ir::Node* last = g.call(ir::kLIST_GET_SCHEMA, "last", {v(split), c(-1)}, {meta({-1, 2})});
  ir::Node* sum = g.call(kAdd, "sum", {v(first), v(last)}, {meta({-1, 2})});
  g.outputs({sum->output(0), first->output(0)});
  EXPECT_TRUE(g.supported(first));
  auto out = g.run();
  expectValues(out["sum"], DataType::kFLOAT, Dims{2, 2},
               {xv[0] + xv[4], xv[1] + xv[5], xv[6] + xv[10], xv[7] + xv[11]});
  expectValues(out["first"], DataType::kFLOAT, Dims{2, 2}, {xv[0], xv[1], xv[6], xv[7]});
}

TEST(ListGetTest, ItemsOfAnUnbind) {
  GraphCase g;
  const std::vector<double> xv = ramp(3 * 2, -1, 1, 8);
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{3, 2}, xv));
  ir::Node* rows = g.call(kUnbind, "rows", {v(x), c(0)}, {});
  ir::Node* row = g.call(ir::kLIST_GET_SCHEMA, "row", {v(rows), c(1)}, {meta({2})});
  g.outputs({row->output(0)});
  auto out = g.run();
  expectValues(out["row"], DataType::kFLOAT, Dims{2}, {xv[2], xv[3]});
}

TEST(ListGetTest, OutOfRangeIndexIsAnError) {
  GraphCase g;
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 4}, ramp(8, 0, 1)));
  ir::Node* split = g.call(kSplit, "split", {v(x), c(2), c(1)}, {});
  ir::Node* item = g.call(ir::kLIST_GET_SCHEMA, "item", {v(split), c(2)}, {meta({2, 2})});
  g.outputs({item->output(0)});
  StatusOr<ConvertedSegment> converted = g.convert();
  ASSERT_FALSE(converted.isOk());
  EXPECT_NE(converted.status().message().find("list index 2 is out of range for a list of 2 tensors"),
            std::string::npos)
      << converted.status().message();
  EXPECT_NE(converted.status().message().find("%item (prim::list_get.default)"), std::string::npos)
      << converted.status().message();
}

// The list must be computed in the engine: a list_get reading anything else is left to PyTorch.
TEST(ListGetTest, ValidatorWantsAListValueAndAConstantIndex) {
  GraphCase g;
  ir::Value* x = g.input("x", tensorOf(DataType::kFLOAT, Dims{2, 4}, ramp(8, 0, 1)));
  ir::Node* split = g.call(kSplit, "split", {v(x), c(2), c(1)}, {});
  ir::Node* ok = g.call(ir::kLIST_GET_SCHEMA, "ok", {v(split), c(0)}, {meta({2, 2})});
  ir::Node* fromList = g.call(ir::kLIST_GET_SCHEMA, "literal", {list({v(x)}), c(0)}, {meta({2, 4})});
  g.outputs({ok->output(0), fromList->output(0)});
  EXPECT_TRUE(g.supported(ok));
  EXPECT_FALSE(g.supported(fromList));
}

}  // namespace
}  // namespace testing
}  // namespace conversion
}  // namespace kiln
