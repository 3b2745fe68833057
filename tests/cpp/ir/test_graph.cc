// The IR graph: building, naming, users bookkeeping, printing, erasing, rewiring and the verifier.
#include <gtest/gtest.h>

#include "ir/graph.h"

namespace kiln {
namespace ir {

// Reaches into the graph to break invariants the public API keeps, so each verifier check is exercised.
struct GraphTestAccess {
  static std::vector<std::unique_ptr<Node>>& nodes(Graph& g) { return g.nodes_; }
  static void renumber(Graph& g) { g.renumber(); }
  static std::string& name(Node* n) { return n->name_; }
  static std::string& name(Value* v) { return v->name_; }
  static int32_t& index(Node* n) { return n->index_; }
  static int32_t& index(Value* v) { return v->index_; }
  static std::vector<Node*>& users(Value* v) { return v->users_; }
  static std::vector<Value*>& outputs(Node* n) { return n->outputs_; }
  static void registerName(Graph& g, Node* n) { g.nodesByName_[n->name_] = n; }
  static void addStrayValue(Graph& g) {
    auto v = std::make_unique<Value>();
    v->name_ = "stray";
    g.values_.push_back(std::move(v));
  }
};

namespace {

const char* const kRelu = "aten::relu(Tensor self) -> Tensor";
const char* const kAdd = "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";
const char* const kConv =
    "aten::convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, SymInt[] "
    "dilation, bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor";
const char* const kTopk =
    "aten::topk(Tensor self, SymInt k, int dim=-1, bool largest=True, bool sorted=True) -> (Tensor values, Tensor "
    "indices)";
const char* const kSymSize = "aten::sym_size.int(Tensor self, int dim) -> SymInt";
const char* const kSplit = "aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]";
const char* const kCat = "aten::cat(Tensor[] tensors, int dim=0) -> Tensor";

SymDim sym(const std::string& name) {
  SymDim d;
  d.symbol = name;
  d.min = 1;
  return d;
}
SymDim fixed(int64_t extent) {
  SymDim d;
  d.extent = d.min = d.max = extent;
  return d;
}
TensorMeta meta(DataType type, std::vector<SymDim> shape) {
  TensorMeta m;
  m.dtype = type;
  m.shape = std::move(shape);
  return m;
}
TensorMeta f32(std::vector<SymDim> shape) { return meta(DataType::kFLOAT, std::move(shape)); }

Node* call(Graph& g, const char* schema, const std::string& name, std::vector<Arg> args,
           std::map<std::string, Arg> kwargs = {}, std::vector<std::optional<TensorMeta>> metas = {}) {
  StatusOr<Node*> node = g.addCall(schema, name, std::move(args), std::move(kwargs), std::move(metas));
  EXPECT_TRUE(node.isOk()) << node.status().message();
  return node.isOk() ? node.value() : nullptr;
}

void expectVerifyError(const Graph& g, const std::string& what) {
  Status s = g.verify();
  ASSERT_FALSE(s.isOk()) << "verifier accepted:\n" << g.print();
  EXPECT_NE(s.message().find(what), std::string::npos) << s.message();
}

bool contains(const std::vector<Node*>& nodes, const Node* n) {
  return std::find(nodes.begin(), nodes.end(), n) != nodes.end();
}

TEST(TensorMetaTest, DimsAndText) {
  TensorMeta m = f32({sym("s0"), fixed(3), fixed(224)});
  EXPECT_FALSE(m.isStatic());
  EXPECT_EQ(m.toDims(), (Dims{-1, 3, 224}));
  EXPECT_EQ(m.str(), "float32[s0,3,224]");
  TensorMeta s = meta(DataType::kINT64, {});
  EXPECT_TRUE(s.isStatic());
  EXPECT_EQ(s.toDims().nbDims, 0);
  EXPECT_EQ(s.str(), "int64[]");
  EXPECT_EQ(f32({SymDim{}}).str(), "float32[?]");
  TensorMeta big = f32(std::vector<SymDim>(9, fixed(1)));
  EXPECT_EQ(big.toDims().nbDims, -1);
}

// A small graph with each kind of node and output: the printer's exact text.
TEST(GraphTest, BuildAndPrint) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({sym("s0"), fixed(3), fixed(8), fixed(8)}));
  auto weights = std::make_shared<HostTensor>(DataType::kFLOAT, Dims{4, 3, 3, 3});
  Value* w = g.addGetAttr("conv.weight", weights);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->meta()->str(), "float32[4,3,3,3]");
  EXPECT_EQ(w->node()->tensorValue().get(), weights.get());
  EXPECT_EQ(w->node()->target(), "conv.weight");

  const TensorMeta y = f32({sym("s0"), fixed(4), fixed(8), fixed(8)});
  Node* conv =
      call(g, kConv, "conv",
           {Arg::of(x), Arg::of(w), Arg::of(Constant()), Arg::of(Constant::fromInts({1, 1})),
            Arg::of(Constant::fromInts({1, 1})), Arg::of(Constant::fromInts({1, 1})),
            Arg::of(Constant::fromBool(false)), Arg::of(Constant::fromInts({0, 0})), Arg::of(Constant::fromInt(1))},
           {}, {y});
  Node* relu = call(g, kRelu, "", {Arg::of(conv->output())}, {}, {y});
  const TensorMeta k = f32({sym("s0"), fixed(4), fixed(2), fixed(8)});
  Node* topk = call(g, kTopk, "", {Arg::of(relu->output()), Arg::of(Constant::fromInt(2))},
                    {{"dim", Arg::of(Constant::fromInt(2))}}, {k, meta(DataType::kINT64, k.shape)});
  Node* size = call(g, kSymSize, "", {Arg::of(x), Arg::of(Constant::fromInt(0))});
  Node* split = call(g, kSplit, "", {Arg::of(relu->output()), Arg::of(Constant::fromInt(2))});
  Node* gelu = call(g, "aten::gelu(Tensor self, *, str approximate=\"none\") -> Tensor", "", {Arg::of(relu->output())},
                    {{"approximate", Arg::of(Constant::fromString("tanh"))}}, {y});
  Node* out = g.setOutputs({Arg::of(topk->output(0)), Arg::of(topk->output(1)), Arg::of(split->output()),
                            Arg::of(size->output()), Arg::of(gelu->output()), Arg::of(Constant::fromDouble(0.5))});
  ASSERT_NE(out, nullptr);

  EXPECT_EQ(g.print(),
            "%x : float32[s0,3,8,8] = placeholder[target=x]\n"
            "%conv_weight : float32[4,3,3,3] = get_attr[target=conv.weight]\n"
            "%conv : float32[s0,4,8,8] = aten::convolution.default(%x, %conv_weight, None, [1, 1], [1, 1], [1, 1], "
            "False, [0, 0], 1)\n"
            "%relu : float32[s0,4,8,8] = aten::relu.default(%conv)\n"
            "%topk.0 : float32[s0,4,2,8], %topk.1 : int64[s0,4,2,8] = aten::topk.default(%relu, 2, 2, True, True)\n"
            "%sym_size = aten::sym_size.int(%x, 0)\n"
            "%split : Tensor[] = aten::split.Tensor(%relu, 2, 0)\n"
            "%gelu : float32[s0,4,8,8] = aten::gelu.default(%relu, \"tanh\")\n"
            "return (%topk.0, %topk.1, %split, %sym_size, %gelu, 0.5)\n");
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();

  // Structure behind the text.
  EXPECT_EQ(g.nodes().size(), 9u);
  EXPECT_EQ(g.outputNode(), out);
  EXPECT_EQ(out->op(), NodeOp::kOUTPUT);
  EXPECT_EQ(out->index(), 8);
  EXPECT_EQ(g.placeholders(), std::vector<Node*>{x->node()});
  EXPECT_EQ(conv->op(), NodeOp::kCALL_FUNCTION);
  EXPECT_EQ(conv->target(), "aten::convolution.default");
  ASSERT_NE(conv->schema(), nullptr);
  EXPECT_EQ(conv->schema()->arguments.size(), 9u);
  EXPECT_EQ(topk->outputs().size(), 2u);
  EXPECT_EQ(topk->output(1)->outputIndex(), 1);
  EXPECT_EQ(topk->output(1)->node(), topk);
  EXPECT_EQ(topk->output(2), nullptr);
  EXPECT_TRUE(split->output()->isList());
  EXPECT_FALSE(split->output()->isTensor());
  EXPECT_FALSE(size->output()->isTensor());
  EXPECT_FALSE(size->output()->isList());
  EXPECT_EQ(g.findNode("topk"), topk);
  EXPECT_EQ(g.findNode("nope"), nullptr);
  EXPECT_STREQ(nodeOpName(NodeOp::kGET_ATTR), "get_attr");
  EXPECT_STREQ(nodeOpName(NodeOp::kPLACEHOLDER), "placeholder");
  EXPECT_STREQ(nodeOpName(NodeOp::kCALL_FUNCTION), "call_function");
  EXPECT_STREQ(nodeOpName(NodeOp::kOUTPUT), "output");
  // Users: relu feeds topk, split and gelu; x feeds conv and sym_size.
  EXPECT_EQ(relu->output()->users(), (std::vector<Node*>{topk, split, gelu}));
  EXPECT_EQ(x->users(), (std::vector<Node*>{conv, size}));
  EXPECT_EQ(topk->output(0)->users(), std::vector<Node*>{out});
}

TEST(GraphTest, SchemasAreCachedByText) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({fixed(2)}));
  Node* a = call(g, kRelu, "", {Arg::of(x)});
  Node* b = call(g, kRelu, "", {Arg::of(a->output())});
  EXPECT_EQ(a->schema(), b->schema());
  EXPECT_EQ(a->name(), "relu");
  EXPECT_EQ(b->name(), "relu_1");
}

TEST(GraphTest, UniqueNames) {
  Graph g;
  EXPECT_EQ(g.uniqueName("add"), "add");
  EXPECT_EQ(g.uniqueName("add"), "add_1");
  EXPECT_EQ(g.uniqueName("add"), "add_2");
  EXPECT_EQ(g.uniqueName("add_1"), "add_1_1");
  EXPECT_EQ(g.uniqueName("conv1.weight"), "conv1_weight");
  EXPECT_EQ(g.uniqueName("1x"), "_1x");
  EXPECT_EQ(g.uniqueName(""), "v");
  // A reserved name is kept by the node it was reserved for.
  Value* x = g.addPlaceholder("x", f32({fixed(2)}));
  const std::string name = g.uniqueName("relu");
  Node* relu = call(g, kRelu, name, {Arg::of(x)});
  EXPECT_EQ(relu->name(), "relu");
  Node* again = call(g, kRelu, "relu", {Arg::of(x)});
  EXPECT_EQ(again->name(), "relu_1");
  // Odd caller names are made identifiers; the placeholder keeps its name as target.
  Value* odd = g.addPlaceholder("input.1", f32({fixed(2)}));
  EXPECT_EQ(odd->name(), "input_1");
  EXPECT_EQ(odd->node()->target(), "input.1");
  Value* dup = g.addPlaceholder("x", f32({fixed(2)}));
  EXPECT_EQ(dup->name(), "x_1");
}

TEST(GraphTest, PlaceholdersStayFirstAndCallsBeforeOutput) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({fixed(2)}));
  Node* relu = call(g, kRelu, "", {Arg::of(x)});
  g.setOutputs({Arg::of(relu->output())});
  Value* y = g.addPlaceholder("y", f32({fixed(2)}));
  Node* add = call(g, kAdd, "", {Arg::of(relu->output()), Arg::of(y)});
  Value* c = g.addGetAttr("c", nullptr);
  EXPECT_FALSE(c->isTensor());
  ASSERT_EQ(g.nodes().size(), 6u);
  EXPECT_EQ(g.nodes()[0]->name(), "x");
  EXPECT_EQ(g.nodes()[1]->name(), "y");
  EXPECT_EQ(g.nodes()[2].get(), relu);
  EXPECT_EQ(g.nodes()[3].get(), add);
  EXPECT_EQ(g.nodes()[4]->name(), "c");
  EXPECT_EQ(g.nodes()[5]->op(), NodeOp::kOUTPUT);
  for (size_t i = 0; i < g.nodes().size(); ++i) EXPECT_EQ(g.nodes()[i]->index(), static_cast<int32_t>(i));
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
}

TEST(GraphTest, InsertBefore) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({fixed(2)}));
  Node* relu = call(g, kRelu, "", {Arg::of(x)});
  Node* out = g.setOutputs({Arg::of(relu->output())});
  std::shared_ptr<const FunctionSchema> schema =
      relu->schema() ? std::make_shared<FunctionSchema>(*relu->schema()) : nullptr;
  StatusOr<Node*> first = g.addCall(schema, "first", {Arg::of(x)}, {}, relu);
  ASSERT_TRUE(first.isOk()) << first.status().message();
  EXPECT_EQ((*first)->index(), 1);
  EXPECT_EQ(relu->index(), 2);
  EXPECT_EQ(out->index(), 3);
  // Reading a value defined after the insertion point is refused.
  StatusOr<Node*> bad = g.addCall(schema, "bad", {Arg::of(relu->output())}, {}, *first);
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("reads %relu, which is defined after the insertion point"), std::string::npos)
      << bad.status().message();
  Value* w = g.addGetAttr("w", std::make_shared<HostTensor>(DataType::kFLOAT, Dims{2}), relu);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->node()->index() + 1, relu->index());
  Graph other;
  Value* foreign = other.addPlaceholder("z", f32({fixed(2)}));
  EXPECT_EQ(g.addGetAttr("v", nullptr, foreign->node()), nullptr);
  StatusOr<Node*> elsewhere = g.addCall(schema, "e", {Arg::of(x)}, {}, foreign->node());
  ASSERT_FALSE(elsewhere.isOk());
  EXPECT_NE(elsewhere.status().message().find("not a node of this graph"), std::string::npos);
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
}

TEST(GraphTest, AddCallErrors) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({fixed(2)}));
  StatusOr<Node*> r = g.addCall(kRelu, "r", {Arg::of(x)}, {{"inplace", Arg::of(Constant::fromBool(true))}}, {});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("adding node 'r': aten::relu.default: unknown keyword argument 'inplace'"),
            std::string::npos)
      << r.status().message();

  r = g.addCall(kAdd, "", {Arg::of(x)}, {}, {});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("missing required argument 'other'"), std::string::npos);

  r = g.addCall("aten::relu(Tensor self -> Tensor", "r", {Arg::of(x)}, {}, {});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("column"), std::string::npos);

  Graph other;
  Value* foreign = other.addPlaceholder("y", f32({fixed(2)}));
  r = g.addCall(kRelu, "r", {Arg::of(foreign)}, {}, {});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("argument 'self' reads %y, which is not defined in this graph"),
            std::string::npos)
      << r.status().message();
  r = g.addCall(kCat, "c", {Arg::listOf({Arg::of(x), Arg::of(foreign)})}, {}, {});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("argument 'tensors' reads %y"), std::string::npos) << r.status().message();

  r = g.addCall(kSplit, "s", {Arg::of(x), Arg::of(Constant::fromInt(1))}, {}, {f32({fixed(1)})});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("cannot have a tensor meta"), std::string::npos) << r.status().message();
  r = g.addCall(kRelu, "r", {Arg::of(x)}, {}, {f32({fixed(2)}), f32({fixed(2)})});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("2 output metas for 1 returns"), std::string::npos) << r.status().message();

  r = g.addCall(std::shared_ptr<const FunctionSchema>(), "n", {}, {});
  EXPECT_FALSE(r.isOk());
  auto schema = std::make_shared<FunctionSchema>(parseSchema(kAdd).value());
  r = g.addCall(schema, "n", {Arg::of(x)}, {});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("takes 3 arguments, got 1"), std::string::npos) << r.status().message();
  r = g.addCall(schema, "n", {Arg::of(x), Arg{}, Arg::of(static_cast<Value*>(nullptr))}, {});
  ASSERT_FALSE(r.isOk());
  EXPECT_NE(r.status().message().find("null value"), std::string::npos) << r.status().message();

  // Nothing was added by the failed calls.
  EXPECT_EQ(g.nodes().size(), 1u);
  EXPECT_TRUE(x->users().empty());
}

TEST(GraphTest, UsersAreDistinctNodes) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({fixed(2)}));
  Node* add = call(g, kAdd, "", {Arg::of(x), Arg::of(x)});
  Node* cat = call(g, kCat, "", {Arg::listOf({Arg::of(x), Arg::of(add->output()), Arg::of(x)})});
  g.setOutputs({Arg::of(cat->output())});
  EXPECT_EQ(x->users(), (std::vector<Node*>{add, cat}));
  EXPECT_EQ(add->output()->users(), std::vector<Node*>{cat});
  // Replacing one of two uses keeps the node a user; replacing both drops it.
  add->setArg(0, Arg::of(Constant::fromInt(1)));
  EXPECT_TRUE(contains(x->users(), add));
  add->setArg(1, Arg::of(Constant::fromInt(2)));
  EXPECT_FALSE(contains(x->users(), add));
  add->setArg(1, Arg::of(x));
  EXPECT_TRUE(contains(x->users(), add));
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
}

TEST(GraphTest, EraseWithUsersIsAnError) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({fixed(2)}));
  Node* relu = call(g, kRelu, "", {Arg::of(x)});
  Node* add = call(g, kAdd, "", {Arg::of(relu->output()), Arg::of(x)});
  Node* dead = call(g, kRelu, "dead", {Arg::of(relu->output())});
  g.setOutputs({Arg::of(add->output())});

  Status s = g.erase(relu);
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), StatusCode::kFAILED_PRECONDITION);
  EXPECT_NE(s.message().find("cannot erase %relu (aten::relu.default): its output %relu is still used by %add, %dead"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(g.nodes().size(), 5u);

  ASSERT_TRUE(g.erase(dead).isOk());
  EXPECT_EQ(g.findNode("dead"), nullptr);
  EXPECT_EQ(relu->output()->users(), std::vector<Node*>{add});
  EXPECT_EQ(g.nodes().size(), 4u);
  EXPECT_EQ(g.outputNode()->index(), 3);
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();

  Graph other;
  EXPECT_FALSE(other.erase(add).isOk());
  EXPECT_FALSE(g.erase(nullptr).isOk());
  // The name stays reserved: a new node does not silently reuse an erased node's generated suffix.
  EXPECT_EQ(g.uniqueName("dead"), "dead_1");
}

TEST(GraphTest, ReplaceAllUsesWith) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({fixed(2)}));
  Node* relu = call(g, kRelu, "", {Arg::of(x)});
  Node* add = call(g, kAdd, "", {Arg::of(relu->output()), Arg::of(relu->output())});
  Node* cat = call(g, kCat, "", {Arg::listOf({Arg::of(relu->output()), Arg::of(add->output())})});
  Node* out = g.setOutputs({Arg::of(relu->output()), Arg::of(cat->output())});

  g.replaceAllUsesWith(relu->output(), x);
  EXPECT_TRUE(relu->output()->users().empty());
  EXPECT_EQ(x->users(), (std::vector<Node*>{relu, add, cat, out}));
  EXPECT_EQ(add->args()[0].value, x);
  EXPECT_EQ(add->args()[1].value, x);
  EXPECT_EQ(cat->args()[0].list[0].value, x);
  EXPECT_EQ(out->args()[0].value, x);
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
  ASSERT_TRUE(g.erase(relu).isOk());
  EXPECT_TRUE(g.verify().isOk()) << g.verify().message();
  EXPECT_EQ(g.print(),
            "%x : float32[2] = placeholder[target=x]\n"
            "%add = aten::add.Tensor(%x, %x, 1)\n"
            "%cat = aten::cat.default([%x, %add], 0)\n"
            "return (%x, %cat)\n");
  g.replaceAllUsesWith(x, x);  // no-op
  g.replaceAllUsesWith(nullptr, x);
  EXPECT_TRUE(g.verify().isOk());
}

TEST(GraphTest, SetOutputsReplacesArgs) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({fixed(2)}));
  Node* relu = call(g, kRelu, "", {Arg::of(x)});
  Node* out = g.setOutputs({Arg::of(relu->output())});
  EXPECT_EQ(g.setOutputs({Arg::of(x)}), out);
  EXPECT_TRUE(relu->output()->users().empty());
  EXPECT_TRUE(contains(x->users(), out));
  EXPECT_EQ(g.nodes().size(), 3u);
  EXPECT_TRUE(g.verify().isOk());
}

// ---- the verifier, one violation at a time ----

class VerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    x = g.addPlaceholder("x", f32({fixed(2)}));
    relu = call(g, kRelu, "", {Arg::of(x)});
    add = call(g, kAdd, "", {Arg::of(relu->output()), Arg::of(x)});
    out = g.setOutputs({Arg::of(add->output())});
    ASSERT_TRUE(g.verify().isOk()) << g.verify().message();
  }
  Graph g;
  Value* x = nullptr;
  Node* relu = nullptr;
  Node* add = nullptr;
  Node* out = nullptr;
};

TEST_F(VerifierTest, MissingOutputNode) {
  Graph empty;
  empty.addPlaceholder("x", f32({fixed(1)}));
  expectVerifyError(empty, "no output node");
}

TEST_F(VerifierTest, OutputNodeNotLast) {
  auto& nodes = GraphTestAccess::nodes(g);
  std::swap(nodes[2], nodes[3]);
  GraphTestAccess::renumber(g);
  // add now follows the output node (and the output reads add before it is defined).
  expectVerifyError(g, "must be last, but %add (aten::add.Tensor) follows it");
}

TEST_F(VerifierTest, TwoOutputNodes) {
  // A second output node, built in another graph and moved in.
  Graph other;
  Node* second = other.setOutputs({});
  auto& theirs = GraphTestAccess::nodes(other);
  auto& ours = GraphTestAccess::nodes(g);
  GraphTestAccess::name(second) = "output_1";
  ours.insert(ours.begin() + 3, std::move(theirs[0]));
  theirs.clear();
  GraphTestAccess::registerName(g, second);
  GraphTestAccess::renumber(g);
  expectVerifyError(g, "must be last");
}

TEST_F(VerifierTest, DuplicateNodeName) {
  GraphTestAccess::name(add) = "relu";
  expectVerifyError(g, "another node has the same name");
}

TEST_F(VerifierTest, DuplicateValueName) {
  GraphTestAccess::name(add->output()) = "relu";
  expectVerifyError(g, "value name %relu is used twice");
}

TEST_F(VerifierTest, UseBeforeDefinition) {
  relu->setArg(0, Arg::of(add->output()));
  expectVerifyError(g, "%relu (aten::relu.default) reads %add, which is defined after it (by %add");
}

TEST_F(VerifierTest, ValueOfAnotherGraph) {
  Graph other;
  Value* foreign = other.addPlaceholder("y", f32({fixed(2)}));
  add->setArg(1, Arg::of(foreign));
  expectVerifyError(g, "%add (aten::add.Tensor) reads %y, which is not defined in this graph");
}

TEST_F(VerifierTest, MissingUser) {
  GraphTestAccess::users(x).clear();
  expectVerifyError(g, "%relu (aten::relu.default) reads %x but is not in its users list");
}

TEST_F(VerifierTest, BogusUser) {
  GraphTestAccess::users(relu->output()).push_back(out);
  expectVerifyError(g, "%relu lists %output as a user, but that node does not read it");
}

TEST_F(VerifierTest, DuplicateUser) {
  GraphTestAccess::users(x).push_back(relu);
  expectVerifyError(g, "%x lists the user %relu twice");
}

TEST_F(VerifierTest, ArgumentsNotNormalized) {
  relu->setArg(2, Arg::of(Constant::fromInt(1)));
  EXPECT_EQ(relu->args().size(), 3u);
  expectVerifyError(g, "%relu (aten::relu.default) has 3 arguments, its schema 1 (arguments must be normalized)");
}

TEST_F(VerifierTest, StaleIndex) {
  GraphTestAccess::index(relu) = 7;
  expectVerifyError(g, "%relu (aten::relu.default) has index 7 but is node 1");
}

TEST_F(VerifierTest, OutputBackPointer) {
  GraphTestAccess::index(add->output()) = 1;
  expectVerifyError(g, "output 0 (%add) does not point back to it");
}

TEST_F(VerifierTest, WrongOutputCount) {
  GraphTestAccess::outputs(relu).clear();
  expectVerifyError(g, "%relu (aten::relu.default) has 0 outputs, its schema 1 returns");
}

TEST_F(VerifierTest, OrphanValue) {
  GraphTestAccess::addStrayValue(g);
  expectVerifyError(g, "%stray is owned by the graph but no node produces it");
}

// ---- list values: an op's Tensor[] output is one value; list_get reads its items ----

TEST(ListValueTest, ItemsAreReadWithListGet) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({fixed(4), fixed(6)}));
  Node* split = call(g, kSplit, "", {Arg::of(x), Arg::of(Constant::fromInt(3)), Arg::of(Constant::fromInt(1))});
  ASSERT_NE(split, nullptr);
  // One meta per item is not how a list is typed: the items get theirs at list_get.
  StatusOr<Node*> typed = g.addCall(kSplit, "bad", {Arg::of(x), Arg::of(Constant::fromInt(3))}, {},
                                    {f32({fixed(4), fixed(3)}), f32({fixed(4), fixed(3)})});
  ASSERT_FALSE(typed.isOk());
  EXPECT_NE(typed.status().message().find("2 output metas for 1 returns"), std::string::npos)
      << typed.status().message();
  Node* first = call(g, kLIST_GET_SCHEMA, "getitem", {Arg::of(split->output()), Arg::of(Constant::fromInt(0))}, {},
                     {f32({fixed(4), fixed(3)})});
  Node* last = call(g, kLIST_GET_SCHEMA, "getitem_1", {Arg::of(split->output()), Arg::of(Constant::fromInt(-1))},
                    {}, {f32({fixed(4), fixed(3)})});
  Node* add = call(g, kAdd, "", {Arg::of(first->output()), Arg::of(last->output())});
  Node* cat = call(g, kCat, "", {Arg::of(split->output()), Arg::of(Constant::fromInt(0))});
  g.setOutputs({Arg::of(add->output()), Arg::of(cat->output())});
  ASSERT_TRUE(g.verify().isOk()) << g.verify().message();
  EXPECT_EQ(first->target(), "prim::list_get.default");
  EXPECT_TRUE(split->output()->isList());
  EXPECT_FALSE(first->output()->isList());
  EXPECT_TRUE(first->output()->isTensor());
  EXPECT_EQ(split->output()->users(), (std::vector<Node*>{first, last, cat}));
  EXPECT_NE(g.print().find("%getitem_1 : float32[4,3] = prim::list_get.default(%split, -1)"), std::string::npos)
      << g.print();
}

TEST(ListValueTest, VerifierRejectsAListReadAsATensor) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({fixed(4)}));
  Node* split = call(g, kSplit, "", {Arg::of(x), Arg::of(Constant::fromInt(2))});
  Node* relu = call(g, kRelu, "", {Arg::of(split->output())});
  g.setOutputs({Arg::of(relu->output())});
  expectVerifyError(g, "%relu (aten::relu.default): argument 'self' (Tensor) reads the list %split as a tensor");
}

TEST(ListValueTest, VerifierRejectsAListAsAnItem) {
  Graph g;
  Value* x = g.addPlaceholder("x", f32({fixed(4)}));
  Node* split = call(g, kSplit, "", {Arg::of(x), Arg::of(Constant::fromInt(2))});
  Node* cat = call(g, kCat, "", {Arg::listOf({Arg::of(x), Arg::of(split->output())}), Arg::of(Constant::fromInt(0))});
  g.setOutputs({Arg::of(cat->output())});
  expectVerifyError(g, "argument 'tensors' (Tensor[]) reads the list %split as a tensor");
}

TEST_F(VerifierTest, ErrorsAreInternal) {
  GraphTestAccess::index(relu) = 7;
  Status s = g.verify();
  EXPECT_EQ(s.code(), StatusCode::kINTERNAL);
  EXPECT_EQ(s.message().rfind("graph verification failed: ", 0), 0u) << s.message();
}

}  // namespace
}  // namespace ir
}  // namespace kiln
