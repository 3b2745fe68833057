// Converting one engine segment of the IR into a serialized plan: the conversion context walks the
// segment's nodes in order, asks the registry for each node's converter, passes it the normalized
// arguments (tensors for values, constants otherwise) and checks that every output was associated.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "conversion/registry.h"
#include "conversion/settings.h"
#include "ir/graph.h"
#include "kiln/builder.h"

namespace kiln {
namespace conversion {

struct InputRange {
  Dims min, opt, max;
};

struct SegmentSpec {
  std::vector<const ir::Node*> nodes;      // in graph order
  std::vector<const ir::Value*> inputs;    // engine inputs, in this order, named after the values
  std::vector<const ir::Value*> outputs;   // engine outputs, in this order
  std::vector<InputRange> inputRanges;     // one per input (static inputs: min = opt = max)
};

struct ConvertedSegment {
  std::unique_ptr<HostMemory> plan;
  std::vector<std::string> inputNames;
  std::vector<std::string> outputNames;
  BuildReport buildReport;
  // Some converter that ran was registered with requires_output_allocator (data-dependent output shapes):
  // the runtime must bind outputs through an IOutputAllocator.
  bool requiresOutputAllocator = false;
};

// Builds a strongly typed network (one input per segment input, named after the value; one output per segment
// output, named after the value), converts the nodes in order and builds a plan for settings.backend with one
// optimization profile from inputRanges (which may be empty when every input is static).
// Errors name the node ("%gelu_1 (aten::gelu.default)") and the converter's message.
StatusOr<ConvertedSegment> convertSegment(const SegmentSpec& segment, const CompilationSettings& settings,
                                          const ConverterRegistry& registry = ConverterRegistry::global());

}  // namespace conversion
}  // namespace kiln
