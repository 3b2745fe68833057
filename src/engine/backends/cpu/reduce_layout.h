// The loop structure of a reduction over a contiguous tensor, shared by the reduce and normalization kernels.
//
// Output element (o, i) reduces  in[outer[o] + run + l * runStride + i]  for run in runs, l in [0, runLength),
// where i walks the trailing kept dims (contiguous in input and output) and the last reduced group is the
// innermost loop. Dims of extent 1 are dropped and neighbouring dims of one kind merged first, so the common
// cases (reduce the last dims, reduce the first dims) become a single run or a single outer index.
#pragma once

#include <cstdint>
#include <vector>

namespace kiln {
namespace cpu {

struct ReduceLayout {
  int64_t inner = 1;
  std::vector<int64_t> outer;
  std::vector<int64_t> runs;
  int64_t runLength = 1;
  int64_t runStride = 0;
  int64_t count = 1;  // elements reduced into each output
};

// One entry per dim: its extent, its stride in the input, and whether it is reduced.
ReduceLayout buildReduceLayout(const std::vector<int64_t>& extents, const std::vector<int64_t>& strides,
                               const std::vector<bool>& reduced);

}  // namespace cpu
}  // namespace kiln
