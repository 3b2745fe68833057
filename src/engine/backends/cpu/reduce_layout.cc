#include "engine/backends/cpu/reduce_layout.h"

#include <cstddef>
#include <utility>

namespace kiln {
namespace cpu {
namespace {

// Offsets of every index of the given (extent, stride) groups, row-major.
std::vector<int64_t> enumerateOffsets(const std::vector<std::pair<int64_t, int64_t>>& groups) {
  std::vector<int64_t> offsets{0};
  for (const auto& [extent, stride] : groups) {
    std::vector<int64_t> next;
    next.reserve(offsets.size() * static_cast<size_t>(extent));
    for (int64_t base : offsets) {
      for (int64_t j = 0; j < extent; ++j) next.push_back(base + j * stride);
    }
    offsets = std::move(next);
  }
  return offsets;
}

}  // namespace

ReduceLayout buildReduceLayout(const std::vector<int64_t>& extents, const std::vector<int64_t>& strides,
                               const std::vector<bool>& reduced) {
  struct Group {
    int64_t extent, stride;
    bool reduced;
  };
  ReduceLayout layout;
  std::vector<Group> groups;
  for (size_t d = 0; d < extents.size(); ++d) {
    if (reduced[d]) layout.count *= extents[d];
    if (extents[d] == 1) continue;
    if (!groups.empty() && groups.back().reduced == reduced[d]) {
      groups.back().extent *= extents[d];  // contiguous input: the merged group keeps the inner stride
      groups.back().stride = strides[d];
    } else {
      groups.push_back({extents[d], strides[d], reduced[d]});
    }
  }
  if (!groups.empty() && !groups.back().reduced) {
    layout.inner = groups.back().extent;
    groups.pop_back();
  }
  std::vector<std::pair<int64_t, int64_t>> kept, reducedGroups;
  for (const Group& g : groups) (g.reduced ? reducedGroups : kept).emplace_back(g.extent, g.stride);
  if (!reducedGroups.empty()) {
    layout.runLength = reducedGroups.back().first;
    layout.runStride = reducedGroups.back().second;
    reducedGroups.pop_back();
  }
  layout.outer = enumerateOffsets(kept);
  layout.runs = enumerateOffsets(reducedGroups);
  return layout;
}

}  // namespace cpu
}  // namespace kiln
