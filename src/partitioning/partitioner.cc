// The partitioner: classifies call nodes, grows Kiln segments greedily along the node order without creating
// cycles, sends segments below min_block_size back to PyTorch (repeating until stable), then schedules the
// segments and computes their inputs and outputs.
#include "partitioning/partitioner.h"

#include <algorithm>
#include <map>
#include <queue>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace kiln {
namespace partitioning {
namespace {

using conversion::Unsupported;

std::string opName(const ir::Node& node) {
  if (node.schema() != nullptr) return node.schema()->name;
  const std::string& target = node.target();
  size_t ns = target.find("::");
  size_t dot = target.find('.', ns == std::string::npos ? 0 : ns + 2);
  return dot == std::string::npos ? target : target.substr(0, dot);
}

// torch_executed_ops names an overload ("aten::add.Tensor") or every overload of an op ("aten::add").
bool forcedToTorch(const ir::Node& node, const conversion::CompilationSettings& settings) {
  const std::set<std::string>& ops = settings.torchExecutedOps;
  if (ops.empty()) return false;
  if (ops.count(node.target()) != 0 || ops.count(opName(node)) != 0) return true;
  return node.schema() != nullptr && ops.count(node.schema()->key()) != 0;
}

template <typename Fn>
void forEachValue(const ir::Arg& arg, Fn&& fn) {
  switch (arg.kind) {
    case ir::Arg::Kind::kVALUE:
      if (arg.value != nullptr) fn(arg.value);
      return;
    case ir::Arg::Kind::kCONSTANT:
      return;
    case ir::Arg::Kind::kLIST:
      for (const ir::Arg& item : arg.list) forEachValue(item, fn);
      return;
  }
}

template <typename Fn>
void forEachInput(const ir::Node& node, Fn&& fn) {
  for (const ir::Arg& arg : node.args()) forEachValue(arg, fn);
}

// The graph's nodes with their positions (the order everything here follows).
struct Positions {
  std::vector<const ir::Node*> nodes;
  std::unordered_map<const ir::Node*, int32_t> position;
  explicit Positions(const ir::Graph& graph) {
    for (const std::unique_ptr<ir::Node>& node : graph.nodes()) {
      position[node.get()] = static_cast<int32_t>(nodes.size());
      nodes.push_back(node.get());
    }
  }
  // Position of the call node producing v, or -1 for placeholders and weights (available to everyone).
  int32_t producerCall(const ir::Value* v) const {
    const ir::Node* producer = v->node();
    if (producer == nullptr || producer->op() != ir::NodeOp::kCALL_FUNCTION) return -1;
    auto it = position.find(producer);
    return it == position.end() ? -1 : it->second;
  }
};

// Assigns every supported (and not demoted) call node to a Kiln segment; -1 means PyTorch.
// One segment is open at a time. A node joins it unless one of its inputs comes from a PyTorch node that
// depends on the open segment: the segment would then both feed and read that node, a cycle. maxDep[p] is
// the newest Kiln segment node p depends on; since the open segment is always the newest, "depends on the
// open segment" is maxDep == open.
std::vector<int32_t> growSegments(const Positions& positions, const std::vector<bool>& kiln, int32_t* segmentCount) {
  const size_t n = positions.nodes.size();
  std::vector<int32_t> segment(n, -1);
  std::vector<int32_t> maxDep(n, -1);
  int32_t open = -1;
  int32_t count = 0;
  for (size_t pos = 0; pos < n; ++pos) {
    const ir::Node& node = *positions.nodes[pos];
    if (node.op() != ir::NodeOp::kCALL_FUNCTION) continue;
    int32_t dep = -1;
    bool cycle = false;
    forEachInput(node, [&](const ir::Value* v) {
      int32_t p = positions.producerCall(v);
      if (p < 0) return;
      int32_t d = segment[p] >= 0 ? segment[p] : maxDep[p];
      if (segment[p] < 0 && open >= 0 && d == open) cycle = true;
      dep = std::max(dep, d);
    });
    if (kiln[pos]) {
      if (open < 0 || cycle) open = count++;
      segment[pos] = open;
      maxDep[pos] = open;
    } else {
      maxDep[pos] = dep;
    }
  }
  *segmentCount = count;
  return segment;
}

// Orders Kiln segments and single PyTorch nodes so every producer runs before its readers, preferring the
// unit that starts earliest in the graph (the order the user wrote). Units: Kiln segment k is unit k, the
// PyTorch call node at position p is unit kilnCount + p.
std::vector<int32_t> scheduleUnits(const Positions& positions, const std::vector<int32_t>& segment, int32_t kilnCount) {
  const int32_t n = static_cast<int32_t>(positions.nodes.size());
  auto unitOf = [&](int32_t pos) { return segment[pos] >= 0 ? segment[pos] : kilnCount + pos; };
  const int32_t unitCount = kilnCount + n;
  std::vector<int32_t> first(unitCount, -1);
  std::vector<std::set<int32_t>> successors(unitCount);
  std::vector<int32_t> indegree(unitCount, 0);
  for (int32_t pos = 0; pos < n; ++pos) {
    const ir::Node& node = *positions.nodes[pos];
    if (node.op() != ir::NodeOp::kCALL_FUNCTION) continue;
    const int32_t unit = unitOf(pos);
    if (first[unit] < 0) first[unit] = pos;
    forEachInput(node, [&](const ir::Value* v) {
      int32_t p = positions.producerCall(v);
      if (p < 0 || unitOf(p) == unit) return;
      if (successors[unitOf(p)].insert(unit).second) ++indegree[unit];
    });
  }
  using Entry = std::pair<int32_t, int32_t>;  // (first position, unit)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> ready;
  for (int32_t u = 0; u < unitCount; ++u) {
    if (first[u] >= 0 && indegree[u] == 0) ready.push({first[u], u});
  }
  std::vector<int32_t> order;
  while (!ready.empty()) {
    int32_t unit = ready.top().second;
    ready.pop();
    order.push_back(unit);
    for (int32_t next : successors[unit]) {
      if (--indegree[next] == 0) ready.push({first[next], next});
    }
  }
  return order;
}

// Kiln nodes that would pass a non-tensor value (an int from sym_size, a list from split) across an engine
// boundary: engines take and return tensors only, so the reader of such a value from outside its segment, and
// the producer of one read outside (or returned by the graph), must run in PyTorch.
std::vector<size_t> nonTensorBoundaryNodes(const Positions& positions, const std::vector<int32_t>& segment) {
  std::vector<size_t> nodes;
  for (size_t pos = 0; pos < positions.nodes.size(); ++pos) {
    if (segment[pos] < 0) continue;
    const ir::Node& node = *positions.nodes[pos];
    bool crosses = false;
    forEachInput(node, [&](const ir::Value* v) {
      int32_t p = positions.producerCall(v);
      if (p >= 0 && segment[p] != segment[pos] && !v->isTensor()) crosses = true;
    });
    for (const ir::Value* v : node.outputs()) {
      if (v->isTensor()) continue;
      for (const ir::Node* user : v->users()) {
        auto it = positions.position.find(user);
        if (user->op() != ir::NodeOp::kCALL_FUNCTION || it == positions.position.end() ||
            segment[it->second] != segment[pos]) {
          crosses = true;
        }
      }
    }
    if (crosses) nodes.push_back(pos);
  }
  return nodes;
}

std::string plural(size_t count, const std::string& word) {
  return std::to_string(count) + " " + word + (count == 1 ? "" : "s");
}

std::string describe(const ir::Node& node) { return "%" + node.name() + " (" + node.target() + ")"; }

Status fullCompilationError(const std::vector<std::pair<const ir::Node*, Unsupported>>& unsupported) {
  std::string message =
      "require_full_compilation is set, but " + plural(unsupported.size(), "node") + " cannot run in Kiln:";
  for (const auto& [node, why] : unsupported) {
    auto stack = node->meta().find("stack");
    const std::string where =
        stack != node->meta().end() && !stack->second.empty() ? stack->second : "unknown location";
    message += "\n  " + describe(*node) + " from " + where + ": " + conversion::unsupportedReason(why);
  }
  message +=
      "\nRegister converters for these ops (or relax their validators), take them out of "
      "torch_executed_ops, or unset require_full_compilation to run them in PyTorch.";
  return unimplemented(message);
}

void computeBoundary(Segment& segment, const ir::Node* outputNode) {
  std::unordered_set<const ir::Node*> inside(segment.nodes.begin(), segment.nodes.end());
  std::unordered_set<const ir::Value*> seen;
  for (const ir::Node* node : segment.nodes) {
    forEachInput(*node, [&](const ir::Value* v) {
      if (inside.count(v->node()) == 0 && seen.insert(v).second) segment.inputs.push_back(v);
    });
  }
  for (const ir::Node* node : segment.nodes) {
    // Weights are copied into each segment that reads them; they are never passed between segments.
    if (node->op() == ir::NodeOp::kGET_ATTR) continue;
    for (const ir::Value* v : node->outputs()) {
      bool readOutside = std::any_of(v->users().begin(), v->users().end(), [&](const ir::Node* user) {
        return user == outputNode || inside.count(user) == 0;
      });
      if (readOutside) segment.outputs.push_back(v);
    }
  }
}

}  // namespace

int32_t PartitionResult::engineSegments() const {
  return static_cast<int32_t>(
      std::count_if(segments.begin(), segments.end(), [](const Segment& s) { return s.runsInKiln; }));
}

StatusOr<PartitionResult> partition(const ir::Graph& graph, const conversion::ConverterRegistry& registry,
                                    const conversion::CompilationSettings& settings) {
  const Positions positions(graph);
  const size_t n = positions.nodes.size();
  std::vector<Unsupported> reason(n, Unsupported::kNONE);
  std::vector<bool> kiln(n, false);
  std::vector<std::pair<const ir::Node*, Unsupported>> unsupported;
  for (size_t pos = 0; pos < n; ++pos) {
    const ir::Node& node = *positions.nodes[pos];
    if (node.op() != ir::NodeOp::kCALL_FUNCTION) continue;
    if (forcedToTorch(node, settings)) {
      reason[pos] = Unsupported::kFORCED_TO_TORCH;
    } else if (registry.lookup(node, settings, &reason[pos]) == nullptr && reason[pos] == Unsupported::kNONE) {
      reason[pos] = Unsupported::kNO_CONVERTER;  // a registry that forgot to say why
    }
    kiln[pos] = reason[pos] == Unsupported::kNONE;
    if (!kiln[pos]) unsupported.emplace_back(&node, reason[pos]);
  }
  if (settings.requireFullCompilation && !unsupported.empty()) return fullCompilationError(unsupported);

  // Demoting nodes turns them into PyTorch nodes, which can split or shrink other segments: repeat until every
  // boundary carries tensors only and every segment is big enough. Each round demotes at least one node, so
  // this ends.
  std::vector<int32_t> segment;
  int32_t kilnCount = 0;
  while (true) {
    segment = growSegments(positions, kiln, &kilnCount);
    bool demoted = false;
    for (size_t pos : nonTensorBoundaryNodes(positions, segment)) {
      kiln[pos] = false;
      reason[pos] = Unsupported::kNON_TENSOR_BOUNDARY;
      unsupported.emplace_back(positions.nodes[pos], reason[pos]);
      demoted = true;
    }
    if (demoted) continue;
    if (settings.requireFullCompilation) break;  // one engine, whatever its size
    std::vector<int32_t> sizes(kilnCount, 0);
    for (size_t pos = 0; pos < n; ++pos) {
      if (segment[pos] >= 0) ++sizes[segment[pos]];
    }
    for (size_t pos = 0; pos < n; ++pos) {
      if (segment[pos] >= 0 && sizes[segment[pos]] < settings.minBlockSize) {
        kiln[pos] = false;
        reason[pos] = Unsupported::kBELOW_MIN_BLOCK_SIZE;
        demoted = true;
      }
    }
    if (!demoted) break;
  }
  if (settings.requireFullCompilation && !unsupported.empty()) return fullCompilationError(unsupported);

  PartitionResult result;
  std::vector<int32_t> segmentOfPos(n, -1);
  const std::vector<int32_t> schedule = scheduleUnits(positions, segment, kilnCount);
  size_t units = static_cast<size_t>(kilnCount);  // every Kiln segment and every PyTorch call node
  for (size_t pos = 0; pos < n; ++pos) {
    if (positions.nodes[pos]->op() == ir::NodeOp::kCALL_FUNCTION && segment[pos] < 0) ++units;
  }
  if (schedule.size() != units) {
    return internalError(
        "partitioning produced a cycle between segments (a bug in Kiln's partitioner; "
        "torch_executed_ops or a larger min_block_size may work around it)");
  }
  for (int32_t unit : schedule) {
    const bool isKiln = unit < kilnCount;
    if (isKiln || result.segments.empty() || result.segments.back().runsInKiln) {
      Segment s;
      s.id = static_cast<int32_t>(result.segments.size());
      s.runsInKiln = isKiln;
      result.segments.push_back(std::move(s));
    }
    Segment& current = result.segments.back();
    if (isKiln) {
      for (size_t pos = 0; pos < n; ++pos) {
        if (segment[pos] == unit) segmentOfPos[pos] = current.id;
      }
    } else {
      segmentOfPos[unit - kilnCount] = current.id;
    }
  }
  // Weights join every segment that reads them.
  std::vector<std::set<int32_t>> members(result.segments.size());
  for (size_t pos = 0; pos < n; ++pos) {
    const ir::Node& node = *positions.nodes[pos];
    if (node.op() == ir::NodeOp::kCALL_FUNCTION && segmentOfPos[pos] >= 0) {
      members[segmentOfPos[pos]].insert(static_cast<int32_t>(pos));
    } else if (node.op() == ir::NodeOp::kGET_ATTR) {
      for (const ir::Value* v : node.outputs()) {
        for (const ir::Node* user : v->users()) {
          auto it = positions.position.find(user);
          if (it != positions.position.end() && segmentOfPos[it->second] >= 0) {
            members[segmentOfPos[it->second]].insert(static_cast<int32_t>(pos));
          }
        }
      }
    }
  }
  const ir::Node* outputNode = graph.outputNode();
  for (Segment& s : result.segments) {
    for (int32_t pos : members[s.id]) s.nodes.push_back(positions.nodes[pos]);  // std::set: graph order
    computeBoundary(s, outputNode);
  }
  for (size_t pos = 0; pos < n; ++pos) {
    const ir::Node* node = positions.nodes[pos];
    if (node->op() != ir::NodeOp::kCALL_FUNCTION) continue;
    NodeDecision decision;
    decision.node = node;
    decision.segment = segmentOfPos[pos];
    decision.reason = kiln[pos] ? Unsupported::kNONE : reason[pos];
    result.decisions.push_back(decision);
  }
  return result;
}

std::string PartitionResult::report() const {
  size_t kilnNodes = 0;
  std::vector<const NodeDecision*> inTorch;
  for (const NodeDecision& d : decisions) {
    if (d.reason == Unsupported::kNONE) {
      ++kilnNodes;
    } else {
      inTorch.push_back(&d);
    }
  }
  std::string text = "Kiln: " + plural(static_cast<size_t>(engineSegments()), "engine segment") + " (" +
                     plural(kilnNodes, "node") + "), " + plural(inTorch.size(), "node") + " in PyTorch";
  for (const NodeDecision* d : inTorch) {
    text += "\n  " + describe(*d->node) + ": " + conversion::unsupportedReason(d->reason);
  }
  auto names = [](const std::vector<const ir::Value*>& values) {
    std::string list;
    for (const ir::Value* v : values) list += (list.empty() ? "%" : ", %") + v->name();
    return list.empty() ? std::string("(none)") : list;
  };
  for (const Segment& s : segments) {
    size_t calls = std::count_if(s.nodes.begin(), s.nodes.end(),
                                 [](const ir::Node* node) { return node->op() == ir::NodeOp::kCALL_FUNCTION; });
    text += "\nsegment " + std::to_string(s.id) + ": " + (s.runsInKiln ? "Kiln" : "PyTorch") + ", " +
            plural(calls, "node") + ", inputs " + names(s.inputs) + ", outputs " + names(s.outputs);
  }
  return text;
}

}  // namespace partitioning
}  // namespace kiln
