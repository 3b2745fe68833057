// How the builder times one tactic candidate of a layer.
#pragma once

#include "engine/backend.h"
#include "kiln/status.h"

namespace kiln {

// The time one execution of `kernel` on `io` takes, in milliseconds, after one untimed warm-up execution.
//
// Where the backend records graphs (CUDA), the executions are recorded into one graph and timed on the device
// between two marks: engines replay their layers from graphs, so what a tactic costs there is device time,
// without the launch overhead and host synchronization that a host clock around one small kernel mostly
// measures (and that jitter by more than small layers' tactics differ). Elsewhere, or where a kernel cannot be
// recorded, a host clock times each execution with a synchronization after it. Either way the median of
// `repeats` measurements. An error means the candidate cannot run on `io`.
StatusOr<double> timeTacticMs(Backend& backend, const Kernel& kernel, KernelIO& io, int repeats);

}  // namespace kiln
