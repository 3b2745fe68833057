// CUDA gather kernels: kDEFAULT (numpy.take along an axis, with nbElementWiseDims leading batch dims),
// kELEMENT (torch.gather) and kND (ONNX GatherND with batch dims). Negative indices count from the end.
// The CPU kernel checks every index first and reports an out-of-range one as an error; a GPU kernel cannot
// report without waiting for the device, so here such an index writes zeros instead and never reads outside
// the data. Copied rows (kDEFAULT, kND) move in the widest unit that the row and both buffers allow.
#include <string>

#include "engine/backends/cuda/data_movement_util.cuh"

namespace kiln {
namespace cuda {
namespace {

int32_t storedAxis(const LayerParams& layer, int32_t rank) {
  const int64_t axis = layer.attrs.getInt("axis", 0);
  return static_cast<int32_t>(axis < 0 ? axis + rank : axis);
}

// out[(bp, i), j] = data[bp, idx(b, i), j] with rows of q units: bp = b * p + (position between batch and axis).
// I is the index type: 32-bit division is several times cheaper, so outputs below 2^31 units use it.
template <typename U, typename I>
__global__ void gatherDefaultKernel(U* __restrict__ dst, const U* __restrict__ src, const void* __restrict__ indices,
                                    bool idx64, int64_t p, int64_t n, int64_t q, int64_t nbIdx, int64_t total) {
  KILN_GRID_STRIDE_LOOP(o, total) {
    const I row = static_cast<I>(o) / static_cast<I>(q);
    const int64_t j = o - static_cast<int64_t>(row) * q;
    const I bp = row / static_cast<I>(nbIdx);
    const int64_t i = static_cast<int64_t>(row - bp * static_cast<I>(nbIdx));
    const int64_t b = static_cast<int64_t>(bp / static_cast<I>(p));
    int64_t idx = loadIndex(indices, idx64, b * nbIdx + i);
    if (idx < 0) idx += n;
    dst[o] = idx >= 0 && idx < n ? src[(bp * n + idx) * q + j] : U{};
  }
}

// out[c] = data[c with c[axis] = indices[c]]; out has the indices' shape.
template <typename E>
__global__ void gatherElementKernel(E* __restrict__ dst, const E* __restrict__ src, const void* __restrict__ indices,
                                    bool idx64, Shape8 outShape, Shape8 dataStrides, int32_t axis, int64_t n,
                                    int64_t total) {
  KILN_GRID_STRIDE_LOOP(o, total) {
    int64_t rem = o, base = 0;
    for (int32_t d = outShape.rank - 1; d >= 0; --d) {
      const int64_t c = rem % outShape.d[d];
      rem /= outShape.d[d];
      if (d != axis) base += c * dataStrides.d[d];
    }
    int64_t idx = loadIndex(indices, idx64, o);
    if (idx < 0) idx += n;
    dst[o] = idx >= 0 && idx < n ? src[base + idx * dataStrides.d[axis]] : E{};
  }
}

// Coordinates (m per tuple) and data extents/strides of the addressed dims, by value.
struct NdCoords {
  int32_t m = 0;
  int64_t extent[Dims::kMAX_DIMS] = {};
  int64_t stride[Dims::kMAX_DIMS] = {};  // in units
};

// Tuple `row` selects a slice of `slice` units; rows are grouped by batch (`tuples` rows per batch entry).
template <typename U>
__global__ void gatherNdKernel(U* __restrict__ dst, const U* __restrict__ src, const void* __restrict__ indices,
                               bool idx64, NdCoords coords, int64_t slice, int64_t batchStride, int64_t tuples,
                               int64_t total) {
  KILN_GRID_STRIDE_LOOP(o, total) {
    const int64_t row = o / slice, s = o - row * slice;
    int64_t offset = (row / tuples) * batchStride;
    bool inside = true;
    for (int32_t j = 0; j < coords.m; ++j) {
      int64_t c = loadIndex(indices, idx64, row * coords.m + j);
      if (c < 0) c += coords.extent[j];
      inside = inside && c >= 0 && c < coords.extent[j];
      offset += c * coords.stride[j];
    }
    dst[o] = inside ? src[offset + s] : U{};
  }
}

// The widest unit for rows of `rowBytes` between these two buffers.
int64_t rowUnit(int64_t rowBytes, const void* a, const void* b) { return unitFor(rowBytes, b, unitFor(rowBytes, a)); }

Status gatherDefault(const LayerParams& layer, KernelIO& io) {
  const TensorView& data = io.inputs[0];
  const TensorView& indices = io.inputs[1];
  TensorView& out = io.outputs[0];
  const int32_t rank = data.dims.nbDims;
  const int32_t axis = storedAxis(layer, rank);
  const auto k = static_cast<int32_t>(layer.attrs.getInt("nb_elementwise_dims", 0));
  if (axis < 0 || axis >= rank || k < 0 || k > axis || k > indices.dims.nbDims) {
    return invalidArgument("gather axis " + std::to_string(axis) + " / nbElementWiseDims " + std::to_string(k) +
                           " do not fit data " + dimsToString(data.dims) + " and indices " + dimsToString(indices.dims));
  }
  if (out.count() == 0) return Status::ok();
  const int64_t elemSize = dataTypeSize(data.type);
  const int64_t n = data.dims.d[axis];
  const int64_t p = extentProduct(data.dims, k, axis);
  const int64_t q = extentProduct(data.dims, axis + 1, rank);
  const int64_t nbIdx = extentProduct(indices.dims, k, indices.dims.nbDims);
  if (nbIdx == 0 || p == 0 || q == 0) return Status::ok();
  const int64_t unit = rowUnit(q * elemSize, data.data, out.data);
  const int64_t qUnits = q * elemSize / unit;
  const int64_t total = out.count() * elemSize / unit;
  const bool idx64 = indices.type == DataType::kINT64;
  return dispatchUnit(unit, [&](auto tag) {
    using U = decltype(tag);
    U* dst = static_cast<U*>(out.data);
    const U* src = static_cast<const U*>(data.data);
    if (total < (int64_t{1} << 31)) {
      gatherDefaultKernel<U, uint32_t><<<gridFor(total), kBLOCK, 0, streamOf(io)>>>(dst, src, indices.data, idx64, p, n,
                                                                                   qUnits, nbIdx, total);
    } else {
      gatherDefaultKernel<U, int64_t><<<gridFor(total), kBLOCK, 0, streamOf(io)>>>(dst, src, indices.data, idx64, p, n,
                                                                                  qUnits, nbIdx, total);
    }
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  });
}

Status gatherElement(const LayerParams& layer, KernelIO& io) {
  const TensorView& data = io.inputs[0];
  const TensorView& indices = io.inputs[1];
  TensorView& out = io.outputs[0];
  const int32_t rank = data.dims.nbDims;
  const int32_t axis = storedAxis(layer, rank);
  if (axis < 0 || axis >= rank || indices.dims.nbDims != rank || out.dims != indices.dims) {
    return invalidArgument("element gather of data " + dimsToString(data.dims) + " by indices " +
                           dimsToString(indices.dims) + " on axis " + std::to_string(axis) + " is malformed");
  }
  if (out.count() == 0) return Status::ok();
  const int64_t total = out.count();
  const bool idx64 = indices.type == DataType::kINT64;
  const Shape8 outShape = toShape8(out.dims);
  const Shape8 dataStrides = contiguousStrides(data.dims);
  return dispatchUnit(dataTypeSize(data.type), [&](auto tag) {
    using E = decltype(tag);
    gatherElementKernel<E><<<gridFor(total), kBLOCK, 0, streamOf(io)>>>(
        static_cast<E*>(out.data), static_cast<const E*>(data.data), indices.data, idx64, outShape, dataStrides, axis,
        data.dims.d[axis], total);
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  });
}

Status gatherNd(const LayerParams& layer, KernelIO& io) {
  const TensorView& data = io.inputs[0];
  const TensorView& indices = io.inputs[1];
  TensorView& out = io.outputs[0];
  const auto b = static_cast<int32_t>(layer.attrs.getInt("nb_elementwise_dims", 0));
  const int32_t r = data.dims.nbDims, q = indices.dims.nbDims;
  if (q < 1 || b < 0 || b >= q || b > r) {
    return invalidArgument("ND gather of data " + dimsToString(data.dims) + " by indices " +
                           dimsToString(indices.dims) + " with " + std::to_string(b) + " batch dims is malformed");
  }
  const int64_t m64 = indices.dims.d[q - 1];
  if (m64 < 0 || b + m64 > r) {
    return invalidArgument("ND gather indices " + dimsToString(indices.dims) + " address more dims than data " +
                           dimsToString(data.dims) + " has");
  }
  const auto m = static_cast<int32_t>(m64);
  if (out.count() == 0) return Status::ok();
  const int64_t elemSize = dataTypeSize(data.type);
  const int64_t slice = extentProduct(data.dims, b + m, r);
  const int64_t tuples = extentProduct(indices.dims, b, q - 1);
  if (tuples == 0 || slice == 0) return Status::ok();
  const int64_t unit = rowUnit(slice * elemSize, data.data, out.data);
  // Every extent converted below is a multiple of the slice, so it is a whole number of units.
  auto toUnits = [&](int64_t elements) { return elements * elemSize / unit; };
  NdCoords coords;
  coords.m = m;
  for (int32_t j = 0; j < m; ++j) {
    coords.extent[j] = data.dims.d[b + j];
    coords.stride[j] = toUnits(extentProduct(data.dims, b + j + 1, r));
  }
  const int64_t total = toUnits(out.count());
  const bool idx64 = indices.type == DataType::kINT64;
  return dispatchUnit(unit, [&](auto tag) {
    using U = decltype(tag);
    gatherNdKernel<U><<<gridFor(total), kBLOCK, 0, streamOf(io)>>>(
        static_cast<U*>(out.data), static_cast<const U*>(data.data), indices.data, idx64, coords, toUnits(slice),
        toUnits(extentProduct(data.dims, b, r)), tuples, total);
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  });
}

Status runGather(const LayerParams& layer, KernelIO& io) {
  const TensorView& indices = io.inputs[1];
  if (indices.type != DataType::kINT32 && indices.type != DataType::kINT64) {
    return invalidArgument(std::string("gather indices must be int32 or int64, got ") + dataTypeName(indices.type));
  }
  const int64_t mode = layer.attrs.getInt("mode", 0);
  switch (static_cast<GatherMode>(mode)) {
    case GatherMode::kDEFAULT:
      return gatherDefault(layer, io);
    case GatherMode::kELEMENT:
      return gatherElement(layer, io);
    case GatherMode::kND:
      return gatherNd(layer, io);
  }
  return invalidArgument("unknown gather mode " + std::to_string(mode));
}

}  // namespace

void registerGatherDataMovementCudaKernels(CudaKernelTable& table) {
  table.add(LayerType::kGATHER, {"cuda_gather", runGather, nullptr, nullptr, {}});
}

}  // namespace cuda
}  // namespace kiln
