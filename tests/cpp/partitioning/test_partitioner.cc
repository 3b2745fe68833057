// The partitioner: segment growth, cycle avoidance, min_block_size fallback, torch_executed_ops,
// require_full_compilation errors, weights, segment boundaries, the report, and random graphs checked for a
// valid schedule.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "conversion/registry.h"
#include "ir/graph.h"
#include "partitioning/partitioner.h"

namespace kiln {
namespace partitioning {
namespace {

using conversion::Unsupported;

constexpr const char* kRELU = "aten::relu(Tensor self) -> Tensor";
constexpr const char* kERF = "aten::erf(Tensor self) -> Tensor";  // never registered: runs in PyTorch
constexpr const char* kSIN = "aten::sin(Tensor self) -> Tensor";  // registered with a validator that refuses
constexpr const char* kADD = "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";
constexpr const char* kADD_SCALAR = "aten::add.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor";
constexpr const char* kMUL = "aten::mul.Tensor(Tensor self, Tensor other) -> Tensor";

ir::TensorMeta f32(std::vector<int64_t> extents) {
  ir::TensorMeta m;
  for (int64_t e : extents) {
    ir::SymDim d;
    d.extent = d.min = d.max = e;
    m.shape.push_back(d);
  }
  return m;
}

conversion::ConverterCandidate candidate() {
  conversion::ConverterCandidate c;
  c.converter = [](conversion::ConversionCtx&, const ir::Node&, std::vector<conversion::ConverterArg>&) {
    return Status::ok();
  };
  c.supportsDynamicShapes = true;
  return c;
}

// relu, add (both overloads) and mul convert; erf has no converter; sin's validator refuses every node.
struct Fixture {
  ir::Graph graph;
  conversion::ConverterRegistry registry;
  conversion::CompilationSettings settings;
  ir::Value* x = nullptr;

  Fixture() {
    registry.add("aten::relu.default", candidate());
    registry.add("aten::add.Tensor", candidate());
    registry.add("aten::add.Scalar", candidate());
    registry.add("aten::mul.Tensor", candidate());
    conversion::ConverterCandidate refusing = candidate();
    refusing.validator = [](const ir::Node&, const conversion::CompilationSettings&) { return false; };
    registry.add("aten::sin.default", refusing);
    settings.minBlockSize = 1;
    x = graph.addPlaceholder("x", f32({2, 3}));
  }

  ir::Value* call(const char* schema, const std::string& name, std::vector<ir::Value*> inputs) {
    std::vector<ir::Arg> args;
    for (ir::Value* v : inputs) args.push_back(ir::Arg::of(v));
    StatusOr<ir::Node*> node = graph.addCall(schema, name, std::move(args), {}, {f32({2, 3})});
    EXPECT_TRUE(node.isOk()) << node.status().toString();
    return node.isOk() ? node.value()->output(0) : nullptr;
  }

  PartitionResult run() {
    StatusOr<PartitionResult> result = partition(graph, registry, settings);
    EXPECT_TRUE(result.isOk()) << result.status().toString();
    if (!result.isOk()) return {};
    expectValidSchedule(result.value());
    return std::move(result).value();
  }

  // Every call node is in exactly one segment; every segment reads only placeholders, its own weights and
  // values of earlier segments; inputs and outputs are exactly the values crossing the boundary.
  void expectValidSchedule(const PartitionResult& result) const {
    std::map<const ir::Node*, int32_t> segmentOf;
    for (const Segment& s : result.segments) {
      EXPECT_EQ(s.id, &s - result.segments.data());
      std::set<const ir::Node*> inside(s.nodes.begin(), s.nodes.end());
      for (size_t i = 1; i < s.nodes.size(); ++i) EXPECT_LT(s.nodes[i - 1]->index(), s.nodes[i]->index());
      for (const ir::Node* node : s.nodes) {
        if (node->op() != ir::NodeOp::kCALL_FUNCTION) continue;
        EXPECT_EQ(segmentOf.count(node), 0u) << "%" << node->name() << " is in two segments";
        segmentOf[node] = s.id;
      }
      for (const ir::Node* node : s.nodes) {
        for (const ir::Arg& arg : node->args()) {
          if (!arg.isValue()) continue;
          const ir::Node* producer = arg.value->node();
          if (inside.count(producer) != 0) continue;
          EXPECT_NE(producer->op(), ir::NodeOp::kGET_ATTR) << "weight %" << producer->name() << " crosses";
          EXPECT_NE(std::find(s.inputs.begin(), s.inputs.end(), arg.value), s.inputs.end())
              << "%" << arg.value->name() << " is read by segment " << s.id << " but not an input";
          if (producer->op() == ir::NodeOp::kCALL_FUNCTION) {
            ASSERT_EQ(segmentOf.count(producer), 1u)
                << "segment " << s.id << " reads %" << producer->name() << " before it runs";
            EXPECT_LT(segmentOf[producer], s.id);
          }
        }
      }
    }
    size_t calls = 0;
    for (const auto& node : graph.nodes()) calls += node->op() == ir::NodeOp::kCALL_FUNCTION ? 1 : 0;
    EXPECT_EQ(segmentOf.size(), calls);
    EXPECT_EQ(result.decisions.size(), calls);
    for (const NodeDecision& d : result.decisions) {
      EXPECT_EQ(d.segment, segmentOf[d.node]);
      EXPECT_EQ(result.segments[d.segment].runsInKiln, d.reason == Unsupported::kNONE) << d.node->name();
    }
  }
};

std::vector<std::string> names(const std::vector<const ir::Node*>& nodes) {
  std::vector<std::string> out;
  for (const ir::Node* n : nodes) out.push_back(n->name());
  return out;
}

std::vector<std::string> names(const std::vector<const ir::Value*>& values) {
  std::vector<std::string> out;
  for (const ir::Value* v : values) out.push_back(v->name());
  return out;
}

using Names = std::vector<std::string>;

const NodeDecision& decisionFor(const PartitionResult& result, const std::string& name) {
  for (const NodeDecision& d : result.decisions) {
    if (d.node->name() == name) return d;
  }
  static NodeDecision none;
  ADD_FAILURE() << "no decision for %" << name;
  return none;
}

TEST(PartitionerTest, SupportedChainIsOneSegment) {
  Fixture f;
  ir::Value* a = f.call(kRELU, "a", {f.x});
  ir::Value* b = f.call(kADD, "b", {a, f.x});
  ir::Value* c = f.call(kMUL, "c", {b, a});
  f.graph.setOutputs({ir::Arg::of(c)});
  PartitionResult r = f.run();
  ASSERT_EQ(r.segments.size(), 1u);
  EXPECT_TRUE(r.segments[0].runsInKiln);
  EXPECT_EQ(names(r.segments[0].nodes), (Names{"a", "b", "c"}));
  EXPECT_EQ(names(r.segments[0].inputs), (Names{"x"}));
  EXPECT_EQ(names(r.segments[0].outputs), (Names{"c"}));
  EXPECT_EQ(r.engineSegments(), 1);
}

TEST(PartitionerTest, UnsupportedNodeSplitsAChain) {
  Fixture f;
  ir::Value* a = f.call(kRELU, "a", {f.x});
  ir::Value* p = f.call(kERF, "p", {a});
  ir::Value* b = f.call(kRELU, "b", {p});
  f.graph.setOutputs({ir::Arg::of(b)});
  PartitionResult r = f.run();
  ASSERT_EQ(r.segments.size(), 3u);
  EXPECT_TRUE(r.segments[0].runsInKiln);
  EXPECT_FALSE(r.segments[1].runsInKiln);
  EXPECT_TRUE(r.segments[2].runsInKiln);
  EXPECT_EQ(names(r.segments[1].nodes), (Names{"p"}));
  EXPECT_EQ(names(r.segments[1].inputs), (Names{"a"}));
  EXPECT_EQ(names(r.segments[1].outputs), (Names{"p"}));
  EXPECT_EQ(decisionFor(r, "p").reason, Unsupported::kNO_CONVERTER);
  EXPECT_EQ(r.engineSegments(), 2);
}

// a -> erf -> b with b also reading a: one segment holding a and b would both feed and read the erf.
TEST(PartitionerTest, NoCycleThroughAPyTorchNode) {
  Fixture f;
  ir::Value* a = f.call(kRELU, "a", {f.x});
  ir::Value* p = f.call(kERF, "p", {a});
  ir::Value* b = f.call(kADD, "b", {p, a});
  f.graph.setOutputs({ir::Arg::of(b)});
  PartitionResult r = f.run();
  const NodeDecision& da = decisionFor(r, "a");
  const NodeDecision& db = decisionFor(r, "b");
  EXPECT_EQ(da.reason, Unsupported::kNONE);
  EXPECT_EQ(db.reason, Unsupported::kNONE);
  EXPECT_NE(da.segment, db.segment);
  ASSERT_EQ(r.segments.size(), 3u);
  EXPECT_EQ(names(r.segments[0].outputs), (Names{"a"}));  // read by the erf and by b's segment
  EXPECT_EQ(names(r.segments[2].inputs), (Names{"p", "a"}));
}

// A PyTorch node that does not depend on the open segment does not split it; it runs before the segment.
TEST(PartitionerTest, IndependentPyTorchNodeDoesNotSplit) {
  Fixture f;
  ir::Value* a = f.call(kRELU, "a", {f.x});
  ir::Value* p = f.call(kERF, "p", {f.x});
  ir::Value* b = f.call(kADD, "b", {a, p});
  f.graph.setOutputs({ir::Arg::of(b)});
  PartitionResult r = f.run();
  ASSERT_EQ(r.segments.size(), 2u);
  EXPECT_FALSE(r.segments[0].runsInKiln);
  EXPECT_EQ(names(r.segments[0].nodes), (Names{"p"}));
  EXPECT_TRUE(r.segments[1].runsInKiln);
  EXPECT_EQ(names(r.segments[1].nodes), (Names{"a", "b"}));
  EXPECT_EQ(names(r.segments[1].inputs), (Names{"x", "p"}));
}

TEST(PartitionerTest, SmallSegmentsFallBackToPyTorch) {
  Fixture f;
  f.settings.minBlockSize = 3;
  ir::Value* a = f.call(kRELU, "a", {f.x});
  ir::Value* b = f.call(kRELU, "b", {a});
  ir::Value* p = f.call(kERF, "p", {b});
  ir::Value* c = f.call(kRELU, "c", {p});
  ir::Value* d = f.call(kRELU, "d", {c});
  ir::Value* e = f.call(kRELU, "e", {d});
  f.graph.setOutputs({ir::Arg::of(e)});
  PartitionResult r = f.run();
  EXPECT_EQ(r.engineSegments(), 1);
  ASSERT_EQ(r.segments.size(), 2u);
  EXPECT_FALSE(r.segments[0].runsInKiln);
  EXPECT_EQ(names(r.segments[0].nodes), (Names{"a", "b", "p"}));
  EXPECT_EQ(names(r.segments[1].nodes), (Names{"c", "d", "e"}));
  EXPECT_EQ(decisionFor(r, "a").reason, Unsupported::kBELOW_MIN_BLOCK_SIZE);
  EXPECT_EQ(decisionFor(r, "p").reason, Unsupported::kNO_CONVERTER);
  EXPECT_NE(r.report().find("min_block_size"), std::string::npos) << r.report();

  f.settings.minBlockSize = 4;
  PartitionResult none = f.run();
  EXPECT_EQ(none.engineSegments(), 0);
  ASSERT_EQ(none.segments.size(), 1u);  // everything is one PyTorch segment
  EXPECT_EQ(none.segments[0].nodes.size(), 6u);
}

TEST(PartitionerTest, TorchExecutedOpsExactOverload) {
  Fixture f;
  ir::Value* a = f.call(kADD, "a", {f.x, f.x});
  StatusOr<ir::Node*> s =
      f.graph.addCall(kADD_SCALAR, "s", {ir::Arg::of(a), ir::Arg::of(ir::Constant::fromInt(1))}, {}, {f32({2, 3})});
  ASSERT_TRUE(s.isOk()) << s.status().toString();
  f.graph.setOutputs({ir::Arg::of(s.value()->output(0))});

  f.settings.torchExecutedOps = {"aten::add.Tensor"};
  PartitionResult exact = f.run();
  EXPECT_EQ(decisionFor(exact, "a").reason, Unsupported::kFORCED_TO_TORCH);
  EXPECT_EQ(decisionFor(exact, "s").reason, Unsupported::kNONE);
  EXPECT_NE(exact.report().find("%a (aten::add.Tensor): forced to PyTorch by torch_executed_ops"), std::string::npos)
      << exact.report();

  f.settings.torchExecutedOps = {"aten::add"};
  PartitionResult whole = f.run();
  EXPECT_EQ(decisionFor(whole, "a").reason, Unsupported::kFORCED_TO_TORCH);
  EXPECT_EQ(decisionFor(whole, "s").reason, Unsupported::kFORCED_TO_TORCH);
  EXPECT_EQ(whole.engineSegments(), 0);

  f.settings.torchExecutedOps = {"aten::add.Scalar", "aten::mul"};
  PartitionResult other = f.run();
  EXPECT_EQ(decisionFor(other, "a").reason, Unsupported::kNONE);
  EXPECT_EQ(decisionFor(other, "s").reason, Unsupported::kFORCED_TO_TORCH);
}

TEST(PartitionerTest, ValidatorRefusalIsReported) {
  Fixture f;
  ir::Value* a = f.call(kSIN, "a", {f.x});
  f.graph.setOutputs({ir::Arg::of(a)});
  PartitionResult r = f.run();
  EXPECT_EQ(decisionFor(r, "a").reason, Unsupported::kVALIDATOR_REFUSED);
  EXPECT_EQ(r.engineSegments(), 0);
}

TEST(PartitionerTest, RequireFullCompilationListsEveryUnsupportedNode) {
  Fixture f;
  f.settings.requireFullCompilation = true;
  ir::Value* a = f.call(kERF, "a", {f.x});
  f.graph.findNode("a")->meta()["stack"] = "model.py:12 in forward";
  ir::Value* b = f.call(kRELU, "b", {a});
  ir::Value* c = f.call(kSIN, "c", {b});
  f.graph.setOutputs({ir::Arg::of(c)});
  StatusOr<PartitionResult> r = partition(f.graph, f.registry, f.settings);
  ASSERT_FALSE(r.isOk());
  const std::string message = r.status().message();
  EXPECT_NE(message.find("2 nodes"), std::string::npos) << message;
  EXPECT_NE(message.find("%a (aten::erf.default) from model.py:12 in forward: " +
                         std::string(conversion::unsupportedReason(Unsupported::kNO_CONVERTER))),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("%c (aten::sin.default) from unknown location: " +
                         std::string(conversion::unsupportedReason(Unsupported::kVALIDATOR_REFUSED))),
            std::string::npos)
      << message;
  EXPECT_EQ(message.find("%b"), std::string::npos) << message;
  EXPECT_NE(message.find("require_full_compilation"), std::string::npos) << message;
}

// Under require_full_compilation the whole graph is one engine, however small.
TEST(PartitionerTest, RequireFullCompilationIgnoresMinBlockSize) {
  Fixture f;
  f.settings.requireFullCompilation = true;
  f.settings.minBlockSize = 10;
  ir::Value* a = f.call(kRELU, "a", {f.x});
  ir::Value* b = f.call(kADD, "b", {a, f.x});
  f.graph.setOutputs({ir::Arg::of(b)});
  PartitionResult r = f.run();
  ASSERT_EQ(r.segments.size(), 1u);
  EXPECT_TRUE(r.segments[0].runsInKiln);
}

// Weights join every segment that reads them and are never segment inputs or outputs.
TEST(PartitionerTest, WeightsJoinEverySegmentThatReadsThem) {
  Fixture f;
  auto tensor = std::make_shared<HostTensor>(DataType::kFLOAT, Dims{2, 3});
  ir::Value* w = f.graph.addGetAttr("w", tensor);
  ir::Value* unused = f.graph.addGetAttr("only_output", tensor);
  ir::Value* a = f.call(kADD, "a", {f.x, w});
  ir::Value* p = f.call(kERF, "p", {a});
  ir::Value* q = f.call(kMUL, "q", {p, w});  // weight read in PyTorch too
  ir::Value* b = f.call(kADD, "b", {q, w});
  f.graph.setOutputs({ir::Arg::of(b), ir::Arg::of(unused)});
  f.settings.torchExecutedOps = {"aten::mul.Tensor"};
  PartitionResult r = f.run();
  ASSERT_EQ(r.segments.size(), 3u);
  EXPECT_EQ(names(r.segments[0].nodes), (Names{"w", "a"}));
  EXPECT_EQ(names(r.segments[0].inputs), (Names{"x"}));
  EXPECT_EQ(names(r.segments[0].outputs), (Names{"a"}));
  EXPECT_EQ(names(r.segments[1].nodes), (Names{"w", "p", "q"}));
  EXPECT_EQ(names(r.segments[2].nodes), (Names{"w", "b"}));
  EXPECT_EQ(names(r.segments[2].inputs), (Names{"q"}));
  for (const Segment& s : r.segments) {
    for (const ir::Node* node : s.nodes) EXPECT_NE(node->name(), "only_output");
  }
}

// Outputs: values read by later segments or by the graph output, in definition order.
TEST(PartitionerTest, SegmentOutputsInDefinitionOrder) {
  Fixture f;
  ir::Value* a = f.call(kRELU, "a", {f.x});
  ir::Value* b = f.call(kRELU, "b", {a});
  ir::Value* c = f.call(kRELU, "c", {b});
  ir::Value* p = f.call(kERF, "p", {c});
  ir::Value* q = f.call(kERF, "q", {a});
  f.graph.setOutputs({ir::Arg::of(p), ir::Arg::of(q), ir::Arg::of(b)});
  PartitionResult r = f.run();
  ASSERT_EQ(r.segments.size(), 2u);
  EXPECT_EQ(names(r.segments[0].outputs), (Names{"a", "b", "c"}));
  EXPECT_EQ(names(r.segments[1].inputs), (Names{"c", "a"}));
  EXPECT_EQ(names(r.segments[1].outputs), (Names{"p", "q"}));
}

constexpr const char* kSYM_SIZE = "aten::sym_size.int(Tensor self, int dim) -> SymInt";
constexpr const char* kVIEW = "aten::view(Tensor(a) self, SymInt[] size) -> Tensor(a)";
constexpr const char* kSPLIT = "aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]";
constexpr const char* kCAT = "aten::cat(Tensor[] tensors, int dim=0) -> Tensor";

// Engines take and return tensors: ints and lists never cross a segment boundary.
TEST(PartitionerTest, NonTensorValuesStayInsideSegments) {
  Fixture f;
  f.registry.add("aten::sym_size.int", candidate());
  f.registry.add("aten::split.Tensor", candidate());
  ir::Value* a = f.call(kRELU, "a", {f.x});
  StatusOr<ir::Node*> size =
      f.graph.addCall(kSYM_SIZE, "size", {ir::Arg::of(a), ir::Arg::of(ir::Constant::fromInt(0))}, {}, {});
  ASSERT_TRUE(size.isOk()) << size.status().toString();
  // view has no converter: its int argument would leave the engine.
  StatusOr<ir::Node*> view = f.graph.addCall(
      kVIEW, "view",
      {ir::Arg::of(a), ir::Arg::listOf({ir::Arg::of(size.value()->output(0)), ir::Arg::of(ir::Constant::fromInt(3))})},
      {}, {f32({2, 3})});
  ASSERT_TRUE(view.isOk()) << view.status().toString();
  // split converts but cat does not: the list would leave the engine.
  StatusOr<ir::Node*> split =
      f.graph.addCall(kSPLIT, "split", {ir::Arg::of(a), ir::Arg::of(ir::Constant::fromInt(1))}, {}, {});
  ASSERT_TRUE(split.isOk()) << split.status().toString();
  StatusOr<ir::Node*> cat = f.graph.addCall(kCAT, "cat", {ir::Arg::of(split.value()->output(0))}, {}, {f32({2, 3})});
  ASSERT_TRUE(cat.isOk()) << cat.status().toString();
  // b reads the (tensor) result of the view from PyTorch: fine.
  ir::Value* b = f.call(kRELU, "b", {view.value()->output(0)});
  f.graph.setOutputs({ir::Arg::of(b), ir::Arg::of(cat.value()->output(0))});
  PartitionResult r = f.run();
  EXPECT_EQ(decisionFor(r, "a").reason, Unsupported::kNONE);
  EXPECT_EQ(decisionFor(r, "size").reason, Unsupported::kNON_TENSOR_BOUNDARY);
  EXPECT_EQ(decisionFor(r, "split").reason, Unsupported::kNON_TENSOR_BOUNDARY);
  EXPECT_EQ(decisionFor(r, "b").reason, Unsupported::kNONE);
  for (const Segment& s : r.segments) {
    if (!s.runsInKiln) continue;
    for (const ir::Value* v : s.inputs) EXPECT_TRUE(v->isTensor()) << v->name();
    for (const ir::Value* v : s.outputs) EXPECT_TRUE(v->isTensor()) << v->name();
  }

  // The reader side: an int computed in PyTorch cannot enter an engine.
  f.settings.torchExecutedOps = {"aten::sym_size"};
  f.registry.add("aten::view.default", candidate());
  PartitionResult reader = f.run();
  EXPECT_EQ(decisionFor(reader, "size").reason, Unsupported::kFORCED_TO_TORCH);
  EXPECT_EQ(decisionFor(reader, "view").reason, Unsupported::kNON_TENSOR_BOUNDARY);

  // Under require_full_compilation an int graph output cannot come from the engine: an error, not a fallback.
  f.settings.torchExecutedOps.clear();
  f.settings.requireFullCompilation = true;
  f.registry.add("aten::cat.default", candidate());
  f.graph.setOutputs({ir::Arg::of(b), ir::Arg::of(size.value()->output(0))});
  StatusOr<PartitionResult> full = partition(f.graph, f.registry, f.settings);
  ASSERT_FALSE(full.isOk());
  EXPECT_NE(full.status().message().find("%size (aten::sym_size.int) from unknown location: " +
                                         std::string(conversion::unsupportedReason(Unsupported::kNON_TENSOR_BOUNDARY))),
            std::string::npos)
      << full.status().message();
}

// A split whose items are read by list_get nodes in the same segment: the list stays inside, only the items
// (tensors) leave. When the items are read in PyTorch, the split goes there too.
TEST(PartitionerTest, ListItemsLeaveSegmentsAsTensors) {
  Fixture f;
  f.registry.add("aten::split.Tensor", candidate());
  f.registry.add("prim::list_get.default", candidate());
  ir::Value* a = f.call(kRELU, "a", {f.x});
  StatusOr<ir::Node*> split =
      f.graph.addCall(kSPLIT, "split", {ir::Arg::of(a), ir::Arg::of(ir::Constant::fromInt(1))}, {}, {});
  ASSERT_TRUE(split.isOk()) << split.status().toString();
  std::vector<ir::Value*> items;
  for (int64_t i = 0; i < 2; ++i) {
    StatusOr<ir::Node*> item = f.graph.addCall(
        ir::kLIST_GET_SCHEMA, "item" + std::to_string(i),
        {ir::Arg::of(split.value()->output(0)), ir::Arg::of(ir::Constant::fromInt(i))}, {}, {f32({1, 3})});
    ASSERT_TRUE(item.isOk()) << item.status().toString();
    items.push_back(item.value()->output(0));
  }
  ir::Value* sum = f.call(kERF, "e", {items[1]});
  f.graph.setOutputs({ir::Arg::of(items[0]), ir::Arg::of(sum)});
  ASSERT_TRUE(f.graph.verify().isOk()) << f.graph.verify().message();
  PartitionResult r = f.run();
  ASSERT_EQ(r.engineSegments(), 1);
  EXPECT_EQ(decisionFor(r, "split").reason, Unsupported::kNONE);
  EXPECT_EQ(names(r.segments[0].nodes), (Names{"a", "split", "item0", "item1"}));
  EXPECT_EQ(names(r.segments[0].outputs), (Names{"item0", "item1"}));

  f.settings.torchExecutedOps = {"prim::list_get"};
  PartitionResult forced = f.run();
  EXPECT_EQ(decisionFor(forced, "item0").reason, Unsupported::kFORCED_TO_TORCH);
  EXPECT_EQ(decisionFor(forced, "split").reason, Unsupported::kNON_TENSOR_BOUNDARY);
  EXPECT_EQ(decisionFor(forced, "a").reason, Unsupported::kNONE);
}

TEST(PartitionerTest, ReportSummarizes) {
  Fixture f;
  ir::Value* a = f.call(kRELU, "a", {f.x});
  ir::Value* p = f.call(kERF, "p", {a});
  ir::Value* b = f.call(kRELU, "b", {p});
  f.graph.setOutputs({ir::Arg::of(b)});
  const std::string report = f.run().report();
  EXPECT_EQ(report,
            "Kiln: 2 engine segments (2 nodes), 1 node in PyTorch\n"
            "  %p (aten::erf.default): " +
                std::string(conversion::unsupportedReason(Unsupported::kNO_CONVERTER)) +
                "\n"
                "segment 0: Kiln, 1 node, inputs %x, outputs %a\n"
                "segment 1: PyTorch, 1 node, inputs %a, outputs %p\n"
                "segment 2: Kiln, 1 node, inputs %p, outputs %b");
}

TEST(PartitionerTest, EmptyGraph) {
  Fixture f;
  f.graph.setOutputs({ir::Arg::of(f.x)});
  PartitionResult r = f.run();
  EXPECT_TRUE(r.segments.empty());
  EXPECT_EQ(r.report(), "Kiln: 0 engine segments (0 nodes), 0 nodes in PyTorch");
}

// Random DAGs of supported and unsupported ops: the schedule is always valid (every segment reads only values
// of earlier segments, so there is no cycle; checked by run()) and Kiln segments respect min_block_size.
TEST(PartitionerTest, RandomGraphsHaveValidSchedules) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    Fixture f;
    f.settings.minBlockSize = static_cast<int32_t>(rng() % 4) + 1;
    std::vector<ir::Value*> values = {f.x, f.graph.addPlaceholder("y", f32({2, 3}))};
    const int count = 5 + static_cast<int>(rng() % 30);
    for (int i = 0; i < count; ++i) {
      ir::Value* lhs = values[rng() % values.size()];
      ir::Value* rhs = values[rng() % values.size()];
      const std::string name = "n" + std::to_string(i);
      switch (rng() % 4) {
        case 0:
          values.push_back(f.call(kRELU, name, {lhs}));
          break;
        case 1:
          values.push_back(f.call(kADD, name, {lhs, rhs}));
          break;
        case 2:
          values.push_back(f.call(kMUL, name, {lhs, rhs}));
          break;
        default:
          values.push_back(f.call(kERF, name, {lhs}));
          break;
      }
    }
    f.graph.setOutputs({ir::Arg::of(values.back()), ir::Arg::of(values[values.size() / 2])});
    ASSERT_TRUE(f.graph.verify().isOk());
    PartitionResult r = f.run();
    for (const Segment& s : r.segments) {
      if (!s.runsInKiln) continue;
      EXPECT_GE(static_cast<int32_t>(s.nodes.size()), f.settings.minBlockSize) << "trial " << trial;
    }
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "trial " << trial << "\n" << f.graph.print() << "\n" << r.report();
      return;
    }
  }
}

}  // namespace
}  // namespace partitioning
}  // namespace kiln
