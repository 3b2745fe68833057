// CUDA convolution and deconvolution on cuDNN's legacy convolution API (forward for convolution, backward data
// for deconvolution).
//
// Tactics: "cuda_conv_cudnn" / "cuda_deconv_cudnn" take cuDNN's heuristic ranking (the first algorithm that fits
// the workspace) and run every shape, so they come first; "..._cudnn_<algo>" pin one algorithm each for the
// builder to time (one unsupported for the shape fails with a clear Status and is skipped); "cuda_conv_cudnn_nhwc"
// runs float16/bfloat16 2-D convolutions in NHWC with transposes on either side. None of these runs a
// `channels_last` layer (they refuse it); the graph-API tactics (convolution_graph.h), registered after them, do.
//
// cuDNN pads symmetrically. Where the layer's pre padding with cuDNN's floor rule does not give the output extent
// (asymmetric, SAME, round-up or negative padding), the input is copied zero-padded into the workspace
// (convolution) or the full output is computed there and cropped (deconvolution). Bias, a fused residual and a
// fused ReLU ("fused_activation", "fused_residual" from the builder's fusion pass) are one epilogue pass.
// Float32 runs without TF32 unless the layer's "allow_tf32" is 1; float16/bfloat16 use tensor cores with float32
// accumulation.
#include <algorithm>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/backends/cuda/convolution_cudnn.h"
#include "engine/backends/cuda/convolution_geometry.h"
#include "engine/backends/cuda/convolution_graph.h"
#include "engine/backends/cuda/convolution_kernels.h"
#include "engine/backends/cuda/cuda_kernels.h"
#include "util/half.h"

namespace kiln {
namespace {

using cuda::ConvEpilogue;
using cuda::ConvExtent3;
using cuda::ConvGeometry;
using cuda::ConvPlan;

constexpr int kHEURISTIC = -1;

struct Options {
  bool deconv = false;
  int algo = kHEURISTIC;
  bool nhwc = false;
};

class CudnnConvolution final : public Kernel {
 public:
  CudnnConvolution(const LayerInfo& layer, const Graph& graph, Options options)
      : params_(layer.params), options_(options) {
    type_ = graph.tensors[static_cast<size_t>(layer.inputs[0])].type;
    kernelFromInput_ = layer.inputs.size() > 1 && layer.inputs[1] >= 0;
    const int64_t act = params_.attrs.getInt("fused_activation", -1);
    relu_ = act == static_cast<int64_t>(ActivationType::kRELU);
    residual_ = params_.attrs.getInt("fused_residual", 0) == 1;
  }

  Status init(const LayerInfo& layer, const Graph& graph);
  Status execute(KernelIO& io) const override;
  int64_t workspaceSize(const KernelIO& io) const override;

 private:
  std::string where() const { return params_.name; }
  StatusOr<std::shared_ptr<const ConvPlan>> planFor(const Dims& x, const Dims& y, DataType weightType) const;
  Status checkParams(const KernelIO& io, const ConvGeometry& g) const;

  LayerParams params_;
  Options options_;
  DataType type_ = DataType::kFLOAT;
  bool kernelFromInput_ = false;
  bool relu_ = false, residual_ = false;
  cuda::DeviceBuffer weights_;  // the layer's kernel Weights in type_ (KRSC for the NHWC tactic)
  int64_t weightCount_ = 0;
  cuda::DeviceBuffer bias_;  // the layer's bias Weights as float32
  int64_t biasCount_ = 0;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<const ConvPlan>> plans_;
};

// Host conversion of a weights blob to float32.
std::vector<float> blobToFloats(const WeightsBlob& blob) {
  std::vector<float> out(static_cast<size_t>(blob.count));
  const auto* bytes = static_cast<const uint8_t*>(blob.data());
  for (int64_t i = 0; i < blob.count; ++i) {
    uint16_t h = 0;
    switch (blob.type) {
      case DataType::kHALF:
        std::memcpy(&h, bytes + 2 * i, 2);
        out[static_cast<size_t>(i)] = halfToFloat(h);
        break;
      case DataType::kBF16:
        std::memcpy(&h, bytes + 2 * i, 2);
        out[static_cast<size_t>(i)] = bf16ToFloat(h);
        break;
      default:
        std::memcpy(&out[static_cast<size_t>(i)], bytes + 4 * i, 4);
        break;
    }
  }
  return out;
}

std::vector<uint8_t> floatsToType(const std::vector<float>& values, DataType type) {
  const size_t size = static_cast<size_t>(dataTypeSize(type));
  std::vector<uint8_t> out(values.size() * size);
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

bool isStatic(const Dims& dims) {
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < 0) return false;
  }
  return true;
}

Status CudnnConvolution::init(const LayerInfo& layer, const Graph& graph) {
  if (!isFloatType(type_)) {
    return invalidArgument("convolution '" + where() + "': input must be float32, float16 or bfloat16");
  }
  const WeightsBlob* kernel = params_.attrs.getWeights("kernel");
  if (!kernelFromInput_ && kernel != nullptr && kernel->count > 0) {
    if (!isFloatType(kernel->type) || kernel->byteSize() < kernel->count * dataTypeSize(kernel->type)) {
      return invalidArgument("convolution '" + where() + "': corrupt kernel weights");
    }
    std::vector<float> values = blobToFloats(*kernel);
    if (options_.nhwc) {
      // [K, C/g, R, S] -> [K, R, S, C/g]: cuDNN's NHWC filter layout.
      const Dims ks = params_.attrs.getDims("kernel_size");
      const int64_t outMaps = params_.attrs.getInt("nb_output_maps", 0);
      const int64_t taps = ks.nbDims == 2 ? ks.d[0] * ks.d[1] : 0;
      if (outMaps < 1 || taps < 1 || kernel->count % (outMaps * taps) != 0) {
        return invalidArgument("convolution '" + where() + "': kernel weights do not fit the kernel size");
      }
      const int64_t cg = kernel->count / (outMaps * taps);
      std::vector<float> transposed(values.size());
      for (int64_t k = 0; k < outMaps; ++k)
        for (int64_t c = 0; c < cg; ++c)
          for (int64_t t = 0; t < taps; ++t)
            transposed[static_cast<size_t>((k * taps + t) * cg + c)] =
                values[static_cast<size_t>((k * cg + c) * taps + t)];
      values.swap(transposed);
    }
    const std::vector<uint8_t> bytes = floatsToType(values, type_);
    KILN_RETURN_IF_ERROR(weights_.upload(bytes.data(), static_cast<int64_t>(bytes.size()), where()));
    weightCount_ = kernel->count;
  }
  const bool biasFromInput = layer.inputs.size() > 2 && layer.inputs[2] >= 0;
  const WeightsBlob* bias = params_.attrs.getWeights("bias");
  if (!biasFromInput && bias != nullptr && bias->count > 0) {
    if (!isFloatType(bias->type) || bias->byteSize() < bias->count * dataTypeSize(bias->type)) {
      return invalidArgument("convolution '" + where() + "': corrupt bias weights");
    }
    const std::vector<float> values = blobToFloats(*bias);
    KILN_RETURN_IF_ERROR(bias_.upload(values.data(), static_cast<int64_t>(values.size() * sizeof(float)), where()));
    biasCount_ = bias->count;
  }
  // With static shapes an algorithm cuDNN does not support is refused now, so the builder skips the tactic.
  const Dims& x = graph.tensors[static_cast<size_t>(layer.inputs[0])].dims;
  const Dims& y = graph.tensors[static_cast<size_t>(layer.outputs[0])].dims;
  if (isStatic(x) && isStatic(y) && volume(y) > 0 && volume(x) > 0) {
    DataType weightType = type_;
    if (kernelFromInput_) weightType = graph.tensors[static_cast<size_t>(layer.inputs[1])].type;
    KILN_ASSIGN_OR_RETURN(std::shared_ptr<const ConvPlan> plan, planFor(x, y, weightType));
    if (plan->algos.empty()) return unimplemented(plan->unsupported);
  }
  return Status::ok();
}

StatusOr<std::shared_ptr<const ConvPlan>> CudnnConvolution::planFor(const Dims& x, const Dims& y,
                                                                    DataType weightType) const {
  std::string key = std::to_string(static_cast<int>(weightType));
  for (int32_t i = 0; i < x.nbDims; ++i) key += "," + std::to_string(x.d[i]);
  key += ";";
  for (int32_t i = 0; i < y.nbDims; ++i) key += "," + std::to_string(y.d[i]);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
  }
  KILN_ASSIGN_OR_RETURN(cudnnHandle_t handle, cuda::threadCudnnHandle());
  cuda::PlanRequest request;
  request.deconv = options_.deconv;
  request.nhwc = options_.nhwc;
  request.algo = options_.algo;
  request.type = type_;
  request.weightType = weightType;
  request.kernelFromInput = kernelFromInput_;
  request.allowTf32 = params_.attrs.getInt("allow_tf32", 0) == 1;
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<const ConvPlan> plan, cuda::makeConvPlan(handle, params_, x, y, request));
  std::lock_guard<std::mutex> lock(mutex_);
  plans_.emplace(key, plan);
  return plan;
}

DataType weightTypeOf(const KernelIO& io, DataType fallback) {
  return io.inputs.size() > 1 && io.inputs[1].data != nullptr ? io.inputs[1].type : fallback;
}

int64_t CudnnConvolution::workspaceSize(const KernelIO& io) const {
  if (io.inputs.empty() || io.outputs.empty() || io.outputs[0].count() <= 0 || io.inputs[0].count() <= 0) return 0;
  StatusOr<std::shared_ptr<const ConvPlan>> plan =
      planFor(io.inputs[0].dims, io.outputs[0].dims, weightTypeOf(io, type_));
  if (!plan.isOk()) return 0;  // execute reports the problem
  const ConvPlan& p = *plan.value();
  return p.cudnnOffset + (p.algos.empty() ? 0 : static_cast<int64_t>(p.algos.front().second));
}

Status CudnnConvolution::checkParams(const KernelIO& io, const ConvGeometry& g) const {
  const std::string name = "convolution '" + where() + "'";
  const int64_t rows = options_.deconv ? g.inChannels * (g.outMaps / g.groups) : g.outMaps * (g.inChannels / g.groups);
  const int64_t expected = rows * g.kernelVolume();
  const bool fromInput = io.inputs.size() > 1 && io.inputs[1].data != nullptr;
  const int64_t count = fromInput ? io.inputs[1].count() : weightCount_;
  if (!fromInput && weights_.get() == nullptr && expected > 0) {
    return invalidArgument(name + " has no kernel weights: pass them to the add call or set input 1 to a tensor");
  }
  const bool haveWeights = fromInput || weights_.get() != nullptr;
  if ((haveWeights && count != expected) || (fromInput && !isFloatType(io.inputs[1].type))) {
    return invalidArgument(name + ": kernel holds " + std::to_string(count) + " values, expected " +
                           std::to_string(expected));
  }
  if (io.inputs.size() > 2 && io.inputs[2].data != nullptr) {
    if (io.inputs[2].count() != g.outMaps || !isFloatType(io.inputs[2].type)) {
      return invalidArgument(name + ": bias holds " + std::to_string(io.inputs[2].count()) + " values, expected " +
                             std::to_string(g.outMaps));
    }
  } else if (bias_.get() != nullptr && biasCount_ != g.outMaps) {
    return invalidArgument(name + ": bias holds " + std::to_string(biasCount_) + " values, expected " +
                           std::to_string(g.outMaps));
  }
  if (residual_) {
    const bool ok = io.inputs.size() > 3 && io.inputs[3].data != nullptr && io.inputs[3].type == io.outputs[0].type &&
                    io.inputs[3].dims == io.outputs[0].dims;
    if (!ok) return invalidArgument(name + ": the fused residual (input 3) must match the output's shape and type");
  }
  return Status::ok();
}

Status CudnnConvolution::execute(KernelIO& io) const {
  if (io.inputs.empty() || io.outputs.empty()) return internalError("convolution '" + where() + "' has no I/O");
  TensorView& y = io.outputs[0];
  const TensorView& x = io.inputs[0];
  if (x.type != type_ || y.type != type_) {
    return invalidArgument("convolution '" + where() + "': tensor types differ from the ones it was built for");
  }
  ConvGeometry g;
  KILN_RETURN_IF_ERROR(cuda::readConvGeometry(params_, x.dims, y.dims, options_.deconv, g));
  KILN_RETURN_IF_ERROR(checkParams(io, g));
  if (y.count() == 0) return Status::ok();
  const cudaStream_t stream = static_cast<cudaStream_t>(io.stream);
  ConvEpilogue epilogue;
  if (io.inputs.size() > 2 && io.inputs[2].data != nullptr) {
    epilogue.bias = io.inputs[2].data;
    epilogue.biasType = io.inputs[2].type;
  } else if (bias_.get() != nullptr) {
    epilogue.bias = bias_.get();
  }
  if (residual_) epilogue.residual = io.inputs[3].data;
  epilogue.relu = relu_;
  const int64_t zeroShift[3] = {0, 0, 0};
  const ConvExtent3 outExt = g.out;
  if (x.count() == 0) {
    // Nothing to convolve (no channels or an empty padded input): the output is the epilogue of zeros.
    KILN_CUDA_CHECK(cudaMemsetAsync(y.data, 0, static_cast<size_t>(y.bytes()), stream));
    return cuda::launchConvWindow(y.data, y.data, type_, g.batch * g.outMaps, g.outMaps, outExt, outExt, zeroShift,
                                  epilogue, stream);
  }
  const bool weightsFromInput = io.inputs.size() > 1 && io.inputs[1].data != nullptr;
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<const ConvPlan> planPtr, planFor(x.dims, y.dims, weightTypeOf(io, type_)));
  const ConvPlan& plan = *planPtr;
  if (plan.algos.empty()) return unimplemented(plan.unsupported);
  if (io.workspaceSize < plan.cudnnOffset || (plan.cudnnOffset > 0 && io.workspace == nullptr)) {
    return resourceExhausted("convolution '" + where() + "' needs " + std::to_string(plan.cudnnOffset) +
                             " bytes of workspace, got " + std::to_string(io.workspaceSize));
  }
  auto* ws = static_cast<uint8_t*>(io.workspace);
  const size_t cudnnBytes = static_cast<size_t>(io.workspaceSize - plan.cudnnOffset);
  const std::pair<int, size_t>* algo = nullptr;
  for (const auto& candidate : plan.algos) {
    if (candidate.second <= cudnnBytes) {
      algo = &candidate;
      break;
    }
  }
  if (algo == nullptr) {
    return resourceExhausted("convolution '" + where() + "': no cuDNN algorithm fits the " +
                             std::to_string(cudnnBytes) + " bytes of workspace left");
  }

  // Weights in the activation type (and layout).
  const void* w = weights_.get();
  if (weightsFromInput) {
    w = io.inputs[1].data;
    if (plan.convertedWeightsOffset >= 0) {
      KILN_RETURN_IF_ERROR(cuda::launchConvertFloats(w, io.inputs[1].type, ws + plan.convertedWeightsOffset, type_,
                                                     io.inputs[1].count(), stream));
      w = ws + plan.convertedWeightsOffset;
    }
    if (plan.transposedWeightsOffset >= 0) {
      ConvExtent3 taps;
      taps.d[1] = g.kernel.d[1];
      taps.d[2] = g.kernel.d[2];
      KILN_RETURN_IF_ERROR(cuda::launchNchwToNhwc(w, ws + plan.transposedWeightsOffset, type_, g.outMaps,
                                                  g.inChannels / g.groups, taps, taps, zeroShift, stream));
      w = ws + plan.transposedWeightsOffset;
    }
  }

  KILN_ASSIGN_OR_RETURN(cudnnHandle_t handle, cuda::threadCudnnHandle());
  KILN_CUDNN_CHECK(cudnnSetStream(handle, stream), where());
  void* cudnnWs = algo->second > 0 ? ws + plan.cudnnOffset : nullptr;
  const float one = 1.f, zero = 0.f;

  if (!options_.deconv) {
    const void* input = x.data;
    if (plan.inputOffset >= 0) {
      void* staged = ws + plan.inputOffset;
      if (options_.nhwc) {
        KILN_RETURN_IF_ERROR(cuda::launchNchwToNhwc(x.data, staged, type_, g.batch, g.inChannels, g.in, plan.cudnnIn,
                                                    plan.inShift, stream));
      } else {
        KILN_RETURN_IF_ERROR(cuda::launchConvWindow(x.data, staged, type_, g.batch * g.inChannels, g.inChannels, g.in,
                                                    plan.cudnnIn, plan.inShift, ConvEpilogue{}, stream));
      }
      input = staged;
    }
    void* output = plan.outputOffset >= 0 ? static_cast<void*>(ws + plan.outputOffset) : y.data;
    KILN_CUDNN_CHECK(cudnnConvolutionForward(handle, &one, plan.xDesc.desc, input, plan.wDesc.desc, w,
                                             plan.convDesc.desc, static_cast<cudnnConvolutionFwdAlgo_t>(algo->first),
                                             cudnnWs, algo->second, &zero, plan.yDesc.desc, output),
                     where());
    if (options_.nhwc) {
      return cuda::launchNhwcToNchw(output, y.data, type_, g.batch, g.outMaps, outExt.volume(), epilogue, stream);
    }
    return cuda::launchConvWindow(y.data, y.data, type_, g.batch * g.outMaps, g.outMaps, outExt, outExt, zeroShift,
                                  epilogue, stream);
  }

  // Deconvolution: cuDNN's backward data of the convolution that maps the output back to the input.
  void* full = plan.outputOffset >= 0 ? static_cast<void*>(ws + plan.outputOffset) : y.data;
  KILN_CUDNN_CHECK(
      cudnnConvolutionBackwardData(handle, &one, plan.wDesc.desc, w, plan.xDesc.desc, x.data, plan.convDesc.desc,
                                   static_cast<cudnnConvolutionBwdDataAlgo_t>(algo->first), cudnnWs, algo->second,
                                   &zero, plan.yDesc.desc, full),
      where());
  return cuda::launchConvWindow(full, y.data, type_, g.batch * g.outMaps, g.outMaps, plan.cudnnOut, outExt,
                                plan.outShift, epilogue, stream);
}

CudaKernelFactory factoryFor(Options options) {
  return [options](const LayerInfo& layer, const Graph& graph) -> StatusOr<std::unique_ptr<Kernel>> {
    if (layer.inputs.empty() || layer.inputs[0] < 0 || layer.outputs.empty()) {
      return internalError("convolution '" + layer.params.name + "' has no I/O");
    }
    auto kernel = std::make_unique<CudnnConvolution>(layer, graph, options);
    KILN_RETURN_IF_ERROR(kernel->init(layer, graph));
    return std::unique_ptr<Kernel>(std::move(kernel));
  };
}

// The legacy descriptors here are NCHW throughout: channels_last layers are left to the graph tactics.
bool supportsNchwLayer(const LayerInfo& layer, const Graph& graph) {
  return layer.params.attrs.getInt("channels_last", 0) == 0;
}

bool supportsNhwc(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.empty() || layer.inputs[0] < 0 || !supportsNchwLayer(layer, graph)) return false;
  const DataType type = graph.tensors[static_cast<size_t>(layer.inputs[0])].type;
  return (type == DataType::kHALF || type == DataType::kBF16) && layer.params.attrs.getDims("kernel_size").nbDims == 2;
}

void addTactic(CudaKernelTable& table, LayerType type, const std::string& name, Options options,
               CudaSupportsFn supports = supportsNchwLayer) {
  CudaTactic tactic;
  tactic.name = name;
  tactic.supports = supports;
  tactic.factory = factoryFor(options);
  table.add(type, std::move(tactic));
}

}  // namespace

void registerConvolutionCudaKernels(CudaKernelTable& table) {
  addTactic(table, LayerType::kCONVOLUTION, "cuda_conv_cudnn", Options{false, kHEURISTIC, false});
  const std::pair<const char*, cudnnConvolutionFwdAlgo_t> forward[] = {
      {"implicit_gemm", CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM},
      {"implicit_precomp_gemm", CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM},
      {"gemm", CUDNN_CONVOLUTION_FWD_ALGO_GEMM},
      {"fft", CUDNN_CONVOLUTION_FWD_ALGO_FFT},
      {"fft_tiling", CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING},
      {"winograd", CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD},
      {"winograd_nonfused", CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED},
  };
  for (const auto& [name, algo] : forward) {
    addTactic(table, LayerType::kCONVOLUTION, std::string("cuda_conv_cudnn_") + name,
              Options{false, static_cast<int>(algo), false});
  }
  addTactic(table, LayerType::kCONVOLUTION, "cuda_conv_cudnn_nhwc", Options{false, kHEURISTIC, true}, supportsNhwc);
  registerConvolutionGraphCudaKernels(table);  // after the legacy ones: "cuda_conv_cudnn" stays the default
  registerConvolutionDepthwiseCudaKernels(table);

  addTactic(table, LayerType::kDECONVOLUTION, "cuda_deconv_cudnn", Options{true, kHEURISTIC, false});
  const std::pair<const char*, cudnnConvolutionBwdDataAlgo_t> backward[] = {
      {"algo0", CUDNN_CONVOLUTION_BWD_DATA_ALGO_0},
      {"algo1", CUDNN_CONVOLUTION_BWD_DATA_ALGO_1},
      {"fft", CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT},
      {"fft_tiling", CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING},
      {"winograd", CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD},
      {"winograd_nonfused", CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED},
  };
  for (const auto& [name, algo] : backward) {
    addTactic(table, LayerType::kDECONVOLUTION, std::string("cuda_deconv_cudnn_") + name,
              Options{true, static_cast<int>(algo), false});
  }
}

}  // namespace kiln
