// CUDA C++ source for a fused pointwise program, compiled at run time with NVRTC
// (pointwise_fused_nvrtc.cc). The source needs no headers: float16/bfloat16 conversions are written with PTX
// and bit operations, so it compiles wherever NVRTC runs, with no toolkit include directory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/layer_kinds.h"
#include "engine/pointwise_program.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {
namespace cuda {

// The kernels' single by-value argument; the generated source declares the same layout (pointers, then
// 64-bit integers, then 32-bit ones, so both compilers place every field identically).
struct PointwiseKernelArgs {
  const void* inputs[kMAX_POINTWISE_INPUTS];
  void* output;
  int64_t count;
  int64_t outDims[Dims::kMAX_DIMS];
  int64_t strides[kMAX_POINTWISE_INPUTS][Dims::kMAX_DIMS];  // element strides over the output's dims; 0 broadcasts
  int32_t rank;
  uint32_t singleElementMask;  // flat kernel: bit k set when input k has one element (read at offset 0)
};
static_assert(sizeof(PointwiseKernelArgs) ==
                  8 * (kMAX_POINTWISE_INPUTS + 2 + Dims::kMAX_DIMS * (1 + kMAX_POINTWISE_INPUTS)) + 8,
              "the generated KilnPointwiseArgs assumes this packing");

// Elements each thread handles in the generated kernels, and their block size.
constexpr int32_t kPOINTWISE_ELEMENTS_PER_THREAD = 4;
constexpr int32_t kPOINTWISE_BLOCK = 256;

struct PointwiseKernelSource {
  std::string source;
  // extern "C" names: every input either has the output's shape (same flat index) or one element.
  std::string flatKernel = "kiln_pointwise_flat";
  // Any numpy broadcast, offsets from the strides.
  std::string broadcastKernel = "kiln_pointwise_broadcast";
};

// Input types are baked into the source (one load expression per input).
StatusOr<PointwiseKernelSource> generatePointwiseSource(const PointwiseProgram& program,
                                                        const std::vector<DataType>& inputTypes);

// NVRTC output for one compute capability (90 = sm_90): a CUBIN when this NVRTC knows the architecture, else
// PTX for the newest virtual architecture it knows below it (the driver compiles that at load). Needs no GPU.
// Compile errors come back as a Status carrying NVRTC's log.
struct PointwiseBinary {
  std::string image;
  bool isCubin = false;
  std::string architecture;  // the --gpu-architecture value used
};
StatusOr<PointwiseBinary> compilePointwiseSource(const std::string& source, int32_t computeCapability);

}  // namespace cuda
}  // namespace kiln
