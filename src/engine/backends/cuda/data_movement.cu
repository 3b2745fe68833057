// Registration of the CUDA data-movement family: shuffle, slice, concatenation, padding, gather, scatter and
// non-zero. Each layer kind's kernels live in data_movement_<kind>.cu; their shared helpers in
// data_movement_util.cuh.
#include "engine/backends/cuda/data_movement_util.cuh"

namespace kiln {

void registerDataMovementCudaKernels(CudaKernelTable& table) {
  cuda::registerShuffleDataMovementCudaKernels(table);
  cuda::registerConcatenationDataMovementCudaKernels(table);
  cuda::registerSliceDataMovementCudaKernels(table);
  cuda::registerGatherDataMovementCudaKernels(table);
  cuda::registerScatterDataMovementCudaKernels(table);
  cuda::registerNonZeroDataMovementCudaKernels(table);
}

}  // namespace kiln
