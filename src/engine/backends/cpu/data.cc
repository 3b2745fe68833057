// CPU kernels of the data layers: constant, cast, identity, shape, fill.
#include <cstring>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"

namespace kiln {
namespace {

Status runConstant(const LayerParams& layer, KernelIO& io) {
  const WeightsBlob* weights = layer.attrs.getWeights("weights");
  TensorView& out = io.outputs[0];
  if (weights == nullptr || weights->byteSize() != out.bytes()) return internalError("constant weights do not match");
  if (out.bytes() > 0) std::memcpy(out.data, weights->data(), static_cast<size_t>(out.bytes()));
  return Status::ok();
}

Status runCast(const LayerParams&, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  cpu::convertBuffer(in.data, in.type, out.data, out.type, in.count());
  return Status::ok();
}

Status runIdentity(const LayerParams&, KernelIO& io) {
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  if (in.data != out.data && in.bytes() > 0) std::memcpy(out.data, in.data, static_cast<size_t>(in.bytes()));
  return Status::ok();
}

Status runShape(const LayerParams&, KernelIO& io) {
  const Dims& dims = io.inputs[0].dims;
  auto* dst = static_cast<int64_t*>(io.outputs[0].data);
  for (int32_t i = 0; i < dims.nbDims; ++i) dst[i] = dims.d[i];
  return Status::ok();
}

Status runFill(const LayerParams& layer, KernelIO& io) {
  TensorView& out = io.outputs[0];
  const auto op = static_cast<FillOperation>(layer.attrs.getInt("operation"));
  double alpha = layer.attrs.getFloat("alpha");
  if (io.inputs.size() > 1 && io.inputs[1].data != nullptr) {
    alpha = cpu::loadDouble(io.inputs[1].data, io.inputs[1].type, 0);
  }
  const int32_t rank = out.dims.nbDims;
  std::vector<double> betas(static_cast<size_t>(rank), 0.0);
  if (io.inputs.size() > 2 && io.inputs[2].data != nullptr) {
    for (int32_t d = 0; d < rank; ++d) betas[static_cast<size_t>(d)] = cpu::loadDouble(io.inputs[2].data, io.inputs[2].type, d);
  } else {
    const std::vector<double> attrBetas = layer.attrs.getFloats("beta");
    if (attrBetas.size() == static_cast<size_t>(rank)) {
      betas = attrBetas;
    } else if (!attrBetas.empty() && rank > 0) {
      betas.back() = attrBetas.front();
    }
  }
  cpu::parallelFor(out.count(), 1 << 14, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double value = alpha;
      if (op == FillOperation::kLINSPACE) {
        int64_t rest = i;
        for (int32_t d = rank - 1; d >= 0; --d) {
          value += betas[static_cast<size_t>(d)] * static_cast<double>(rest % out.dims.d[d]);
          rest /= out.dims.d[d];
        }
      }
      cpu::storeDouble(out.data, out.type, i, value);  // saturating for integer outputs
    }
  });
  return Status::ok();
}

}  // namespace

void registerDataCpuKernels(CpuKernelTable& table) {
  table.add(LayerType::kCONSTANT, {"cpu_constant", runConstant});
  table.add(LayerType::kCAST, {"cpu_cast", runCast});
  table.add(LayerType::kIDENTITY, {"cpu_identity", runIdentity});
  table.add(LayerType::kSHAPE, {"cpu_shape", runShape});
  table.add(LayerType::kFILL, {"cpu_fill", runFill});
}

}  // namespace kiln
