// Partitioning: decides which call nodes run in Kiln engines and which stay in PyTorch, and groups the
// Kiln nodes into engine segments.
//   - a node is supported when the registry has a candidate for it (validator, dynamic-shape gate) and it
//     is not forced to PyTorch by torch_executed_ops;
//   - segments grow along the node order and never create a cycle: a segment never both feeds and depends
//     on the same PyTorch node;
//   - segments with fewer than min_block_size compute nodes go back to PyTorch;
//   - engines take and return tensors only: a Kiln node that would read an int or list from outside its
//     segment, or pass one out of it, goes back to PyTorch;
//   - with require_full_compilation, any unsupported node is an error listing every one and where it is from
//     (min_block_size does not apply then: the whole graph is one engine).
// Segments come in both kinds: Kiln engines and the PyTorch code between them, in an order that runs every
// value's producer before its readers. Placeholders and the output node belong to no segment. A get_attr node
// (a weight) belongs to every segment that reads it, so weights become engine constants and never cross a
// segment boundary.
#pragma once

#include <string>
#include <vector>

#include "conversion/registry.h"
#include "conversion/settings.h"
#include "ir/graph.h"

namespace kiln {
namespace partitioning {

struct Segment {
  int32_t id = 0;
  bool runsInKiln = false;
  std::vector<const ir::Node*> nodes;     // in graph order
  std::vector<const ir::Value*> inputs;   // values defined outside and read inside
  std::vector<const ir::Value*> outputs;  // values defined inside and read outside (or graph outputs)
};

struct NodeDecision {
  const ir::Node* node = nullptr;
  int32_t segment = -1;
  conversion::Unsupported reason = conversion::Unsupported::kNONE;  // why it stays in PyTorch
};

struct PartitionResult {
  std::vector<Segment> segments;        // in execution order
  std::vector<NodeDecision> decisions;  // per call node, in graph order
  int32_t engineSegments() const;
  // Human-readable summary: a headline, every node left to PyTorch with its reason, then the segments.
  //   Kiln: 2 engine segments (41 nodes), 1 node in PyTorch
  //     %topk (aten::topk.default): forced to PyTorch by torch_executed_ops
  //   segment 0: Kiln, 20 nodes, inputs %x, outputs %relu_3
  //   ...
  std::string report() const;
};

StatusOr<PartitionResult> partition(const ir::Graph& graph, const conversion::ConverterRegistry& registry,
                                    const conversion::CompilationSettings& settings);

}  // namespace partitioning
}  // namespace kiln
