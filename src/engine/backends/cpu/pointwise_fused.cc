// CPU kernel of builder-fused pointwise chains: the program evaluated per output element in float32, inputs
// read through numpy broadcasting. It is the reference for the generated CUDA kernels.
#include <vector>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"
#include "engine/layer_kinds.h"
#include "engine/pointwise_program.h"

namespace kiln {
namespace {

constexpr int64_t kGRAIN = 1 << 12;

Status runFusedPointwise(const LayerParams& layer, KernelIO& io) {
  const auto nbInputs = static_cast<int32_t>(io.inputs.size());
  KILN_ASSIGN_OR_RETURN(PointwiseProgram program, loadPointwiseProgram(layer.attrs, nbInputs));
  if (io.outputs.size() != 1 || nbInputs > kMAX_POINTWISE_INPUTS) {
    return invalidArgument("a fused pointwise layer has 1 output and at most " + std::to_string(kMAX_POINTWISE_INPUTS) +
                           " inputs");
  }
  TensorView& out = io.outputs[0];
  std::vector<std::vector<int64_t>> strides(io.inputs.size());
  for (size_t k = 0; k < io.inputs.size(); ++k) {
    const TensorView& in = io.inputs[k];
    if (in.dims.nbDims > out.dims.nbDims) {
      return invalidArgument("input " + std::to_string(k) + " has a higher rank than the output");
    }
    strides[k] = cpu::broadcastStrides(in.dims, out.dims);
  }
  const int32_t rank = out.dims.nbDims;
  cpu::parallelFor(out.count(), kGRAIN, [&](int64_t begin, int64_t end) {
    std::vector<float> registers(program.code.size());
    float values[kMAX_POINTWISE_INPUTS];
    int64_t index[Dims::kMAX_DIMS] = {};
    int64_t offsets[kMAX_POINTWISE_INPUTS] = {};
    int64_t rest = begin;
    for (int32_t d = rank - 1; d >= 0; --d) {
      index[d] = rest % out.dims.d[d];
      rest /= out.dims.d[d];
      for (int32_t k = 0; k < nbInputs; ++k)
        offsets[k] += index[d] * strides[static_cast<size_t>(k)][static_cast<size_t>(d)];
    }
    for (int64_t i = begin; i < end; ++i) {
      for (int32_t k = 0; k < nbInputs; ++k) {
        values[k] =
            cpu::loadFloat(io.inputs[static_cast<size_t>(k)].data, io.inputs[static_cast<size_t>(k)].type, offsets[k]);
      }
      cpu::storeFloat(out.data, out.type, i, evaluatePointwise(program, values, registers.data()));
      // Odometer step: the innermost index advances, carrying outwards.
      for (int32_t d = rank - 1; d >= 0; --d) {
        ++index[d];
        for (int32_t k = 0; k < nbInputs; ++k) offsets[k] += strides[static_cast<size_t>(k)][static_cast<size_t>(d)];
        if (index[d] < out.dims.d[d]) break;
        for (int32_t k = 0; k < nbInputs; ++k)
          offsets[k] -= index[d] * strides[static_cast<size_t>(k)][static_cast<size_t>(d)];
        index[d] = 0;
      }
    }
  });
  return Status::ok();
}

}  // namespace

void registerPointwiseFusedCpuKernels(CpuKernelTable& table) {
  table.add(LayerType::kPOINTWISE, {"cpu_pointwise_fused", runFusedPointwise});
}

}  // namespace kiln
