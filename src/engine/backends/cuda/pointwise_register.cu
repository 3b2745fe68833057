// Registers the pointwise CUDA family: activation, elementwise, unary, select, cast, identity, fill, shape
// and one-hot (cuda_kernels.h). Each layer kind gets one tactic whose kernels pick their own fast path at
// run time (flat 128-bit accesses for same-shape contiguous tensors, collapsed broadcast plans otherwise),
// so there is nothing for tactic timing to choose between. Kept apart so the per-family files stay
// independent of each other.
#include "engine/backends/cuda/pointwise_kernels.h"

namespace kiln {

void registerPointwiseCudaKernels(CudaKernelTable& table) {
  cuda::registerActivationCudaTactics(table);
  cuda::registerUnaryCudaTactics(table);
  cuda::registerElementWiseCudaTactics(table);
  cuda::registerDataCudaTactics(table);
  cuda::registerGenerateCudaTactics(table);
}

}  // namespace kiln
