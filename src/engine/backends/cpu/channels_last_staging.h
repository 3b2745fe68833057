// The CPU reference for channels_last layers (see engine/channels_last.h): the NCHW kernel runs on
// transposed copies. Slow but obviously equal to the NCHW result, which is what a reference is for.
#pragma once

#include "engine/backends/cpu/cpu_kernels.h"

namespace kiln {

// channels_last=0: runs `nchwKernel` as is. =1: transposes input 0 (and a rank-4 input 3, the fused residual)
// to NCHW, runs the kernel into an NCHW buffer and transposes the result into output 0.
Status runInChannelsFirst(const LayerParams& layer, KernelIO& io, CpuKernelFn nchwKernel);

// The I/O shapes the NCHW kernel sees (for workspace queries; data pointers are kept).
KernelIO channelsFirstShapes(const LayerParams& layer, const KernelIO& io);

}  // namespace kiln
