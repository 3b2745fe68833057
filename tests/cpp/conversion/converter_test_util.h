// A harness for converter tests: build a small IR graph as torch.export would (placeholders, get_attr
// weights, calls with the real schema strings and output metadata), convert it as one segment with the
// library's converters (the global registry), run the plan on the CPU backend and read the outputs.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conversion/converter.h"
#include "engine/host_tensor.h"
#include "ir/graph.h"

namespace kiln {
namespace conversion {
namespace testing {

// Metadata from extents; -1 makes a symbolic dim (its own symbol per position unless `symbols` names them).
ir::TensorMeta meta(const std::vector<int64_t>& extents, DataType dtype = DataType::kFLOAT,
                    const std::vector<std::string>& symbols = {});

HostTensor tensorOf(DataType type, const Dims& dims, const std::vector<double>& values);
std::vector<double> valuesOf(const HostTensor& t);
// Deterministic values in [lo, hi).
std::vector<double> ramp(int64_t count, double lo, double hi, uint64_t seed = 1);

class GraphCase {
 public:
  // A graph input with these values; `declared` extents may be -1: dynamic, with a profile from `minExtent` to
  // twice the value's extent.
  ir::Value* input(const std::string& name, const HostTensor& value, std::vector<int64_t> declared = {},
                   int64_t minExtent = 1);
  ir::Value* weight(const std::string& name, const HostTensor& value);
  // A call with positional args, keyword args and one meta per tensor return (nullopt for non-tensors).
  ir::Node* call(const std::string& schema, const std::string& name, std::vector<ir::Arg> args,
                 std::vector<std::optional<ir::TensorMeta>> metas, std::map<std::string, ir::Arg> kwargs = {});
  // Marks the graph outputs (so the IR's users are what they would be in a real graph).
  void outputs(const std::vector<const ir::Value*>& values);
  // Converts every call/get_attr node as one segment with the global registry.
  StatusOr<ConvertedSegment> convert();
  // Converts, runs on the CPU and returns the outputs by value name; failures are test failures.
  std::map<std::string, HostTensor> run();
  // The registry's answer for a node (null: it stays in PyTorch).
  bool supported(const ir::Node* node) const;

  ir::Graph graph;

 private:
  std::vector<const ir::Value*> outputs_;
  std::map<std::string, HostTensor> values_;
  std::vector<const ir::Value*> inputs_;
  std::vector<InputRange> ranges_;
};

// Shorthands for IR arguments.
inline ir::Arg v(const ir::Value* value) { return ir::Arg::of(const_cast<ir::Value*>(value)); }
inline ir::Arg v(const ir::Node* node, size_t i = 0) { return ir::Arg::of(node->output(i)); }
inline ir::Arg c(int64_t x) { return ir::Arg::of(ir::Constant::fromInt(x)); }
inline ir::Arg c(int x) { return ir::Arg::of(ir::Constant::fromInt(x)); }
inline ir::Arg c(double x) { return ir::Arg::of(ir::Constant::fromDouble(x)); }
inline ir::Arg c(bool x) { return ir::Arg::of(ir::Constant::fromBool(x)); }
inline ir::Arg c(const char* s) { return ir::Arg::of(ir::Constant::fromString(s)); }
inline ir::Arg none() { return ir::Arg::of(ir::Constant::none()); }
inline ir::Arg ints(const std::vector<int64_t>& xs) { return ir::Arg::of(ir::Constant::fromInts(xs)); }
inline ir::Arg list(std::vector<ir::Arg> items) { return ir::Arg::listOf(std::move(items)); }

void expectValues(const HostTensor& actual, DataType type, const Dims& dims, const std::vector<double>& expected,
                  double tolerance = 1e-5);

}  // namespace testing
}  // namespace conversion
}  // namespace kiln
