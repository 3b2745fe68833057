#include "engine/backends/cpu/channels_last_staging.h"

#include <cstring>
#include <string>
#include <vector>

#include "engine/backends/cpu/cpu_util.h"
#include "engine/channels_last.h"

namespace kiln {
namespace {

bool isChannelsLast(const LayerParams& layer) { return layer.attrs.getInt("channels_last", 0) == 1; }

// dst = src with its dims reordered: dst dim i is src dim perm[i]. Element-size generic (any dtype).
void transpose4(const void* src, const Dims& srcDims, const int32_t (&perm)[4], void* dst, int64_t elementSize) {
  int64_t srcStride[4];
  srcStride[3] = 1;
  for (int32_t i = 2; i >= 0; --i) srcStride[i] = srcStride[i + 1] * srcDims.d[i + 1];
  int64_t ext[4], stride[4];
  for (int32_t i = 0; i < 4; ++i) {
    ext[i] = srcDims.d[perm[i]];
    stride[i] = srcStride[perm[i]];
  }
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  const auto size = static_cast<size_t>(elementSize);
  // One task per (dst dim 0, dim 1) row block; the inner two dims are walked in dst order.
  cpu::parallelFor(ext[0] * ext[1], 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t i0 = row / ext[1], i1 = row % ext[1];
      int64_t out = row * ext[2] * ext[3];
      for (int64_t i2 = 0; i2 < ext[2]; ++i2) {
        const int64_t base = i0 * stride[0] + i1 * stride[1] + i2 * stride[2];
        for (int64_t i3 = 0; i3 < ext[3]; ++i3, ++out) {
          std::memcpy(d + static_cast<size_t>(out) * size, s + static_cast<size_t>(base + i3 * stride[3]) * size, size);
        }
      }
    }
  });
}

constexpr int32_t kLastToFirst[4] = {0, 3, 1, 2};
constexpr int32_t kFirstToLast[4] = {0, 2, 3, 1};

}  // namespace

KernelIO channelsFirstShapes(const LayerParams& layer, const KernelIO& io) {
  KernelIO shapes = io;
  if (!isChannelsLast(layer)) return shapes;
  for (size_t i : {size_t{0}, size_t{3}}) {
    if (i < shapes.inputs.size()) shapes.inputs[i].dims = channelsLastToFirst(shapes.inputs[i].dims);
  }
  if (!shapes.outputs.empty()) shapes.outputs[0].dims = channelsLastToFirst(shapes.outputs[0].dims);
  return shapes;
}

Status runInChannelsFirst(const LayerParams& layer, KernelIO& io, CpuKernelFn nchwKernel) {
  if (!isChannelsLast(layer)) return nchwKernel(layer, io);
  if (io.inputs.empty() || io.outputs.empty() || io.inputs[0].dims.nbDims != 4 || io.outputs[0].dims.nbDims != 4) {
    return invalidArgument("layer '" + layer.name + "': channels_last needs rank-4 [N, H, W, C] input and output");
  }
  KernelIO staged = channelsFirstShapes(layer, io);
  std::vector<std::vector<uint8_t>> buffers;
  buffers.reserve(3);
  for (size_t i : {size_t{0}, size_t{3}}) {
    if (i >= io.inputs.size() || io.inputs[i].data == nullptr) continue;
    const TensorView& in = io.inputs[i];
    if (in.dims.nbDims != 4)
      return invalidArgument("layer '" + layer.name + "': channels_last input " + std::to_string(i) +
                             " must have rank 4");
    buffers.emplace_back(static_cast<size_t>(in.bytes()));
    transpose4(in.data, in.dims, kLastToFirst, buffers.back().data(), dataTypeSize(in.type));
    staged.inputs[i].data = buffers.back().data();
  }
  buffers.emplace_back(static_cast<size_t>(io.outputs[0].bytes()));
  staged.outputs[0].data = buffers.back().data();
  KILN_RETURN_IF_ERROR(nchwKernel(layer, staged));
  transpose4(staged.outputs[0].data, staged.outputs[0].dims, kFirstToLast, io.outputs[0].data,
             dataTypeSize(io.outputs[0].type));
  return Status::ok();
}

}  // namespace kiln
