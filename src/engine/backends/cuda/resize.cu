// CUDA resize: one thread per output element computes the source taps of each resized dim and sums their
// tensor product. The coordinate arithmetic is the CPU kernel's (backends/cpu/resize.cc, PyTorch's
// F.interpolate in float32) with unfused float operations, so nearest picks the same source element at ties.
// Nearest copies elements of any type; linear and cubic compute in float32.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/backends/cuda/cuda_common.cuh"

namespace kiln {
namespace {

// "size_mode" of a layer whose output size comes from its scales (layers/resize.cc).
constexpr int64_t kSIZE_FROM_SCALES = 2;
constexpr int kMAX_RANK = Dims::kMAX_DIMS;

struct ResizeArgs {
  int32_t rank = 0;
  int32_t first = 0;  // dims before `first` keep their extent and index
  int64_t in[kMAX_RANK] = {};
  int64_t out[kMAX_RANK] = {};
  int64_t stride[kMAX_RANK] = {};  // input strides
  float scale[kMAX_RANK] = {};     // source scale of each resized dim
  int32_t transform = 0;           // ResizeCoordinateTransformation
  int32_t rounding = 0;            // ResizeRoundMode
  float cubicA = -0.75f;
  bool excludeOutside = false;
};

// Same formula as the CPU kernel's sourceScale (host side, float32).
float sourceScale(int64_t in, int64_t out, bool alignCorners, double explicitScale) {
  if (alignCorners) return out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.f;
  if (explicitScale > 0.0) return static_cast<float>(1.0 / explicitScale);
  return static_cast<float>(in) / static_cast<float>(out);
}

__device__ __forceinline__ float sourceCoordinate(float scale, int64_t o, int32_t transform) {
  if (transform == static_cast<int32_t>(ResizeCoordinateTransformation::kHALF_PIXEL)) {
    return __fsub_rn(__fmul_rn(scale, __fadd_rn(static_cast<float>(o), 0.5f)), 0.5f);
  }
  return __fmul_rn(scale, static_cast<float>(o));
}

__device__ __forceinline__ int64_t nearestIndex(float scale, int64_t o, int64_t in, const ResizeArgs& a) {
  const bool halfPixel = a.transform == static_cast<int32_t>(ResizeCoordinateTransformation::kHALF_PIXEL);
  const float shifted = __fmul_rn(scale, __fadd_rn(static_cast<float>(o), 0.5f));
  const float src = sourceCoordinate(scale, o, a.transform);
  float index = 0.f;
  switch (static_cast<ResizeRoundMode>(a.rounding)) {
    case ResizeRoundMode::kFLOOR:
      index = floorf(src);
      break;
    case ResizeRoundMode::kCEIL:
      index = ceilf(src);
      break;
    case ResizeRoundMode::kHALF_UP:
      index = halfPixel ? floorf(shifted) : floorf(__fadd_rn(src, 0.5f));
      break;
    case ResizeRoundMode::kHALF_DOWN:
      index = halfPixel ? __fsub_rn(ceilf(shifted), 1.f) : ceilf(__fsub_rn(src, 0.5f));
      break;
  }
  if (!(index > 0.f)) return 0;  // also NaN
  const int64_t i = static_cast<int64_t>(fminf(index, 9.2e18f));
  return i < in - 1 ? i : in - 1;
}

__device__ __forceinline__ float cubicNear(float x, float a) { return ((a + 2.f) * x - (a + 3.f)) * x * x + 1.f; }
__device__ __forceinline__ float cubicFar(float x, float a) { return ((a * x - 5.f * a) * x + 8.f * a) * x - 4.f * a; }

// Source taps of output index o along dim d: element indices and weights; returns the tap count.
template <int kMode>
__device__ __forceinline__ int axisTaps(const ResizeArgs& a, int d, int64_t o, int64_t* index, float* weight) {
  const int64_t in = a.in[d];
  if (in == a.out[d]) {
    index[0] = o;
    weight[0] = 1.f;
    return 1;
  }
  const float scale = a.scale[d];
  if (kMode == static_cast<int>(InterpolationMode::kLINEAR)) {
    float src = sourceCoordinate(scale, o, a.transform);
    if (src < 0.f) src = 0.f;
    const int64_t f = static_cast<int64_t>(floorf(src));
    const int64_t i0 = f < in - 1 ? f : in - 1;
    const float lambda = fminf(fmaxf(__fsub_rn(src, static_cast<float>(i0)), 0.f), 1.f);
    index[0] = i0;
    index[1] = i0 + (i0 < in - 1 ? 1 : 0);
    weight[0] = 1.f - lambda;
    weight[1] = lambda;
    return 2;
  }
  // Cubic: Keys' kernel, taps i0-1..i0+2 clamped to the border (or dropped and renormalized).
  const float src = sourceCoordinate(scale, o, a.transform);
  const int64_t f = static_cast<int64_t>(floorf(src));
  const int64_t i0 = f < in - 1 ? f : in - 1;
  const float t = fminf(fmaxf(__fsub_rn(src, static_cast<float>(i0)), 0.f), 1.f);
  const float w[4] = {cubicFar(t + 1.f, a.cubicA), cubicNear(t, a.cubicA), cubicNear(1.f - t, a.cubicA),
                      cubicFar(2.f - t, a.cubicA)};
  float total = 0.f;
  for (int k = 0; k < 4; ++k) {
    const int64_t i = i0 - 1 + k;
    const bool outside = i < 0 || i >= in;
    weight[k] = a.excludeOutside && outside ? 0.f : w[k];
    index[k] = i < 0 ? 0 : (i > in - 1 ? in - 1 : i);
    total += weight[k];
  }
  if (a.excludeOutside && total != 0.f) {
    for (int k = 0; k < 4; ++k) weight[k] /= total;
  }
  return 4;
}

// Nearest: T is an unsigned type of the element's size (a plain copy).
template <typename T>
__global__ void nearestKernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, ResizeArgs a) {
  KILN_GRID_STRIDE_LOOP(i, total) {
    int64_t rem = i, offset = 0;
    for (int d = a.rank - 1; d >= 0; --d) {
      const int64_t o = rem % a.out[d];
      rem /= a.out[d];
      const int64_t src = d < a.first || a.in[d] == a.out[d] ? o : nearestIndex(a.scale[d], o, a.in[d], a);
      offset += src * a.stride[d];
    }
    y[i] = x[offset];
  }
}

template <typename T, int kMode>
__global__ void interpolateKernel(const T* __restrict__ x, T* __restrict__ y, int64_t total, ResizeArgs a) {
  KILN_GRID_STRIDE_LOOP(i, total) {
    int64_t index[kMAX_RANK][4];
    float weight[kMAX_RANK][4];
    int count[kMAX_RANK];
    int64_t rem = i, base = 0;
    int combos = 1;
    for (int d = a.rank - 1; d >= 0; --d) {
      const int64_t o = rem % a.out[d];
      rem /= a.out[d];
      if (d < a.first) {
        base += o * a.stride[d];
        count[d] = 0;
        continue;
      }
      count[d] = axisTaps<kMode>(a, d, o, index[d], weight[d]);
      combos *= count[d];
    }
    float acc = 0.f;
    for (int c = 0; c < combos; ++c) {
      int rest = c;
      int64_t offset = base;
      float w = 1.f;
      for (int d = a.rank - 1; d >= a.first; --d) {
        const int t = rest % count[d];
        rest /= count[d];
        offset += index[d][t] * a.stride[d];
        w *= weight[d][t];
      }
      acc += w * cuda::toFloat(x[offset]);
    }
    y[i] = cuda::fromFloat<T>(acc);
  }
}

Status runResize(const LayerParams& layer, KernelIO& io) {
  const std::string name = "resize layer '" + layer.name + "'";
  if (io.inputs.empty() || io.outputs.empty()) return internalError(name + " has no I/O");
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  const int64_t total = out.count();
  if (total == 0) return Status::ok();
  const int32_t rank = in.dims.nbDims;
  if (out.dims.nbDims != rank || rank < 1 || rank > kMAX_RANK) return internalError(name + ": output rank differs");
  if (in.type != out.type) return invalidArgument(name + ": input and output types differ");
  const int64_t modeValue = layer.attrs.getInt("mode");
  const int64_t transform = layer.attrs.getInt("coordinate_transform");
  const int64_t rounding = layer.attrs.getInt("nearest_rounding");
  if (modeValue < 0 || modeValue > 2 || transform < 0 || transform > 2 || rounding < 0 || rounding > 3) {
    return invalidArgument(name + ": unknown interpolation, coordinate transformation or rounding mode");
  }
  const auto mode = static_cast<InterpolationMode>(modeValue);
  const cudaStream_t stream = cuda::streamOf(io);
  ResizeArgs a;
  a.rank = rank;
  a.first = 0;
  while (a.first < rank && in.dims.d[a.first] == out.dims.d[a.first]) ++a.first;
  if (a.first == rank) {
    KILN_CUDA_CHECK(
        cudaMemcpyAsync(out.data, in.data, static_cast<size_t>(out.bytes()), cudaMemcpyDeviceToDevice, stream));
    return Status::ok();
  }
  // Explicit scales drive the coordinate mapping only when they set the size (not with a size input).
  const bool sizeInput = io.inputs.size() > 1 && (io.inputs[1].data != nullptr || io.inputs[1].dims.nbDims == 1);
  std::vector<double> scales;
  if (!sizeInput && layer.attrs.getInt("size_mode") == kSIZE_FROM_SCALES) scales = layer.attrs.getFloats("scales");
  if (!scales.empty() && static_cast<int32_t>(scales.size()) != rank) {
    return internalError(name + ": scale count does not match the rank");
  }
  a.transform = static_cast<int32_t>(transform);
  a.rounding = static_cast<int32_t>(rounding);
  a.cubicA = static_cast<float>(layer.attrs.getFloat("cubic_coeff", -0.75));
  a.excludeOutside = layer.attrs.getInt("exclude_outside") != 0;
  const bool alignCorners = transform == static_cast<int64_t>(ResizeCoordinateTransformation::kALIGN_CORNERS);
  int64_t stride = 1;
  for (int32_t d = rank - 1; d >= 0; --d) {
    a.in[d] = in.dims.d[d];
    a.out[d] = out.dims.d[d];
    a.stride[d] = stride;
    stride *= in.dims.d[d];
    if (d >= a.first && a.in[d] != a.out[d]) {
      if (a.in[d] < 1) return invalidArgument(name + ": dim " + std::to_string(d) + " is empty and cannot be resized");
      a.scale[d] = sourceScale(a.in[d], a.out[d], alignCorners, scales.empty() ? 0.0 : scales[static_cast<size_t>(d)]);
    }
  }
  const unsigned grid = cuda::gridFor(total);
  switch (mode) {
    case InterpolationMode::kNEAREST:
      switch (dataTypeSize(in.type)) {
        case 1:
          nearestKernel<<<grid, cuda::kBLOCK, 0, stream>>>(in.as<const uint8_t>(), out.as<uint8_t>(), total, a);
          break;
        case 2:
          nearestKernel<<<grid, cuda::kBLOCK, 0, stream>>>(in.as<const uint16_t>(), out.as<uint16_t>(), total, a);
          break;
        case 4:
          nearestKernel<<<grid, cuda::kBLOCK, 0, stream>>>(in.as<const uint32_t>(), out.as<uint32_t>(), total, a);
          break;
        case 8:
          nearestKernel<<<grid, cuda::kBLOCK, 0, stream>>>(in.as<const uint64_t>(), out.as<uint64_t>(), total, a);
          break;
        default:
          return unimplemented(name + ": no nearest kernel for " + dataTypeName(in.type));
      }
      KILN_CUDA_CHECK_LAUNCH();
      return Status::ok();
    case InterpolationMode::kLINEAR:
    case InterpolationMode::kCUBIC: {
      Status status = cuda::dispatchFloatType(in.type, [&](auto tag) -> Status {
        using T = decltype(tag);
        if (mode == InterpolationMode::kLINEAR) {
          interpolateKernel<T, 1><<<grid, cuda::kBLOCK, 0, stream>>>(in.as<const T>(), out.as<T>(), total, a);
        } else {
          interpolateKernel<T, 2><<<grid, cuda::kBLOCK, 0, stream>>>(in.as<const T>(), out.as<T>(), total, a);
        }
        KILN_CUDA_CHECK_LAUNCH();
        return Status::ok();
      });
      return status.isOk() ? status : status.withContext(name);
    }
  }
  return internalError(name + ": unknown mode");
}

bool supportsResize(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.empty() || layer.inputs[0] < 0) return false;
  const DataType type = graph.tensors[static_cast<size_t>(layer.inputs[0])].type;
  const auto mode = static_cast<InterpolationMode>(layer.params.attrs.getInt("mode"));
  return mode == InterpolationMode::kNEAREST || isFloatType(type);
}

}  // namespace

void registerResizeCudaKernels(CudaKernelTable& table) {
  CudaTactic tactic;
  tactic.name = "cuda_resize_taps";
  tactic.run = runResize;
  tactic.supports = supportsResize;
  table.add(LayerType::kRESIZE, std::move(tactic));
}

}  // namespace kiln
