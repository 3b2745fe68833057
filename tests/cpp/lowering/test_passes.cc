// Lowering: the pass manager (order, change tracking, errors naming the pass, the verifier after each pass)
// and each pass's effect on small graphs, with the verifier clean afterwards.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "lowering/pass_manager.h"

namespace kiln {
namespace lowering {
namespace {

constexpr const char* kRELU = "aten::relu(Tensor self) -> Tensor";
constexpr const char* kRELU_ = "aten::relu_(Tensor(a!) self) -> Tensor(a!)";
constexpr const char* kADD = "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";
constexpr const char* kADD_ = "aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)";
constexpr const char* kSUB = "aten::sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";
constexpr const char* kMUL = "aten::mul.Tensor(Tensor self, Tensor other) -> Tensor";
constexpr const char* kMUL_SCALAR = "aten::mul.Scalar(Tensor self, Scalar other) -> Tensor";
constexpr const char* kHARDTANH_ =
    "aten::hardtanh_(Tensor(a!) self, Scalar min_val=-1, Scalar max_val=1) -> Tensor(a!)";
constexpr const char* kUNKNOWN_ = "aten::frobnicate_(Tensor(a!) self) -> Tensor(a!)";
constexpr const char* kCLONE = "aten::clone(Tensor self, *, MemoryFormat? memory_format=None) -> Tensor";
constexpr const char* kALIAS = "aten::alias(Tensor(a) self) -> Tensor(a)";
constexpr const char* kDETACH = "aten::detach(Tensor(a) self) -> Tensor(a)";
constexpr const char* kCONTIGUOUS =
    "aten::contiguous(Tensor(a) self, *, MemoryFormat memory_format=contiguous_format) -> Tensor(a)";
constexpr const char* kDROPOUT = "aten::dropout(Tensor input, float p, bool train) -> Tensor";
constexpr const char* kLIFT = "aten::lift_fresh_copy(Tensor self) -> Tensor";
constexpr const char* kVIEW = "aten::view(Tensor(a) self, SymInt[] size) -> Tensor(a)";
constexpr const char* kRESHAPE = "aten::reshape(Tensor(a) self, SymInt[] shape) -> Tensor(a)";
constexpr const char* kT = "aten::t(Tensor(a) self) -> Tensor(a)";
constexpr const char* kTRANSPOSE = "aten::transpose.int(Tensor(a) self, int dim0, int dim1) -> Tensor(a)";
constexpr const char* kPERMUTE = "aten::permute(Tensor(a) self, int[] dims) -> Tensor(a)";
constexpr const char* kUNSQUEEZE = "aten::unsqueeze(Tensor(a) self, int dim) -> Tensor(a)";
constexpr const char* kADDMM =
    "aten::addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor";
constexpr const char* kSIZE = "aten::sym_size.int(Tensor self, int dim) -> SymInt";
constexpr const char* kASSERT = "aten::_assert_scalar(Scalar self, str assert_msg) -> ()";

ir::TensorMeta meta(std::vector<int64_t> extents, DataType type = DataType::kFLOAT) {
  ir::TensorMeta m;
  m.dtype = type;
  for (int64_t e : extents) {
    ir::SymDim d;
    d.extent = d.min = d.max = e;
    m.shape.push_back(d);
  }
  return m;
}

std::shared_ptr<const HostTensor> floats(Dims dims, std::vector<float> values) {
  auto t = std::make_shared<HostTensor>(DataType::kFLOAT, dims);
  EXPECT_EQ(static_cast<size_t>(t->count()), values.size());
  std::memcpy(t->data(), values.data(), values.size() * sizeof(float));
  return t;
}

std::shared_ptr<const HostTensor> longs(Dims dims, std::vector<int64_t> values) {
  auto t = std::make_shared<HostTensor>(DataType::kINT64, dims);
  EXPECT_EQ(static_cast<size_t>(t->count()), values.size());
  std::memcpy(t->data(), values.data(), values.size() * sizeof(int64_t));
  return t;
}

std::vector<float> floatsOf(const HostTensor& t) {
  std::vector<float> out(static_cast<size_t>(t.count()));
  std::memcpy(out.data(), t.data(), out.size() * sizeof(float));
  return out;
}

ir::Arg v(ir::Value* value) { return ir::Arg::of(value); }
ir::Arg c(ir::Constant constant) { return ir::Arg::of(std::move(constant)); }
ir::Arg i(int64_t value) { return c(ir::Constant::fromInt(value)); }
ir::Arg d(double value) { return c(ir::Constant::fromDouble(value)); }

ir::Value* call(ir::Graph& g, const char* schema, const std::string& name, std::vector<ir::Arg> args,
                std::optional<ir::TensorMeta> out, std::map<std::string, ir::Arg> kwargs = {}) {
  std::vector<std::optional<ir::TensorMeta>> metas;
  if (out) metas.push_back(std::move(out));
  StatusOr<ir::Node*> node = g.addCall(schema, name, std::move(args), std::move(kwargs), std::move(metas));
  EXPECT_TRUE(node.isOk()) << node.status().toString();
  return node.isOk() && !node.value()->outputs().empty() ? node.value()->output(0) : nullptr;
}

// The call targets in graph order.
std::vector<std::string> targets(const ir::Graph& g) {
  std::vector<std::string> out;
  for (const auto& node : g.nodes()) {
    if (node->op() == ir::NodeOp::kCALL_FUNCTION) out.push_back(node->target());
  }
  return out;
}

using Names = std::vector<std::string>;

// Runs one pass and checks the verifier afterwards.
bool runPass(StatusOr<bool> (*pass)(ir::Graph&), ir::Graph& g) {
  StatusOr<bool> changed = pass(g);
  EXPECT_TRUE(changed.isOk()) << changed.status().toString();
  Status verified = g.verify();
  EXPECT_TRUE(verified.isOk()) << verified.toString() << "\n" << g.print();
  return changed.isOk() && changed.value();
}

const ir::Value* graphOutput(const ir::Graph& g, size_t index = 0) { return g.outputNode()->args()[index].value; }

// ---- pass manager ----------------------------------------------------------------------------------------

TEST(PassManagerTest, DefaultPipelineOrder) {
  EXPECT_EQ(defaultLoweringPasses().passNames(), (Names{"remove_no_ops", "functionalize_inplace", "decompose_addmm",
                                                        "fold_constants", "eliminate_dead_code"}));
}

TEST(PassManagerTest, RunsInOrderAndTracksChanges) {
  std::vector<std::string> ran;
  PassManager manager;
  manager
      .add({"first",
            [&](ir::Graph&) -> StatusOr<bool> {
              ran.push_back("first");
              return false;
            }})
      .add({"second",
            [&](ir::Graph&) -> StatusOr<bool> {
              ran.push_back("second");
              return true;
            }})
      .add({"third", [&](ir::Graph&) -> StatusOr<bool> {
              ran.push_back("third");
              return true;
            }});
  ir::Graph g;
  g.setOutputs({v(g.addPlaceholder("x", meta({2})))});
  ASSERT_TRUE(manager.run(g, true).isOk());
  EXPECT_EQ(ran, (Names{"first", "second", "third"}));
  EXPECT_EQ(manager.lastChanged(), (Names{"second", "third"}));
  ASSERT_TRUE(manager.run(g, false).isOk());
  EXPECT_EQ(manager.lastChanged(), (Names{"second", "third"}));  // reset per run, not accumulated
}

TEST(PassManagerTest, ErrorNamesThePassAndStops) {
  bool laterRan = false;
  PassManager manager;
  manager.add({"breaks", [](ir::Graph&) -> StatusOr<bool> { return invalidArgument("bad op %foo"); }})
      .add({"later", [&](ir::Graph&) -> StatusOr<bool> {
              laterRan = true;
              return false;
            }});
  ir::Graph g;
  g.setOutputs({v(g.addPlaceholder("x", meta({2})))});
  Status s = manager.run(g, false);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), StatusCode::kINVALID_ARGUMENT);
  EXPECT_NE(s.message().find("lowering pass 'breaks' failed"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("bad op %foo"), std::string::npos) << s.message();
  EXPECT_FALSE(laterRan);
}

// A pass that leaves a broken graph is caught right after it runs, with the verifier's finding.
TEST(PassManagerTest, VerifierAfterEachPassNamesThePass) {
  PassManager manager;
  manager.add({"reorders", [](ir::Graph& g) -> StatusOr<bool> {
                 ir::Node* first = g.findNode("a");
                 first->setArg(0, v(g.findNode("b")->output(0)));  // reads a value defined after it
                 return true;
               }});
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({2}));
  ir::Value* a = call(g, kRELU, "a", {v(x)}, meta({2}));
  ir::Value* b = call(g, kRELU, "b", {v(a)}, meta({2}));
  g.setOutputs({v(b)});
  Status s = manager.run(g, true);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("lowering pass 'reorders' left an invalid graph"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("%b"), std::string::npos) << s.message();
}

TEST(PassManagerTest, BrokenInputIsNotBlamedOnAPass) {
  bool ran = false;
  PassManager manager;
  manager.add({"innocent", [&](ir::Graph&) -> StatusOr<bool> {
                 ran = true;
                 return false;
               }});
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({2}));
  ir::Value* a = call(g, kRELU, "a", {v(x)}, meta({2}));
  ir::Value* b = call(g, kRELU, "b", {v(a)}, meta({2}));
  g.setOutputs({v(b)});
  g.findNode("a")->setArg(0, v(b));
  Status s = manager.run(g, true);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("invalid before any pass ran"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("innocent"), std::string::npos) << s.message();
  EXPECT_FALSE(ran);
}

// ---- remove_no_ops ---------------------------------------------------------------------------------------

TEST(RemoveNoOpsTest, RemovesIdentityOps) {
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({2, 3}));
  ir::Value* a = call(g, kCLONE, "a", {v(x)}, meta({2, 3}));
  ir::Value* b = call(g, kALIAS, "b", {v(a)}, meta({2, 3}));
  ir::Value* cc = call(g, kDETACH, "cc", {v(b)}, meta({2, 3}));
  ir::Value* dd = call(g, kCONTIGUOUS, "dd", {v(cc)}, meta({2, 3}));
  ir::Value* e = call(g, kDROPOUT, "e", {v(dd), d(0.5), c(ir::Constant::fromBool(false))}, meta({2, 3}));
  ir::Value* f = call(g, kLIFT, "f", {v(e)}, meta({2, 3}));
  ir::Value* r = call(g, kRELU, "r", {v(f)}, meta({2, 3}));
  g.setOutputs({v(r), v(f)});
  EXPECT_TRUE(runPass(removeNoOps, g));
  EXPECT_EQ(targets(g), (Names{"aten::relu.default"}));
  EXPECT_EQ(g.findNode("r")->args()[0].value, x);
  EXPECT_EQ(graphOutput(g, 1), x);
  EXPECT_FALSE(runPass(removeNoOps, g));
}

TEST(RemoveNoOpsTest, KeepsTrainingDropout) {
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({4}));
  ir::Value* e = call(g, kDROPOUT, "e", {v(x), d(0.5), c(ir::Constant::fromBool(true))}, meta({4}));
  g.setOutputs({v(e)});
  EXPECT_FALSE(runPass(removeNoOps, g));
  EXPECT_EQ(targets(g), (Names{"aten::dropout.default"}));
}

// Dropping a copy whose result is then mutated in place would make the mutation hit the original.
TEST(RemoveNoOpsTest, KeepsCopiesOfMutatedTensors) {
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({4}));
  ir::Value* copy = call(g, kCLONE, "copy", {v(x)}, meta({4}));
  ir::Value* detached = call(g, kDETACH, "detached", {v(copy)}, meta({4}));
  ir::Value* mutated = call(g, kUNKNOWN_, "mutated", {v(detached)}, meta({4}));
  g.setOutputs({v(mutated), v(x)});
  EXPECT_TRUE(runPass(removeNoOps, g));  // the detach (a pure alias) still goes
  EXPECT_EQ(targets(g), (Names{"aten::clone.default", "aten::frobnicate_.default"}));
}

// ---- functionalize_inplace ------------------------------------------------------------------------------

TEST(FunctionalizeTest, RewritesAndRedirectsLaterReads) {
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({4}));
  ir::Value* y = g.addPlaceholder("y", meta({4}));
  ir::Value* before = call(g, kADD, "before", {v(x), v(y)}, meta({4}));  // reads x before the mutation
  ir::Value* r = call(g, kRELU_, "r", {v(x)}, meta({4}));
  ir::Value* s = call(g, kADD_, "s", {v(x), v(y)}, meta({4}), {{"alpha", i(2)}});
  // r is x itself in PyTorch, so after the add_ both arguments read the twice-mutated x.
  ir::Value* after = call(g, kMUL, "after", {v(x), v(r)}, meta({4}));
  g.setOutputs({v(before), v(after), v(s), v(x)});
  g.findNode("r")->meta()["stack"] = "model.py:7";
  EXPECT_TRUE(runPass(functionalizeInPlaceOps, g));
  EXPECT_EQ(targets(g), (Names{"aten::add.Tensor", "aten::relu.default", "aten::add.Tensor", "aten::mul.Tensor"}));
  const ir::Node* reluNode = g.nodes()[3].get();
  const ir::Node* addNode = g.nodes()[4].get();
  ASSERT_EQ(reluNode->target(), "aten::relu.default");
  EXPECT_EQ(reluNode->args()[0].value, x);
  EXPECT_EQ(reluNode->meta().at("stack"), "model.py:7");
  ASSERT_EQ(addNode->target(), "aten::add.Tensor");
  EXPECT_EQ(addNode->args()[0].value, reluNode->output(0));  // the chain of mutations is a chain of values
  EXPECT_EQ(addNode->args()[2].constant, ir::Constant::fromInt(2));
  const ir::Node* mul = g.findNode("after");
  EXPECT_EQ(mul->args()[0].value, addNode->output(0));
  EXPECT_EQ(mul->args()[1].value, addNode->output(0));
  EXPECT_EQ(g.findNode("before")->args()[0].value, x);
  EXPECT_EQ(graphOutput(g, 2), addNode->output(0));
  EXPECT_EQ(graphOutput(g, 3), addNode->output(0));
  EXPECT_FALSE(runPass(functionalizeInPlaceOps, g));
}

TEST(FunctionalizeTest, KeepsDefaultsAndScalarArgs) {
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({4}));
  call(g, kHARDTANH_, "h", {v(x)}, meta({4}), {{"max_val", d(6.0)}});
  g.setOutputs({v(x)});
  EXPECT_TRUE(runPass(functionalizeInPlaceOps, g));
  const ir::Node* node = g.nodes()[1].get();
  ASSERT_EQ(node->target(), "aten::hardtanh.default");
  EXPECT_EQ(node->args()[1].constant, ir::Constant::fromInt(-1));
  EXPECT_EQ(node->args()[2].constant, ir::Constant::fromDouble(6.0));
  EXPECT_EQ(graphOutput(g), node->output(0));
}

// torch's own in-place schemas: each twin in the table parses and takes the same arguments.
TEST(FunctionalizeTest, TableCoversTorchSchemas) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"aten::add_.Scalar(Tensor(a!) self, Scalar other, Scalar alpha=1) -> Tensor(a!)", "aten::add.Scalar"},
      {"aten::div_.Tensor_mode(Tensor(a!) self, Tensor other, *, str? rounding_mode) -> Tensor(a!)",
       "aten::div.Tensor_mode"},
      {"aten::clamp_(Tensor(a!) self, Scalar? min=None, Scalar? max=None) -> Tensor(a!)", "aten::clamp.default"},
      {"aten::gelu_(Tensor(a!) self, *, str approximate='none') -> Tensor(a!)", "aten::gelu.default"},
      {"aten::leaky_relu_(Tensor(a!) self, Scalar negative_slope=0.01) -> Tensor(a!)", "aten::leaky_relu.default"},
      {"aten::elu_(Tensor(a!) self, Scalar alpha=1, Scalar scale=1, Scalar input_scale=1) -> Tensor(a!)",
       "aten::elu.default"},
      {"aten::pow_.Scalar(Tensor(a!) self, Scalar exponent) -> Tensor(a!)", "aten::pow.Tensor_Scalar"},
      {"aten::fill_.Scalar(Tensor(a!) self, Scalar value) -> Tensor(a!)", "aten::fill.Scalar"},
      {"aten::masked_fill_.Scalar(Tensor(a!) self, Tensor mask, Scalar value) -> Tensor(a!)",
       "aten::masked_fill.Scalar"},
      {"aten::index_put_(Tensor(a!) self, Tensor?[] indices, Tensor values, bool accumulate=False) -> Tensor(a!)",
       "aten::index_put.default"},
      {"aten::zero_(Tensor(a!) self) -> Tensor(a!)", "aten::zero.default"},
      {"aten::sigmoid_(Tensor(a!) self) -> Tensor(a!)", "aten::sigmoid.default"},
  };
  for (const auto& [schemaText, functional] : cases) {
    StatusOr<ir::FunctionSchema> schema = ir::parseSchema(schemaText);
    ASSERT_TRUE(schema.isOk()) << schema.status().toString();
    ir::Graph g;
    ir::Value* x = g.addPlaceholder("x", meta({4}));
    std::vector<ir::Arg> args = {v(x)};
    std::map<std::string, ir::Arg> kwargs;
    for (size_t k = 1; k < schema->arguments.size(); ++k) {
      const ir::SchemaArgument& arg = schema->arguments[k];
      if (arg.defaultValue) continue;
      ir::Arg value = i(1);
      if (arg.type.kind == ir::TypeKind::kTENSOR && arg.type.isList) {
        value = ir::Arg::listOf({v(x)});
      } else if (arg.type.kind == ir::TypeKind::kTENSOR) {
        value = v(x);
      } else if (arg.type.optional) {
        value = c(ir::Constant::none());
      }
      if (arg.kwargOnly) {
        kwargs[arg.name] = value;
      } else {
        args.push_back(value);
      }
    }
    call(g, schemaText.c_str(), "op", args, meta({4}), kwargs);
    g.setOutputs({v(x)});
    EXPECT_TRUE(runPass(functionalizeInPlaceOps, g)) << schemaText;
    EXPECT_EQ(targets(g), (Names{functional})) << schemaText;
  }
}

TEST(FunctionalizeTest, LeavesUnknownInPlaceOps) {
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({4}));
  ir::Value* m = call(g, kUNKNOWN_, "m", {v(x)}, meta({4}));
  g.setOutputs({v(m)});
  EXPECT_FALSE(runPass(functionalizeInPlaceOps, g));
  EXPECT_EQ(targets(g), (Names{"aten::frobnicate_.default"}));
}

// Mutating a view whose base is read afterwards cannot be expressed by redirecting reads of the view alone.
TEST(FunctionalizeTest, LeavesMutationsOfViewsWhoseBaseIsReadLater) {
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({2, 2}));
  ir::Value* flat = call(g, kVIEW, "flat", {v(x), c(ir::Constant::fromInts({4}))}, meta({4}));
  call(g, kRELU_, "r", {v(flat)}, meta({4}));
  ir::Value* after = call(g, kRELU, "after", {v(x)}, meta({2, 2}));
  g.setOutputs({v(after)});
  EXPECT_FALSE(runPass(functionalizeInPlaceOps, g));
  EXPECT_EQ(targets(g), (Names{"aten::view.default", "aten::relu_.default", "aten::relu.default"}));

  // Once the base is not read after the mutation, the rewrite is exact.
  ir::Graph h;
  ir::Value* hx = h.addPlaceholder("x", meta({2, 2}));
  ir::Value* hflat = call(h, kVIEW, "flat", {v(hx), c(ir::Constant::fromInts({4}))}, meta({4}));
  call(h, kRELU_, "r", {v(hflat)}, meta({4}));
  h.setOutputs({v(hflat)});
  EXPECT_TRUE(runPass(functionalizeInPlaceOps, h));
  EXPECT_EQ(targets(h), (Names{"aten::view.default", "aten::relu.default"}));
}

// ---- decompose_addmm ------------------------------------------------------------------------------------

struct AddmmGraph {
  ir::Graph g;
  ir::Value* bias = nullptr;
  ir::Value* m1 = nullptr;
  ir::Value* m2 = nullptr;
  AddmmGraph(std::optional<ir::Arg> beta, std::optional<ir::Arg> alpha) {
    bias = g.addPlaceholder("bias", meta({3}));
    m1 = g.addPlaceholder("m1", meta({2, 4}));
    m2 = g.addPlaceholder("m2", meta({4, 3}));
    std::map<std::string, ir::Arg> kwargs;
    if (beta) kwargs["beta"] = *beta;
    if (alpha) kwargs["alpha"] = *alpha;
    ir::Value* out = call(g, kADDMM, "fc", {v(bias), v(m1), v(m2)}, meta({2, 3}), kwargs);
    g.findNode("fc")->meta()["stack"] = "model.py:3";
    g.setOutputs({v(out)});
  }
};

TEST(DecomposeAddmmTest, DefaultScalesGiveMmAndAdd) {
  AddmmGraph a(std::nullopt, std::nullopt);
  EXPECT_TRUE(runPass(decomposeAddmm, a.g));
  EXPECT_EQ(targets(a.g), (Names{"aten::mm.default", "aten::add.Tensor"}));
  const ir::Node* mm = a.g.nodes()[3].get();
  const ir::Node* add = a.g.nodes()[4].get();
  EXPECT_EQ(mm->args()[0].value, a.m1);
  EXPECT_EQ(mm->args()[1].value, a.m2);
  EXPECT_EQ(mm->output(0)->meta()->str(), meta({2, 3}).str());
  EXPECT_EQ(add->args()[0].value, a.bias);
  EXPECT_EQ(add->args()[1].value, mm->output(0));
  EXPECT_EQ(add->args()[2].constant, ir::Constant::fromInt(1));
  EXPECT_EQ(add->meta().at("stack"), "model.py:3");
  EXPECT_EQ(graphOutput(a.g), add->output(0));
}

TEST(DecomposeAddmmTest, ScalesBecomeMuls) {
  AddmmGraph a(d(0.5), i(2));
  EXPECT_TRUE(runPass(decomposeAddmm, a.g));
  EXPECT_EQ(targets(a.g), (Names{"aten::mm.default", "aten::mul.Scalar", "aten::mul.Scalar", "aten::add.Tensor"}));
  const ir::Node* alphaMul = a.g.nodes()[4].get();
  const ir::Node* betaMul = a.g.nodes()[5].get();
  const ir::Node* add = a.g.nodes()[6].get();
  EXPECT_EQ(alphaMul->args()[0].value, a.g.nodes()[3]->output(0));
  EXPECT_EQ(alphaMul->args()[1].constant, ir::Constant::fromInt(2));
  EXPECT_EQ(betaMul->args()[0].value, a.bias);
  EXPECT_EQ(betaMul->args()[1].constant, ir::Constant::fromDouble(0.5));
  EXPECT_EQ(betaMul->output(0)->meta()->str(), meta({3}).str());
  EXPECT_EQ(add->args()[0].value, betaMul->output(0));
  EXPECT_EQ(add->args()[1].value, alphaMul->output(0));
}

// beta = 0: torch ignores the input (NaN in it must not propagate), so only the product remains.
TEST(DecomposeAddmmTest, ZeroBetaDropsTheInput) {
  AddmmGraph a(i(0), d(3.0));
  EXPECT_TRUE(runPass(decomposeAddmm, a.g));
  EXPECT_EQ(targets(a.g), (Names{"aten::mm.default", "aten::mul.Scalar"}));
  EXPECT_EQ(graphOutput(a.g), a.g.nodes()[4]->output(0));
  EXPECT_TRUE(a.bias->users().empty());
}

// ---- fold_constants -------------------------------------------------------------------------------------

// x + op(weights): the folded op becomes one weight read by the add.
struct FoldGraph {
  ir::Graph g;
  ir::Value* x = nullptr;
  const ir::Node* add = nullptr;
  const HostTensor& folded() const {
    const ir::Node* producer = add->args()[1].value->node();
    EXPECT_EQ(producer->op(), ir::NodeOp::kGET_ATTR);
    return *producer->tensorValue();
  }
  void finish(ir::Value* constant, const ir::TensorMeta& m) {
    x = g.addPlaceholder("x", m);
    ir::Value* sum = call(g, kADD, "sum", {v(x), v(constant)}, m);
    add = sum->node();
    g.setOutputs({v(sum)});
  }
};

TEST(FoldConstantsTest, TransposeAndChainOfOps) {
  FoldGraph f;
  ir::Value* w = f.g.addGetAttr("w", floats({2, 3}, {1, 2, 3, 4, 5, 6}));
  ir::Value* t = call(f.g, kT, "t", {v(w)}, meta({3, 2}));
  ir::Value* scaled = call(f.g, kMUL_SCALAR, "scaled", {v(t), d(0.5)}, meta({3, 2}));
  f.finish(scaled, meta({3, 2}));
  EXPECT_TRUE(runPass(foldConstants, f.g));
  EXPECT_EQ(targets(f.g), (Names{"aten::add.Tensor"}));
  EXPECT_EQ(f.folded().dims, (Dims{3, 2}));
  EXPECT_EQ(floatsOf(f.folded()), (std::vector<float>{0.5f, 2, 1, 2.5f, 1.5f, 3}));
  EXPECT_TRUE(runPass(eliminateDeadCode, f.g));  // the original weight is now unused
  EXPECT_EQ(f.g.findNode("w"), nullptr);
}

TEST(FoldConstantsTest, LayoutOps) {
  FoldGraph f;
  ir::Value* w = f.g.addGetAttr("w", floats({2, 3, 1}, {1, 2, 3, 4, 5, 6}));
  ir::Value* p = call(f.g, kPERMUTE, "p", {v(w), c(ir::Constant::fromInts({2, 1, 0}))}, meta({1, 3, 2}));
  ir::Value* r = call(f.g, kRESHAPE, "r", {v(p), c(ir::Constant::fromInts({-1, 2}))}, meta({3, 2}));
  ir::Value* tr = call(f.g, kTRANSPOSE, "tr", {v(r), i(-1), i(0)}, meta({2, 3}));
  ir::Value* u = call(f.g, kUNSQUEEZE, "u", {v(tr), i(-1)}, meta({2, 3, 1}));
  f.finish(u, meta({2, 3, 1}));
  EXPECT_TRUE(runPass(foldConstants, f.g));
  EXPECT_EQ(targets(f.g), (Names{"aten::add.Tensor"}));
  EXPECT_EQ(f.folded().dims, (Dims{2, 3, 1}));
  // permute(2,1,0) of [[1,2,3],[4,5,6]] is [[1,4],[2,5],[3,6]]; transposed back: the original.
  EXPECT_EQ(floatsOf(f.folded()), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(FoldConstantsTest, BroadcastArithmetic) {
  FoldGraph f;
  ir::Value* a = f.g.addGetAttr("a", floats({2, 1}, {1, 2}));
  ir::Value* b = f.g.addGetAttr("b", floats({3}, {10, 20, 30}));
  ir::Value* sum = call(f.g, kADD, "s", {v(a), v(b)}, meta({2, 3}));
  ir::Value* diff = call(f.g, kSUB, "df", {v(sum), v(a)}, meta({2, 3}));
  ir::Value* prod = call(f.g, kMUL, "pr", {v(diff), v(a)}, meta({2, 3}));
  f.finish(prod, meta({2, 3}));
  EXPECT_TRUE(runPass(foldConstants, f.g));
  EXPECT_EQ(floatsOf(f.folded()), (std::vector<float>{10, 20, 30, 20, 40, 60}));
}

TEST(FoldConstantsTest, Int64ArithmeticAndPromotion) {
  ir::Graph g;
  ir::Value* a = g.addGetAttr("a", longs({3}, {1, -2, 3}));
  ir::Value* b = g.addGetAttr("b", longs({3}, {4, 5, 6}));
  ir::Value* sum = call(g, kADD, "s", {v(a), v(b)}, meta({3}, DataType::kINT64), {{"alpha", i(3)}});
  ir::Value* twice = call(g, kMUL_SCALAR, "twice", {v(sum), i(2)}, meta({3}, DataType::kINT64));
  ir::Value* half = call(g, kMUL_SCALAR, "half", {v(twice), d(0.25)}, meta({3}, DataType::kFLOAT));
  g.setOutputs({v(twice), v(half)});
  EXPECT_TRUE(runPass(foldConstants, g));
  EXPECT_TRUE(targets(g).empty());
  const HostTensor& ints = *graphOutput(g, 0)->node()->tensorValue();
  EXPECT_EQ(ints.type, DataType::kINT64);
  EXPECT_EQ(ints.toInts(), (std::vector<int64_t>{26, 26, 42}));  // 2 * (a + 3 * b)
  const HostTensor& promoted = *graphOutput(g, 1)->node()->tensorValue();
  EXPECT_EQ(promoted.type, DataType::kFLOAT);
  EXPECT_EQ(floatsOf(promoted), (std::vector<float>{6.5f, 6.5f, 10.5f}));
}

// Not folded: a non-weight input, a float alpha != 1 (torch may fuse it into one rounding), dtypes that
// differ, a result that disagrees with the graph's meta, and ops outside the set.
TEST(FoldConstantsTest, LeavesWhatItCannotComputeExactly) {
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({2}));
  ir::Value* w = g.addGetAttr("w", floats({2}, {1, 2}));
  ir::Value* n = g.addGetAttr("n", longs({2}, {1, 2}));
  ir::Value* withInput = call(g, kADD, "with_input", {v(x), v(w)}, meta({2}));
  ir::Value* alpha = call(g, kADD, "alpha", {v(w), v(w)}, meta({2}), {{"alpha", d(0.1)}});
  ir::Value* mixed = call(g, kMUL, "mixed", {v(w), v(n)}, meta({2}));
  ir::Value* wrongMeta = call(g, kT, "wrong_meta", {v(w)}, meta({3}));
  ir::Value* relu = call(g, kRELU, "relu", {v(w)}, meta({2}));
  g.setOutputs({v(withInput), v(alpha), v(mixed), v(wrongMeta), v(relu)});
  EXPECT_FALSE(runPass(foldConstants, g));
  EXPECT_EQ(targets(g).size(), 5u);
}

// ---- eliminate_dead_code --------------------------------------------------------------------------------

TEST(EliminateDeadCodeTest, RemovesUnusedChainsAndWeights) {
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({2}));
  g.addPlaceholder("unused_input", meta({2}));
  ir::Value* w = g.addGetAttr("w", floats({2}, {1, 2}));
  ir::Value* dead1 = call(g, kADD, "dead1", {v(x), v(w)}, meta({2}));
  call(g, kRELU, "dead2", {v(dead1)}, meta({2}));
  call(g, kSIZE, "dead_size", {v(x), i(0)}, std::nullopt);
  call(g, kUNKNOWN_, "mutation", {v(x)}, meta({2}));  // its effect is on x
  call(g, kASSERT, "check", {i(1), c(ir::Constant::fromString("x must be positive"))}, std::nullopt);
  ir::Value* live = call(g, kRELU, "live", {v(x)}, meta({2}));
  g.setOutputs({v(live)});
  EXPECT_TRUE(runPass(eliminateDeadCode, g));
  EXPECT_EQ(targets(g), (Names{"aten::frobnicate_.default", "aten::_assert_scalar.default", "aten::relu.default"}));
  EXPECT_NE(g.findNode("unused_input"), nullptr);
  EXPECT_EQ(g.findNode("w"), nullptr);
  EXPECT_FALSE(runPass(eliminateDeadCode, g));
}

// ---- the default pipeline -------------------------------------------------------------------------------

TEST(DefaultPipelineTest, LowersASmallModel) {
  ir::Graph g;
  ir::Value* x = g.addPlaceholder("x", meta({2, 4}));
  ir::Value* w = g.addGetAttr("fc_weight", floats({3, 4}, {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}));
  ir::Value* b = g.addGetAttr("fc_bias", floats({3}, {1, 2, 3}));
  ir::Value* xc = call(g, kCLONE, "xc", {v(x)}, meta({2, 4}));
  ir::Value* wt = call(g, kT, "wt", {v(w)}, meta({4, 3}));
  ir::Value* fc = call(g, kADDMM, "fc", {v(b), v(xc), v(wt)}, meta({2, 3}));
  call(g, kRELU_, "act", {v(fc)}, meta({2, 3}));
  ir::Value* drop = call(g, kDROPOUT, "drop", {v(fc), d(0.1), c(ir::Constant::fromBool(false))}, meta({2, 3}));
  call(g, kRELU, "unused", {v(drop)}, meta({2, 3}));
  g.setOutputs({v(drop)});
  PassManager manager = defaultLoweringPasses();
  Status s = manager.run(g, true);
  ASSERT_TRUE(s.isOk()) << s.toString() << "\n" << g.print();
  EXPECT_EQ(targets(g), (Names{"aten::mm.default", "aten::add.Tensor", "aten::relu.default"}));
  EXPECT_EQ(manager.lastChanged(), (Names{"remove_no_ops", "functionalize_inplace", "decompose_addmm", "fold_constants",
                                          "eliminate_dead_code"}));
  const ir::Node* mm = g.findNode("fc_mm");
  ASSERT_NE(mm, nullptr) << g.print();
  EXPECT_EQ(mm->args()[0].value, x);
  EXPECT_EQ(mm->args()[1].value->node()->op(), ir::NodeOp::kGET_ATTR);
  EXPECT_EQ(mm->args()[1].value->node()->tensorValue()->dims, (Dims{4, 3}));
  EXPECT_EQ(g.findNode("fc_weight"), nullptr);
  EXPECT_EQ(graphOutput(g)->node()->target(), "aten::relu.default");
}

}  // namespace
}  // namespace lowering
}  // namespace kiln
