// Test harness for engine layers: build a network, compile it for the CPU backend (static or dynamic
// shapes), run it and compare with an independent reference computed in the test.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/host_tensor.h"
#include "kiln/kiln.h"

namespace kiln {
namespace testing {

// A tensor from doubles, converted to `type` (float16/bfloat16 rounding, integer truncation).
HostTensor makeTensor(DataType type, const Dims& dims, const std::vector<double>& values);
// Uniform random values in [lo, hi) (integers for integer types), deterministic for a seed.
HostTensor randomTensor(DataType type, const Dims& dims, uint64_t seed, double lo = -1.0, double hi = 1.0);
std::vector<double> toDoubles(const HostTensor& tensor);
// Element-wise: |a - e| <= atol + rtol * |e|, NaNs must match; reports the first mismatches with indices.
void expectClose(const HostTensor& actual, const HostTensor& expected, double atol = 1e-5, double rtol = 1e-5);
void expectEqual(const HostTensor& actual, const HostTensor& expected);  // exact, also checks dims and type
// Tolerances that suit a dtype when the reference is computed in double.
double defaultAtol(DataType type);

struct TestInput {
  std::string name;
  HostTensor value;
  // Bit i: dim i is declared -1 in the network; the profile then spans [value, 2*value] on that dim
  // unless minDims/maxDims are given.
  uint32_t dynamicMask = 0;
  Dims minDims{};  // nbDims == 0: derived as above
  Dims maxDims{};
};

struct RunOptions {
  bool stronglyTyped = true;
  std::vector<BuilderFlag> flags;
  bool roundTripPlan = true;  // serialize, deserialize and run the deserialized engine
};

// Defines the network: receives the created input tensors (in order); must mark outputs.
using NetworkFn = std::function<void(NetworkDefinition& net, const std::vector<ITensor*>& inputs)>;

struct RunResult {
  Status status;                              // first failure (network, build, run)
  std::map<std::string, HostTensor> outputs;  // by output tensor name
  std::vector<HostTensor> ordered;            // in network output order
};

// The backend layer tests build for: CPU, or CUDA when KILN_TEST_BACKEND=cuda (on a GPU machine).
BackendKind testBackend();

// A dynamic-shape build's output against the static build's: the same values up to the output type's rounding
// for float types (the two builds may time different algorithms), the same bytes otherwise.
void expectSameRun(const HostTensor& dyn, const HostTensor& fixed);

// Builds, serializes, deserializes and runs on testBackend() (inputs and outputs are copied to and from the
// device). Data-dependent outputs are fetched
// through an output allocator.
RunResult buildAndRun(const NetworkFn& define, const std::vector<TestInput>& inputs, const RunOptions& options = {});

// Convenience: runs with all dims static and, when `alsoDynamic`, again with every dim of every input
// declared -1 (profile pinned to the actual shapes; inputs with their own dynamicMask keep it); expects
// both to succeed with identical results and returns the static run's first output.
HostTensor runSingleOutput(const NetworkFn& define, const std::vector<TestInput>& inputs, bool alsoDynamic = true);

}  // namespace testing
}  // namespace kiln

namespace kiln {
namespace testing {

// A small network touching many layer kinds (convolution, pooling, shuffle, matmul, softmax, reduce, slice,
// concatenation, gather, shape arithmetic, constants) with a dynamic batch (profile 1..4, opt 2), serialized
// for the CPU. Input "image" float32 [-1,2,6,6], "ids" int32 [-1,3]; outputs "probs" and "picked".
std::vector<uint8_t> buildSamplePlan();

}  // namespace testing
}  // namespace kiln

namespace kiln {
namespace testing {

struct PlanRun {
  Status status;
  std::vector<HostTensor> outputs;
};
// Deserializes a plan and runs it with every input at its profile-0 opt shape, inputs filled with
// `fill(index)` converted to each input's type (zeros when null). Never crashes on a corrupt plan.
// Binds host buffers: for CPU plans only.
PlanRun runPlanBytes(const std::vector<uint8_t>& plan, double (*fill)(int64_t) = nullptr);

}  // namespace testing
}  // namespace kiln
