// CUDA slice and padding kernels. Both map every output coordinate, per dim, to a source coordinate or to
// "fill": slice by start + k * stride and its sample mode, padding as a kFILL slice starting at -prePadding
// with a zero fill. Slice parameters and the fill value may come from tensors: host-resident ones (shape
// tensors, constants) are read and checked on the host like the CPU kernel does; device-resident ones are read
// by the kernel itself, so the launch never waits for the device.
#include <cstring>
#include <string>
#include <type_traits>

#include "engine/backends/cuda/data_movement_util.cuh"

namespace kiln {
namespace cuda {
namespace {

constexpr int64_t kROW_KERNEL_MIN = 64;
constexpr int kROW_ELEMENTS = 4;  // elements per thread: amortizes the parameter loads and row arithmetic

struct SampleDesc {
  int32_t rank = 0;
  int32_t mode = 0;  // SampleMode
  int64_t outExt[Dims::kMAX_DIMS] = {};
  int64_t inExt[Dims::kMAX_DIMS] = {};
  int64_t inStr[Dims::kMAX_DIMS] = {};
  int64_t start[Dims::kMAX_DIMS] = {};
  int64_t stride[Dims::kMAX_DIMS] = {};
  // Device-resident parameters replace start/stride; null when they were known on the host.
  const void* startDev = nullptr;
  const void* strideDev = nullptr;
  bool start64 = false, stride64 = false;
  // Device-resident fill value (converted in the kernel) or the fill element's bytes.
  const void* fillDev = nullptr;
  DataType fillType = DataType::kFLOAT;
  DataType outType = DataType::kFLOAT;
  uint64_t fillBits = 0;
};

__host__ __device__ inline bool isFloating(DataType t) {
  return t == DataType::kFLOAT || t == DataType::kHALF || t == DataType::kBF16;
}

template <typename T>
__host__ __device__ inline T saturate(double v, double lo, double hi) {
  if (v != v) return T(0);  // NaN
  if (v >= hi) return static_cast<T>(hi);
  if (v <= lo) return static_cast<T>(lo);
  return static_cast<T>(v);
}

// The fill element's bytes for an output of type `out` from a value of type `type` at p, converted as
// the CPU kernel does: through double (floats via float32, saturating into integers) when either side is
// floating, else as a truncating integer cast.
__host__ __device__ inline uint64_t convertFill(const void* p, DataType type, DataType out) {
  uint64_t bits = 0;
  if (isFloating(type) || isFloating(out)) {
    double v = 0.0;
    switch (type) {
      case DataType::kFLOAT: v = *static_cast<const float*>(p); break;
      case DataType::kHALF: v = __half2float(*static_cast<const __half*>(p)); break;
      case DataType::kBF16: v = __bfloat162float(*static_cast<const __nv_bfloat16*>(p)); break;
      case DataType::kINT8: v = *static_cast<const int8_t*>(p); break;
      case DataType::kINT32: v = *static_cast<const int32_t*>(p); break;
      case DataType::kINT64: v = static_cast<double>(*static_cast<const int64_t*>(p)); break;
      case DataType::kBOOL: v = *static_cast<const uint8_t*>(p) ? 1.0 : 0.0; break;
      case DataType::kUINT8: v = *static_cast<const uint8_t*>(p); break;
    }
    switch (out) {
      case DataType::kFLOAT: { const float f = static_cast<float>(v); memcpy(&bits, &f, 4); break; }
      case DataType::kHALF: { const __half h = __float2half_rn(static_cast<float>(v)); memcpy(&bits, &h, 2); break; }
      case DataType::kBF16: {
        const __nv_bfloat16 h = __float2bfloat16_rn(static_cast<float>(v));
        memcpy(&bits, &h, 2);
        break;
      }
      case DataType::kINT8: { const int8_t x = saturate<int8_t>(v, -128.0, 127.0); memcpy(&bits, &x, 1); break; }
      case DataType::kINT32: {
        const int32_t x = saturate<int32_t>(v, -2147483648.0, 2147483647.0);
        memcpy(&bits, &x, 4);
        break;
      }
      case DataType::kINT64: {
        // 2^63 is the first double above INT64_MAX; compare against it and saturate explicitly.
        int64_t x = 0;
        if (v != v) x = 0;
        else if (v >= 9223372036854775808.0) x = INT64_MAX;
        else if (v <= -9223372036854775808.0) x = INT64_MIN;
        else x = static_cast<int64_t>(v);
        memcpy(&bits, &x, 8);
        break;
      }
      case DataType::kBOOL: bits = v != 0.0 ? 1 : 0; break;
      case DataType::kUINT8: { const uint8_t x = saturate<uint8_t>(v, 0.0, 255.0); memcpy(&bits, &x, 1); break; }
    }
    return bits;
  }
  int64_t v = 0;
  switch (type) {
    case DataType::kINT8: v = *static_cast<const int8_t*>(p); break;
    case DataType::kINT32: v = *static_cast<const int32_t*>(p); break;
    case DataType::kINT64: v = *static_cast<const int64_t*>(p); break;
    case DataType::kBOOL: v = *static_cast<const uint8_t*>(p) ? 1 : 0; break;
    case DataType::kUINT8: v = *static_cast<const uint8_t*>(p); break;
    default: break;  // floating types took the branch above
  }
  if (out == DataType::kBOOL) return v != 0 ? 1 : 0;
  memcpy(&bits, &v, 8);  // little-endian: the low bytes are the truncated narrow value
  return bits;
}

__device__ __forceinline__ int64_t floorMod(int64_t a, int64_t n) {
  const int64_t m = a % n;
  return m < 0 ? m + n : m;
}

// Source coordinate sampled at position i of an extent n; -1 means "use the fill value". An index outside
// the extent in strict mode (possible only with device-resident parameters, which the CPU kernel rejects
// with an error) also reads as fill, so a bad start never reads out of bounds.
__device__ __forceinline__ int64_t sampleIndex(int32_t mode, int64_t i, int64_t n) {
  int64_t s = -1;
  switch (static_cast<SampleMode>(mode)) {
    case SampleMode::kSTRICT_BOUNDS:
    case SampleMode::kFILL:
      s = i;
      break;
    case SampleMode::kWRAP:
      s = n > 0 ? floorMod(i, n) : -1;
      break;
    case SampleMode::kCLAMP:
      s = i < 0 ? 0 : (i >= n ? n - 1 : i);
      break;
    case SampleMode::kREFLECT: {
      if (n == 1) return 0;
      if (n <= 0) return -1;
      // Mirror without repeating the edge: period 2(n-1).
      const int64_t period = 2 * (n - 1);
      const int64_t m = floorMod(i, period);
      s = m < n ? m : period - m;
      break;
    }
  }
  return s >= 0 && s < n ? s : -1;
}

// Start and stride of every dim, from the device tensors when the host did not know them.
// Unrolled over the maximum rank so that the arrays stay in registers.
__device__ __forceinline__ void loadParams(const SampleDesc& desc, int64_t* start, int64_t* stride) {
#pragma unroll
  for (int32_t d = 0; d < Dims::kMAX_DIMS; ++d) {
    start[d] = 0;
    stride[d] = 0;
    if (d < desc.rank) {
      start[d] = desc.startDev ? loadIndex(desc.startDev, desc.start64, d) : desc.start[d];
      stride[d] = desc.strideDev ? loadIndex(desc.strideDev, desc.stride64, d) : desc.stride[d];
    }
  }
}

template <typename E>
__device__ __forceinline__ E fillValue(const SampleDesc& desc) {
  const uint64_t bits = desc.fillDev ? convertFill(desc.fillDev, desc.fillType, desc.outType) : desc.fillBits;
  E e;
  memcpy(&e, &bits, sizeof(E));
  return e;
}

// Wrapping arithmetic: device-resident parameters may overflow, which must not be undefined behaviour.
__device__ __forceinline__ int64_t position(int64_t start, int64_t k, int64_t stride) {
  return static_cast<int64_t>(static_cast<uint64_t>(start) + static_cast<uint64_t>(k) * static_cast<uint64_t>(stride));
}

// kFillOnly: the mode is known to be kFILL (padding, constant-padded slices), which spares the general modes
// code and its 64-bit divisions.
template <bool kFillOnly>
__device__ __forceinline__ int64_t sample(int32_t mode, int64_t i, int64_t n) {
  if (kFillOnly) return i >= 0 && i < n ? i : -1;
  return sampleIndex(mode, i, n);
}

// Source offset of the dims [0, rank) at coordinate `rem` (row-major over desc.outExt), or -1 for fill. The
// loop is unrolled over the maximum rank so that the per-dim parameters stay in registers. I is the index
// type: 32-bit division is several times cheaper, so tensors below 2^31 elements use it.
template <typename I, bool kFillOnly>
__device__ __forceinline__ int64_t sourceOffset(const SampleDesc& desc, const int64_t* start, const int64_t* stride,
                                               int32_t rank, I rem) {
  int64_t offset = 0;
  bool isFill = false;
#pragma unroll
  for (int32_t d = Dims::kMAX_DIMS - 1; d >= 0; --d) {
    if (d < rank) {
      const auto extent = static_cast<I>(desc.outExt[d]);
      const I k = rem % extent;
      rem /= extent;
      const int64_t s = sample<kFillOnly>(desc.mode, position(start[d], k, stride[d]), desc.inExt[d]);
      isFill = isFill || s < 0;
      offset += s * desc.inStr[d];
    }
  }
  return isFill ? -1 : offset;
}

template <typename E, typename I, bool kFillOnly>
__global__ void sampleFlatKernel(E* __restrict__ dst, const E* __restrict__ src, SampleDesc desc, int64_t total) {
  int64_t start[Dims::kMAX_DIMS], stride[Dims::kMAX_DIMS];
  loadParams(desc, start, stride);
  const E fill = fillValue<E>(desc);
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int64_t offset = sourceOffset<I, kFillOnly>(desc, start, stride, desc.rank, static_cast<I>(i));
    dst[i] = offset < 0 ? fill : src[offset];
  }
}

// One output row per block row: the outer dims are resolved once per row, and each thread moves several
// elements of the row.
template <typename E, typename I, bool kFillOnly>
__global__ void sampleRowsKernel(E* __restrict__ dst, const E* __restrict__ src, SampleDesc desc, int64_t rows) {
  int64_t start[Dims::kMAX_DIMS], stride[Dims::kMAX_DIMS];
  loadParams(desc, start, stride);
  const E fill = fillValue<E>(desc);
  const int32_t inner = desc.rank - 1;
  int64_t innerStart = 0, innerStep = 0, n = 0, extent = 0, innerStride = 0;
#pragma unroll
  for (int32_t d = 0; d < Dims::kMAX_DIMS; ++d) {
    if (d == inner) {
      innerStart = start[d];
      innerStep = stride[d];
      n = desc.outExt[d];
      extent = desc.inExt[d];
      innerStride = desc.inStr[d];
    }
  }
  for (int64_t row = blockIdx.y; row < rows; row += gridDim.y) {
    const int64_t offset = sourceOffset<I, kFillOnly>(desc, start, stride, inner, static_cast<I>(row));
    E* out = dst + row * n;
    for (int64_t j = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; j < n;
         j += static_cast<int64_t>(blockDim.x) * gridDim.x) {
      const int64_t s = sample<kFillOnly>(desc.mode, position(innerStart, j, innerStep), extent);
      out[j] = offset < 0 || s < 0 ? fill : src[offset + s * innerStride];
    }
  }
}

Status launchSample(const TensorView& in, TensorView& out, SampleDesc& desc, cudaStream_t stream) {
  const int64_t total = out.count();
  if (total == 0) return Status::ok();
  desc.rank = out.dims.nbDims;
  desc.outType = out.type;
  const Shape8 strides = contiguousStrides(in.dims);
  for (int32_t d = 0; d < desc.rank; ++d) {
    desc.outExt[d] = out.dims.d[d];
    desc.inExt[d] = in.dims.d[d];
    desc.inStr[d] = strides.d[d];
  }
  return dispatchUnit(dataTypeSize(out.type), [&](auto tag) {
    using E = decltype(tag);
    E* dst = static_cast<E*>(out.data);
    const E* src = static_cast<const E*>(in.data);
    const int64_t n = desc.rank > 0 ? desc.outExt[desc.rank - 1] : 1;
    const bool small = total < (int64_t{1} << 31);
    const bool fillOnly = desc.mode == static_cast<int32_t>(SampleMode::kFILL);
    auto launch = [&](auto index, auto fillTag) {
      using I = decltype(index);
      constexpr bool kFill = decltype(fillTag)::value;
      if (desc.rank > 1 && n >= kROW_KERNEL_MIN) {
        const int64_t rows = total / n;
        const dim3 grid(gridFor(n, kBLOCK * kROW_ELEMENTS), gridRows(rows));
        sampleRowsKernel<E, I, kFill><<<grid, kBLOCK, 0, stream>>>(dst, src, desc, rows);
      } else {
        sampleFlatKernel<E, I, kFill><<<gridFor(total, kBLOCK * kROW_ELEMENTS), kBLOCK, 0, stream>>>(dst, src, desc,
                                                                                                  total);
      }
    };
    if (small && fillOnly) {
      launch(uint32_t{}, std::true_type{});
    } else if (small) {
      launch(uint32_t{}, std::false_type{});
    } else if (fillOnly) {
      launch(int64_t{}, std::true_type{});
    } else {
      launch(int64_t{}, std::false_type{});
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  });
}

// A window whose every sampled coordinate lies inside the input reads the same in every mode: a strided
// view, copied by the shared strided gather (wide units for contiguous rows, tiles for transposed ones).
// Returns false (and copies nothing) when some dim samples outside.
StatusOr<bool> copyInsideWindow(const TensorView& in, TensorView& out, const int64_t* start, const int64_t* stride,
                                cudaStream_t stream) {
  const Shape8 inStr = contiguousStrides(in.dims);
  int64_t base = 0;
  int64_t strides[Dims::kMAX_DIMS] = {};
  for (int32_t d = 0; d < out.dims.nbDims; ++d) {
    const int64_t last = start[d] + (out.dims.d[d] - 1) * stride[d];  // bounded: checked for overflow before
    if (start[d] < 0 || start[d] >= in.dims.d[d] || last < 0 || last >= in.dims.d[d]) return false;
    base += start[d] * inStr.d[d];
    strides[d] = stride[d] * inStr.d[d];
  }
  const int64_t elemSize = dataTypeSize(in.type);
  KILN_RETURN_IF_ERROR(
      stridedGather(out.data, static_cast<const uint8_t*>(in.data) + base * elemSize, out.dims, strides, elemSize, stream));
  return true;
}

// The CPU kernel's checks, for parameters known on the host.
Status checkSampling(SampleMode mode, int32_t dim, int64_t extent, int64_t start, int64_t size, int64_t stride) {
  if (size == 0) return Status::ok();
  const __int128 last = static_cast<__int128>(start) + static_cast<__int128>(size - 1) * stride;
  if (last > INT64_MAX || last < INT64_MIN) return invalidArgument("slice of dim " + std::to_string(dim) + " overflows");
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

// Reads a start or stride input: into `values` when host-resident, else as a device pointer for the kernel.
// Returns whether the values are known on the host.
StatusOr<bool> sliceParam(const LayerParams& layer, const KernelIO& io, size_t index, const char* key, int32_t rank,
                          int64_t* values, const void** device, bool* is64) {
  if (io.inputs.size() > index && io.inputs[index].data != nullptr) {
    const TensorView& view = io.inputs[index];
    if (view.type != DataType::kINT32 && view.type != DataType::kINT64) {
      return invalidArgument(std::string(key) + " input must be int32 or int64, got " + dataTypeName(view.type));
    }
    if (view.count() < rank) {
      return invalidArgument(std::string(key) + " input " + dimsToString(view.dims) + " has fewer than " +
                             std::to_string(rank) + " values");
    }
    *is64 = view.type == DataType::kINT64;
    if (!readOnHost(view.data)) {
      *device = view.data;
      return false;
    }
    for (int32_t i = 0; i < rank; ++i) {
      values[i] = *is64 ? static_cast<const int64_t*>(view.data)[i]
                        : static_cast<int64_t>(static_cast<const int32_t*>(view.data)[i]);
    }
    return true;
  }
  const Dims dims = layer.attrs.getDims(key);
  if (dims.nbDims != rank) {
    return invalidArgument(std::string(key) + " " + dimsToString(dims) + " does not have one value per dim (rank " +
                           std::to_string(rank) + ")");
  }
  for (int32_t i = 0; i < rank; ++i) values[i] = dims.d[i];
  return true;
}

Status runSlice(const LayerParams& layer, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  if (out.count() == 0) return Status::ok();
  const int32_t rank = in.dims.nbDims;
  if (out.dims.nbDims != rank) {
    return invalidArgument("slice output " + dimsToString(out.dims) + " does not have the rank of its input " +
                           dimsToString(in.dims));
  }
  const int64_t modeValue = layer.attrs.getInt("mode", 0);
  if (modeValue < 0 || modeValue > static_cast<int64_t>(SampleMode::kREFLECT)) {
    return invalidArgument("unknown slice mode " + std::to_string(modeValue));
  }
  const auto mode = static_cast<SampleMode>(modeValue);
  SampleDesc desc;
  desc.mode = static_cast<int32_t>(mode);
  KILN_ASSIGN_OR_RETURN(const bool startKnown,
                        sliceParam(layer, io, 1, "start", rank, desc.start, &desc.startDev, &desc.start64));
  KILN_ASSIGN_OR_RETURN(const bool strideKnown,
                        sliceParam(layer, io, 3, "stride", rank, desc.stride, &desc.strideDev, &desc.stride64));
  for (int32_t d = 0; d < rank; ++d) {
    if (startKnown && strideKnown) {
      KILN_RETURN_IF_ERROR(checkSampling(mode, d, in.dims.d[d], desc.start[d], out.dims.d[d], desc.stride[d]));
    } else if (mode != SampleMode::kFILL && in.dims.d[d] == 0) {
      return invalidArgument("slice samples dim " + std::to_string(d) + ", which is empty");
    }
  }
  if (startKnown && strideKnown) {
    KILN_ASSIGN_OR_RETURN(const bool copied, copyInsideWindow(in, out, desc.start, desc.stride, streamOf(io)));
    if (copied) return Status::ok();
  }
  if (mode == SampleMode::kFILL && io.inputs.size() > 4 && io.inputs[4].data != nullptr) {
    const TensorView& value = io.inputs[4];
    if (value.count() != 1) return invalidArgument("fill value input must have one element, got " + dimsToString(value.dims));
    if (readOnHost(value.data)) {
      desc.fillBits = convertFill(value.data, value.type, out.type);
    } else {
      desc.fillDev = value.data;
      desc.fillType = value.type;
    }
  }
  return launchSample(in, out, desc, streamOf(io));
}

Status runPadding(const LayerParams& layer, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  if (out.count() == 0) return Status::ok();
  const Dims pre = layer.attrs.getDims("pre_padding");
  const int32_t rank = in.dims.nbDims;
  if (pre.nbDims < 0 || pre.nbDims > rank || out.dims.nbDims != rank) {
    return invalidArgument("padding of " + std::to_string(pre.nbDims) + " dims does not fit input " +
                           dimsToString(in.dims) + " and output " + dimsToString(out.dims));
  }
  const int32_t first = rank - pre.nbDims;
  SampleDesc desc;
  desc.mode = static_cast<int32_t>(SampleMode::kFILL);  // zero bytes are 0 in every dtype: fillBits stays 0
  for (int32_t d = 0; d < rank; ++d) {
    desc.start[d] = d >= first ? -pre.d[d - first] : 0;
    desc.stride[d] = 1;
  }
  // Pure cropping reads a window of the input.
  KILN_ASSIGN_OR_RETURN(const bool copied, copyInsideWindow(in, out, desc.start, desc.stride, streamOf(io)));
  if (copied) return Status::ok();
  return launchSample(in, out, desc, streamOf(io));
}

}  // namespace

void registerSliceDataMovementCudaKernels(CudaKernelTable& table) {
  table.add(LayerType::kSLICE, {"cuda_slice", runSlice, nullptr, nullptr, {}});
  table.add(LayerType::kPADDING, {"cuda_padding", runPadding, nullptr, nullptr, {}});
}

}  // namespace cuda
}  // namespace kiln
