// CPU softmax and normalization, computed in float32 (float16/bfloat16 staged) with double accumulators
// for the sums, means and variances.
#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"
#include "engine/backends/cpu/reduce_layout.h"

namespace kiln {
namespace {

constexpr int64_t kBlock = 256;  // contiguous lanes processed together when the reduced axis is not innermost

// ---- softmax ------------------------------------------------------------------------------------------

void softmaxRows(const float* x, float* y, int64_t outer, int64_t n) {
  cpu::parallelFor(outer, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, n)), [&](int64_t begin, int64_t end) {
    for (int64_t o = begin; o < end; ++o) {
      const float* src = x + o * n;
      float* dst = y + o * n;
      // Subtracting the row max keeps exp() finite; a NaN anywhere makes the whole row NaN, like torch.
      float m = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < n; ++j) m = std::max(m, src[j]);
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) {
        dst[j] = std::exp(src[j] - m);
        sum += dst[j];
      }
      const auto inv = static_cast<float>(1.0 / sum);
      for (int64_t j = 0; j < n; ++j) dst[j] *= inv;
    }
  });
}

// Softmax along a middle axis: a block of contiguous lanes of the trailing dims moves together.
void softmaxStrided(const float* x, float* y, int64_t outer, int64_t n, int64_t inner) {
  const int64_t blocks = (inner + kBlock - 1) / kBlock;
  cpu::parallelFor(outer * blocks, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, n * kBlock)),
                   [&](int64_t begin, int64_t end) {
                     float m[kBlock];
                     double sum[kBlock];
                     for (int64_t task = begin; task < end; ++task) {
                       const int64_t o = task / blocks, i0 = (task % blocks) * kBlock;
                       const int64_t width = std::min(kBlock, inner - i0);
                       const int64_t base = o * n * inner + i0;
                       std::fill(m, m + width, -std::numeric_limits<float>::infinity());
                       std::fill(sum, sum + width, 0.0);
                       for (int64_t j = 0; j < n; ++j) {
                         const float* src = x + base + j * inner;
                         for (int64_t i = 0; i < width; ++i) m[i] = std::max(m[i], src[i]);
                       }
                       for (int64_t j = 0; j < n; ++j) {
                         const float* src = x + base + j * inner;
                         float* dst = y + base + j * inner;
                         for (int64_t i = 0; i < width; ++i) {
                           dst[i] = std::exp(src[i] - m[i]);
                           sum[i] += dst[i];
                         }
                       }
                       for (int64_t i = 0; i < width; ++i) sum[i] = 1.0 / sum[i];
                       for (int64_t j = 0; j < n; ++j) {
                         float* dst = y + base + j * inner;
                         for (int64_t i = 0; i < width; ++i) dst[i] = static_cast<float>(dst[i] * sum[i]);
                       }
                     }
                   });
}

Status runSoftMax(const LayerParams& layer, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  const Dims& dims = in.dims;
  int32_t axis = dims.nbDims - 1;
  if (layer.attrs.has("axes")) {
    const auto mask = static_cast<uint32_t>(layer.attrs.getInt("axes"));
    for (axis = 0; axis < dims.nbDims - 1 && ((mask >> axis) & 1u) == 0;) ++axis;
  }
  int64_t outer = 1, inner = 1;
  for (int32_t d = 0; d < axis; ++d) outer *= dims.d[d];
  for (int32_t d = axis + 1; d < dims.nbDims; ++d) inner *= dims.d[d];
  const int64_t n = dims.d[axis];
  if (in.count() == 0) return Status::ok();
  cpu::FloatInput x(in);
  cpu::FloatOutput y(io.outputs[0]);
  if (inner == 1) {
    softmaxRows(x.data(), y.data(), outer, n);
  } else {
    softmaxStrided(x.data(), y.data(), outer, n, inner);
  }
  y.commit();
  return Status::ok();
}

// ---- normalization ------------------------------------------------------------------------------------

// The input with group norm's channel split made explicit: [d0, G, C/G, d2, ...]. Per dim: its extent,
// whether statistics run over it, and the strides of the input (contiguous), the statistics, scale and bias.
struct NormDims {
  std::vector<int64_t> extent;
  std::vector<bool> reduced;
  std::vector<int64_t> inStride, statStride, scaleStride, biasStride;
  int64_t nbStats = 1;
  int64_t count = 1;  // elements per statistic
};

NormDims makeNormDims(const KernelIO& io, uint32_t mask, int64_t groups) {
  const Dims& dims = io.inputs[0].dims;
  const std::vector<int64_t> inStrides = cpu::contiguousStrides(dims);
  const std::vector<int64_t> scaleStrides = cpu::broadcastStrides(io.inputs[1].dims, dims);
  const std::vector<int64_t> biasStrides = cpu::broadcastStrides(io.inputs[2].dims, dims);
  NormDims nd;
  auto push = [&](int64_t extent, bool reduced, int64_t in, int64_t scale, int64_t bias) {
    nd.extent.push_back(extent);
    nd.reduced.push_back(reduced);
    nd.inStride.push_back(in);
    nd.scaleStride.push_back(scale);
    nd.biasStride.push_back(bias);
  };
  for (int32_t d = 0; d < dims.nbDims; ++d) {
    const auto u = static_cast<size_t>(d);
    const bool reduced = ((mask >> d) & 1u) != 0;
    if (d == 1 && groups > 1) {
      const int64_t perGroup = dims.d[1] / groups;
      push(groups, false, inStrides[u] * perGroup, scaleStrides[u] * perGroup, biasStrides[u] * perGroup);
      push(perGroup, true, inStrides[u], scaleStrides[u], biasStrides[u]);
    } else {
      push(dims.d[d], reduced, inStrides[u], scaleStrides[u], biasStrides[u]);
    }
  }
  nd.statStride.assign(nd.extent.size(), 0);
  for (size_t d = nd.extent.size(); d-- > 0;) {
    if (nd.reduced[d]) {
      nd.count *= nd.extent[d];
    } else {
      nd.statStride[d] = nd.nbStats;
      nd.nbStats *= nd.extent[d];
    }
  }
  return nd;
}

// Statistic s covers in[outer[s / inner] + run + l * runStride + s % inner]: the trailing kept dims are
// contiguous lanes, the innermost reduced dims the run.
using StatLayout = cpu::ReduceLayout;

StatLayout makeStatLayout(const NormDims& nd) {
  return cpu::buildReduceLayout(nd.extent, nd.inStride, nd.reduced);
}

// Two passes (mean, then the mean squared deviation) avoid the cancellation of E[x^2] - E[x]^2.
void computeStats(const float* x, const StatLayout& L, int64_t count, double eps, double* mean, double* rstd) {
  const auto nbOuter = static_cast<int64_t>(L.outer.size());
  const int64_t blocks = (L.inner + kBlock - 1) / kBlock;
  const double invCount = count > 0 ? 1.0 / static_cast<double>(count) : 0.0;
  cpu::parallelFor(nbOuter * blocks,
                   std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, count * std::min(kBlock, L.inner))),
                   [&](int64_t begin, int64_t end) {
                     double sum[kBlock], sq[kBlock];
                     for (int64_t task = begin; task < end; ++task) {
                       const int64_t o = task / blocks, i0 = (task % blocks) * kBlock;
                       const int64_t width = std::min(kBlock, L.inner - i0);
                       const int64_t base = L.outer[static_cast<size_t>(o)] + i0;
                       std::fill(sum, sum + width, 0.0);
                       std::fill(sq, sq + width, 0.0);
                       for (int64_t run : L.runs) {
                         for (int64_t l = 0; l < L.runLength; ++l) {
                           const float* p = x + base + run + l * L.runStride;
                           for (int64_t i = 0; i < width; ++i) sum[i] += p[i];
                         }
                       }
                       for (int64_t i = 0; i < width; ++i) sum[i] *= invCount;
                       for (int64_t run : L.runs) {
                         for (int64_t l = 0; l < L.runLength; ++l) {
                           const float* p = x + base + run + l * L.runStride;
                           for (int64_t i = 0; i < width; ++i) {
                             const double dev = p[i] - sum[i];
                             sq[i] += dev * dev;
                           }
                         }
                       }
                       for (int64_t i = 0; i < width; ++i) {
                         const int64_t s = o * L.inner + i0 + i;
                         mean[s] = sum[i];
                         rstd[s] = 1.0 / std::sqrt(sq[i] * invCount + eps);
                       }
                     }
                   });
}

// Merges neighbouring dims whose every stride composes (outer == inner * extent), so the apply loop's
// innermost dim is as long as possible.
void collapseForApply(NormDims& nd) {
  NormDims out;
  for (size_t d = 0; d < nd.extent.size(); ++d) {
    if (nd.extent[d] == 1) continue;
    if (!out.extent.empty()) {
      const size_t b = out.extent.size() - 1;
      const int64_t e = nd.extent[d];
      if (out.inStride[b] == nd.inStride[d] * e && out.statStride[b] == nd.statStride[d] * e &&
          out.scaleStride[b] == nd.scaleStride[d] * e && out.biasStride[b] == nd.biasStride[d] * e) {
        out.extent[b] *= e;
        out.inStride[b] = nd.inStride[d];
        out.statStride[b] = nd.statStride[d];
        out.scaleStride[b] = nd.scaleStride[d];
        out.biasStride[b] = nd.biasStride[d];
        continue;
      }
    }
    out.extent.push_back(nd.extent[d]);
    out.reduced.push_back(nd.reduced[d]);
    out.inStride.push_back(nd.inStride[d]);
    out.statStride.push_back(nd.statStride[d]);
    out.scaleStride.push_back(nd.scaleStride[d]);
    out.biasStride.push_back(nd.biasStride[d]);
  }
  if (out.extent.empty()) {  // a single element
    out.extent = {1};
    out.reduced = {false};
    out.inStride = out.statStride = out.scaleStride = out.biasStride = {0};
  }
  nd = std::move(out);
}

void applyNormalization(const float* x, const float* scale, const float* bias, const double* mean, const double* rstd,
                        const NormDims& nd, int64_t total, float* y) {
  const size_t last = nd.extent.size() - 1;
  const int64_t n = nd.extent[last];
  const int64_t ss = nd.statStride[last], sc = nd.scaleStride[last], sb = nd.biasStride[last];
  cpu::parallelFor(total / n, std::max<int64_t>(1, (1 << 14) / n), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      // The input is contiguous, so element row * n + j; the other offsets follow the row's coordinates.
      int64_t s = 0, c = 0, b = 0, rest = row;
      for (size_t d = last; d-- > 0;) {
        const int64_t idx = rest % nd.extent[d];
        rest /= nd.extent[d];
        s += idx * nd.statStride[d];
        c += idx * nd.scaleStride[d];
        b += idx * nd.biasStride[d];
      }
      const float* src = x + row * n;
      float* dst = y + row * n;
      for (int64_t j = 0; j < n; ++j) {
        const double normalized = (src[j] - mean[s + j * ss]) * rstd[s + j * ss];
        dst[j] = static_cast<float>(normalized * scale[c + j * sc] + bias[b + j * sb]);
      }
    }
  });
}

Status runNormalization(const LayerParams& layer, KernelIO& io) {
  const auto mask = static_cast<uint32_t>(layer.attrs.getInt("axes"));
  const double eps = layer.attrs.getFloat("epsilon", 1e-5);
  const int64_t groups = layer.attrs.getInt("nb_groups", 1);
  const int64_t total = io.inputs[0].count();
  if (total == 0) return Status::ok();
  NormDims nd = makeNormDims(io, mask, groups);
  const StatLayout layout = makeStatLayout(nd);
  cpu::FloatInput x(io.inputs[0]);
  cpu::FloatInput scale(io.inputs[1]);
  cpu::FloatInput bias(io.inputs[2]);
  cpu::FloatOutput y(io.outputs[0]);
  std::vector<double> mean(static_cast<size_t>(nd.nbStats)), rstd(static_cast<size_t>(nd.nbStats));
  computeStats(x.data(), layout, nd.count, eps, mean.data(), rstd.data());
  collapseForApply(nd);
  applyNormalization(x.data(), scale.data(), bias.data(), mean.data(), rstd.data(), nd, total, y.data());
  y.commit();
  return Status::ok();
}

}  // namespace

void registerSoftMaxCpuKernels(CpuKernelTable& table) {
  table.add(LayerType::kSOFTMAX, {"cpu_softmax", runSoftMax});
  table.add(LayerType::kNORMALIZATION, {"cpu_normalization", runNormalization});
}

}  // namespace kiln
