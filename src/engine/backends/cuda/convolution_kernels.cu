// Own kernels around the cuDNN convolutions: staging, epilogue, layout transposes, weight conversion.
#include <string>

#include "engine/backends/cuda/convolution_kernels.h"
#include "engine/backends/cuda/cuda_common.cuh"

namespace kiln {
namespace cuda {
namespace {

struct Shift3 {
  int64_t d[3];
};

Shift3 toShift(const int64_t shift[3]) { return Shift3{{shift[0], shift[1], shift[2]}}; }

// Float-typed element i of a bias buffer (float32, float16 or bfloat16).
__device__ __forceinline__ float loadFloatAt(const void* p, DataType t, int64_t i) {
  switch (t) {
    case DataType::kHALF:
      return __half2float(static_cast<const __half*>(p)[i]);
    case DataType::kBF16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    default:
      return static_cast<const float*>(p)[i];
  }
}

template <typename T>
__device__ __forceinline__ float applyEpilogue(float v, const ConvEpilogue& e, int64_t channel, int64_t index) {
  if (e.bias != nullptr) v += loadFloatAt(e.bias, e.biasType, channel);
  if (e.residual != nullptr) v += toFloat(static_cast<const T*>(e.residual)[index]);
  if (e.relu) v = v > 0.f ? v : 0.f;  // NaN becomes 0, like the CPU's ReLU
  return v;
}

// Flat index over [planes, dstExt] -> offset into src (-1 outside it).
__device__ __forceinline__ int64_t windowSource(int64_t i, const ConvExtent3& src, const ConvExtent3& dst,
                                                const Shift3& shift, int64_t& plane) {
  const int64_t w = i % dst.d[2];
  int64_t t = i / dst.d[2];
  const int64_t h = t % dst.d[1];
  t /= dst.d[1];
  const int64_t d = t % dst.d[0];
  plane = t / dst.d[0];
  const int64_t sd = d + shift.d[0], sh = h + shift.d[1], sw = w + shift.d[2];
  if (sd < 0 || sd >= src.d[0] || sh < 0 || sh >= src.d[1] || sw < 0 || sw >= src.d[2]) return -1;
  return ((plane * src.d[0] + sd) * src.d[1] + sh) * src.d[2] + sw;
}

template <typename T>
__global__ void windowKernel(const T* src, T* dst, int64_t total, int64_t channels, ConvExtent3 srcExt,
                             ConvExtent3 dstExt, Shift3 shift, ConvEpilogue epilogue, bool withEpilogue) {
  KILN_GRID_STRIDE_LOOP(i, total) {
    int64_t plane = 0;
    const int64_t s = windowSource(i, srcExt, dstExt, shift, plane);
    float v = s >= 0 ? toFloat(src[s]) : 0.f;
    if (withEpilogue) v = applyEpilogue<T>(v, epilogue, plane % channels, i);
    dst[i] = fromFloat<T>(v);
  }
}

// The common case (no crop): planes on grid.y, so the channel comes without divisions per element.
template <typename T>
__global__ void epilogueInPlaceKernel(T* y, int64_t planes, int64_t channels, int64_t spatial, ConvEpilogue e) {
  for (int64_t p = blockIdx.y; p < planes; p += gridDim.y) {
    const float bias = e.bias != nullptr ? loadFloatAt(e.bias, e.biasType, p % channels) : 0.f;
    T* row = y + p * spatial;
    const T* res = e.residual != nullptr ? static_cast<const T*>(e.residual) + p * spatial : nullptr;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < spatial;
         i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
      float v = toFloat(row[i]) + bias;
      if (res != nullptr) v += toFloat(res[i]);
      if (e.relu) v = v > 0.f ? v : 0.f;
      row[i] = fromFloat<T>(v);
    }
  }
}

// 16-byte accesses when every plane is a whole number of vectors and the buffers are aligned.
template <typename T>
__global__ void epilogueInPlaceVecKernel(T* y, int64_t planes, int64_t channels, int64_t spatial, ConvEpilogue e) {
  constexpr int kVEC = 16 / sizeof(T);
  const int64_t vectors = spatial / kVEC;
  for (int64_t p = blockIdx.y; p < planes; p += gridDim.y) {
    const float bias = e.bias != nullptr ? loadFloatAt(e.bias, e.biasType, p % channels) : 0.f;
    uint4* row = reinterpret_cast<uint4*>(y + p * spatial);
    const uint4* res = e.residual != nullptr
                           ? reinterpret_cast<const uint4*>(static_cast<const T*>(e.residual) + p * spatial)
                           : nullptr;
    for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < vectors;
         i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
      uint4 packed = row[i];
      uint4 other = res != nullptr ? res[i] : uint4{};
      T* values = reinterpret_cast<T*>(&packed);
      const T* adds = reinterpret_cast<const T*>(&other);
#pragma unroll
      for (int k = 0; k < kVEC; ++k) {
        float v = toFloat(values[k]) + bias;
        if (res != nullptr) v += toFloat(adds[k]);
        if (e.relu) v = v > 0.f ? v : 0.f;
        values[k] = fromFloat<T>(v);
      }
      row[i] = packed;
    }
  }
}

constexpr int kTILE = 32;
constexpr int kTILE_ROWS = 8;

template <typename T>
__global__ void nchwToNhwcKernel(const T* src, T* dst, int64_t batch, int64_t channels, ConvExtent3 srcExt,
                                 ConvExtent3 dstExt, Shift3 shift) {
  __shared__ float tile[kTILE][kTILE + 1];
  const int64_t spatial = dstExt.volume();
  const int64_t srcSpatial = srcExt.volume();
  const int64_t p0 = static_cast<int64_t>(blockIdx.x) * kTILE, c0 = static_cast<int64_t>(blockIdx.y) * kTILE;
  for (int64_t n = blockIdx.z; n < batch; n += gridDim.z) {
    const int64_t p = p0 + threadIdx.x;
    for (int j = threadIdx.y; j < kTILE; j += kTILE_ROWS) {
      const int64_t c = c0 + j;
      float v = 0.f;
      if (p < spatial && c < channels) {
        int64_t plane = 0;
        const int64_t s = windowSource(p, srcExt, dstExt, shift, plane);  // plane is 0: p < spatial
        if (s >= 0) v = toFloat(src[(n * channels + c) * srcSpatial + s]);
      }
      tile[j][threadIdx.x] = v;
    }
    __syncthreads();
    const int64_t c = c0 + threadIdx.x;
    for (int j = threadIdx.y; j < kTILE; j += kTILE_ROWS) {
      const int64_t q = p0 + j;
      if (q < spatial && c < channels) dst[(n * spatial + q) * channels + c] = fromFloat<T>(tile[threadIdx.x][j]);
    }
    __syncthreads();
  }
}

template <typename T>
__global__ void nhwcToNchwKernel(const T* src, T* dst, int64_t batch, int64_t channels, int64_t spatial,
                                 ConvEpilogue e) {
  __shared__ float tile[kTILE][kTILE + 1];
  const int64_t p0 = static_cast<int64_t>(blockIdx.x) * kTILE, c0 = static_cast<int64_t>(blockIdx.y) * kTILE;
  for (int64_t n = blockIdx.z; n < batch; n += gridDim.z) {
    const int64_t c = c0 + threadIdx.x;
    for (int j = threadIdx.y; j < kTILE; j += kTILE_ROWS) {
      const int64_t p = p0 + j;
      tile[j][threadIdx.x] = p < spatial && c < channels ? toFloat(src[(n * spatial + p) * channels + c]) : 0.f;
    }
    __syncthreads();
    const int64_t p = p0 + threadIdx.x;
    for (int j = threadIdx.y; j < kTILE; j += kTILE_ROWS) {
      const int64_t k = c0 + j;
      if (p < spatial && k < channels) {
        const int64_t index = (n * channels + k) * spatial + p;
        dst[index] = fromFloat<T>(applyEpilogue<T>(tile[threadIdx.x][j], e, k, index));
      }
    }
    __syncthreads();
  }
}

__global__ void convertFloatsKernel(const void* src, DataType srcType, void* dst, DataType dstType, int64_t count) {
  KILN_GRID_STRIDE_LOOP(i, count) {
    const float v = loadFloatAt(src, srcType, i);
    switch (dstType) {
      case DataType::kHALF:
        static_cast<__half*>(dst)[i] = __float2half_rn(v);
        break;
      case DataType::kBF16:
        static_cast<__nv_bfloat16*>(dst)[i] = __float2bfloat16_rn(v);
        break;
      default:
        static_cast<float*>(dst)[i] = v;
        break;
    }
  }
}

bool sameExtent(const ConvExtent3& a, const ConvExtent3& b) {
  return a.d[0] == b.d[0] && a.d[1] == b.d[1] && a.d[2] == b.d[2];
}

Status tileGrid(int64_t spatial, int64_t channels, int64_t batch, dim3& grid) {
  const int64_t x = (spatial + kTILE - 1) / kTILE, y = (channels + kTILE - 1) / kTILE;
  if (x > 0x7fffffff || y > 65535) {
    return invalidArgument("convolution layout transpose: " + std::to_string(spatial) + " positions x " +
                           std::to_string(channels) + " channels exceed the grid limits");
  }
  grid = dim3(static_cast<unsigned>(x), static_cast<unsigned>(y), static_cast<unsigned>(batch < 65535 ? batch : 65535));
  return Status::ok();
}

}  // namespace

Status launchConvWindow(const void* src, void* dst, DataType type, int64_t planes, int64_t channels,
                        const ConvExtent3& srcExt, const ConvExtent3& dstExt, const int64_t shift[3],
                        const ConvEpilogue& epilogue, cudaStream_t stream) {
  const int64_t spatial = dstExt.volume();
  const int64_t total = planes * spatial;
  if (total == 0) return Status::ok();
  const bool inPlace = src == dst && sameExtent(srcExt, dstExt) && shift[0] == 0 && shift[1] == 0 && shift[2] == 0;
  if (inPlace && !epilogue.any()) return Status::ok();
  return dispatchFloatType(type, [&](auto tag) -> Status {
    using T = decltype(tag);
    if (inPlace) {
      constexpr int64_t kVEC = 16 / sizeof(T);
      const bool vector = spatial % kVEC == 0 && reinterpret_cast<uintptr_t>(dst) % 16 == 0 &&
                          reinterpret_cast<uintptr_t>(epilogue.residual) % 16 == 0;
      const int64_t work = vector ? spatial / kVEC : spatial;
      const int64_t blocksX = (work + kBLOCK - 1) / kBLOCK;
      const dim3 grid(static_cast<unsigned>(blocksX < 1024 ? blocksX : 1024),
                      static_cast<unsigned>(planes < 65535 ? planes : 65535));
      if (vector) {
        epilogueInPlaceVecKernel<T>
            <<<grid, kBLOCK, 0, stream>>>(static_cast<T*>(dst), planes, channels, spatial, epilogue);
      } else {
        epilogueInPlaceKernel<T>
            <<<grid, kBLOCK, 0, stream>>>(static_cast<T*>(dst), planes, channels, spatial, epilogue);
      }
    } else {
      windowKernel<T><<<gridFor(total), kBLOCK, 0, stream>>>(static_cast<const T*>(src), static_cast<T*>(dst), total,
                                                             channels, srcExt, dstExt, toShift(shift), epilogue,
                                                             epilogue.any());
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  });
}

Status launchNchwToNhwc(const void* src, void* dst, DataType type, int64_t batch, int64_t channels,
                        const ConvExtent3& srcExt, const ConvExtent3& dstExt, const int64_t shift[3],
                        cudaStream_t stream) {
  const int64_t spatial = dstExt.volume();
  if (batch * channels * spatial == 0) return Status::ok();
  dim3 grid;
  KILN_RETURN_IF_ERROR(tileGrid(spatial, channels, batch, grid));
  return dispatchFloatType(type, [&](auto tag) -> Status {
    using T = decltype(tag);
    nchwToNhwcKernel<T><<<grid, dim3(kTILE, kTILE_ROWS), 0, stream>>>(static_cast<const T*>(src), static_cast<T*>(dst),
                                                                      batch, channels, srcExt, dstExt, toShift(shift));
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  });
}

Status launchNhwcToNchw(const void* src, void* dst, DataType type, int64_t batch, int64_t channels, int64_t spatial,
                        const ConvEpilogue& epilogue, cudaStream_t stream) {
  if (batch * channels * spatial == 0) return Status::ok();
  dim3 grid;
  KILN_RETURN_IF_ERROR(tileGrid(spatial, channels, batch, grid));
  return dispatchFloatType(type, [&](auto tag) -> Status {
    using T = decltype(tag);
    nhwcToNchwKernel<T><<<grid, dim3(kTILE, kTILE_ROWS), 0, stream>>>(static_cast<const T*>(src), static_cast<T*>(dst),
                                                                      batch, channels, spatial, epilogue);
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  });
}

Status launchConvertFloats(const void* src, DataType srcType, void* dst, DataType dstType, int64_t count,
                           cudaStream_t stream) {
  if (count == 0) return Status::ok();
  if (!isFloatType(srcType) || !isFloatType(dstType)) {
    return invalidArgument(std::string("convolution weights must be float types, got ") + dataTypeName(srcType));
  }
  convertFloatsKernel<<<gridFor(count), kBLOCK, 0, stream>>>(src, srcType, dst, dstType, count);
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

}  // namespace cuda
}  // namespace kiln
