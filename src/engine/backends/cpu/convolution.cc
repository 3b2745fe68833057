// CPU convolution and transposed convolution kernels, computed in float32 (float16/bfloat16 tensors and weights
// are staged through float32).
//
// Tactics: "cpu_conv_im2col_gemm" (im2col + OpenBLAS sgemm per group), "cpu_conv_direct" (plain loops over
// output planes: depthwise and small cases), "cpu_deconv_gemm_col2im" (sgemm with the transposed kernel, then
// col2im scatter-add) and "cpu_deconv_direct".
//
// Every kernel treats the spatial dims as 3D (missing leading spatial dims are extent 1) so that one set of
// loops serves 1D, 2D and 3D layers.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "engine/backends/cpu/channels_last_staging.h"
#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"

namespace kiln {
namespace {

int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceilDiv(int64_t a, int64_t b) { return -floorDiv(-a, b); }

// OpenBLAS runs an sgemm on one thread below this m*n*k; such calls are spread over batch items instead.
constexpr int64_t kSingleThreadedGemm = int64_t{1} << 18;

struct Geometry {
  int64_t batch = 0, inChannels = 0, outMaps = 0, groups = 1;
  int64_t in[3] = {1, 1, 1}, out[3] = {1, 1, 1}, kernel[3] = {1, 1, 1}, stride[3] = {1, 1, 1}, dilation[3] = {1, 1, 1},
          pre[3] = {0, 0, 0};
  int64_t inSpatial = 1, outSpatial = 1, kernelVolume = 1;

  int64_t inPerGroup() const { return inChannels / groups; }
  int64_t outPerGroup() const { return outMaps / groups; }
  // 1x1 kernel, unit stride, no padding: the input already is the im2col matrix.
  bool pointwise() const {
    for (int i = 0; i < 3; ++i) {
      if (kernel[i] != 1 || stride[i] != 1 || pre[i] != 0 || in[i] != out[i]) return false;
    }
    return true;
  }
};

// Shape inference validated the attributes against these shapes; this re-reads them and checks only what
// keeps the loops in bounds.
Status readGeometry(const LayerParams& layer, const KernelIO& io, bool deconv, Geometry& g) {
  if (io.inputs.empty() || io.outputs.empty()) return internalError("convolution '" + layer.name + "' has no I/O");
  const Dims& x = io.inputs[0].dims;
  const Dims& y = io.outputs[0].dims;
  const Dims kernel = layer.attrs.getDims("kernel_size");
  const Dims stride = layer.attrs.getDims("stride");
  const Dims dilation = layer.attrs.getDims("dilation");
  const Dims pre = layer.attrs.getDims("pre_padding");
  const int32_t ns = kernel.nbDims;
  if (ns < 1 || ns > 3 || x.nbDims != ns + 2 || y.nbDims != ns + 2 || stride.nbDims != ns || dilation.nbDims != ns ||
      pre.nbDims != ns) {
    return invalidArgument("convolution '" + layer.name + "': inconsistent ranks");
  }
  g.batch = x.d[0];
  g.inChannels = x.d[1];
  g.outMaps = y.d[1];
  g.groups = layer.attrs.getInt("groups", 1);
  if (g.groups < 1 || g.inChannels % g.groups != 0 || g.outMaps % g.groups != 0) {
    return invalidArgument("convolution '" + layer.name + "': groups do not divide the channels");
  }
  const auto mode = static_cast<PaddingMode>(layer.attrs.getInt("padding_mode", 0));
  const bool same = mode == PaddingMode::kSAME_UPPER || mode == PaddingMode::kSAME_LOWER;
  for (int32_t i = 0; i < ns; ++i) {
    const int j = 3 - ns + i;
    g.in[j] = x.d[2 + i];
    g.out[j] = y.d[2 + i];
    g.kernel[j] = kernel.d[i];
    g.stride[j] = stride.d[i];
    g.dilation[j] = dilation.d[i];
    if (g.kernel[j] < 1 || g.stride[j] < 1 || g.dilation[j] < 1) {
      return invalidArgument("convolution '" + layer.name + "': bad kernel geometry");
    }
    const int64_t effective = g.dilation[j] * (g.kernel[j] - 1) + 1;
    if (!same) {
      g.pre[j] = pre.d[i];
      continue;
    }
    // SAME modes ignore the explicit padding: the total is what makes the output extent come out right,
    // the odd unit going to the end (kSAME_UPPER) or the start (kSAME_LOWER).
    if (deconv) {
      const int64_t total = (g.in[j] - 1) * g.stride[j] + effective - g.out[j];  // cropped; negative extends
      const int64_t half = floorDiv(total, 2);
      g.pre[j] = mode == PaddingMode::kSAME_UPPER ? half : total - half;
    } else {
      const int64_t total = std::max<int64_t>(0, (g.out[j] - 1) * g.stride[j] + effective - g.in[j]);
      g.pre[j] = mode == PaddingMode::kSAME_UPPER ? total / 2 : total - total / 2;
    }
  }
  g.inSpatial = g.in[0] * g.in[1] * g.in[2];
  g.outSpatial = g.out[0] * g.out[1] * g.out[2];
  g.kernelVolume = g.kernel[0] * g.kernel[1] * g.kernel[2];
  return Status::ok();
}

// Weights or bias as float32: from tensor input `index` when bound, else from the layer's Weights.
struct StagedParam {
  std::vector<float> storage;
  const float* ptr = nullptr;
};

Status stageParam(const LayerParams& layer, const KernelIO& io, size_t index, const char* key, int64_t expected,
                  StagedParam& out) {
  const void* data = nullptr;
  DataType type = DataType::kFLOAT;
  int64_t count = 0;
  if (io.inputs.size() > index && io.inputs[index].data != nullptr) {
    data = io.inputs[index].data;
    type = io.inputs[index].type;
    count = io.inputs[index].count();
  } else if (const WeightsBlob* blob = layer.attrs.getWeights(key); blob != nullptr && blob->count > 0) {
    if (!isFloatType(blob->type) || blob->byteSize() < blob->count * dataTypeSize(blob->type)) {
      return invalidArgument("convolution '" + layer.name + "': corrupt " + key + " weights");
    }
    data = blob->data();
    type = blob->type;
    count = blob->count;
  } else {
    return Status::ok();  // absent: ptr stays null
  }
  if (count != expected || !isFloatType(type)) {
    return invalidArgument("convolution '" + layer.name + "': " + key + " holds " + std::to_string(count) +
                           " values, expected " + std::to_string(expected));
  }
  if (type == DataType::kFLOAT) {
    out.ptr = static_cast<const float*>(data);
  } else {
    out.storage.resize(static_cast<size_t>(count));
    cpu::convertBuffer(data, type, out.storage.data(), DataType::kFLOAT, count);
    out.ptr = out.storage.data();
  }
  return Status::ok();
}

Status stageWeights(const LayerParams& layer, const KernelIO& io, const Geometry& g, bool deconv, StagedParam& w,
                    StagedParam& b) {
  const int64_t rows = deconv ? g.inChannels * g.outPerGroup() : g.outMaps * g.inPerGroup();
  KILN_RETURN_IF_ERROR(stageParam(layer, io, 1, "kernel", rows * g.kernelVolume, w));
  if (w.ptr == nullptr && rows * g.kernelVolume > 0) {
    return invalidArgument("convolution '" + layer.name +
                           "' has no kernel weights: pass them to the add call or set input 1 to a tensor");
  }
  return stageParam(layer, io, 2, "bias", g.outMaps, b);
}

// OpenBLAS takes int dimensions.
Status checkGemmSize(const LayerParams& layer, std::initializer_list<int64_t> dims) {
  for (int64_t d : dims) {
    if (d > INT_MAX) return unimplemented("convolution '" + layer.name + "' is too large for a 32-bit BLAS");
  }
  return Status::ok();
}

// Fills every output plane with its bias (or zero); the kernels then accumulate.
void fillBias(float* y, const Geometry& g, const float* bias) {
  cpu::parallelFor(g.batch * g.outMaps, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.outSpatial)),
                   [&](int64_t begin, int64_t end) {
                     for (int64_t p = begin; p < end; ++p) {
                       const float v = bias != nullptr ? bias[p % g.outMaps] : 0.f;
                       std::fill(y + p * g.outSpatial, y + (p + 1) * g.outSpatial, v);
                     }
                   });
}

// Outputs o in [lo, hi) read (conv) or write (deconv) o * stride + offset inside [0, limit).
void validRange(int64_t offset, int64_t stride, int64_t limit, int64_t count, int64_t& lo, int64_t& hi) {
  lo = std::min<int64_t>(count, std::max<int64_t>(0, ceilDiv(-offset, stride)));
  hi = std::max<int64_t>(lo, std::min<int64_t>(count, floorDiv(limit - 1 - offset, stride) + 1));
}

// Row (c, kd, kh, kw) of `col` holds, for every output position, the input element under that kernel tap.
void im2col(const float* src, const Geometry& g, int64_t channels, float* col, bool parallel) {
  const int64_t kv = g.kernelVolume;
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t c = row / kv, r = row % kv;
      const int64_t kd = r / (g.kernel[1] * g.kernel[2]), kh = (r / g.kernel[2]) % g.kernel[1], kw = r % g.kernel[2];
      const float* plane = src + c * g.inSpatial;
      float* dst = col + row * g.outSpatial;
      const int64_t offD = kd * g.dilation[0] - g.pre[0], offH = kh * g.dilation[1] - g.pre[1];
      const int64_t offW = kw * g.dilation[2] - g.pre[2];
      int64_t lo = 0, hi = 0;
      validRange(offW, g.stride[2], g.in[2], g.out[2], lo, hi);
      for (int64_t od = 0; od < g.out[0]; ++od) {
        const int64_t id = od * g.stride[0] + offD;
        for (int64_t oh = 0; oh < g.out[1]; ++oh) {
          const int64_t ih = oh * g.stride[1] + offH;
          float* drow = dst + (od * g.out[1] + oh) * g.out[2];
          if (id < 0 || id >= g.in[0] || ih < 0 || ih >= g.in[1]) {
            std::fill(drow, drow + g.out[2], 0.f);
            continue;
          }
          const float* srow = plane + (id * g.in[1] + ih) * g.in[2];
          std::fill(drow, drow + lo, 0.f);
          if (g.stride[2] == 1) {
            if (hi > lo) std::copy(srow + lo + offW, srow + hi + offW, drow + lo);
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) drow[ow] = srow[ow * g.stride[2] + offW];
          }
          std::fill(drow + hi, drow + g.out[2], 0.f);
        }
      }
    }
  };
  const int64_t rows = channels * kv;
  if (parallel) {
    cpu::parallelFor(rows, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, g.outSpatial)), body);
  } else {
    body(0, rows);
  }
}

// Adds `col` (rows (k, kd, kh, kw) over input positions) into the output planes of `channels` maps.
void col2im(const float* col, const Geometry& g, int64_t channels, float* dst, bool parallel) {
  const int64_t kv = g.kernelVolume;
  // One task per output map: its rows touch only its own plane.
  auto body = [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) {
      float* plane = dst + k * g.outSpatial;
      for (int64_t r = 0; r < kv; ++r) {
        const int64_t kd = r / (g.kernel[1] * g.kernel[2]), kh = (r / g.kernel[2]) % g.kernel[1];
        const int64_t kw = r % g.kernel[2];
        const float* src = col + (k * kv + r) * g.inSpatial;
        const int64_t offD = kd * g.dilation[0] - g.pre[0], offH = kh * g.dilation[1] - g.pre[1];
        const int64_t offW = kw * g.dilation[2] - g.pre[2];
        int64_t dLo, dHi, hLo, hHi, wLo, wHi;
        validRange(offD, g.stride[0], g.out[0], g.in[0], dLo, dHi);
        validRange(offH, g.stride[1], g.out[1], g.in[1], hLo, hHi);
        validRange(offW, g.stride[2], g.out[2], g.in[2], wLo, wHi);
        for (int64_t id = dLo; id < dHi; ++id) {
          for (int64_t ih = hLo; ih < hHi; ++ih) {
            const float* srow = src + (id * g.in[1] + ih) * g.in[2];
            float* drow = plane + ((id * g.stride[0] + offD) * g.out[1] + ih * g.stride[1] + offH) * g.out[2];
            for (int64_t iw = wLo; iw < wHi; ++iw) drow[iw * g.stride[2] + offW] += srow[iw];
          }
        }
      }
    }
  };
  if (parallel) {
    cpu::parallelFor(channels, 1, body);
  } else {
    body(0, channels);
  }
}

// Scratch for `slots` concurrent col buffers: the execution context's workspace when it is big enough (the
// thread count could differ from the one the size was computed with), else a local allocation.
float* scratch(const KernelIO& io, int64_t floats, std::vector<float>& local) {
  if (floats <= 0) return nullptr;
  if (io.workspace != nullptr && io.workspaceSize >= floats * static_cast<int64_t>(sizeof(float))) {
    return static_cast<float*>(io.workspace);
  }
  local.resize(static_cast<size_t>(floats));
  return local.data();
}

// Runs item(index, colBuffer, parallelInside) over N*groups items: spread over threads (one col buffer
// each) when each GEMM is small, else one at a time with the parallelism inside (im2col and BLAS).
template <typename Item>
void forEachItem(int64_t items, int64_t slots, float* col, int64_t colSize, Item item) {
  if (slots > 1) {
#pragma omp parallel num_threads(static_cast <int>(slots))
    {
      float* mine = col == nullptr ? nullptr : col + omp_get_thread_num() * colSize;
#pragma omp for schedule(dynamic, 1)
      for (int64_t i = 0; i < items; ++i) item(i, mine, false);
    }
  } else {
    for (int64_t i = 0; i < items; ++i) item(i, col, true);
  }
}

int64_t gemmSlots(int64_t items, int64_t mnk) {
  if (items <= 1 || mnk >= kSingleThreadedGemm) return 1;
  return std::min<int64_t>(items, omp_get_max_threads());
}

// ---- convolution ------------------------------------------------------------------------------------------

int64_t convColFloats(const Geometry& g, int64_t& slots) {
  const int64_t rows = g.inPerGroup() * g.kernelVolume;
  slots = gemmSlots(g.batch * g.groups, g.outPerGroup() * g.outSpatial * rows);
  return g.pointwise() ? 0 : rows * g.outSpatial;
}

int64_t convIm2colWorkspace(const LayerParams& layer, const KernelIO& io) {
  Geometry g;
  if (!readGeometry(layer, io, false, g).isOk()) return 0;
  int64_t slots = 1;
  return convColFloats(g, slots) * slots * static_cast<int64_t>(sizeof(float));
}

Status runConvIm2colGemm(const LayerParams& layer, KernelIO& io) {
  Geometry g;
  KILN_RETURN_IF_ERROR(readGeometry(layer, io, false, g));
  StagedParam w, b;
  KILN_RETURN_IF_ERROR(stageWeights(layer, io, g, false, w, b));
  const int64_t cg = g.inPerGroup(), kg = g.outPerGroup(), rows = cg * g.kernelVolume;
  KILN_RETURN_IF_ERROR(checkGemmSize(layer, {kg, g.outSpatial, rows}));
  cpu::FloatInput xIn(io.inputs[0]);
  cpu::FloatOutput yOut(io.outputs[0]);
  const float* x = xIn.data();
  float* y = yOut.data();
  fillBias(y, g, b.ptr);
  if (rows > 0 && g.outSpatial > 0) {
    int64_t slots = 1;
    const int64_t colSize = convColFloats(g, slots);
    std::vector<float> local;
    float* col = scratch(io, colSize * slots, local);
    forEachItem(g.batch * g.groups, slots, col, colSize, [&](int64_t i, float* buffer, bool parallel) {
      const int64_t n = i / g.groups, grp = i % g.groups;
      const float* src = x + (n * g.inChannels + grp * cg) * g.inSpatial;
      if (colSize > 0) im2col(src, g, cg, buffer, parallel);
      const float* bMatrix = colSize > 0 ? buffer : src;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(kg), static_cast<int>(g.outSpatial),
                  static_cast<int>(rows), 1.f, w.ptr + grp * kg * rows, static_cast<int>(rows), bMatrix,
                  static_cast<int>(g.outSpatial), 1.f, y + (n * g.outMaps + grp * kg) * g.outSpatial,
                  static_cast<int>(g.outSpatial));
    });
  }
  yOut.commit();
  return Status::ok();
}

Status runConvDirect(const LayerParams& layer, KernelIO& io) {
  Geometry g;
  KILN_RETURN_IF_ERROR(readGeometry(layer, io, false, g));
  StagedParam w, b;
  KILN_RETURN_IF_ERROR(stageWeights(layer, io, g, false, w, b));
  cpu::FloatInput xIn(io.inputs[0]);
  cpu::FloatOutput yOut(io.outputs[0]);
  const float* x = xIn.data();
  float* y = yOut.data();
  const int64_t cg = g.inPerGroup(), kg = g.outPerGroup(), kv = g.kernelVolume;
  // One task per output plane; for each kernel tap the contiguous run of valid outputs of a row is updated
  // in one vectorizable loop.
  cpu::parallelFor(g.batch * g.outMaps, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t n = p / g.outMaps, k = p % g.outMaps, grp = k / kg;
      float* plane = y + p * g.outSpatial;
      std::fill(plane, plane + g.outSpatial, b.ptr != nullptr ? b.ptr[k] : 0.f);
      for (int64_t c = 0; c < cg; ++c) {
        const float* src = x + (n * g.inChannels + grp * cg + c) * g.inSpatial;
        const float* wk = w.ptr + (k * cg + c) * kv;
        for (int64_t r = 0; r < kv; ++r) {
          const float wv = wk[r];
          const int64_t kd = r / (g.kernel[1] * g.kernel[2]), kh = (r / g.kernel[2]) % g.kernel[1];
          const int64_t kw = r % g.kernel[2];
          const int64_t offD = kd * g.dilation[0] - g.pre[0], offH = kh * g.dilation[1] - g.pre[1];
          const int64_t offW = kw * g.dilation[2] - g.pre[2];
          int64_t dLo, dHi, hLo, hHi, wLo, wHi;
          validRange(offD, g.stride[0], g.in[0], g.out[0], dLo, dHi);
          validRange(offH, g.stride[1], g.in[1], g.out[1], hLo, hHi);
          validRange(offW, g.stride[2], g.in[2], g.out[2], wLo, wHi);
          for (int64_t od = dLo; od < dHi; ++od) {
            for (int64_t oh = hLo; oh < hHi; ++oh) {
              const float* srow = src + ((od * g.stride[0] + offD) * g.in[1] + oh * g.stride[1] + offH) * g.in[2];
              float* drow = plane + (od * g.out[1] + oh) * g.out[2];
              if (g.stride[2] == 1) {
                for (int64_t ow = wLo; ow < wHi; ++ow) drow[ow] += wv * srow[ow + offW];
              } else {
                for (int64_t ow = wLo; ow < wHi; ++ow) drow[ow] += wv * srow[ow * g.stride[2] + offW];
              }
            }
          }
        }
      }
    }
  });
  yOut.commit();
  return Status::ok();
}

// ---- deconvolution ----------------------------------------------------------------------------------------

int64_t deconvColFloats(const Geometry& g, int64_t& slots) {
  const int64_t rows = g.outPerGroup() * g.kernelVolume;
  slots = gemmSlots(g.batch * g.groups, rows * g.inSpatial * g.inPerGroup());
  return g.pointwise() ? 0 : rows * g.inSpatial;
}

int64_t deconvWorkspace(const LayerParams& layer, const KernelIO& io) {
  Geometry g;
  if (!readGeometry(layer, io, true, g).isOk()) return 0;
  int64_t slots = 1;
  return deconvColFloats(g, slots) * slots * static_cast<int64_t>(sizeof(float));
}

Status runDeconvGemmCol2im(const LayerParams& layer, KernelIO& io) {
  Geometry g;
  KILN_RETURN_IF_ERROR(readGeometry(layer, io, true, g));
  StagedParam w, b;
  KILN_RETURN_IF_ERROR(stageWeights(layer, io, g, true, w, b));
  const int64_t cg = g.inPerGroup(), kg = g.outPerGroup(), rows = kg * g.kernelVolume;
  KILN_RETURN_IF_ERROR(checkGemmSize(layer, {rows, g.inSpatial, cg}));
  cpu::FloatInput xIn(io.inputs[0]);
  cpu::FloatOutput yOut(io.outputs[0]);
  const float* x = xIn.data();
  float* y = yOut.data();
  fillBias(y, g, b.ptr);
  if (cg > 0 && rows > 0 && g.inSpatial > 0) {
    int64_t slots = 1;
    const int64_t colSize = deconvColFloats(g, slots);
    std::vector<float> local;
    float* col = scratch(io, colSize * slots, local);
    forEachItem(g.batch * g.groups, slots, col, colSize, [&](int64_t i, float* buffer, bool parallel) {
      const int64_t n = i / g.groups, grp = i % g.groups;
      const float* src = x + (n * g.inChannels + grp * cg) * g.inSpatial;
      float* dst = y + (n * g.outMaps + grp * kg) * g.outSpatial;
      // col = W_g^T x: W_g is [cg, kg * kernel volume] row-major.
      const bool direct = colSize == 0;  // 1x1, unit stride, no crop: col is the output itself
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(g.inSpatial),
                  static_cast<int>(cg), 1.f, w.ptr + grp * cg * rows, static_cast<int>(rows), src,
                  static_cast<int>(g.inSpatial), direct ? 1.f : 0.f, direct ? dst : buffer,
                  static_cast<int>(g.inSpatial));
      if (!direct) col2im(buffer, g, kg, dst, parallel);
    });
  }
  yOut.commit();
  return Status::ok();
}

Status runDeconvDirect(const LayerParams& layer, KernelIO& io) {
  Geometry g;
  KILN_RETURN_IF_ERROR(readGeometry(layer, io, true, g));
  StagedParam w, b;
  KILN_RETURN_IF_ERROR(stageWeights(layer, io, g, true, w, b));
  cpu::FloatInput xIn(io.inputs[0]);
  cpu::FloatOutput yOut(io.outputs[0]);
  const float* x = xIn.data();
  float* y = yOut.data();
  const int64_t cg = g.inPerGroup(), kg = g.outPerGroup(), kv = g.kernelVolume;
  // One task per output plane: every input plane of its group scatters into it, tap by tap.
  cpu::parallelFor(g.batch * g.outMaps, 1, [&](int64_t begin, int64_t end) {
    for (int64_t p = begin; p < end; ++p) {
      const int64_t n = p / g.outMaps, k = p % g.outMaps, grp = k / kg, kc = k % kg;
      float* plane = y + p * g.outSpatial;
      std::fill(plane, plane + g.outSpatial, b.ptr != nullptr ? b.ptr[k] : 0.f);
      for (int64_t c = 0; c < cg; ++c) {
        const float* src = x + (n * g.inChannels + grp * cg + c) * g.inSpatial;
        const float* wk = w.ptr + ((grp * cg + c) * kg + kc) * kv;
        for (int64_t r = 0; r < kv; ++r) {
          const float wv = wk[r];
          const int64_t kd = r / (g.kernel[1] * g.kernel[2]), kh = (r / g.kernel[2]) % g.kernel[1];
          const int64_t kw = r % g.kernel[2];
          const int64_t offD = kd * g.dilation[0] - g.pre[0], offH = kh * g.dilation[1] - g.pre[1];
          const int64_t offW = kw * g.dilation[2] - g.pre[2];
          int64_t dLo, dHi, hLo, hHi, wLo, wHi;
          validRange(offD, g.stride[0], g.out[0], g.in[0], dLo, dHi);
          validRange(offH, g.stride[1], g.out[1], g.in[1], hLo, hHi);
          validRange(offW, g.stride[2], g.out[2], g.in[2], wLo, wHi);
          for (int64_t id = dLo; id < dHi; ++id) {
            for (int64_t ih = hLo; ih < hHi; ++ih) {
              const float* srow = src + (id * g.in[1] + ih) * g.in[2];
              float* drow = plane + ((id * g.stride[0] + offD) * g.out[1] + ih * g.stride[1] + offH) * g.out[2];
              for (int64_t iw = wLo; iw < wHi; ++iw) drow[iw * g.stride[2] + offW] += wv * srow[iw];
            }
          }
        }
      }
    }
  });
  yOut.commit();
  return Status::ok();
}

}  // namespace

void registerConvolutionCpuKernels(CpuKernelTable& table) {
  // channels_last layers run the same kernels on NCHW copies (the deconvolution kinds never carry it).
  table.add(LayerType::kCONVOLUTION,
            {"cpu_conv_im2col_gemm",
             [](const LayerParams& layer, KernelIO& io) { return runInChannelsFirst(layer, io, runConvIm2colGemm); },
             [](const LayerParams& layer, const KernelIO& io) {
               return convIm2colWorkspace(layer, channelsFirstShapes(layer, io));
             }});
  table.add(LayerType::kCONVOLUTION, {"cpu_conv_direct", [](const LayerParams& layer, KernelIO& io) {
                                        return runInChannelsFirst(layer, io, runConvDirect);
                                      }});
  table.add(LayerType::kDECONVOLUTION, {"cpu_deconv_gemm_col2im", runDeconvGemmCol2im, deconvWorkspace});
  table.add(LayerType::kDECONVOLUTION, {"cpu_deconv_direct", runDeconvDirect});
}

}  // namespace kiln
