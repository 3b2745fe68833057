#include "engine/memory_planner.h"

#include <algorithm>

namespace kiln {
namespace {

bool identityPermutation(const Attributes& attrs, const char* key) {
  if (!attrs.has(key)) return true;
  const std::vector<int64_t> perm = attrs.getInts(key);
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

// Layers whose output is their input's bytes unchanged (a reshape, an identity of one type): the output can
// live in the input's memory, and the kernels skip the copy when the two addresses match.
bool movesNoBytes(const Graph& graph, const LayerInfo& layer) {
  if (layer.inputs.empty() || layer.inputs[0] < 0 || layer.outputs.size() != 1) return false;
  const TensorInfo& in = graph.tensors[static_cast<size_t>(layer.inputs[0])];
  const TensorInfo& out = graph.tensors[static_cast<size_t>(layer.outputs[0])];
  if (in.type != out.type || in.isShapeTensor || out.isShapeTensor || layer.hostEvaluated) return false;
  if (layer.params.type == LayerType::kIDENTITY) return layer.inputs.size() == 1;
  return layer.params.type == LayerType::kSHUFFLE && (layer.inputs.size() < 2 || layer.inputs[1] < 0) &&
         identityPermutation(layer.params.attrs, "first_transpose") &&
         identityPermutation(layer.params.attrs, "second_transpose");
}

}  // namespace

MemoryPlan planMemory(const Graph& graph, const std::vector<int64_t>& tensorBytes) {
  const size_t nbTensors = graph.tensors.size();
  MemoryPlan plan;
  plan.offsets.assign(nbTensors, -1);
  plan.capacities.assign(nbTensors, 0);
  std::vector<bool> eligible(nbTensors, true);
  for (int32_t t : graph.inputs) eligible[static_cast<size_t>(t)] = false;
  for (int32_t t : graph.outputs) eligible[static_cast<size_t>(t)] = false;
  std::vector<int64_t> first(nbTensors, -1), last(nbTensors, -1);
  for (size_t l = 0; l < graph.layers.size(); ++l) {
    const LayerInfo& layer = graph.layers[l];
    const bool hostSide = layer.hostEvaluated || layer.params.type == LayerType::kCONSTANT;
    for (int32_t t : layer.outputs) {
      first[static_cast<size_t>(t)] = static_cast<int64_t>(l);
      last[static_cast<size_t>(t)] = static_cast<int64_t>(l);
      if (hostSide) eligible[static_cast<size_t>(t)] = false;
    }
    for (int32_t t : layer.inputs) {
      if (t >= 0) last[static_cast<size_t>(t)] = static_cast<int64_t>(l);
    }
  }
  // Aliases: the output of a layer that moves no bytes shares its input's block, which then lives as long
  // as either. Layers are in topological order, so an alias's source is resolved before the alias.
  std::vector<size_t> root(nbTensors);
  for (size_t t = 0; t < nbTensors; ++t) root[t] = t;
  for (const LayerInfo& layer : graph.layers) {
    if (!movesNoBytes(graph, layer)) continue;
    const auto in = static_cast<size_t>(layer.inputs[0]), out = static_cast<size_t>(layer.outputs[0]);
    if (!eligible[in] || !eligible[out] || tensorBytes[in] < 0 || tensorBytes[in] != tensorBytes[out]) continue;
    root[out] = root[in];
  }
  for (size_t t = 0; t < nbTensors; ++t) {
    if (root[t] == t || first[t] < 0) continue;
    last[root[t]] = std::max(last[root[t]], last[t]);
  }
  struct Block {
    size_t tensor;
    int64_t bytes;
  };
  std::vector<Block> blocks;
  for (size_t t = 0; t < nbTensors; ++t) {
    if (!eligible[t] || first[t] < 0 || tensorBytes[t] < 0 || root[t] != t) continue;
    blocks.push_back({t, (tensorBytes[t] + kTENSOR_ALIGNMENT - 1) / kTENSOR_ALIGNMENT * kTENSOR_ALIGNMENT});
  }
  // Largest first, each at the lowest offset free over its whole lifetime.
  std::stable_sort(blocks.begin(), blocks.end(), [](const Block& a, const Block& b) { return a.bytes > b.bytes; });
  std::vector<Block> placed;
  for (const Block& block : blocks) {
    std::vector<std::pair<int64_t, int64_t>> busy;  // [offset, end) of overlapping lifetimes
    for (const Block& other : placed) {
      const bool overlap = first[block.tensor] <= last[other.tensor] && first[other.tensor] <= last[block.tensor];
      if (overlap) busy.emplace_back(plan.offsets[other.tensor], plan.offsets[other.tensor] + other.bytes);
    }
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + block.bytes <= begin) break;
      offset = std::max(offset, end);
    }
    plan.offsets[block.tensor] = offset;
    plan.capacities[block.tensor] = block.bytes;
    plan.arenaBytes = std::max(plan.arenaBytes, offset + block.bytes);
    placed.push_back(block);
  }
  for (size_t t = 0; t < nbTensors; ++t) {
    if (root[t] == t || plan.offsets[root[t]] < 0) continue;
    plan.offsets[t] = plan.offsets[root[t]];
    plan.capacities[t] = plan.capacities[root[t]];
  }
  return plan;
}

}  // namespace kiln
