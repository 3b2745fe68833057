#include "conversion/converter_test_util.h"

#include <algorithm>
#include <cmath>

#include "engine/backends/cpu/cpu_util.h"
#include "kiln/runtime.h"

namespace kiln {
namespace conversion {
namespace testing {

ir::TensorMeta meta(const std::vector<int64_t>& extents, DataType dtype, const std::vector<std::string>& symbols) {
  ir::TensorMeta m;
  m.dtype = dtype;
  for (size_t i = 0; i < extents.size(); ++i) {
    ir::SymDim d;
    d.extent = extents[i];
    if (extents[i] < 0) {
      d.symbol = i < symbols.size() && !symbols[i].empty() ? symbols[i] : "s" + std::to_string(i);
      d.min = 1;
    }
    m.shape.push_back(d);
  }
  return m;
}

HostTensor tensorOf(DataType type, const Dims& dims, const std::vector<double>& values) {
  HostTensor t(type, dims);
  EXPECT_EQ(static_cast<size_t>(t.count()), values.size()) << dimsToString(dims);
  for (size_t i = 0; i < values.size() && static_cast<int64_t>(i) < t.count(); ++i) {
    cpu::storeDouble(t.data(), type, static_cast<int64_t>(i), values[i]);
  }
  return t;
}

std::vector<double> valuesOf(const HostTensor& t) {
  std::vector<double> out(static_cast<size_t>(t.count() > 0 ? t.count() : 0));
  for (size_t i = 0; i < out.size(); ++i) out[i] = t.floatAt(static_cast<int64_t>(i));
  return out;
}

std::vector<double> ramp(int64_t count, double lo, double hi, uint64_t seed) {
  std::vector<double> out(static_cast<size_t>(count));
  uint64_t state = seed * 6364136223846793005ull + 1442695040888963407ull;
  for (auto& x : out) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    x = lo + (hi - lo) * static_cast<double>(state >> 11) / static_cast<double>(1ull << 53);
  }
  return out;
}

ir::Value* GraphCase::input(const std::string& name, const HostTensor& value, std::vector<int64_t> declared,
                            int64_t minExtent) {
  if (declared.empty()) declared.assign(value.dims.d, value.dims.d + value.dims.nbDims);
  ir::Value* in = graph.addPlaceholder(name, meta(declared, value.type));
  values_[in->name()] = value;
  inputs_.push_back(in);
  InputRange range;
  range.min = range.opt = range.max = value.dims;
  for (int32_t i = 0; i < value.dims.nbDims; ++i) {
    if (declared[static_cast<size_t>(i)] >= 0) continue;
    range.min.d[i] = std::min(minExtent, value.dims.d[i]);
    range.max.d[i] = value.dims.d[i] * 2;
  }
  ranges_.push_back(range);
  return in;
}

ir::Value* GraphCase::weight(const std::string& name, const HostTensor& value) {
  return graph.addGetAttr(name, std::make_shared<const HostTensor>(value));
}

ir::Node* GraphCase::call(const std::string& schema, const std::string& name, std::vector<ir::Arg> args,
                          std::vector<std::optional<ir::TensorMeta>> metas, std::map<std::string, ir::Arg> kwargs) {
  StatusOr<ir::Node*> node = graph.addCall(schema, name, std::move(args), std::move(kwargs), std::move(metas));
  EXPECT_TRUE(node.isOk()) << node.status().toString();
  return node.isOk() ? node.value() : nullptr;
}

void GraphCase::outputs(const std::vector<const ir::Value*>& values) {
  outputs_ = values;
  std::vector<ir::Arg> args;
  for (const ir::Value* value : values) args.push_back(v(value));
  graph.setOutputs(std::move(args));
}

StatusOr<ConvertedSegment> GraphCase::convert() {
  Status verified = graph.verify();
  if (!verified.isOk()) return verified;
  SegmentSpec spec;
  for (const auto& node : graph.nodes()) {
    if (node->op() == ir::NodeOp::kGET_ATTR || node->op() == ir::NodeOp::kCALL_FUNCTION) {
      spec.nodes.push_back(node.get());
    }
  }
  spec.inputs = inputs_;
  spec.inputRanges = ranges_;
  spec.outputs = outputs_;
  return convertSegment(spec, CompilationSettings());
}

std::map<std::string, HostTensor> GraphCase::run() {
  std::map<std::string, HostTensor> outputs;
  StatusOr<ConvertedSegment> converted = convert();
  EXPECT_TRUE(converted.isOk()) << converted.status().toString();
  if (!converted.isOk()) return outputs;
  Runtime runtime;
  auto engine = runtime.deserializeEngine(converted->plan->data(), converted->plan->size());
  EXPECT_TRUE(engine.isOk()) << engine.status().toString();
  if (!engine.isOk()) return outputs;
  auto context = engine.value()->createExecutionContext();
  EXPECT_TRUE(context.isOk()) << context.status().toString();
  if (!context.isOk()) return outputs;
  ExecutionContext& ctx = *context.value();
  for (const auto& [name, value] : values_) {
    Status shape = ctx.setInputShape(name.c_str(), value.dims);
    EXPECT_TRUE(shape.isOk()) << shape.toString();
    EXPECT_TRUE(ctx.setInputTensorAddress(name.c_str(), value.data()).isOk()) << name;
  }
  for (const std::string& name : converted->outputNames) {
    const Engine& e = *engine.value();
    outputs[name] = HostTensor(e.getTensorDataType(name.c_str()), ctx.getTensorShape(name.c_str()));
    EXPECT_TRUE(ctx.setTensorAddress(name.c_str(), outputs[name].data()).isOk()) << name;
  }
  Status status = ctx.enqueueV3(nullptr);
  EXPECT_TRUE(status.isOk()) << status.toString();
  return outputs;
}

bool GraphCase::supported(const ir::Node* node) const {
  return ConverterRegistry::global().lookup(*node, CompilationSettings()) != nullptr;
}

void expectValues(const HostTensor& actual, DataType type, const Dims& dims, const std::vector<double>& expected,
                  double tolerance) {
  EXPECT_EQ(dataTypeName(actual.type), std::string(dataTypeName(type)));
  EXPECT_EQ(dimsToString(actual.dims), dimsToString(dims));
  const std::vector<double> got = valuesOf(actual);
  ASSERT_EQ(got.size(), expected.size());
  int reported = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool ok = std::isnan(expected[i])
                        ? std::isnan(got[i])
                        : std::fabs(got[i] - expected[i]) <= tolerance * (1 + std::fabs(expected[i]));
    if (!ok && reported++ < 5) ADD_FAILURE() << "element " << i << ": got " << got[i] << ", expected " << expected[i];
  }
}

}  // namespace testing
}  // namespace conversion
}  // namespace kiln
