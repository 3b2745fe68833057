// The conversion context and convertSegment end to end: small IR graphs built here, converters the test
// registers into its own registry, plans built and run on the CPU backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conversion/conversion_ctx.h"
#include "conversion/converter.h"
#include "conversion/registry.h"
#include "ir/graph.h"
#include "kiln/runtime.h"

namespace kiln {
namespace conversion {
namespace {

ir::TensorMeta meta(std::vector<int64_t> extents, DataType dtype = DataType::kFLOAT) {
  ir::TensorMeta m;
  m.dtype = dtype;
  int symbols = 0;
  for (int64_t e : extents) {
    ir::SymDim d;
    d.extent = e;
    if (e < 0) {
      d.symbol = "s" + std::to_string(symbols++);
      d.min = 1;
    }
    m.shape.push_back(d);
  }
  return m;
}

HostTensor floats(const Dims& dims, const std::vector<float>& values) {
  HostTensor t(DataType::kFLOAT, dims);
  EXPECT_EQ(static_cast<size_t>(t.count()), values.size());
  std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

std::vector<float> valuesOf(const HostTensor& t) {
  std::vector<float> v(static_cast<size_t>(t.count()));
  std::memcpy(v.data(), t.data(), v.size() * sizeof(float));
  return v;
}

constexpr const char* kRELU = "aten::relu(Tensor self) -> Tensor";
constexpr const char* kADD = "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor";
constexpr const char* kMUL_SCALAR = "aten::mul.Scalar(Tensor self, Scalar other) -> Tensor";
constexpr const char* kALIAS = "aten::alias(Tensor(a) self) -> Tensor(a)";
constexpr const char* kSYM_SIZE = "aten::sym_size.int(Tensor self, int dim) -> SymInt";

Status relu(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * in, args[0].asTensor());
  IActivationLayer* layer = ctx.net->addActivation(*in, ActivationType::kRELU);
  if (layer == nullptr) return ctx.net->status();
  layer->setName(ConversionCtx::layerName("Activation", node).c_str());
  ctx.associateValueAndTensor(node.output(0), layer->getOutput(0));
  return Status::ok();
}

Status add(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * a, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * b, args[1].asTensor());
  IElementWiseLayer* layer = ctx.net->addElementWise(*a, *b, ElementWiseOperation::kSUM);
  if (layer == nullptr) return ctx.net->status();
  layer->setName(ConversionCtx::layerName("ElementWise", node).c_str());
  ctx.associateValueAndTensor(node.output(0), layer->getOutput(0));
  return Status::ok();
}

Status mulScalar(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(double factor, args[1].asDouble());
  ITensor* scalar = ctx.addScalar(factor, x->getType(), x->getDimensions().nbDims,
                                  ConversionCtx::layerName("Constant", node, "other"));
  if (scalar == nullptr) return ctx.status();
  IElementWiseLayer* layer = ctx.net->addElementWise(*x, *scalar, ElementWiseOperation::kPROD);
  if (layer == nullptr) return ctx.net->status();
  layer->setName(ConversionCtx::layerName("ElementWise", node).c_str());
  ctx.associateValueAndTensor(node.output(0), layer->getOutput(0));
  return Status::ok();
}

// A no-op: the output is the input tensor itself.
Status alias(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  ctx.associateValueAndTensor(node.output(0), x);
  return Status::ok();
}

// The test's own registry: relu, add (alpha = 1 only), mul.Scalar, alias, and the library's sym_size evaluator.
ConverterRegistry& testRegistry() {
  static ConverterRegistry* registry = [] {
    auto* r = new ConverterRegistry();
    ConverterOptions alphaOne;
    alphaOne.validator = [](const ir::Node& node, const CompilationSettings&) {
      return node.args()[2].isConstant() && node.args()[2].constant.toDouble().isOk() &&
             node.args()[2].constant.toDouble().value() == 1.0;
    };
    RegisterConverters(*r)
        .pattern({kRELU, relu})
        .pattern({kADD, add}, alphaOne)
        .pattern({kMUL_SCALAR, mulScalar})
        .pattern({kALIAS, alias});
    // Every library candidate, in the global order (priorities are already applied: append them as STANDARD).
    const std::vector<ConverterCandidate>* symSize = ConverterRegistry::global().candidates("aten::sym_size.int");
    for (size_t i = 0; symSize != nullptr && i < symSize->size(); ++i) {
      ConverterCandidate c = (*symSize)[i];
      c.priority = ConverterPriority::kSTANDARD;
      r->add("aten::sym_size.int", c);
    }
    return r;
  }();
  return *registry;
}

ir::Node* call(ir::Graph& graph, const char* schema, const std::string& name, std::vector<ir::Arg> args,
               std::vector<std::optional<ir::TensorMeta>> metas) {
  auto node = graph.addCall(schema, name, std::move(args), {}, std::move(metas));
  EXPECT_TRUE(node.isOk()) << node.status().toString();
  return node.isOk() ? node.value() : nullptr;
}

// Every call and get_attr node of the graph, in order, as one segment reading the placeholders.
SegmentSpec wholeGraph(const ir::Graph& graph, std::vector<const ir::Value*> outputs,
                       std::vector<InputRange> ranges = {}) {
  SegmentSpec spec;
  for (const auto& node : graph.nodes()) {
    switch (node->op()) {
      case ir::NodeOp::kPLACEHOLDER:
        spec.inputs.push_back(node->output(0));
        break;
      case ir::NodeOp::kGET_ATTR:
      case ir::NodeOp::kCALL_FUNCTION:
        spec.nodes.push_back(node.get());
        break;
      case ir::NodeOp::kOUTPUT:
        break;
    }
  }
  spec.outputs = std::move(outputs);
  spec.inputRanges = std::move(ranges);
  return spec;
}

// Deserializes and runs a plan on the CPU; outputs are sized from the input shapes.
std::map<std::string, HostTensor> run(const HostMemory& plan, const std::map<std::string, HostTensor>& inputs) {
  std::map<std::string, HostTensor> outputs;
  Runtime runtime;
  auto engine = runtime.deserializeEngine(plan.data(), plan.size());
  EXPECT_TRUE(engine.isOk()) << engine.status().toString();
  if (!engine.isOk()) return outputs;
  auto context = engine.value()->createExecutionContext();
  EXPECT_TRUE(context.isOk()) << context.status().toString();
  if (!context.isOk()) return outputs;
  ExecutionContext& ctx = *context.value();
  for (const auto& [name, value] : inputs) {
    EXPECT_TRUE(ctx.setInputShape(name.c_str(), value.dims).isOk()) << name;
    EXPECT_TRUE(ctx.setInputTensorAddress(name.c_str(), value.data()).isOk()) << name;
  }
  const Engine& e = *engine.value();
  for (int32_t i = 0; i < e.getNbIOTensors(); ++i) {
    const char* name = e.getIOTensorName(i);
    if (e.getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
    outputs[name] = HostTensor(e.getTensorDataType(name), ctx.getTensorShape(name));
    EXPECT_TRUE(ctx.setTensorAddress(name, outputs[name].data()).isOk()) << name;
  }
  Status status = ctx.enqueueV3(nullptr);
  EXPECT_TRUE(status.isOk()) << status.toString();
  return outputs;
}

std::string errorOf(const StatusOr<ConvertedSegment>& converted) {
  EXPECT_FALSE(converted.isOk());
  return converted.isOk() ? "" : converted.status().message();
}

#define EXPECT_MENTIONS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

// ---------------------------------------------------------------------------------------------------
// ConversionCtx and ConverterArg

TEST(ConversionCtxTest, LayerNamesFollowTheSeed) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({2}));
  ir::Node* gelu = call(graph, "aten::gelu(Tensor self, *, str approximate='none') -> Tensor", "gelu_1",
                        {ir::Arg::of(x)}, {meta({2})});
  ASSERT_NE(gelu, nullptr);
  EXPECT_EQ(ConversionCtx::layerName("Activation", *gelu), "[Activation]-[aten::gelu.default]-[%gelu_1]");
  EXPECT_EQ(ConversionCtx::layerName("ElementWise", *gelu, "mul_1"),
            "[ElementWise]-[aten::gelu.default]-[%gelu_1]-[mul_1]");
}

TEST(ConversionCtxTest, AssociationsNameTensorsAfterTheirFirstValue) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({2}));
  ir::Node* r = call(graph, kRELU, "r", {ir::Arg::of(x)}, {meta({2})});
  ir::Node* a = call(graph, kALIAS, "a", {ir::Arg::of(r->output(0))}, {meta({2})});
  NetworkDefinition net;
  ConversionCtx ctx(&net, CompilationSettings());
  ITensor* in = net.addInput("input_0", DataType::kFLOAT, Dims{2});
  EXPECT_EQ(ctx.associateValueAndTensor(x, in), in);
  EXPECT_STREQ(in->getName(), "input_0");  // inputs are bound by name: never renamed
  ITensor* out = net.addActivation(*in, ActivationType::kRELU)->getOutput(0);
  ctx.associateValueAndTensor(r->output(0), out);
  ctx.associateValueAndTensor(a->output(0), out);
  EXPECT_STREQ(out->getName(), "r");
  EXPECT_EQ(ctx.findTensor(x), in);
  EXPECT_EQ(ctx.findTensor(a->output(0)), out);
  EXPECT_EQ(ctx.findConstant(a->output(0)), nullptr);

  // A constant replaces a tensor association and vice versa.
  ctx.associateValueAndConstant(a->output(0), ir::Constant::fromInt(7));
  EXPECT_EQ(ctx.findTensor(a->output(0)), nullptr);
  ASSERT_NE(ctx.findConstant(a->output(0)), nullptr);
  EXPECT_EQ(*ctx.findConstant(a->output(0)), ir::Constant::fromInt(7));
  ctx.associateValueAndTensors(a->output(0), {in, out});
  EXPECT_EQ(ctx.findConstant(a->output(0)), nullptr);
  ASSERT_NE(ctx.findTensors(a->output(0)), nullptr);
  EXPECT_EQ(ctx.findTensors(a->output(0))->size(), 2u);
  EXPECT_TRUE(ctx.status().isOk());

  // A converter passing on a failed add* call: the error names the value.
  EXPECT_EQ(ctx.associateValueAndTensor(r->output(0), nullptr), nullptr);
  EXPECT_FALSE(ctx.status().isOk());
  EXPECT_MENTIONS(ctx.status().message(), "%r");
  ctx.recordError(invalidArgument("second"));
  EXPECT_MENTIONS(ctx.status().message(), "%r");  // the first error is kept
}

TEST(ConversionCtxTest, ConstantsOwnTheirBytesUntilTheBuildEnds) {
  Builder builder;
  auto net = builder.createNetworkV2(1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED));
  ConversionCtx ctx(net.get(), CompilationSettings());
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{3});
  ITensor* w = nullptr;
  {
    HostTensor temporary = floats(Dims{3}, {1.0f, 2.0f, 3.0f});
    w = ctx.addConstantTensor(temporary, "w");
    std::memset(temporary.data(), 0xff, temporary.bytes.size());  // the caller's buffer is scribbled on, then freed
  }
  ASSERT_NE(w, nullptr);
  ASSERT_NE(ctx.constantData(w), nullptr);
  EXPECT_EQ(valuesOf(*ctx.constantData(w)), (std::vector<float>{1.0f, 2.0f, 3.0f}));
  EXPECT_EQ(ctx.constantData(x), nullptr);
  ITensor* sum = net->addElementWise(*x, *w, ElementWiseOperation::kSUM)->getOutput(0);
  sum->setName("y");
  net->markOutput(*sum);
  auto config = builder.createBuilderConfig();
  auto plan = builder.buildSerializedNetwork(*net, *config);
  ASSERT_TRUE(plan.isOk()) << plan.status().toString();
  auto out = run(*plan.value(), {{"x", floats(Dims{3}, {10.0f, 20.0f, 30.0f})}});
  EXPECT_EQ(valuesOf(out["y"]), (std::vector<float>{11.0f, 22.0f, 33.0f}));

  HostTensor wrongSize(DataType::kFLOAT, Dims{4});
  wrongSize.bytes.resize(3);
  EXPECT_EQ(ctx.addConstantTensor(wrongSize, "bad"), nullptr);
  EXPECT_MENTIONS(ctx.status().message(), "'bad'");
}

TEST(ConversionCtxTest, ScalarsHaveRankManyUnitDims) {
  NetworkDefinition net;
  ConversionCtx ctx(&net, CompilationSettings());
  ITensor* s = ctx.addScalar(-2.7, DataType::kINT32, 3, "s");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->getDimensions(), (Dims{1, 1, 1}));
  EXPECT_EQ(s->getType(), DataType::kINT32);
  EXPECT_EQ(ctx.constantData(s)->intAt(0), -2);  // truncated toward zero
  ITensor* h = ctx.addScalar(0.5, DataType::kHALF, 0, "h");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->getDimensions().nbDims, 0);
  EXPECT_DOUBLE_EQ(ctx.constantData(h)->floatAt(0), 0.5);
  ITensor* b = ctx.addScalar(3.0, DataType::kBOOL, 1, "b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(ctx.constantData(b)->intAt(0), 1);
  ITensor* l = ctx.addScalar(-5e12, DataType::kINT64, 2, "l");
  ASSERT_NE(l, nullptr);
  EXPECT_EQ(ctx.constantData(l)->intAt(0), -5000000000000);
  EXPECT_TRUE(ctx.status().isOk()) << ctx.status().toString();

  ITensor* edge = ctx.addScalar(-128.9, DataType::kINT8, 1, "edge");
  ASSERT_NE(edge, nullptr);
  EXPECT_EQ(ctx.constantData(edge)->intAt(0), -128);
  ITensor* u = ctx.addScalar(255.5, DataType::kUINT8, 1, "u");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(ctx.constantData(u)->intAt(0), 255);
  EXPECT_TRUE(ctx.status().isOk()) << ctx.status().toString();

  EXPECT_EQ(ctx.addScalar(9.3e18, DataType::kINT64, 1, "int64_overflow"), nullptr);
  EXPECT_MENTIONS(ctx.status().message(), "int64_overflow");
  EXPECT_EQ(ctx.addScalar(300.0, DataType::kINT8, 1, "too_big"), nullptr);
  EXPECT_EQ(ctx.addScalar(-1.0, DataType::kUINT8, 1, "negative"), nullptr);
  EXPECT_EQ(ctx.addScalar(std::nan(""), DataType::kINT32, 1, "nan"), nullptr);
  EXPECT_EQ(net.getNbLayers(), 6);  // none of the refused scalars added a layer
  NetworkDefinition net2;
  ConversionCtx ctx2(&net2, CompilationSettings());
  EXPECT_EQ(ctx2.addScalar(1.0, DataType::kFLOAT, 9, "rank9"), nullptr);
  EXPECT_MENTIONS(ctx2.status().message(), "rank 9");
}

TEST(ConverterArgTest, CheckedAccessorsNameTheArgument) {
  ConverterArg none;
  none.name = "min_val";
  none.position = 1;
  EXPECT_TRUE(none.isNone());
  EXPECT_FALSE(none.asDouble().isOk());
  EXPECT_MENTIONS(none.asDouble().status().message(), "'min_val' (#1)");
  EXPECT_MENTIONS(none.asTensor().status().message(), "expected a tensor");

  ConverterArg number;
  number.constant = ir::Constant::fromInt(4);
  number.position = 2;
  EXPECT_EQ(number.asInt().value(), 4);
  EXPECT_DOUBLE_EQ(number.asDouble().value(), 4.0);
  EXPECT_EQ(number.asInts().value(), (std::vector<int64_t>{4}));  // int[1] args take a single int
  EXPECT_EQ(number.describe(), "argument #2");

  ConverterArg list;
  list.name = "size";
  list.isList = true;
  for (int64_t v : {2, -1, 5}) {
    ConverterArg item;
    item.constant = ir::Constant::fromInt(v);
    list.list.push_back(item);
  }
  EXPECT_EQ(list.asInts().value(), (std::vector<int64_t>{2, -1, 5}));
  EXPECT_FALSE(list.asInt().isOk());
  NetworkDefinition net;
  ConverterArg tensorItem;
  tensorItem.tensor = net.addInput("n", DataType::kINT64, Dims{});
  list.list.push_back(tensorItem);
  EXPECT_MENTIONS(list.asInts().status().message(), "argument 'size' item 3");
  EXPECT_EQ(tensorItem.asTensor().value(), tensorItem.tensor);
  EXPECT_MENTIONS(tensorItem.asBool().status().message(), "expected a bool, got a tensor");

  ConverterArg constList;
  constList.constant = ir::Constant::fromInts({1, 2});
  EXPECT_EQ(constList.asInts().value(), (std::vector<int64_t>{1, 2}));
}

// ---------------------------------------------------------------------------------------------------
// convertSegment

TEST(ConvertSegmentTest, ReluAddStaticEndToEnd) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({2, 3}));
  ir::Value* y = graph.addPlaceholder("y", meta({2, 3}));
  ir::Node* r = call(graph, kRELU, "relu", {ir::Arg::of(x)}, {meta({2, 3})});
  ir::Node* s = call(graph, kADD, "add", {ir::Arg::of(r->output(0)), ir::Arg::of(y)}, {meta({2, 3})});
  graph.setOutputs({ir::Arg::of(s->output(0))});

  auto converted = convertSegment(wholeGraph(graph, {s->output(0)}), CompilationSettings(), testRegistry());
  ASSERT_TRUE(converted.isOk()) << converted.status().toString();
  EXPECT_EQ(converted->inputNames, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(converted->outputNames, (std::vector<std::string>{"add"}));
  EXPECT_FALSE(converted->requiresOutputAllocator);
  EXPECT_EQ(converted->buildReport.layersBefore, 2);

  auto out = run(*converted->plan, {{"x", floats(Dims{2, 3}, {-1, 2, -3, 4, -5, 6})},
                                    {"y", floats(Dims{2, 3}, {10, 10, 10, 10, 10, 10})}});
  EXPECT_EQ(valuesOf(out["add"]), (std::vector<float>{10, 12, 10, 14, 10, 16}));

  // The layers carry the node-info names.
  Runtime runtime;
  auto engine = runtime.deserializeEngine(converted->plan->data(), converted->plan->size());
  ASSERT_TRUE(engine.isOk());
  const std::string info = engine.value()->createEngineInspector()->getEngineInformationText();
  EXPECT_MENTIONS(info, "[%relu]");
  EXPECT_MENTIONS(info, "aten::add.Tensor");
}

TEST(ConvertSegmentTest, DynamicBatchUsesTheInputRanges) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({-1, 3}));
  ir::Node* r = call(graph, kRELU, "relu", {ir::Arg::of(x)}, {meta({-1, 3})});
  ir::Node* s = call(graph, kADD, "add", {ir::Arg::of(r->output(0)), ir::Arg::of(x)}, {meta({-1, 3})});
  InputRange range{Dims{1, 3}, Dims{2, 3}, Dims{8, 3}};
  auto converted = convertSegment(wholeGraph(graph, {s->output(0)}, {range}), CompilationSettings(), testRegistry());
  ASSERT_TRUE(converted.isOk()) << converted.status().toString();

  Runtime runtime;
  auto engine = runtime.deserializeEngine(converted->plan->data(), converted->plan->size());
  ASSERT_TRUE(engine.isOk());
  EXPECT_EQ(engine.value()->getProfileShape("x", 0, OptProfileSelector::kMAX), (Dims{8, 3}));

  std::vector<float> in(15), expected(15);
  for (size_t i = 0; i < in.size(); ++i) {
    in[i] = static_cast<float>(i) - 7.0f;
    expected[i] = in[i] + std::max(in[i], 0.0f);
  }
  auto out = run(*converted->plan, {{"x", floats(Dims{5, 3}, in)}});
  EXPECT_EQ(out["add"].dims, (Dims{5, 3}));
  EXPECT_EQ(valuesOf(out["add"]), expected);

  // Without ranges a dynamic input is an error naming it.
  std::string err = errorOf(convertSegment(wholeGraph(graph, {s->output(0)}), CompilationSettings(), testRegistry()));
  EXPECT_MENTIONS(err, "%x");
  EXPECT_MENTIONS(err, "min/opt/max");
  // A range contradicting a static dim is refused.
  InputRange wrong{Dims{1, 4}, Dims{2, 4}, Dims{8, 4}};
  err = errorOf(convertSegment(wholeGraph(graph, {s->output(0)}, {wrong}), CompilationSettings(), testRegistry()));
  EXPECT_MENTIONS(err, "dim 1 is static");
}

TEST(ConvertSegmentTest, GetAttrWeightsBecomeConstantsConvertersCanRead) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({2, 3}));
  auto weight = std::make_shared<HostTensor>(floats(Dims{3}, {0.5f, 1.5f, 2.5f}));
  ir::Value* w = graph.addGetAttr("fc.bias", weight);
  ir::Node* s = call(graph, kADD, "add", {ir::Arg::of(x), ir::Arg::of(w)}, {meta({2, 3})});

  // A local add that also checks the weights reach the converter.
  ConverterRegistry registry;
  bool sawWeights = false;
  ConverterFn checkingAdd = [&sawWeights](ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
    sawWeights = args[1].weights != nullptr && args[1].weights->floatAt(2) == 2.5 && args[0].weights == nullptr;
    EXPECT_EQ(args[1].name, "other");
    EXPECT_EQ(args[2].name, "alpha");
    return add(ctx, node, args);
  };
  RegisterConverters(registry).pattern({kADD, checkingAdd});
  auto converted = convertSegment(wholeGraph(graph, {s->output(0)}), CompilationSettings(), registry);
  ASSERT_TRUE(converted.isOk()) << converted.status().toString();
  EXPECT_TRUE(sawWeights);
  auto out = run(*converted->plan, {{"x", floats(Dims{2, 3}, {1, 1, 1, 2, 2, 2})}});
  EXPECT_EQ(valuesOf(out["add"]), (std::vector<float>{1.5f, 2.5f, 3.5f, 2.5f, 3.5f, 4.5f}));
}

TEST(ConvertSegmentTest, EvaluatorConstantsFeedConverters) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({-1, 3}));
  ir::Node* size = call(graph, kSYM_SIZE, "sym_size_int", {ir::Arg::of(x), ir::Arg::of(ir::Constant::fromInt(-1))}, {});
  ir::Node* m = call(graph, kMUL_SCALAR, "mul", {ir::Arg::of(x), ir::Arg::of(size->output(0))}, {meta({-1, 3})});
  InputRange range{Dims{1, 3}, Dims{2, 3}, Dims{4, 3}};
  auto converted = convertSegment(wholeGraph(graph, {m->output(0)}, {range}), CompilationSettings(), testRegistry());
  ASSERT_TRUE(converted.isOk()) << converted.status().toString();
  auto out = run(*converted->plan, {{"x", floats(Dims{1, 3}, {1, 2, 3})}});
  EXPECT_EQ(valuesOf(out["mul"]), (std::vector<float>{3, 6, 9}));  // x * x.size(-1)
}

TEST(ConvertSegmentTest, ASegmentCannotOutputAConstant) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({2, 3}));
  ir::Node* size = call(graph, kSYM_SIZE, "width", {ir::Arg::of(x), ir::Arg::of(ir::Constant::fromInt(1))}, {});
  ir::Node* r = call(graph, kRELU, "relu", {ir::Arg::of(x)}, {meta({2, 3})});
  const std::string err = errorOf(
      convertSegment(wholeGraph(graph, {r->output(0), size->output(0)}), CompilationSettings(), testRegistry()));
  EXPECT_MENTIONS(err, "segment output %width is the compile-time constant 3");
  EXPECT_MENTIONS(err, "partitioner");
}

TEST(ConvertSegmentTest, InputsAndSharedTensorsGoOutThroughIdentities) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({3}));
  ir::Node* passthrough = call(graph, kALIAS, "passthrough", {ir::Arg::of(x)}, {meta({3})});
  ir::Node* r = call(graph, kRELU, "relu", {ir::Arg::of(x)}, {meta({3})});
  ir::Node* same = call(graph, kALIAS, "same", {ir::Arg::of(r->output(0))}, {meta({3})});
  auto converted = convertSegment(wholeGraph(graph, {passthrough->output(0), r->output(0), same->output(0)}),
                                  CompilationSettings(), testRegistry());
  ASSERT_TRUE(converted.isOk()) << converted.status().toString();
  EXPECT_EQ(converted->outputNames, (std::vector<std::string>{"passthrough", "relu", "same"}));
  auto out = run(*converted->plan, {{"x", floats(Dims{3}, {-1, 0, 2})}});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(valuesOf(out["passthrough"]), (std::vector<float>{-1, 0, 2}));
  EXPECT_EQ(valuesOf(out["relu"]), (std::vector<float>{0, 0, 2}));
  EXPECT_EQ(valuesOf(out["same"]), (std::vector<float>{0, 0, 2}));

  const std::string err =
      errorOf(convertSegment(wholeGraph(graph, {r->output(0), r->output(0)}), CompilationSettings(), testRegistry()));
  EXPECT_MENTIONS(err, "listed twice");
}

TEST(ConvertSegmentTest, WeightsAndShapesCanBeOutputs) {
  // A weight read by PyTorch code after the segment, and a shape computed in the engine.
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({-1, 3}));
  ir::Value* w = graph.addGetAttr("w", std::make_shared<HostTensor>(floats(Dims{2}, {4, 5})));
  ir::Node* shape = call(graph, "aten::_shape_as_tensor(Tensor self) -> Tensor", "shape", {ir::Arg::of(x)},
                         {meta({2}, DataType::kINT64)});
  ConverterRegistry registry;
  RegisterConverters(registry).pattern({"aten::_shape_as_tensor(Tensor self) -> Tensor",
                                        [](ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
                                          IShapeLayer* layer = ctx.net->addShape(*args[0].tensor);
                                          ctx.associateValueAndTensor(node.output(0), layer->getOutput(0));
                                          return Status::ok();
                                        }});
  InputRange range{Dims{1, 3}, Dims{2, 3}, Dims{4, 3}};
  auto converted = convertSegment(wholeGraph(graph, {w, shape->output(0)}, {range}), CompilationSettings(), registry);
  ASSERT_TRUE(converted.isOk()) << converted.status().toString();
  EXPECT_EQ(converted->outputNames, (std::vector<std::string>{"w", "shape"}));
  auto out = run(*converted->plan, {{"x", floats(Dims{3, 3}, std::vector<float>(9, 0.0f))}});
  EXPECT_EQ(valuesOf(out["w"]), (std::vector<float>{4, 5}));
  EXPECT_EQ(out["shape"].toInts(), (std::vector<int64_t>{3, 3}));
}

TEST(ConvertSegmentTest, NodeWithoutConverterIsNamed) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({2}));
  ir::Node* r = call(graph, kRELU, "relu", {ir::Arg::of(x)}, {meta({2})});
  ir::Node* a = call(graph, kADD, "scaled", {ir::Arg::of(r->output(0)), ir::Arg::of(x)}, {meta({2})});
  ir::Node* tanh = call(graph, "aten::tanh(Tensor self) -> Tensor", "tanh_3", {ir::Arg::of(a->output(0))}, {meta({2})});
  std::string err =
      errorOf(convertSegment(wholeGraph(graph, {tanh->output(0)}), CompilationSettings(), testRegistry()));
  EXPECT_MENTIONS(err, "%tanh_3 (aten::tanh.default)");
  EXPECT_MENTIONS(err, "no converter is registered");

  // The validator refuses alpha = 2: the reason says so.
  ir::Graph graph2;
  ir::Value* x2 = graph2.addPlaceholder("x", meta({2}));
  auto alpha2 = graph2.addCall(kADD, "add", {ir::Arg::of(x2), ir::Arg::of(x2)},
                               {{"alpha", ir::Arg::of(ir::Constant::fromInt(2))}}, {meta({2})});
  ASSERT_TRUE(alpha2.isOk());
  err = errorOf(convertSegment(wholeGraph(graph2, {alpha2.value()->output(0)}), CompilationSettings(), testRegistry()));
  EXPECT_MENTIONS(err, "%add (aten::add.Tensor)");
  EXPECT_MENTIONS(err, "validator refused");
}

TEST(ConvertSegmentTest, ConverterContractViolationsAreReported) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({2}));
  ir::Node* r = call(graph, kRELU, "bad", {ir::Arg::of(x)}, {meta({2})});
  const SegmentSpec spec = wholeGraph(graph, {r->output(0)});

  ConverterRegistry forgets;
  RegisterConverters(forgets).pattern(
      {kRELU, [](ConversionCtx&, const ir::Node&, std::vector<ConverterArg>&) { return Status::ok(); }});
  std::string err = errorOf(convertSegment(spec, CompilationSettings(), forgets));
  EXPECT_MENTIONS(err, "%bad (aten::relu.default)");
  EXPECT_MENTIONS(err, "did not associate output %bad");

  ConverterRegistry fails;
  RegisterConverters(fails).pattern({kRELU, [](ConversionCtx&, const ir::Node&, std::vector<ConverterArg>&) {
                                       return unimplemented("no kernel for this mode");
                                     }});
  err = errorOf(convertSegment(spec, CompilationSettings(), fails));
  EXPECT_MENTIONS(err, "converting %bad (aten::relu.default): no kernel for this mode");

  ConverterRegistry wrongType;
  RegisterConverters(wrongType).pattern(
      {kRELU, [](ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
         ICastLayer* cast = ctx.net->addCast(*args[0].tensor, DataType::kINT32);
         ctx.associateValueAndTensor(node.output(0), cast->getOutput(0));
         return Status::ok();
       }});
  err = errorOf(convertSegment(spec, CompilationSettings(), wrongType));
  EXPECT_MENTIONS(err, "int32[2] for output %bad, which PyTorch computes as float32[2] (dtype differs)");

  ConverterRegistry recordsError;
  RegisterConverters(recordsError)
      .pattern({kRELU, [](ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>& args) {
                  ctx.associateValueAndTensor(node.output(0), ctx.addScalar(1e30, DataType::kINT32, 1, "huge"));
                  return Status::ok();
                }});
  err = errorOf(convertSegment(spec, CompilationSettings(), recordsError));
  EXPECT_MENTIONS(err, "converting %bad (aten::relu.default): scalar 'huge'");
}

TEST(ConvertSegmentTest, MalformedSegmentsAreRefused) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({2}));
  ir::Node* r = call(graph, kRELU, "relu", {ir::Arg::of(x)}, {meta({2})});
  ir::Node* r2 = call(graph, kRELU, "relu2", {ir::Arg::of(r->output(0))}, {meta({2})});

  // %relu2 reads %relu, which the segment neither computes nor takes as an input.
  SegmentSpec missing;
  missing.inputs = {x};
  missing.nodes = {r2};
  missing.outputs = {r2->output(0)};
  std::string err = errorOf(convertSegment(missing, CompilationSettings(), testRegistry()));
  EXPECT_MENTIONS(err, "argument 'self' (#0) reads %relu");

  SegmentSpec noOutputs = wholeGraph(graph, {});
  EXPECT_MENTIONS(errorOf(convertSegment(noOutputs, CompilationSettings(), testRegistry())), "no outputs");

  SegmentSpec withPlaceholder = wholeGraph(graph, {r->output(0)});
  withPlaceholder.nodes.insert(withPlaceholder.nodes.begin(), x->node());
  EXPECT_MENTIONS(errorOf(convertSegment(withPlaceholder, CompilationSettings(), testRegistry())),
                  "graph input %x (x) is inside the segment");

  ir::Node* size = call(graph, kSYM_SIZE, "n", {ir::Arg::of(x), ir::Arg::of(ir::Constant::fromInt(0))}, {});
  SegmentSpec intInput;
  intInput.inputs = {x, size->output(0)};
  intInput.nodes = {r};
  intInput.outputs = {r->output(0)};
  EXPECT_MENTIONS(errorOf(convertSegment(intInput, CompilationSettings(), testRegistry())),
                  "segment input %n is not a tensor");

  SegmentSpec badRanges = wholeGraph(graph, {r->output(0)}, {InputRange{}, InputRange{}});
  EXPECT_MENTIONS(errorOf(convertSegment(badRanges, CompilationSettings(), testRegistry())), "1 inputs but 2");
}

TEST(ConvertSegmentTest, OutputAllocatorRequirementIsReported) {
  ir::Graph graph;
  ir::Value* x = graph.addPlaceholder("x", meta({2}));
  ir::Node* r = call(graph, kRELU, "relu", {ir::Arg::of(x)}, {meta({2})});
  ConverterRegistry registry;
  ConverterOptions options;
  options.requiresOutputAllocator = true;
  RegisterConverters(registry).pattern({kRELU, relu}, options);
  auto converted = convertSegment(wholeGraph(graph, {r->output(0)}), CompilationSettings(), registry);
  ASSERT_TRUE(converted.isOk()) << converted.status().toString();
  EXPECT_TRUE(converted->requiresOutputAllocator);
}

}  // namespace
}  // namespace conversion
}  // namespace kiln
