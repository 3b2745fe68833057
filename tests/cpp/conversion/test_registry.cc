// The converter registry: priority order, validators, the dynamic-shape gate, disabled candidates, why a node
// has no converter, removal by origin, schema-keyed chainable registration, and thread safety.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "conversion/conversion_ctx.h"
#include "conversion/registry.h"
#include "ir/graph.h"

namespace kiln {
namespace conversion {
namespace {

// float32 with the given extents; -1 makes a symbolic dim.
ir::TensorMeta meta(std::vector<int64_t> extents, DataType dtype = DataType::kFLOAT) {
  ir::TensorMeta m;
  m.dtype = dtype;
  int symbols = 0;
  for (int64_t e : extents) {
    ir::SymDim d;
    d.extent = e;
    if (e < 0) d.symbol = "s" + std::to_string(symbols++);
    if (e < 0) d.min = 1;
    m.shape.push_back(d);
  }
  return m;
}

constexpr const char* kGELU = "aten::gelu(Tensor self, *, str approximate='none') -> Tensor";

// A graph with one gelu call on an input of the given shape.
struct GeluGraph {
  ir::Graph graph;
  ir::Node* gelu = nullptr;
  explicit GeluGraph(std::vector<int64_t> shape, const std::string& approximate = "none") {
    ir::Value* x = graph.addPlaceholder("x", meta(shape));
    auto node = graph.addCall(kGELU, "gelu", {ir::Arg::of(x)},
                              {{"approximate", ir::Arg::of(ir::Constant::fromString(approximate))}}, {meta(shape)});
    EXPECT_TRUE(node.isOk()) << node.status().toString();
    gelu = node.value();
    graph.setOutputs({ir::Arg::of(gelu->output(0))});
  }
};

// A candidate that remembers which one was chosen through its schema text.
ConverterCandidate candidate(const std::string& tag, ConverterPriority priority = ConverterPriority::kSTANDARD) {
  ConverterCandidate c;
  c.converter = [](ConversionCtx&, const ir::Node&, std::vector<ConverterArg>&) { return Status::ok(); };
  c.priority = priority;
  c.supportsDynamicShapes = true;
  c.schema = tag;
  return c;
}

std::vector<std::string> order(const ConverterRegistry& registry, const std::string& key) {
  std::vector<std::string> tags;
  const std::vector<ConverterCandidate>* list = registry.candidates(key);
  if (list != nullptr) {
    for (const ConverterCandidate& c : *list) tags.push_back(c.schema);
  }
  return tags;
}

const std::string kKEY = "aten::gelu.default";

TEST(ConverterRegistryTest, HighGoesInFrontStandardIsAppendedRegardlessOfRegistrationOrder) {
  ConverterRegistry registry;
  registry.add(kKEY, candidate("standard1"));
  registry.add(kKEY, candidate("high1", ConverterPriority::kHIGH));
  registry.add(kKEY, candidate("standard2"));
  registry.add(kKEY, candidate("high2", ConverterPriority::kHIGH));
  // The seed: HIGH is prepended (the latest HIGH first), STANDARD appended.
  EXPECT_EQ(order(registry, kKEY), (std::vector<std::string>{"high2", "high1", "standard1", "standard2"}));

  GeluGraph g({2, 3});
  Unsupported why = Unsupported::kNO_CONVERTER;
  const ConverterCandidate* chosen = registry.lookup(*g.gelu, CompilationSettings(), &why);
  ASSERT_NE(chosen, nullptr);
  EXPECT_EQ(chosen->schema, "high2");
  EXPECT_EQ(why, Unsupported::kNONE);
}

TEST(ConverterRegistryTest, FirstCandidateWhoseValidatorPassesWins) {
  ConverterRegistry registry;
  // The seed's example: a HIGH gelu converter only for approximate='tanh', the standard one otherwise.
  ConverterCandidate tanhOnly = candidate("tanh-only", ConverterPriority::kHIGH);
  tanhOnly.validator = [](const ir::Node& node, const CompilationSettings&) {
    return node.args()[1].constant == ir::Constant::fromString("tanh");
  };
  registry.add(kKEY, candidate("standard"));
  registry.add(kKEY, tanhOnly);

  GeluGraph tanhGraph({2, 3}, "tanh");
  GeluGraph erfGraph({2, 3}, "none");
  ASSERT_NE(registry.lookup(*tanhGraph.gelu, CompilationSettings()), nullptr);
  EXPECT_EQ(registry.lookup(*tanhGraph.gelu, CompilationSettings())->schema, "tanh-only");
  ASSERT_NE(registry.lookup(*erfGraph.gelu, CompilationSettings()), nullptr);
  EXPECT_EQ(registry.lookup(*erfGraph.gelu, CompilationSettings())->schema, "standard");
}

TEST(ConverterRegistryTest, ValidatorsSeeTheSettings) {
  ConverterRegistry registry;
  ConverterCandidate fp16Only = candidate("fp16");
  fp16Only.validator = [](const ir::Node&, const CompilationSettings& settings) {
    return settings.enabledPrecisions.count(DataType::kHALF) != 0;
  };
  registry.add(kKEY, fp16Only);
  GeluGraph g({4});
  CompilationSettings settings;
  Unsupported why = Unsupported::kNONE;
  EXPECT_EQ(registry.lookup(*g.gelu, settings, &why), nullptr);
  EXPECT_EQ(why, Unsupported::kVALIDATOR_REFUSED);
  settings.enabledPrecisions.insert(DataType::kHALF);
  EXPECT_NE(registry.lookup(*g.gelu, settings, &why), nullptr);
  EXPECT_EQ(why, Unsupported::kNONE);
}

TEST(ConverterRegistryTest, DisabledCandidatesAreSkipped) {
  ConverterRegistry registry;
  ConverterCandidate off = candidate("off", ConverterPriority::kHIGH);
  off.enabled = false;
  registry.add(kKEY, off);
  GeluGraph g({2});
  Unsupported why = Unsupported::kNONE;
  EXPECT_EQ(registry.lookup(*g.gelu, CompilationSettings(), &why), nullptr);
  EXPECT_EQ(why, Unsupported::kDISABLED);

  registry.add(kKEY, candidate("on"));
  const ConverterCandidate* chosen = registry.lookup(*g.gelu, CompilationSettings(), &why);
  ASSERT_NE(chosen, nullptr);
  EXPECT_EQ(chosen->schema, "on");
}

TEST(ConverterRegistryTest, DynamicShapeGate) {
  ConverterRegistry registry;
  ConverterCandidate staticOnly = candidate("static-only", ConverterPriority::kHIGH);
  staticOnly.supportsDynamicShapes = false;
  registry.add(kKEY, staticOnly);

  GeluGraph fixed({2, 3});
  GeluGraph dynamic({-1, 3});
  Unsupported why = Unsupported::kNONE;
  ASSERT_NE(registry.lookup(*fixed.gelu, CompilationSettings(), &why), nullptr);
  EXPECT_EQ(registry.lookup(*dynamic.gelu, CompilationSettings(), &why), nullptr);
  EXPECT_EQ(why, Unsupported::kDYNAMIC_SHAPES);

  // assume_dynamic_shape_support: converters without declared support are used anyway.
  CompilationSettings assume;
  assume.assumeDynamicShapesAllowed = true;
  const ConverterCandidate* assumed = registry.lookup(*dynamic.gelu, assume, &why);
  ASSERT_NE(assumed, nullptr);
  EXPECT_EQ(assumed->schema, "static-only");

  // A later candidate that supports dynamic shapes takes the dynamic node.
  registry.add(kKEY, candidate("dynamic-ok"));
  const ConverterCandidate* chosen = registry.lookup(*dynamic.gelu, CompilationSettings(), &why);
  ASSERT_NE(chosen, nullptr);
  EXPECT_EQ(chosen->schema, "dynamic-ok");
  EXPECT_EQ(registry.lookup(*fixed.gelu, CompilationSettings())->schema, "static-only");
}

TEST(ConverterRegistryTest, ReasonPrefersTheMostSpecificObstacle) {
  ConverterRegistry registry;
  ConverterCandidate refuses = candidate("refuses", ConverterPriority::kHIGH);
  refuses.validator = [](const ir::Node&, const CompilationSettings&) { return false; };
  ConverterCandidate staticOnly = candidate("static-only");
  staticOnly.supportsDynamicShapes = false;
  ConverterCandidate off = candidate("off");
  off.enabled = false;
  registry.add(kKEY, refuses);
  registry.add(kKEY, staticOnly);
  registry.add(kKEY, off);
  GeluGraph dynamic({-1, 3});
  Unsupported why = Unsupported::kNONE;
  EXPECT_EQ(registry.lookup(*dynamic.gelu, CompilationSettings(), &why), nullptr);
  // Some converter would take the node if its shapes were static: that is what the user can act on.
  EXPECT_EQ(why, Unsupported::kDYNAMIC_SHAPES);
}

TEST(ConverterRegistryTest, NoConverterForUnknownKeysAndNonCallNodes) {
  ConverterRegistry registry;
  GeluGraph g({2});
  Unsupported why = Unsupported::kNONE;
  EXPECT_EQ(registry.lookup(*g.gelu, CompilationSettings(), &why), nullptr);
  EXPECT_EQ(why, Unsupported::kNO_CONVERTER);
  EXPECT_EQ(registry.candidates(kKEY), nullptr);

  registry.add("x", candidate("placeholder-named-x"));
  why = Unsupported::kNONE;
  EXPECT_EQ(registry.lookup(*g.graph.placeholders()[0], CompilationSettings(), &why), nullptr);
  EXPECT_EQ(why, Unsupported::kNO_CONVERTER);
}

TEST(ConverterRegistryTest, RemoveFromOriginKeepsOthersAndDropsEmptyKeys) {
  ConverterRegistry registry;
  ConverterCandidate py = candidate("python", ConverterPriority::kHIGH);
  py.origin = "Python";
  registry.add(kKEY, candidate("c++"));
  registry.add(kKEY, py);
  registry.add("aten::relu.default", candidate("relu"));
  EXPECT_EQ(order(registry, kKEY), (std::vector<std::string>{"python", "c++"}));

  const ConverterCandidate* before = &(*registry.candidates(kKEY))[0];
  registry.removeFrom(kKEY, "Python");
  EXPECT_EQ(order(registry, kKEY), (std::vector<std::string>{"c++"}));
  // Pointers handed out earlier stay valid: lists are published, never edited in place.
  EXPECT_EQ(before->schema, "python");

  registry.removeFrom(kKEY, "Python");  // nothing left from Python: no change
  registry.removeFrom("aten::missing.default", "C++");
  registry.removeFrom(kKEY, "C++");
  EXPECT_EQ(registry.candidates(kKEY), nullptr);
  EXPECT_EQ(registry.keys(), (std::vector<std::string>{"aten::relu.default"}));
}

TEST(ConverterRegistryTest, NodeHasDynamicShapes) {
  GeluGraph fixed({2, 3});
  GeluGraph dynamic({-1, 3});
  EXPECT_FALSE(nodeHasDynamicShapes(*fixed.gelu));
  EXPECT_TRUE(nodeHasDynamicShapes(*dynamic.gelu));

  // A dynamic tensor inside a list argument (cat) counts; so does a dynamic output of static inputs.
  ir::Graph graph;
  ir::Value* a = graph.addPlaceholder("a", meta({2, 3}));
  ir::Value* b = graph.addPlaceholder("b", meta({-1, 3}));
  auto cat = graph.addCall("aten::cat(Tensor[] tensors, int dim=0) -> Tensor", "cat",
                           {ir::Arg::listOf({ir::Arg::of(a), ir::Arg::of(b)})}, {}, {meta({-1, 3})});
  ASSERT_TRUE(cat.isOk()) << cat.status().toString();
  EXPECT_TRUE(nodeHasDynamicShapes(*cat.value()));
  auto nonzero = graph.addCall("aten::nonzero(Tensor self) -> Tensor", "nonzero", {ir::Arg::of(a)}, {},
                               {meta({-1, 2}, DataType::kINT64)});
  ASSERT_TRUE(nonzero.isOk()) << nonzero.status().toString();
  EXPECT_TRUE(nodeHasDynamicShapes(*nonzero.value()));
  auto relu = graph.addCall("aten::relu(Tensor self) -> Tensor", "relu", {ir::Arg::of(a)}, {}, {meta({2, 3})});
  ASSERT_TRUE(relu.isOk());
  EXPECT_FALSE(nodeHasDynamicShapes(*relu.value()));
}

TEST(ConverterRegistryTest, ReasonsAreDescribed) {
  for (Unsupported why :
       {Unsupported::kNONE, Unsupported::kNO_CONVERTER, Unsupported::kVALIDATOR_REFUSED, Unsupported::kDYNAMIC_SHAPES,
        Unsupported::kDISABLED, Unsupported::kFORCED_TO_TORCH, Unsupported::kBELOW_MIN_BLOCK_SIZE}) {
    EXPECT_GT(std::string(unsupportedReason(why)).size(), 5u);
  }
  EXPECT_NE(std::string(unsupportedReason(Unsupported::kFORCED_TO_TORCH)).find("torch_executed_ops"),
            std::string::npos);
}

TEST(RegisterConvertersTest, ChainedPatternsAreKeyedByTheirParsedSchema) {
  ConverterRegistry registry;
  int calls = 0;
  ConverterFn fn = [&calls](ConversionCtx&, const ir::Node&, std::vector<ConverterArg>&) {
    ++calls;
    return Status::ok();
  };
  ConverterOptions high;
  high.priority = ConverterPriority::kHIGH;
  high.supportsDynamicShapes = false;
  high.requiresOutputAllocator = true;
  RegisterConverters(registry)
      .pattern({"aten::hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> (Tensor)", fn})
      .pattern({"aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", fn})
      .pattern({"aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", fn}, high)
      .evaluator({"aten::sym_size.int(Tensor self, int dim) -> SymInt", fn});

  EXPECT_EQ(registry.keys(),
            (std::vector<std::string>{"aten::add.Tensor", "aten::hardtanh.default", "aten::sym_size.int"}));
  const std::vector<ConverterCandidate>* adds = registry.candidates("aten::add.Tensor");
  ASSERT_NE(adds, nullptr);
  ASSERT_EQ(adds->size(), 2u);
  EXPECT_EQ((*adds)[0].priority, ConverterPriority::kHIGH);
  EXPECT_FALSE((*adds)[0].supportsDynamicShapes);
  EXPECT_TRUE((*adds)[0].requiresOutputAllocator);
  EXPECT_TRUE((*adds)[1].supportsDynamicShapes);  // the default for C++ registrations
  EXPECT_EQ((*adds)[1].origin, "C++");
  EXPECT_EQ((*adds)[1].schema, "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor");
  EXPECT_FALSE((*adds)[1].isEvaluator);
  EXPECT_TRUE((*registry.candidates("aten::sym_size.int"))[0].isEvaluator);

  // The stored function is the one registered.
  NetworkDefinition net;
  ConversionCtx ctx(&net, CompilationSettings());
  std::vector<ConverterArg> noArgs;
  GeluGraph g({1});
  EXPECT_TRUE((*adds)[0].converter(ctx, *g.gelu, noArgs).isOk());
  EXPECT_EQ(calls, 1);
}

TEST(RegisterConvertersTest, UnparsableSchemasAndEmptyFunctionsAreSkipped) {
  ConverterRegistry registry;
  ConverterFn fn = [](ConversionCtx&, const ir::Node&, std::vector<ConverterArg>&) { return Status::ok(); };
  ::testing::internal::CaptureStderr();
  RegisterConverters(registry)
      .pattern({"aten::broken(Tensor self -> Tensor", fn})
      .pattern({"aten::relu(Tensor self) -> Tensor", nullptr})
      .pattern({"aten::relu(Tensor self) -> Tensor", fn});
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("aten::broken"), std::string::npos) << err;
  EXPECT_NE(err.find("empty"), std::string::npos) << err;
  EXPECT_EQ(registry.keys(), (std::vector<std::string>{"aten::relu.default"}));
  EXPECT_EQ(registry.candidates("aten::relu.default")->size(), 1u);
}

TEST(RegisterConvertersTest, LibraryEvaluatorsAreInTheGlobalRegistry) {
  for (const char* key : {"aten::sym_size.int", "aten::size.int", "aten::sym_numel.default", "aten::dim.default",
                          "prim::dtype.default"}) {
    const std::vector<ConverterCandidate>* list = ConverterRegistry::global().candidates(key);
    ASSERT_NE(list, nullptr) << key;
    bool anyEvaluator = false;
    for (const ConverterCandidate& c : *list) anyEvaluator = anyEvaluator || c.isEvaluator;
    EXPECT_TRUE(anyEvaluator) << key;
  }
}

// Converts a one-output call on a tensor input of `shape` with the global registry's choice and returns the
// constant it computed; nullopt when no candidate takes the node or the result is not a compile-time constant
// (a dynamic extent may be computed in the engine by a shape converter instead).
std::optional<ir::Constant> evaluate(const char* schema, std::vector<int64_t> shape, std::vector<ir::Arg> extra = {}) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta(shape, DataType::kHALF));
  std::vector<ir::Arg> args = {ir::Arg::of(x)};
  for (ir::Arg& a : extra) args.push_back(a);
  auto node = graph.addCall(schema, "q", args, {}, {});
  EXPECT_TRUE(node.isOk()) << node.status().toString();
  if (!node.isOk()) return std::nullopt;
  const ConverterCandidate* c = ConverterRegistry::global().lookup(*node.value(), CompilationSettings());
  if (c == nullptr) return std::nullopt;
  NetworkDefinition net;
  ConversionCtx ctx(&net, CompilationSettings());
  std::vector<ConverterArg> converterArgs(args.size());
  converterArgs[0].tensor = net.addInput("x", DataType::kHALF, x->meta()->toDims());
  for (size_t i = 1; i < args.size(); ++i) converterArgs[i].constant = args[i].constant;
  Status status = c->converter(ctx, *node.value(), converterArgs);
  const ir::Constant* result = ctx.findConstant(node.value()->output(0));
  if (!status.isOk() || result == nullptr) return std::nullopt;
  EXPECT_TRUE(c->isEvaluator);
  EXPECT_EQ(net.getNbLayers(), 0);  // constants need no layers
  return *result;
}

TEST(EvaluatorsTest, AnswerFromStaticMetadataAndRefuseDynamicQuestions) {
  const ir::Arg dim0 = ir::Arg::of(ir::Constant::fromInt(0));
  const ir::Arg dim1 = ir::Arg::of(ir::Constant::fromInt(1));
  const ir::Arg dimMinus1 = ir::Arg::of(ir::Constant::fromInt(-1));
  const ir::Arg dim5 = ir::Arg::of(ir::Constant::fromInt(5));
  const char* symSize = "aten::sym_size.int(Tensor self, int dim) -> SymInt";
  EXPECT_EQ(evaluate(symSize, {2, -1, 4}, {dim0}), ir::Constant::fromInt(2));
  EXPECT_EQ(evaluate(symSize, {2, -1, 4}, {dimMinus1}), ir::Constant::fromInt(4));
  EXPECT_EQ(evaluate(symSize, {2, -1, 4}, {dim1}), std::nullopt);  // dynamic: not a compile-time constant
  EXPECT_EQ(evaluate(symSize, {2, -1, 4}, {dim5}), std::nullopt);  // out of range: PyTorch raises
  EXPECT_EQ(evaluate("aten::size.int(Tensor self, int dim) -> int", {7}, {dim0}), ir::Constant::fromInt(7));
  EXPECT_EQ(evaluate("aten::size(Tensor self) -> int[]", {2, 3, 4}), ir::Constant::fromInts({2, 3, 4}));
  EXPECT_EQ(evaluate("aten::size(Tensor self) -> int[]", {2, -1}), std::nullopt);
  EXPECT_EQ(evaluate("aten::sym_numel(Tensor self) -> SymInt", {2, 3, 4}), ir::Constant::fromInt(24));
  EXPECT_EQ(evaluate("aten::numel(Tensor self) -> int", {}), ir::Constant::fromInt(1));
  EXPECT_EQ(evaluate("aten::numel(Tensor self) -> int", {-1, 3}), std::nullopt);
  EXPECT_EQ(evaluate("aten::dim(Tensor self) -> int", {-1, 3, 5}), ir::Constant::fromInt(3));
  EXPECT_EQ(evaluate("prim::dtype(Tensor a) -> int", {-1}), ir::Constant::fromInt(5));  // torch.float16
}

TEST(ConverterRegistryTest, ConcurrentRegistrationAndLookup) {
  ConverterRegistry registry;
  registry.add(kKEY, candidate("base"));
  GeluGraph g({2, 3});
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        if (t % 2 == 0) {
          ConverterCandidate c =
              candidate("t" + std::to_string(t), i % 2 ? ConverterPriority::kHIGH : ConverterPriority::kSTANDARD);
          c.origin = "thread" + std::to_string(t);
          registry.add(kKEY, c);
          if (i % 3 == 0) registry.removeFrom(kKEY, c.origin);
        } else {
          const ConverterCandidate* chosen = registry.lookup(*g.gelu, CompilationSettings());
          // Whatever was chosen stays readable while other threads keep registering.
          if (chosen == nullptr || chosen->schema.empty()) failed = true;
          if (registry.keys().empty()) failed = true;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_FALSE(failed);
  const std::vector<ConverterCandidate>* list = registry.candidates(kKEY);
  ASSERT_NE(list, nullptr);
  // Each writer last removed its own candidates at i = 297 and then added two more.
  EXPECT_EQ(list->size(), 1u + 2u * 2u);
}

}  // namespace
}  // namespace conversion
}  // namespace kiln
