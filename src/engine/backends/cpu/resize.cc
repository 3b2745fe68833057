// CPU resize kernels. Every resized dim gets a table of source taps (offsets and weights); an output element
// is the tensor-product sum over the taps of its dims. Nearest copies bytes (any dtype, exact); linear and
// cubic compute in float32.
//
// Coordinates follow PyTorch's F.interpolate (ATen UpSample.h), in float32 like ATen does for float inputs,
// so that nearest picks the same source element at ties:
//   scale = align_corners ? (in-1)/(out-1) : explicit scale given ? 1/scale : in/out
//   src   = align_corners or asymmetric ? scale*i : scale*(i+0.5)-0.5
//   linear: src clamped at 0 (half-pixel), i0 = min(floor(src), in-1), i1 = min(i0+1, in-1), l = src-i0 in [0,1]
//   cubic:  src not clamped, taps i0-1..i0+2 clamped to the border, Keys' kernel with coefficient A
//   nearest: src rounded by the rounding mode, clamped to [0, in-1]; asymmetric+floor is PyTorch's "nearest",
//            half-pixel+half-up is "nearest-exact" (floor((i+0.5)*scale), computed in that form)
// A dim whose extent does not change is copied (like ATen's linear/nearest same-size shortcut).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"

namespace kiln {
namespace {

// The tap combinations of the non-innermost resized dims: linear has at most 2x2, cubic 4, nearest 1.
constexpr int32_t kMAX_COMBOS = 16;
// "size_mode" of a layer whose output size comes from its scales (layers/resize.cc).
constexpr int64_t kSIZE_FROM_SCALES = 2;

struct ResizeParams {
  InterpolationMode mode;
  ResizeCoordinateTransformation transform;
  ResizeRoundMode rounding;
  float cubicA;
  bool excludeOutside;
};

// Source taps of one dim: offsets (source index times the dim's input stride) and weights, `taps` per output index.
struct AxisTable {
  int32_t taps = 1;
  std::vector<int64_t> offset;
  std::vector<float> weight;
};

float sourceScale(int64_t in, int64_t out, bool alignCorners, double explicitScale) {
  if (alignCorners) return out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.f;
  if (explicitScale > 0.0) return static_cast<float>(1.0 / explicitScale);
  return static_cast<float>(in) / static_cast<float>(out);
}

float sourceCoordinate(float scale, int64_t o, ResizeCoordinateTransformation transform) {
  switch (transform) {
    case ResizeCoordinateTransformation::kALIGN_CORNERS:
    case ResizeCoordinateTransformation::kASYMMETRIC:
      return scale * static_cast<float>(o);
    case ResizeCoordinateTransformation::kHALF_PIXEL:
      return scale * (static_cast<float>(o) + 0.5f) - 0.5f;
  }
  return 0.f;
}

int64_t nearestIndex(float scale, int64_t o, int64_t in, const ResizeParams& p) {
  float index = 0.f;
  const bool halfPixel = p.transform == ResizeCoordinateTransformation::kHALF_PIXEL;
  // For half-pixel the +-0.5 of the rounding cancels the -0.5 of the transform: computing it cancelled
  // matches ATen's nearest-exact bit for bit.
  const float shifted = scale * (static_cast<float>(o) + 0.5f);
  const float src = sourceCoordinate(scale, o, p.transform);
  switch (p.rounding) {
    case ResizeRoundMode::kFLOOR:
      index = std::floor(src);
      break;
    case ResizeRoundMode::kCEIL:
      index = std::ceil(src);
      break;
    case ResizeRoundMode::kHALF_UP:
      index = halfPixel ? std::floor(shifted) : std::floor(src + 0.5f);
      break;
    case ResizeRoundMode::kHALF_DOWN:
      index = halfPixel ? std::ceil(shifted) - 1.f : std::ceil(src - 0.5f);
      break;
  }
  if (!(index > 0.f)) return 0;  // also NaN
  return std::min(static_cast<int64_t>(std::min(index, 9.2e18f)), in - 1);
}

// Keys' cubic convolution kernel, as ATen writes it (|x| <= 1 and 1 < |x| < 2 branches).
float cubicNear(float x, float a) { return ((a + 2.f) * x - (a + 3.f)) * x * x + 1.f; }
float cubicFar(float x, float a) { return ((a * x - 5.f * a) * x + 8.f * a) * x - 4.f * a; }

AxisTable buildAxis(int64_t in, int64_t out, int64_t stride, double explicitScale, const ResizeParams& p) {
  AxisTable table;
  if (in == out) {
    table.offset.resize(static_cast<size_t>(out));
    table.weight.assign(static_cast<size_t>(out), 1.f);
    for (int64_t o = 0; o < out; ++o) table.offset[static_cast<size_t>(o)] = o * stride;
    return table;
  }
  const bool alignCorners = p.transform == ResizeCoordinateTransformation::kALIGN_CORNERS;
  const float scale = sourceScale(in, out, alignCorners, explicitScale);
  switch (p.mode) {
    case InterpolationMode::kNEAREST:
      table.taps = 1;
      break;
    case InterpolationMode::kLINEAR:
      table.taps = 2;
      break;
    case InterpolationMode::kCUBIC:
      table.taps = 4;
      break;
  }
  table.offset.resize(static_cast<size_t>(out * table.taps));
  table.weight.resize(static_cast<size_t>(out * table.taps));
  for (int64_t o = 0; o < out; ++o) {
    int64_t* offset = &table.offset[static_cast<size_t>(o * table.taps)];
    float* weight = &table.weight[static_cast<size_t>(o * table.taps)];
    switch (p.mode) {
      case InterpolationMode::kNEAREST: {
        offset[0] = nearestIndex(scale, o, in, p) * stride;
        weight[0] = 1.f;
        break;
      }
      case InterpolationMode::kLINEAR: {
        float src = sourceCoordinate(scale, o, p.transform);
        if (src < 0.f) src = 0.f;
        const int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
        const float lambda = std::min(std::max(src - static_cast<float>(i0), 0.f), 1.f);
        const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
        offset[0] = i0 * stride;
        offset[1] = i1 * stride;
        weight[0] = 1.f - lambda;
        weight[1] = lambda;
        break;
      }
      case InterpolationMode::kCUBIC: {
        const float src = sourceCoordinate(scale, o, p.transform);
        const int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
        const float t = std::min(std::max(src - static_cast<float>(i0), 0.f), 1.f);
        const float a = p.cubicA;
        const float w[4] = {cubicFar(t + 1.f, a), cubicNear(t, a), cubicNear(1.f - t, a), cubicFar(2.f - t, a)};
        float total = 0.f;
        for (int32_t k = 0; k < 4; ++k) {
          const int64_t index = i0 - 1 + k;
          const bool outside = index < 0 || index >= in;
          weight[k] = p.excludeOutside && outside ? 0.f : w[k];
          offset[k] = std::min(std::max(index, int64_t{0}), in - 1) * stride;
          total += weight[k];
        }
        if (p.excludeOutside && total != 0.f) {
          for (int32_t k = 0; k < 4; ++k) weight[k] /= total;
        }
        break;
      }
    }
  }
  return table;
}

// The loop structure shared by both kernels: the output is rows of its innermost extent; a row is fixed by the
// leading copied dims ("outer") and the indices of the resized dims above the innermost ("mid").
struct ResizePlan {
  bool identity = false;
  int64_t outer = 1;
  int64_t inBlock = 1;  // input elements per outer index
  int64_t midCount = 1;
  std::vector<int64_t> midExtents;
  std::vector<AxisTable> axes;  // dims first..rank-1; the last is the innermost
  int64_t rows = 0;
  int64_t width = 0;    // output extent of the innermost dim
  int64_t inWidth = 0;  // its input extent
};

StatusOr<ResizePlan> makePlan(const LayerParams& layer, const KernelIO& io, const ResizeParams& p) {
  const Dims& in = io.inputs[0].dims;
  const Dims& out = io.outputs[0].dims;
  const int32_t rank = in.nbDims;
  if (out.nbDims != rank) return internalError("resize layer '" + layer.name + "': output rank differs from input");
  // Explicit scales drive the coordinate mapping only when they set the size (not with a size input).
  const bool sizeInput = io.inputs.size() > 1 && (io.inputs[1].data != nullptr || io.inputs[1].dims.nbDims == 1);
  std::vector<double> scales;
  if (!sizeInput && layer.attrs.getInt("size_mode") == kSIZE_FROM_SCALES) scales = layer.attrs.getFloats("scales");
  if (!scales.empty() && static_cast<int32_t>(scales.size()) != rank) {
    return internalError("resize layer '" + layer.name + "': scale count does not match the rank");
  }
  ResizePlan plan;
  int32_t first = 0;
  while (first < rank && in.d[first] == out.d[first]) ++first;
  if (first == rank) {
    plan.identity = true;
    return plan;
  }
  const std::vector<int64_t> strides = cpu::contiguousStrides(in);
  for (int32_t d = 0; d < first; ++d) plan.outer *= out.d[d];
  for (int32_t d = first; d < rank; ++d) plan.inBlock *= in.d[d];
  int64_t combos = 1;
  for (int32_t d = first; d < rank; ++d) {
    const double scale = scales.empty() ? 0.0 : scales[static_cast<size_t>(d)];
    plan.axes.push_back(buildAxis(in.d[d], out.d[d], strides[static_cast<size_t>(d)], scale, p));
    if (d < rank - 1) {
      plan.midExtents.push_back(out.d[d]);
      plan.midCount *= out.d[d];
      combos *= plan.axes.back().taps;
    }
  }
  if (combos > kMAX_COMBOS) {
    return internalError("resize layer '" + layer.name + "': too many interpolated dims for this mode");
  }
  plan.width = out.d[rank - 1];
  plan.inWidth = in.d[rank - 1];
  plan.rows = plan.outer * plan.midCount;
  return plan;
}

// Source offsets and weights of every tap combination of the mid dims of row `row`; returns their count.
int32_t rowCombos(const ResizePlan& plan, int64_t row, int64_t* offsets, float* weights) {
  int64_t mid = row % plan.midCount;
  offsets[0] = (row / plan.midCount) * plan.inBlock;
  weights[0] = 1.f;
  int32_t count = 1;
  int64_t indices[Dims::kMAX_DIMS];
  for (size_t k = plan.midExtents.size(); k-- > 0;) {
    indices[k] = mid % plan.midExtents[k];
    mid /= plan.midExtents[k];
  }
  for (size_t k = 0; k < plan.midExtents.size(); ++k) {
    const AxisTable& axis = plan.axes[k];
    if (axis.taps == 1) {
      const int64_t shift = axis.offset[static_cast<size_t>(indices[k])];
      const float w = axis.weight[static_cast<size_t>(indices[k])];
      for (int32_t c = 0; c < count; ++c) {
        offsets[c] += shift;
        weights[c] *= w;
      }
      continue;
    }
    const size_t base = static_cast<size_t>(indices[k] * axis.taps);
    for (int32_t c = count - 1; c >= 0; --c) {
      for (int32_t t = axis.taps - 1; t >= 0; --t) {
        offsets[c * axis.taps + t] = offsets[c] + axis.offset[base + static_cast<size_t>(t)];
        weights[c * axis.taps + t] = weights[c] * axis.weight[base + static_cast<size_t>(t)];
      }
    }
    count *= axis.taps;
  }
  return count;
}

template <typename T>
void gatherNearest(const ResizePlan& plan, const void* input, void* output) {
  const T* src = static_cast<const T*>(input);
  T* dst = static_cast<T*>(output);
  const AxisTable& last = plan.axes.back();
  const int64_t* lastOffset = last.offset.data();
  cpu::parallelFor(plan.rows, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(plan.width, 1)),
                   [&](int64_t begin, int64_t end) {
                     int64_t offsets[kMAX_COMBOS];
                     float weights[kMAX_COMBOS];
                     for (int64_t r = begin; r < end; ++r) {
                       rowCombos(plan, r, offsets, weights);
                       const T* row = src + offsets[0];
                       T* out = dst + r * plan.width;
                       for (int64_t o = 0; o < plan.width; ++o) out[o] = row[lastOffset[o]];
                     }
                   });
}

Status runNearest(const LayerParams& layer, const ResizePlan& plan, const TensorView& in, TensorView& out) {
  switch (dataTypeSize(in.type)) {
    case 1:
      gatherNearest<uint8_t>(plan, in.data, out.data);
      break;
    case 2:
      gatherNearest<uint16_t>(plan, in.data, out.data);
      break;
    case 4:
      gatherNearest<uint32_t>(plan, in.data, out.data);
      break;
    case 8:
      gatherNearest<uint64_t>(plan, in.data, out.data);
      break;
    default:
      return unimplemented("resize layer '" + layer.name + "': no nearest kernel for " + dataTypeName(in.type));
  }
  return Status::ok();
}

// Innermost-dim taps applied to one blended source row.
template <int kTaps>
void interpolateRow(const float* source, const AxisTable& last, int64_t width, float* row) {
  const int64_t* offset = last.offset.data();
  const float* weight = last.weight.data();
  for (int64_t o = 0; o < width; ++o) {
    float acc = 0.f;
    for (int t = 0; t < kTaps; ++t) acc += weight[o * kTaps + t] * source[offset[o * kTaps + t]];
    row[o] = acc;
  }
}

void interpolateRow(const float* source, const AxisTable& last, int64_t width, float* row) {
  switch (last.taps) {
    case 1:
      interpolateRow<1>(source, last, width, row);
      break;
    case 2:
      interpolateRow<2>(source, last, width, row);
      break;
    default:
      interpolateRow<4>(source, last, width, row);
      break;
  }
}

// Separable per row: first the outer dims' taps blend whole source rows (contiguous, vectorizable) into one,
// then the innermost taps read that row. Heavy downsampling of the innermost dim would blend source elements
// no output reads, so there every output element gathers its taps from the source rows directly.
void runInterpolate(const ResizePlan& plan, const TensorView& in, TensorView& out) {
  cpu::FloatInput x(in);
  cpu::FloatOutput y(out);
  const float* src = x.data();
  float* dst = y.data();
  const AxisTable& last = plan.axes.back();
  const int32_t taps = last.taps;
  const bool innermostCopied = plan.inWidth == plan.width;  // identity taps: the blended row is the output row
  const bool blendRows = plan.inWidth <= taps * plan.width;
  const int64_t work = std::max<int64_t>(plan.width, 1) * taps + plan.inWidth;
  cpu::parallelFor(plan.rows, std::max<int64_t>(1, (1 << 14) / work), [&](int64_t begin, int64_t end) {
    int64_t offsets[kMAX_COMBOS];
    float weights[kMAX_COMBOS];
    std::vector<float> blended(blendRows && !innermostCopied ? static_cast<size_t>(plan.inWidth) : 0);
    for (int64_t r = begin; r < end; ++r) {
      const int32_t count = rowCombos(plan, r, offsets, weights);
      float* row = dst + r * plan.width;
      if (blendRows) {
        float* acc = innermostCopied ? row : blended.data();
        const float* first = src + offsets[0];
        for (int64_t i = 0; i < plan.inWidth; ++i) acc[i] = weights[0] * first[i];
        for (int32_t c = 1; c < count; ++c) {
          const float* source = src + offsets[c];
          const float w = weights[c];
          for (int64_t i = 0; i < plan.inWidth; ++i) acc[i] += w * source[i];
        }
        if (!innermostCopied) interpolateRow(acc, last, plan.width, row);
        continue;
      }
      for (int64_t o = 0; o < plan.width; ++o) {
        const int64_t* offset = &last.offset[static_cast<size_t>(o * taps)];
        const float* weight = &last.weight[static_cast<size_t>(o * taps)];
        float acc = 0.f;
        for (int32_t c = 0; c < count; ++c) {
          const float* base = src + offsets[c];
          float part = 0.f;
          for (int32_t t = 0; t < taps; ++t) part += weight[t] * base[offset[t]];
          acc += weights[c] * part;
        }
        row[o] = acc;
      }
    }
  });
  y.commit();
}

Status runResize(const LayerParams& layer, KernelIO& io) {
  ResizeParams p;
  p.mode = static_cast<InterpolationMode>(layer.attrs.getInt("mode"));
  p.transform = static_cast<ResizeCoordinateTransformation>(layer.attrs.getInt("coordinate_transform"));
  p.rounding = static_cast<ResizeRoundMode>(layer.attrs.getInt("nearest_rounding"));
  p.cubicA = static_cast<float>(layer.attrs.getFloat("cubic_coeff", -0.75));
  p.excludeOutside = layer.attrs.getInt("exclude_outside") != 0;
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  if (out.count() == 0) return Status::ok();
  KILN_ASSIGN_OR_RETURN(ResizePlan plan, makePlan(layer, io, p));
  if (plan.identity) {
    std::memcpy(out.data, in.data, static_cast<size_t>(out.bytes()));
    return Status::ok();
  }
  switch (p.mode) {
    case InterpolationMode::kNEAREST:
      return runNearest(layer, plan, in, out);
    case InterpolationMode::kLINEAR:
    case InterpolationMode::kCUBIC:
      runInterpolate(plan, in, out);
      return Status::ok();
  }
  return internalError("resize layer '" + layer.name + "': unknown mode");
}

}  // namespace

void registerResizeCpuKernels(CpuKernelTable& table) { table.add(LayerType::kRESIZE, {"cpu_resize_taps", runResize}); }

}  // namespace kiln
