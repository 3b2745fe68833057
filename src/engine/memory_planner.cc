#include "engine/memory_planner.h"

#include <algorithm>

namespace kiln {

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
  struct Block {
    size_t tensor;
    int64_t bytes;
  };
  std::vector<Block> blocks;
  for (size_t t = 0; t < nbTensors; ++t) {
    if (!eligible[t] || first[t] < 0 || tensorBytes[t] < 0) continue;
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
  return plan;
}

}  // namespace kiln
