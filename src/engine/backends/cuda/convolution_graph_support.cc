// Helpers of the graph-API convolution tactics (see convolution_graph_support.h).
#include "engine/backends/cuda/convolution_graph_support.h"

#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "util/half.h"

namespace kiln {
namespace cuda {
namespace {

std::vector<float> blobAsFloats(const WeightsBlob& blob) {
  std::vector<float> out(static_cast<size_t>(blob.count));
  const auto* bytes = static_cast<const uint8_t*>(blob.data());
  for (int64_t i = 0; i < blob.count; ++i) {
    uint16_t h = 0;
    if (blob.type == DataType::kFLOAT) {
      std::memcpy(&out[static_cast<size_t>(i)], bytes + 4 * i, 4);
      continue;
    }
    std::memcpy(&h, bytes + 2 * i, 2);
    out[static_cast<size_t>(i)] = blob.type == DataType::kHALF ? halfToFloat(h) : bf16ToFloat(h);
  }
  return out;
}

std::vector<uint8_t> floatsAs(const std::vector<float>& values, DataType type) {
  std::vector<uint8_t> out(values.size() * static_cast<size_t>(dataTypeSize(type)));
  for (size_t i = 0; i < values.size(); ++i) {
    if (type == DataType::kFLOAT) {
      std::memcpy(out.data() + 4 * i, &values[i], 4);
    } else {
      const uint16_t h = type == DataType::kHALF ? floatToHalf(values[i]) : floatToBf16(values[i]);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

bool blobIsSound(const WeightsBlob& blob) {
  return isFloatType(blob.type) && blob.byteSize() >= blob.count * dataTypeSize(blob.type);
}

Dims asNchw(const Dims& d, bool channelsLast) {
  if (!channelsLast || d.nbDims != 4) return d;
  Dims out = d;
  out.d[1] = d.d[3];
  out.d[2] = d.d[1];
  out.d[3] = d.d[2];
  return out;
}

}  // namespace

StatusOr<SharedCudnnHandle*> sharedGraphCudnnHandle() {
  // Never destroyed: a handle destroyed during static destruction could outlive the CUDA runtime it uses.
  static std::mutex mutex;
  static std::map<int, SharedCudnnHandle*>* handles = new std::map<int, SharedCudnnHandle*>();
  int device = 0;
  const cudaError_t error = cudaGetDevice(&device);
  if (error != cudaSuccess) return internalError(std::string("cudaGetDevice failed: ") + cudaGetErrorString(error));
  std::lock_guard<std::mutex> lock(mutex);
  auto it = handles->find(device);
  if (it != handles->end()) return it->second;
  auto shared = std::make_unique<SharedCudnnHandle>();
  const cudnnStatus_t status = cudnnCreate(&shared->handle);
  if (status != CUDNN_STATUS_SUCCESS) {
    return internalError(std::string("cudnnCreate failed: ") + cudnnGetErrorString(status) +
                         " (is cuDNN 9 installed and a GPU visible?)");
  }
  SharedCudnnHandle* raw = shared.release();
  handles->emplace(device, raw);
  return raw;
}

bool isStaticDims(const Dims& dims) {
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < 0) return false;
  }
  return dims.nbDims >= 0;
}

Status readGraphConvGeometry(const LayerParams& layer, const Dims& x, const Dims& y, bool channelsLast,
                             ConvGeometry& g) {
  const std::string name = "convolution '" + layer.name + "'";
  if (x.nbDims != 4 || y.nbDims != 4) return unimplemented(name + ": the graph tactics run 2-D convolutions only");
  KILN_RETURN_IF_ERROR(readConvGeometry(layer, asNchw(x, channelsLast), asNchw(y, channelsLast), false, g));
  if (g.nbSpatial != 2) return unimplemented(name + ": the graph tactics run 2-D convolutions only");
  // An empty input never reaches cuDNN (the output is the epilogue of zeros), so any padding does.
  if (g.batch * g.inChannels * g.in.volume() == 0) return Status::ok();
  for (int j = 1; j < 3; ++j) {
    const int64_t effective = g.dilation[j] * (g.kernel.d[j] - 1) + 1;
    const int64_t span = g.in.d[j] + 2 * g.pre[j] - effective;
    if (g.pre[j] != g.post[j] || g.pre[j] < 0 || span < 0 || span / g.stride[j] + 1 != g.out.d[j]) {
      return unimplemented(name + ": padding that is not symmetric (or does not round down to the output extent) "
                                  "is left to the legacy cuDNN tactics");
    }
  }
  return Status::ok();
}

Status checkGraphConvOperands(const LayerParams& layer, const KernelIO& io, const ConvGeometry& g, bool ownWeights,
                              int64_t weightCount, bool ownBias, int64_t biasCount, bool residual) {
  const std::string name = "convolution '" + layer.name + "'";
  const int64_t expected = g.outMaps * (g.inChannels / g.groups) * g.kernelVolume();
  const bool fromInput = io.inputs.size() > 1 && io.inputs[1].data != nullptr;
  if (!fromInput && !ownWeights && expected > 0) {
    return invalidArgument(name + " has no kernel weights: pass them to the add call or set input 1 to a tensor");
  }
  const int64_t count = fromInput ? io.inputs[1].count() : weightCount;
  if ((fromInput || ownWeights) && count != expected) {
    return invalidArgument(name + ": kernel holds " + std::to_string(count) + " values, expected " +
                           std::to_string(expected));
  }
  if (fromInput && !isFloatType(io.inputs[1].type)) return invalidArgument(name + ": kernel must be a float tensor");
  if (io.inputs.size() > 2 && io.inputs[2].data != nullptr) {
    if (io.inputs[2].count() != g.outMaps || !isFloatType(io.inputs[2].type)) {
      return invalidArgument(name + ": bias holds " + std::to_string(io.inputs[2].count()) + " values, expected " +
                             std::to_string(g.outMaps) + " floats");
    }
  } else if (ownBias && biasCount != g.outMaps) {
    return invalidArgument(name + ": bias holds " + std::to_string(biasCount) + " values, expected " +
                           std::to_string(g.outMaps));
  }
  if (residual) {
    const bool ok = io.inputs.size() > 3 && io.inputs[3].data != nullptr && io.inputs[3].type == io.outputs[0].type &&
                    io.inputs[3].dims == io.outputs[0].dims;
    if (!ok) return invalidArgument(name + ": the fused residual (input 3) must match the output's shape and type");
  }
  return Status::ok();
}

Status uploadGraphConvWeights(const LayerParams& layer, DataType type, bool nhwc, DeviceBuffer& out, int64_t& count) {
  const WeightsBlob* kernel = layer.attrs.getWeights("kernel");
  count = 0;
  if (kernel == nullptr || kernel->count <= 0) return Status::ok();
  if (!blobIsSound(*kernel)) return invalidArgument("convolution '" + layer.name + "': corrupt kernel weights");
  std::vector<float> values = blobAsFloats(*kernel);
  if (nhwc) {
    const Dims ks = layer.attrs.getDims("kernel_size");
    const int64_t outMaps = layer.attrs.getInt("nb_output_maps", 0);
    const int64_t taps = ks.nbDims == 2 ? ks.d[0] * ks.d[1] : 0;
    if (outMaps < 1 || taps < 1 || kernel->count % (outMaps * taps) != 0) {
      return invalidArgument("convolution '" + layer.name + "': kernel weights do not fit the kernel size");
    }
    const int64_t cg = kernel->count / (outMaps * taps);
    std::vector<float> krsc(values.size());
    for (int64_t k = 0; k < outMaps; ++k) {
      for (int64_t c = 0; c < cg; ++c) {
        for (int64_t t = 0; t < taps; ++t) {
          krsc[static_cast<size_t>((k * taps + t) * cg + c)] = values[static_cast<size_t>((k * cg + c) * taps + t)];
        }
      }
    }
    values.swap(krsc);
  }
  const std::vector<uint8_t> bytes = floatsAs(values, type);
  KILN_RETURN_IF_ERROR(out.upload(bytes.data(), static_cast<int64_t>(bytes.size()), layer.name));
  count = kernel->count;
  return Status::ok();
}

Status uploadGraphConvBias(const LayerParams& layer, bool biasFromInput, DeviceBuffer& out, int64_t& count) {
  const WeightsBlob* bias = layer.attrs.getWeights("bias");
  count = 0;
  if (biasFromInput || bias == nullptr || bias->count <= 0) return Status::ok();
  if (!blobIsSound(*bias)) return invalidArgument("convolution '" + layer.name + "': corrupt bias weights");
  const std::vector<float> values = blobAsFloats(*bias);
  KILN_RETURN_IF_ERROR(out.upload(values.data(), static_cast<int64_t>(values.size() * sizeof(float)), layer.name));
  count = bias->count;
  return Status::ok();
}

bool graphConvSupports(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.empty() || layer.inputs[0] < 0 || layer.outputs.empty()) return false;
  const TensorInfo& x = graph.tensors[static_cast<size_t>(layer.inputs[0])];
  const TensorInfo& y = graph.tensors[static_cast<size_t>(layer.outputs[0])];
  const Attributes& attrs = layer.params.attrs;
  if (!isFloatType(x.type) || y.type != x.type || x.dims.nbDims != 4 || y.dims.nbDims != 4) return false;
  // Exact float32: on the GPU machine (H100, cuDNN 9.14) every engine cuDNN offers for a float32 graph
  // computes in TF32 or lower, so refuse now rather than fail when the kernel is made (the legacy tactics run
  // exact float32, in NCHW).
  if (x.type == DataType::kFLOAT && attrs.getInt("allow_tf32", 0) == 0) return false;
  if (attrs.getDims("kernel_size").nbDims != 2) return false;
  const int64_t act = attrs.getInt("fused_activation", -1);
  if (act != -1 && act != static_cast<int64_t>(ActivationType::kRELU)) return false;
  const int64_t channelsLast = attrs.getInt("channels_last", 0);
  if (channelsLast != 0 && channelsLast != 1) return false;
  if (layer.inputs.size() > 1 && layer.inputs[1] >= 0 &&
      !isFloatType(graph.tensors[static_cast<size_t>(layer.inputs[1])].type)) {
    return false;
  }
  if (isStaticDims(x.dims) && isStaticDims(y.dims)) {
    ConvGeometry g;
    return readGraphConvGeometry(layer.params, x.dims, y.dims, channelsLast == 1, g).isOk();
  }
  // Dynamic dims: only padding that stays symmetric whatever the extents.
  const Dims pre = attrs.getDims("pre_padding"), post = attrs.getDims("post_padding");
  if (attrs.getInt("padding_mode", 0) != static_cast<int64_t>(PaddingMode::kEXPLICIT_ROUND_DOWN)) return false;
  if (pre.nbDims != 2 || !(pre == post)) return false;
  return pre.d[0] >= 0 && pre.d[1] >= 0;
}

bool graphConvSupportsNhwcVariant(const LayerInfo& layer, const Graph& graph) {
  if (!graphConvSupports(layer, graph)) return false;
  const DataType type = graph.tensors[static_cast<size_t>(layer.inputs[0])].type;
  return (type == DataType::kHALF || type == DataType::kBF16) && layer.params.attrs.getInt("channels_last", 0) == 0;
}

}  // namespace cuda
}  // namespace kiln
