// CPU slice and padding kernels. Both map every output index, per dim, to a source index or to "fill";
// rows whose inner dim is one contiguous run are copied with memcpy, the rest element by element.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"
#include "engine/backends/cpu/data_movement.h"

namespace kiln {
namespace cpu {
namespace {

constexpr int64_t kGrainElements = int64_t{1} << 15;

int64_t floorMod(int64_t a, int64_t n) {
  const int64_t m = a % n;
  return m < 0 ? m + n : m;
}

// Source index for output position i sampling from an extent n; -1 means "use the fill value".
int64_t sampleIndex(SampleMode mode, int64_t i, int64_t n) {
  switch (mode) {
    case SampleMode::kSTRICT_BOUNDS:
      return i;
    case SampleMode::kWRAP:
      return floorMod(i, n);
    case SampleMode::kCLAMP:
      return i < 0 ? 0 : (i >= n ? n - 1 : i);
    case SampleMode::kFILL:
      return i >= 0 && i < n ? i : -1;
    case SampleMode::kREFLECT: {
      // Mirror without repeating the edge (like torch's reflect padding): period 2(n-1).
      if (n == 1) return 0;
      const int64_t period = 2 * (n - 1);
      const int64_t m = floorMod(i, period);
      return m < n ? m : period - m;
    }
  }
  return -1;
}

// Shape inference checks the bounds whenever start and stride are shape tensors known on the host; they
// may also be ordinary tensors, known only here, so the kernel checks again before indexing.
Status checkSampling(SampleMode mode, int32_t dim, int64_t extent, int64_t start, int64_t size, int64_t stride) {
  if (size == 0) return Status::ok();
  const __int128 last = static_cast<__int128>(start) + static_cast<__int128>(size - 1) * stride;
  if (last > INT64_MAX || last < INT64_MIN)
    return invalidArgument("slice of dim " + std::to_string(dim) + " overflows");
  const bool inside = start >= 0 && start < extent && last >= 0 && last < extent;
  if (mode == SampleMode::kSTRICT_BOUNDS && !inside) {
    return outOfRange("slice of dim " + std::to_string(dim) + " (start " + std::to_string(start) + ", stride " +
                      std::to_string(stride) + ", size " + std::to_string(size) + ") reads outside its extent " +
                      std::to_string(extent));
  }
  if (mode != SampleMode::kFILL && extent == 0) {
    return invalidArgument("slice samples dim " + std::to_string(dim) + ", which is empty");
  }
  return Status::ok();
}

template <typename E>
void fillRun(E* dst, int64_t n, E value) {
  for (int64_t i = 0; i < n; ++i) dst[i] = value;
}

// out[c] = in[maps[0][c0], ..., maps[r-1][c_{r-1}]], or the fill element where any map gives -1.
template <typename E>
void sampleCopy(const TensorView& in, TensorView& out, const std::vector<std::vector<int64_t>>& maps, E fill) {
  const int64_t total = out.count();
  const int32_t rank = out.dims.nbDims;
  E* dst = out.as<E>();
  const E* src = in.as<const E>();
  if (rank == 0) {
    dst[0] = src[0];
    return;
  }
  const std::vector<int64_t> inStrides = contiguousStrides(in.dims);
  const std::vector<int64_t>& innerMap = maps[static_cast<size_t>(rank - 1)];
  const int64_t n = out.dims.d[rank - 1];
  // Is the inner map [fill...][contiguous run][fill...]? Then rows are a memcpy between two fills.
  int64_t runBegin = 0;
  while (runBegin < n && innerMap[static_cast<size_t>(runBegin)] < 0) ++runBegin;
  int64_t runEnd = runBegin;
  while (runEnd < n &&
         innerMap[static_cast<size_t>(runEnd)] == innerMap[static_cast<size_t>(runBegin)] + (runEnd - runBegin)) {
    ++runEnd;
  }
  int64_t tail = runEnd;
  while (tail < n && innerMap[static_cast<size_t>(tail)] < 0) ++tail;
  const bool simpleRows = tail == n;
  const int32_t outerRank = rank - 1;

  parallelFor(total / n, std::max<int64_t>(1, kGrainElements / n), [&](int64_t begin, int64_t end) {
    int64_t coord[Dims::kMAX_DIMS] = {};
    int64_t rem = begin;
    for (int32_t d = outerRank - 1; d >= 0; --d) {
      coord[d] = rem % out.dims.d[d];
      rem /= out.dims.d[d];
    }
    for (int64_t row = begin; row < end; ++row) {
      E* drow = dst + row * n;
      int64_t srcOff = 0;
      bool valid = true;
      for (int32_t d = 0; d < outerRank; ++d) {
        const int64_t m = maps[static_cast<size_t>(d)][static_cast<size_t>(coord[d])];
        if (m < 0) valid = false;
        srcOff += m * inStrides[static_cast<size_t>(d)];
      }
      if (!valid) {
        fillRun(drow, n, fill);
      } else if (simpleRows) {
        fillRun(drow, runBegin, fill);
        if (runEnd > runBegin) {
          std::memcpy(drow + runBegin, src + srcOff + innerMap[static_cast<size_t>(runBegin)],
                      static_cast<size_t>(runEnd - runBegin) * sizeof(E));
        }
        fillRun(drow + runEnd, n - runEnd, fill);
      } else {
        for (int64_t t = 0; t < n; ++t) {
          const int64_t m = innerMap[static_cast<size_t>(t)];
          drow[t] = m < 0 ? fill : src[srcOff + m];
        }
      }
      for (int32_t d = outerRank - 1; d >= 0; --d) {
        if (++coord[d] < out.dims.d[d]) break;
        coord[d] = 0;
      }
    }
  });
}

void runSampleCopy(const TensorView& in, TensorView& out, const std::vector<std::vector<int64_t>>& maps,
                   const uint8_t* fillBytes) {
  if (out.count() == 0) return;
  dispatchElementSize(dataTypeSize(out.type), [&](auto tag) {
    using E = decltype(tag);
    E fill;
    std::memcpy(&fill, fillBytes, sizeof(E));
    sampleCopy<E>(in, out, maps, fill);
  });
}

// A slice parameter from its shape-tensor input when connected, else from the attribute.
std::vector<int64_t> sliceParam(const LayerParams& layer, const KernelIO& io, size_t index, const char* key,
                                int32_t rank) {
  std::vector<int64_t> values(static_cast<size_t>(rank));
  if (io.inputs.size() > index && io.inputs[index].data != nullptr) {
    const TensorView& view = io.inputs[index];
    for (int32_t i = 0; i < rank; ++i) values[static_cast<size_t>(i)] = loadInt(view.data, view.type, i);
  } else {
    const Dims dims = layer.attrs.getDims(key);
    for (int32_t i = 0; i < rank; ++i) values[static_cast<size_t>(i)] = dims.d[i];
  }
  return values;
}

}  // namespace

Status runSliceKernel(const LayerParams& layer, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  if (out.count() == 0) return Status::ok();
  const int32_t rank = in.dims.nbDims;
  const auto mode = static_cast<SampleMode>(layer.attrs.getInt("mode", 0));
  const std::vector<int64_t> start = sliceParam(layer, io, 1, "start", rank);
  const std::vector<int64_t> stride = sliceParam(layer, io, 3, "stride", rank);

  uint8_t fill[8] = {};
  if (mode == SampleMode::kFILL && io.inputs.size() > 4 && io.inputs[4].data != nullptr) {
    // The fill value may come in another type than the data: convert it (integers exactly).
    const TensorView& value = io.inputs[4];
    if (isFloatType(out.type) || isFloatType(value.type)) {
      storeDouble(fill, out.type, 0, loadDouble(value.data, value.type, 0));
    } else {
      storeInt(fill, out.type, 0, loadInt(value.data, value.type, 0));
    }
  }

  std::vector<std::vector<int64_t>> maps(static_cast<size_t>(rank));
  for (int32_t d = 0; d < rank; ++d) {
    std::vector<int64_t>& map = maps[static_cast<size_t>(d)];
    map.resize(static_cast<size_t>(out.dims.d[d]));
    const int64_t s0 = start[static_cast<size_t>(d)], st = stride[static_cast<size_t>(d)];
    KILN_RETURN_IF_ERROR(checkSampling(mode, d, in.dims.d[d], s0, out.dims.d[d], st));
    for (int64_t k = 0; k < out.dims.d[d]; ++k)
      map[static_cast<size_t>(k)] = sampleIndex(mode, s0 + k * st, in.dims.d[d]);
  }
  runSampleCopy(in, out, maps, fill);
  return Status::ok();
}

Status runPaddingKernel(const LayerParams& layer, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  if (out.count() == 0) return Status::ok();
  const Dims pre = layer.attrs.getDims("pre_padding");
  const int32_t rank = in.dims.nbDims;
  const int32_t first = rank - pre.nbDims;
  std::vector<std::vector<int64_t>> maps(static_cast<size_t>(rank));
  for (int32_t d = 0; d < rank; ++d) {
    std::vector<int64_t>& map = maps[static_cast<size_t>(d)];
    map.resize(static_cast<size_t>(out.dims.d[d]));
    const int64_t shift = d >= first ? pre.d[d - first] : 0;
    for (int64_t k = 0; k < out.dims.d[d]; ++k) {
      const int64_t i = k - shift;
      map[static_cast<size_t>(k)] = i >= 0 && i < in.dims.d[d] ? i : -1;
    }
  }
  const uint8_t zero[8] = {};  // zero bytes are 0 in every dtype
  runSampleCopy(in, out, maps, zero);
  return Status::ok();
}

}  // namespace cpu
}  // namespace kiln
