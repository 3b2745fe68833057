// CPU pooling kernels (max, average) over the innermost 1-3 dims, computed in float32.
//
// The spatial dims are treated as 3D (missing leading ones have extent 1); every dim before them is an
// independent plane. Max pooling never sees padding; average pooling divides by the count of input elements
// in the window (exclusive) or by the window clipped to the padded input (count_include_pad, as PyTorch does
// with ceil_mode: the part of a window beyond the post padding is not counted).
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/backends/cpu/channels_last_staging.h"
#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"
#include "engine/backends/pooling_geometry.h"

namespace kiln {
namespace {

// Window of output o in one dim: input range [lo, hi) and its extent clipped to the padded input.
struct Span {
  int64_t lo, hi, padded;
};

inline Span span(const PoolGeometry& g, int j, int64_t o) {
  const int64_t start = o * g.stride[j] - g.pre[j];
  const int64_t end = start + g.window[j];
  return {std::max<int64_t>(start, 0), std::min<int64_t>(end, g.in[j]),
          std::min<int64_t>(end, g.in[j] + g.post[j]) - start};
}

Status runPooling(const LayerParams& layer, KernelIO& io) {
  PoolGeometry g;
  KILN_RETURN_IF_ERROR(readPoolGeometry(layer, io, g));
  const auto type = static_cast<PoolingType>(layer.attrs.getInt("pooling_type", 0));
  const bool exclusive = layer.attrs.getInt("exclusive", 1) != 0;
  cpu::FloatInput xIn(io.inputs[0]);
  cpu::FloatOutput yOut(io.outputs[0]);
  const float* x = xIn.data();
  float* y = yOut.data();
  const int64_t inPlane = g.in[0] * g.in[1] * g.in[2];
  const int64_t rows = g.planes * g.out[0] * g.out[1];
  const int64_t rowWork = std::max<int64_t>(1, g.out[2] * g.window[0] * g.window[1] * g.window[2]);
  // One task per output row (plane, od, oh): the windows along it share their d and h ranges.
  cpu::parallelFor(rows, std::max<int64_t>(1, 32768 / rowWork), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t oh = row % g.out[1], od = (row / g.out[1]) % g.out[0], p = row / (g.out[1] * g.out[0]);
      const float* src = x + p * inPlane;
      float* dst = y + row * g.out[2];
      const Span d = span(g, 0, od), h = span(g, 1, oh);
      for (int64_t ow = 0; ow < g.out[2]; ++ow) {
        const Span w = span(g, 2, ow);
        switch (type) {
          case PoolingType::kMAX: {
            float m = -std::numeric_limits<float>::infinity();
            for (int64_t id = d.lo; id < d.hi; ++id) {
              for (int64_t ih = h.lo; ih < h.hi; ++ih) {
                const float* line = src + (id * g.in[1] + ih) * g.in[2];
                for (int64_t iw = w.lo; iw < w.hi; ++iw) {
                  const float v = line[iw];
                  if (v > m || std::isnan(v)) m = v;  // NaN propagates, as in PyTorch
                }
              }
            }
            dst[ow] = m;
            break;
          }
          case PoolingType::kAVERAGE: {
            float sum = 0.f;
            for (int64_t id = d.lo; id < d.hi; ++id) {
              for (int64_t ih = h.lo; ih < h.hi; ++ih) {
                const float* line = src + (id * g.in[1] + ih) * g.in[2];
                for (int64_t iw = w.lo; iw < w.hi; ++iw) sum += line[iw];
              }
            }
            const int64_t count =
                exclusive ? (d.hi - d.lo) * (h.hi - h.lo) * (w.hi - w.lo) : d.padded * h.padded * w.padded;
            dst[ow] = count > 0 ? sum / static_cast<float>(count) : 0.f;
            break;
          }
        }
      }
    }
  });
  yOut.commit();
  return Status::ok();
}

}  // namespace

void registerPoolingCpuKernels(CpuKernelTable& table) {
  table.add(LayerType::kPOOLING, {"cpu_pooling", [](const LayerParams& layer, KernelIO& io) {
                                    return runInChannelsFirst(layer, io, runPooling);
                                  }});
}

}  // namespace kiln
