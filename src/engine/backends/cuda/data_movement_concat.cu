// CUDA concatenation kernel. The output is `outer` rows; each row is the inputs' chunks side by side
// (chunk = input's axis extent * inner elements). Up to kMAX_GROUP inputs travel by value in one launch, and
// all data moves in the widest unit that every chunk, row and buffer allows.
#include <algorithm>
#include <string>

#include "engine/backends/cuda/data_movement_util.cuh"

namespace kiln {
namespace cuda {
namespace {

constexpr int32_t kMAX_GROUP = 8;

// A run of consecutive inputs: each one's source, its chunk in units and where the chunk starts in the
// group's part of the output row.
template <typename U>
struct ConcatGroup {
  const U* src[kMAX_GROUP];
  int64_t chunk[kMAX_GROUP];
  int64_t begin[kMAX_GROUP + 1];  // begin[n] is the group's width
  int32_t count;
};

// I is the index type: 32-bit division is several times cheaper, so groups below 2^31 units use it.
template <typename U, typename I>
__global__ void concatKernel(U* __restrict__ dst, ConcatGroup<U> group, int64_t outer, int64_t outRow,
                             int64_t groupOffset) {
  const int64_t width = group.begin[group.count];
  const int64_t total = outer * width;
  KILN_GRID_STRIDE_LOOP(e, total) {
    const I row = static_cast<I>(e) / static_cast<I>(width);
    const int64_t r = e - static_cast<int64_t>(row) * width;
    int32_t k = 0;
    while (k + 1 < group.count && r >= group.begin[k + 1]) ++k;
    const int64_t c = r - group.begin[k];
    dst[row * outRow + groupOffset + r] = group.src[k][row * group.chunk[k] + c];
  }
}

template <typename U>
Status launchConcat(KernelIO& io, int64_t outer, int64_t inner, int32_t axis, int64_t elemSize, int64_t unit) {
  TensorView& out = io.outputs[0];
  const int64_t outRow = out.dims.d[axis] * inner * elemSize / unit;
  const auto nbInputs = static_cast<int32_t>(io.inputs.size());
  const cudaStream_t stream = streamOf(io);
  int64_t offset = 0;
  for (int32_t first = 0; first < nbInputs; first += kMAX_GROUP) {
    ConcatGroup<U> group{};
    group.count = 0;
    for (int32_t k = first; k < std::min(nbInputs, first + kMAX_GROUP); ++k) {
      const TensorView& in = io.inputs[static_cast<size_t>(k)];
      const int64_t chunk = in.dims.d[axis] * inner * elemSize / unit;
      if (chunk == 0) continue;  // empty inputs contribute nothing (and may have no buffer)
      group.src[group.count] = static_cast<const U*>(in.data);
      group.chunk[group.count] = chunk;
      group.begin[group.count + 1] = group.begin[group.count] + chunk;
      ++group.count;
    }
    const int64_t width = group.begin[group.count];
    if (width == 0) continue;
    U* dst = static_cast<U*>(out.data);
    if (outer * width < (int64_t{1} << 31)) {
      concatKernel<U, uint32_t><<<gridFor(outer * width), kBLOCK, 0, stream>>>(dst, group, outer, outRow, offset);
    } else {
      concatKernel<U, int64_t><<<gridFor(outer * width), kBLOCK, 0, stream>>>(dst, group, outer, outRow, offset);
    }
    KILN_CUDA_CHECK_LAUNCH();
    offset += width;
  }
  return Status::ok();
}

Status runConcatenation(const LayerParams& layer, KernelIO& io) {
  TensorView& out = io.outputs[0];
  const int32_t rank = out.dims.nbDims;
  int64_t axis = layer.attrs.has("axis") ? layer.attrs.getInt("axis") : (rank >= 3 ? rank - 3 : 0);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) {
    return invalidArgument("concatenation axis " + std::to_string(layer.attrs.getInt("axis")) +
                           " is outside the output rank " + std::to_string(rank));
  }
  const auto a = static_cast<int32_t>(axis);
  const int64_t elemSize = dataTypeSize(out.type);
  const int64_t outer = extentProduct(out.dims, 0, a);
  const int64_t inner = extentProduct(out.dims, a + 1, rank);
  int64_t axisSum = 0;
  for (const TensorView& in : io.inputs) {
    if (in.dims.nbDims != rank) return invalidArgument("concatenation input " + dimsToString(in.dims) + " has the wrong rank");
    axisSum += in.dims.d[a];
  }
  if (axisSum != out.dims.d[a]) {
    return invalidArgument("concatenation inputs add up to " + std::to_string(axisSum) + " on axis " +
                           std::to_string(a) + ", the output has " + std::to_string(out.dims.d[a]));
  }
  if (out.count() == 0) return Status::ok();
  // Every chunk and every buffer must be a whole number of units.
  int64_t unit = unitFor(out.dims.d[a] * inner * elemSize, out.data);
  for (const TensorView& in : io.inputs) {
    const int64_t chunkBytes = in.dims.d[a] * inner * elemSize;
    if (chunkBytes == 0) continue;
    unit = unitFor(chunkBytes, in.data, unit);
  }
  return dispatchUnit(unit, [&](auto tag) { return launchConcat<decltype(tag)>(io, outer, inner, a, elemSize, unit); });
}

}  // namespace

void registerConcatenationDataMovementCudaKernels(CudaKernelTable& table) {
  table.add(LayerType::kCONCATENATION, {"cuda_concatenation", runConcatenation, nullptr, nullptr, {}});
}

}  // namespace cuda
}  // namespace kiln
