// CPU gather (kDEFAULT, kELEMENT, kND), one-hot and non-zero kernels, and the registration of the gather
// family (scatter lives in scatter.cc). Data moves by element size; indices are int32 or int64, checked
// before any element moves so a bad index is a Status naming the layer, never a wild read.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"
#include "engine/backends/cpu/data_movement.h"

namespace kiln {
namespace cpu {
namespace {

constexpr int64_t kGrainElements = int64_t{1} << 15;

int64_t product(const Dims& dims, int32_t begin, int32_t end) {
  int64_t p = 1;
  for (int32_t d = begin; d < end; ++d) p *= dims.d[d];
  return p;
}

int32_t storedAxis(const LayerParams& layer, int64_t fallback, int32_t rank) {
  const int64_t axis = layer.attrs.getInt("axis", fallback);
  return static_cast<int32_t>(axis < 0 ? axis + rank : axis);
}

// numpy.take along `axis`, with nbElementWiseDims leading batch dims shared by data and indices:
// out[b, p, i, q] = data[b, p, indices[b, i], q].
Status gatherDefault(const LayerParams& layer, KernelIO& io) {
  const TensorView& data = io.inputs[0];
  const TensorView& indices = io.inputs[1];
  TensorView& out = io.outputs[0];
  const int32_t axis = storedAxis(layer, 0, data.dims.nbDims);
  const auto k = static_cast<int32_t>(layer.attrs.getInt("nb_elementwise_dims", 0));
  const int64_t n = data.dims.d[axis];
  KILN_RETURN_IF_ERROR(checkIndices(indices, &n, 1));
  if (out.count() == 0) return Status::ok();
  const int64_t p = product(data.dims, k, axis);
  const int64_t q = product(data.dims, axis + 1, data.dims.nbDims);
  const int64_t nbIdx = product(indices.dims, k, indices.dims.nbDims);
  const int64_t rows = out.count() / q;
  dispatchElementSize(dataTypeSize(data.type), [&](auto tag) {
    using E = decltype(tag);
    const E* src = data.as<const E>();
    E* dst = out.as<E>();
    parallelFor(rows, std::max<int64_t>(1, kGrainElements / q), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t i = row % nbIdx, bp = row / nbIdx, b = bp / p;
        int64_t idx = readIndex(indices, b * nbIdx + i);
        if (idx < 0) idx += n;
        const E* s = src + (bp * n + idx) * q;
        if (q == 1) {
          dst[row] = *s;
        } else {
          std::memcpy(dst + row * q, s, static_cast<size_t>(q) * sizeof(E));
        }
      }
    });
  });
  return Status::ok();
}

// torch.gather: out[c] = data[c with c[axis] replaced by indices[c]].
Status gatherElement(const LayerParams& layer, KernelIO& io) {
  const TensorView& data = io.inputs[0];
  const TensorView& indices = io.inputs[1];
  TensorView& out = io.outputs[0];
  const int32_t rank = data.dims.nbDims;
  const int32_t axis = storedAxis(layer, 0, rank);
  const int64_t n = data.dims.d[axis];
  KILN_RETURN_IF_ERROR(checkIndices(indices, &n, 1));
  if (out.count() == 0) return Status::ok();
  const std::vector<int64_t> ds = contiguousStrides(data.dims);
  const int64_t inner = out.dims.d[rank - 1];
  const int64_t axisStride = ds[static_cast<size_t>(axis)];
  dispatchElementSize(dataTypeSize(data.type), [&](auto tag) {
    using E = decltype(tag);
    const E* src = data.as<const E>();
    E* dst = out.as<E>();
    parallelFor(out.count() / inner, std::max<int64_t>(1, kGrainElements / inner), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        int64_t base = 0, rem = row;
        for (int32_t d = rank - 2; d >= 0; --d) {
          const int64_t c = rem % out.dims.d[d];
          rem /= out.dims.d[d];
          if (d != axis) base += c * ds[static_cast<size_t>(d)];
        }
        for (int64_t j = 0; j < inner; ++j) {
          int64_t idx = readIndex(indices, row * inner + j);
          if (idx < 0) idx += n;
          dst[row * inner + j] = src[base + (axis == rank - 1 ? idx : j + idx * axisStride)];
        }
      }
    });
  });
  return Status::ok();
}

// ONNX GatherND with b batch dims: each m-tuple in the last indices dim selects a slice of data.
Status gatherNd(const LayerParams& layer, KernelIO& io) {
  const TensorView& data = io.inputs[0];
  const TensorView& indices = io.inputs[1];
  TensorView& out = io.outputs[0];
  const auto b = static_cast<int32_t>(layer.attrs.getInt("nb_elementwise_dims", 0));
  const int32_t r = data.dims.nbDims, q = indices.dims.nbDims;
  const auto m = static_cast<int32_t>(indices.dims.d[q - 1]);
  if (m > 0) KILN_RETURN_IF_ERROR(checkIndices(indices, data.dims.d + b, m));
  if (out.count() == 0) return Status::ok();
  const int64_t slice = product(data.dims, b + m, r);
  const int64_t batchStride = product(data.dims, b, r);
  const int64_t tuples = product(indices.dims, b, q - 1);
  std::vector<int64_t> coordStride(static_cast<size_t>(m));
  for (int32_t j = 0; j < m; ++j) coordStride[static_cast<size_t>(j)] = product(data.dims, b + j + 1, r);
  const int64_t rows = out.count() / slice;
  dispatchElementSize(dataTypeSize(data.type), [&](auto tag) {
    using E = decltype(tag);
    const E* src = data.as<const E>();
    E* dst = out.as<E>();
    parallelFor(rows, std::max<int64_t>(1, kGrainElements / slice), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        int64_t off = (row / tuples) * batchStride;
        for (int32_t j = 0; j < m; ++j) {
          int64_t c = readIndex(indices, row * m + j);
          if (c < 0) c += data.dims.d[b + j];
          off += c * coordStride[static_cast<size_t>(j)];
        }
        std::memcpy(dst + row * slice, src + off, static_cast<size_t>(slice) * sizeof(E));
      }
    });
  });
  return Status::ok();
}

Status runGather(const LayerParams& layer, KernelIO& io) {
  switch (static_cast<GatherMode>(layer.attrs.getInt("mode", 0))) {
    case GatherMode::kDEFAULT:
      return gatherDefault(layer, io);
    case GatherMode::kELEMENT:
      return gatherElement(layer, io);
    case GatherMode::kND:
      return gatherNd(layer, io);
  }
  return internalError("unknown gather mode");
}

// out = off everywhere, then on where the (wrapped) index equals the position along the new axis.
Status runOneHot(const LayerParams& layer, KernelIO& io) {
  const TensorView& indices = io.inputs[0];
  const TensorView& values = io.inputs[1];
  TensorView& out = io.outputs[0];
  if (out.count() == 0) return Status::ok();
  const int32_t axis = storedAxis(layer, -1, out.dims.nbDims);
  const int64_t depth = out.dims.d[axis];
  const int64_t inner = product(out.dims, axis + 1, out.dims.nbDims);
  dispatchElementSize(dataTypeSize(out.type), [&](auto tag) {
    using E = decltype(tag);
    const E off = values.as<const E>()[0], on = values.as<const E>()[1];
    E* dst = out.as<E>();
    parallelFor(out.count(), kGrainElements,
                [&](int64_t begin, int64_t end) { std::fill(dst + begin, dst + end, off); });
    // Each index position owns one output column, so the writes never collide.
    parallelFor(indices.count(), kGrainElements, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        int64_t v = readIndex(indices, p);
        if (v < 0) v += depth;
        if (v >= 0 && v < depth) dst[((p / inner) * depth + v) * inner + p % inner] = on;
      }
    });
  });
  return Status::ok();
}

// Non-zero tests on the raw bits: the mask drops the sign bit of floats so -0.0 counts as zero
// (NaN is non-zero, as in torch.nonzero).
template <typename U>
void nonZeroPass(const TensorView& in, U mask, int64_t grain, std::vector<int64_t>& counts, int64_t* out,
                 int64_t total) {
  const U* x = in.as<const U>();
  const int64_t n = in.count();
  const int32_t rank = in.dims.nbDims;
  parallelFor(static_cast<int64_t>(counts.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int64_t lo = c * grain, hi = std::min(n, lo + grain);
      if (out == nullptr) {
        int64_t count = 0;
        for (int64_t i = lo; i < hi; ++i) count += (x[i] & mask) != 0;
        counts[static_cast<size_t>(c)] = count;
        continue;
      }
      int64_t coord[Dims::kMAX_DIMS] = {};
      int64_t rem = lo;
      for (int32_t d = rank - 1; d >= 0; --d) {
        coord[d] = rem % in.dims.d[d];
        rem /= in.dims.d[d];
      }
      int64_t pos = counts[static_cast<size_t>(c)];  // the chunk's first output column
      for (int64_t i = lo; i < hi; ++i) {
        if ((x[i] & mask) != 0) {
          for (int32_t d = 0; d < rank; ++d) out[d * total + pos] = coord[d];
          ++pos;
        }
        for (int32_t d = rank - 1; d >= 0; --d) {
          if (++coord[d] < in.dims.d[d]) break;
          coord[d] = 0;
        }
      }
    }
  });
}

template <typename U>
Status nonZeroTyped(const LayerParams& layer, KernelIO& io, U mask) {
  const TensorView& in = io.inputs[0];
  const int64_t n = in.count();
  const int64_t grain = int64_t{1} << 16;
  std::vector<int64_t> counts(static_cast<size_t>((n + grain - 1) / grain));
  nonZeroPass<U>(in, mask, grain, counts, nullptr, 0);
  int64_t total = 0;
  for (int64_t& c : counts) {  // counts become each chunk's first output column
    const int64_t chunk = c;
    c = total;
    total += chunk;
  }
  KILN_RETURN_IF_ERROR(io.allocateOutput(0, Dims{in.dims.nbDims, total}));
  if (total == 0 || in.dims.nbDims == 0) return Status::ok();
  nonZeroPass<U>(in, mask, grain, counts, io.outputs[0].as<int64_t>(), total);
  (void)layer;
  return Status::ok();
}

Status runNonZero(const LayerParams& layer, KernelIO& io) {
  if (!io.allocateOutput) {
    return internalError("no output allocator for the data-dependent output");
  }
  switch (io.inputs[0].type) {
    case DataType::kFLOAT:
      return nonZeroTyped<uint32_t>(layer, io, 0x7fffffffu);
    case DataType::kHALF:
    case DataType::kBF16:
      return nonZeroTyped<uint16_t>(layer, io, 0x7fffu);
    case DataType::kINT8:
    case DataType::kBOOL:
    case DataType::kUINT8:
      return nonZeroTyped<uint8_t>(layer, io, 0xffu);
    case DataType::kINT32:
      return nonZeroTyped<uint32_t>(layer, io, 0xffffffffu);
    case DataType::kINT64:
      return nonZeroTyped<uint64_t>(layer, io, ~uint64_t{0});
  }
  return internalError("unknown input type");
}

}  // namespace

Status checkIndices(const TensorView& indices, const int64_t* extents, int64_t period) {
  std::atomic<int64_t> firstBad{std::numeric_limits<int64_t>::max()};
  auto bad = [&](int64_t p) {
    const int64_t e = period == 1 ? extents[0] : extents[p % period];
    const int64_t v = readIndex(indices, p);
    return v < -e || v >= e;
  };
  parallelFor(indices.count(), int64_t{1} << 16, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      if (!bad(p)) continue;
      int64_t seen = firstBad.load();
      while (p < seen && !firstBad.compare_exchange_weak(seen, p)) {
      }
      return;
    }
  });
  const int64_t p = firstBad.load();
  if (p == std::numeric_limits<int64_t>::max()) return Status::ok();
  return outOfRange("index " + std::to_string(readIndex(indices, p)) + " at position " + std::to_string(p) +
                    " is out of range for a dim of extent " + std::to_string(extents[p % period]) +
                    " (valid: [-extent, extent))");
}

}  // namespace cpu

void registerGatherCpuKernels(CpuKernelTable& table) {
  table.add(LayerType::kGATHER, {"cpu_gather", cpu::runGather});
  table.add(LayerType::kSCATTER, {"cpu_scatter", cpu::runScatterKernel});
  table.add(LayerType::kONE_HOT, {"cpu_one_hot", cpu::runOneHot});
  table.add(LayerType::kNON_ZERO, {"cpu_non_zero", cpu::runNonZero});
}

}  // namespace kiln
