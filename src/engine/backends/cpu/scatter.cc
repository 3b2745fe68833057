// CPU scatter kernel: the data is copied to the output, then updates land at indexed positions
// (kELEMENT: torch.scatter/scatter_reduce along an axis; kND: ONNX ScatterND), combined by the reduction.
//
// Determinism: targets are partitioned across threads so that each output element is only ever touched
// by one thread, which applies its updates in index order. kELEMENT splits by the coordinates off the
// axis (they are kept, so they separate targets); kND splits by the position inside the updated slice.
// Reductions run on float32 (float types) or int64 (integer types, wrapping like the narrow type would)
// staging buffers, rounded to the output type once at the end.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"
#include "engine/backends/cpu/data_movement.h"

namespace kiln {
namespace cpu {
namespace {

constexpr int64_t kGrainElements = int64_t{1} << 15;

// Calls apply(target, update) for every scattered element of a kELEMENT scatter.
template <typename Apply>
void forEachElementTarget(const TensorView& data, const TensorView& indices, int32_t axis, const Apply& apply) {
  const int32_t rank = indices.dims.nbDims;
  const std::vector<int64_t> ds = contiguousStrides(data.dims);
  const std::vector<int64_t> us = contiguousStrides(indices.dims);  // updates share the indices' shape
  const int64_t len = indices.dims.d[axis], n = data.dims.d[axis];
  const int64_t dataAxisStride = ds[static_cast<size_t>(axis)], updAxisStride = us[static_cast<size_t>(axis)];
  parallelFor(indices.count() / len, std::max<int64_t>(1, kGrainElements / len), [&](int64_t begin, int64_t end) {
    for (int64_t column = begin; column < end; ++column) {
      int64_t rem = column, base = 0, ubase = 0;
      for (int32_t d = rank - 1; d >= 0; --d) {
        if (d == axis) continue;
        const int64_t c = rem % indices.dims.d[d];
        rem /= indices.dims.d[d];
        base += c * ds[static_cast<size_t>(d)];
        ubase += c * us[static_cast<size_t>(d)];
      }
      for (int64_t t = 0; t < len; ++t) {
        const int64_t u = ubase + t * updAxisStride;
        int64_t idx = readIndex(indices, u);
        if (idx < 0) idx += n;
        apply(base + idx * dataAxisStride, u);
      }
    }
  });
}

// Calls apply(target, update) for every scattered element of a kND scatter: tuple t writes the slice of
// `slice` elements starting at targets[t].
template <typename Apply>
void forEachNdTarget(const std::vector<int64_t>& targets, int64_t slice, const Apply& apply) {
  const auto tuples = static_cast<int64_t>(targets.size());
  parallelFor(slice, std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, tuples)),
              [&](int64_t begin, int64_t end) {
                for (int64_t t = 0; t < tuples; ++t) {
                  const int64_t base = targets[static_cast<size_t>(t)];
                  for (int64_t s = begin; s < end; ++s) apply(base + s, t * slice + s);
                }
              });
}

inline float addValues(float a, float b) { return a + b; }
inline int64_t addValues(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}
inline float mulValues(float a, float b) { return a * b; }
inline int64_t mulValues(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
}
// NaN wins, as in torch's amax/amin.
inline float maxValues(float a, float b) { return b > a || std::isnan(b) ? b : a; }
inline int64_t maxValues(int64_t a, int64_t b) { return b > a ? b : a; }
inline float minValues(float a, float b) { return b < a || std::isnan(b) ? b : a; }
inline int64_t minValues(int64_t a, int64_t b) { return b < a ? b : a; }

inline float meanOf(float sum, int64_t n) { return sum / static_cast<float>(n); }
inline int64_t meanOf(int64_t sum, int64_t n) {  // floor division, as torch does for integer means
  int64_t q = sum / n;
  if (sum % n != 0 && sum < 0) --q;
  return q;
}

template <typename T, typename Traverse>
void applyReduction(ScatterReduction reduction, T* acc, const T* upd, int64_t count, const Traverse& traverse) {
  switch (reduction) {
    case ScatterReduction::kNONE:
      traverse([=](int64_t t, int64_t u) { acc[t] = upd[u]; });
      break;
    case ScatterReduction::kSUM:
      traverse([=](int64_t t, int64_t u) { acc[t] = addValues(acc[t], upd[u]); });
      break;
    case ScatterReduction::kPROD:
      traverse([=](int64_t t, int64_t u) { acc[t] = mulValues(acc[t], upd[u]); });
      break;
    case ScatterReduction::kMAX:
      traverse([=](int64_t t, int64_t u) { acc[t] = maxValues(acc[t], upd[u]); });
      break;
    case ScatterReduction::kMIN:
      traverse([=](int64_t t, int64_t u) { acc[t] = minValues(acc[t], upd[u]); });
      break;
    case ScatterReduction::kMEAN: {
      // include_self: the existing value counts as one more sample.
      std::vector<int64_t> hits(static_cast<size_t>(count), 0);
      int64_t* h = hits.data();
      traverse([=](int64_t t, int64_t u) {
        acc[t] = addValues(acc[t], upd[u]);
        ++h[t];
      });
      parallelFor(count, kGrainElements, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          if (h[i] > 0) acc[i] = meanOf(acc[i], h[i] + 1);
        }
      });
      break;
    }
  }
}

template <typename Traverse>
void reduceFloat(ScatterReduction reduction, const TensorView& updates, TensorView& out, const Traverse& traverse) {
  const int64_t count = out.count();
  std::vector<float> staged;
  float* acc = out.as<float>();
  if (out.type != DataType::kFLOAT) {
    staged.resize(static_cast<size_t>(count));
    convertBuffer(out.data, out.type, staged.data(), DataType::kFLOAT, count);
    acc = staged.data();
  }
  FloatInput upd(updates);
  applyReduction<float>(reduction, acc, upd.data(), count, traverse);
  if (out.type != DataType::kFLOAT) convertBuffer(acc, DataType::kFLOAT, out.data, out.type, count);
}

template <typename Traverse>
void reduceInt(ScatterReduction reduction, const TensorView& updates, TensorView& out, const Traverse& traverse) {
  const int64_t count = out.count();
  std::vector<int64_t> acc(static_cast<size_t>(count)), upd(static_cast<size_t>(updates.count()));
  parallelFor(count, kGrainElements, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) acc[static_cast<size_t>(i)] = loadInt(out.data, out.type, i);
  });
  parallelFor(updates.count(), kGrainElements, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) upd[static_cast<size_t>(i)] = loadInt(updates.data, updates.type, i);
  });
  applyReduction<int64_t>(reduction, acc.data(), upd.data(), count, traverse);
  parallelFor(count, kGrainElements, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) storeInt(out.data, out.type, i, acc[static_cast<size_t>(i)]);
  });
}

}  // namespace

Status runScatterKernel(const LayerParams& layer, KernelIO& io) {
  const TensorView& data = io.inputs[0];
  const TensorView& indices = io.inputs[1];
  const TensorView& updates = io.inputs[2];
  TensorView& out = io.outputs[0];
  if (out.data != data.data && data.bytes() > 0) std::memcpy(out.data, data.data, static_cast<size_t>(data.bytes()));
  const auto mode = static_cast<ScatterMode>(layer.attrs.getInt("mode", 0));
  const auto reduction = static_cast<ScatterReduction>(layer.attrs.getInt("reduction", 0));
  if (updates.count() == 0) return Status::ok();

  int32_t axis = 0;
  std::vector<int64_t> targets;
  int64_t slice = 0;
  switch (mode) {
    case ScatterMode::kELEMENT: {
      const int64_t stored = layer.attrs.getInt("axis", 0);
      axis = static_cast<int32_t>(stored < 0 ? stored + data.dims.nbDims : stored);
      KILN_RETURN_IF_ERROR(checkIndices(indices, &data.dims.d[axis], 1));
      break;
    }
    case ScatterMode::kND: {
      const int32_t q = indices.dims.nbDims;
      const auto k = static_cast<int32_t>(indices.dims.d[q - 1]);
      if (k > 0) KILN_RETURN_IF_ERROR(checkIndices(indices, data.dims.d, k));
      const std::vector<int64_t> strides = contiguousStrides(data.dims);
      slice = 1;
      for (int32_t d = k; d < data.dims.nbDims; ++d) slice *= data.dims.d[d];
      targets.resize(static_cast<size_t>(k > 0 ? indices.count() / k : updates.count() / std::max<int64_t>(1, slice)));
      parallelFor(static_cast<int64_t>(targets.size()), kGrainElements, [&](int64_t begin, int64_t end) {
        for (int64_t t = begin; t < end; ++t) {
          int64_t off = 0;
          for (int32_t j = 0; j < k; ++j) {
            int64_t c = readIndex(indices, t * k + j);
            if (c < 0) c += data.dims.d[j];
            off += c * strides[static_cast<size_t>(j)];
          }
          targets[static_cast<size_t>(t)] = off;
        }
      });
      break;
    }
  }
  auto traverse = [&](const auto& apply) {
    if (mode == ScatterMode::kELEMENT) {
      forEachElementTarget(data, indices, axis, apply);
    } else {
      forEachNdTarget(targets, slice, apply);
    }
  };

  if (reduction == ScatterReduction::kNONE) {
    dispatchElementSize(dataTypeSize(out.type), [&](auto tag) {
      using E = decltype(tag);
      E* dst = out.as<E>();
      const E* src = updates.as<const E>();
      traverse([=](int64_t t, int64_t u) { dst[t] = src[u]; });
    });
  } else if (isFloatType(out.type)) {
    reduceFloat(reduction, updates, out, traverse);
  } else {
    reduceInt(reduction, updates, out, traverse);
  }
  return Status::ok();
}

}  // namespace cpu
}  // namespace kiln
