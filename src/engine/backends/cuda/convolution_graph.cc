// Graph-API convolution kernel (see convolution_graph.h).
//
// Plans depend on the concrete dims and on whether the tensor addresses are 16-byte aligned, so they are cached
// per (dims, alignment) behind a mutex. With static shapes the factory builds the plan, and a tactic whose plan
// does not finalize fails there (the builder skips it). With dynamic shapes a new shape builds its plan on first
// use, in execute: the one time execute allocates host memory and compiles, like a library's lazy
// initialization; later calls with that shape only look the plan up. A plan index beyond the plans a new
// dynamic shape offers takes the last one that exists: same math, another engine.
#include "engine/backends/cuda/convolution_graph.h"

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/backends/cuda/convolution_cudnn.h"
#include "engine/backends/cuda/convolution_geometry.h"
#include "engine/backends/cuda/convolution_graph_descriptors.h"
#include "engine/backends/cuda/convolution_graph_support.h"
#include "engine/backends/cuda/convolution_kernels.h"

namespace kiln {
namespace {

using cuda::ConvGeometry;
using cuda::ConvGraphPlan;
using cuda::ConvGraphSpec;

int64_t alignUp(int64_t bytes) { return (bytes + 255) / 256 * 256; }

// One concrete shape: the plan and where its scratch lies in the workspace.
struct ShapePlan {
  ConvGeometry g;
  std::shared_ptr<const ConvGraphPlan> plan;
  bool graphResidual = false, graphRelu = false;  // epilogue steps inside the cuDNN graph
  int64_t convertedWeightsOffset = -1, transposedWeightsOffset = -1, biasOffset = -1;
  int64_t inputOffset = -1, outputOffset = -1;
  int64_t cudnnOffset = 0, totalBytes = 0;
};

class GraphConvolution final : public Kernel {
 public:
  GraphConvolution(const LayerInfo& layer, const Graph& graph, cuda::GraphConvOptions options)
      : params_(layer.params), options_(options) {
    type_ = graph.tensors[static_cast<size_t>(layer.inputs[0])].type;
    channelsLast_ = params_.attrs.getInt("channels_last", 0) == 1;
    nhwc_ = channelsLast_ || options_.nhwcVariant;
    kernelFromInput_ = layer.inputs.size() > 1 && layer.inputs[1] >= 0;
    biasFromInput_ = layer.inputs.size() > 2 && layer.inputs[2] >= 0;
    relu_ = params_.attrs.getInt("fused_activation", -1) == static_cast<int64_t>(ActivationType::kRELU);
    residual_ = params_.attrs.getInt("fused_residual", 0) == 1;
    allowTf32_ = params_.attrs.getInt("allow_tf32", 0) == 1;
  }

  Status init(const LayerInfo& layer, const Graph& graph);
  Status execute(KernelIO& io) const override;
  int64_t workspaceSize(const KernelIO& io) const override;

 private:
  const std::string& where() const { return params_.name; }
  // With I/O: whether this call has a bias; without (the factory): whether the layer declares one.
  bool hasBias(const KernelIO* io) const {
    if (bias_.get() != nullptr) return true;
    if (io == nullptr) return biasFromInput_;
    return io->inputs.size() > 2 && io->inputs[2].data != nullptr;
  }
  bool aligned(const KernelIO& io) const;
  StatusOr<std::shared_ptr<const ShapePlan>> planFor(const Dims& x, const Dims& y, bool bias, bool aligned16,
                                                     bool exactIndex) const;
  Status runEmptyInput(KernelIO& io, const ConvGeometry& g) const;

  LayerParams params_;
  cuda::GraphConvOptions options_;
  DataType type_ = DataType::kFLOAT;
  bool channelsLast_ = false, nhwc_ = false;
  bool kernelFromInput_ = false, biasFromInput_ = false;
  bool relu_ = false, residual_ = false, allowTf32_ = false;
  cuda::DeviceBuffer weights_;  // in type_, KRSC when nhwc_
  int64_t weightCount_ = 0;
  cuda::DeviceBuffer bias_;  // float32
  int64_t biasCount_ = 0;
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<const ShapePlan>> plans_;
};

Status GraphConvolution::init(const LayerInfo& layer, const Graph& graph) {
  KILN_RETURN_IF_ERROR(cuda::uploadGraphConvWeights(params_, type_, nhwc_, weights_, weightCount_));
  KILN_RETURN_IF_ERROR(cuda::uploadGraphConvBias(params_, biasFromInput_, bias_, biasCount_));
  const Dims& x = graph.tensors[static_cast<size_t>(layer.inputs[0])].dims;
  const Dims& y = graph.tensors[static_cast<size_t>(layer.outputs[0])].dims;
  if (cuda::isStaticDims(x) && cuda::isStaticDims(y) && volume(x) > 0 && volume(y) > 0) {
    // Device buffers the runtime hands out are at least 256-byte aligned.
    KILN_ASSIGN_OR_RETURN(std::shared_ptr<const ShapePlan> plan, planFor(x, y, hasBias(nullptr), true, true));
    (void)plan;
  }
  return Status::ok();
}

bool GraphConvolution::aligned(const KernelIO& io) const {
  auto ok = [](const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  bool all = ok(io.inputs[0].data) && ok(io.outputs[0].data);
  if (io.inputs.size() > 1) all = all && ok(io.inputs[1].data);
  if (io.inputs.size() > 2) all = all && ok(io.inputs[2].data);
  if (io.inputs.size() > 3) all = all && ok(io.inputs[3].data);
  return all;
}

StatusOr<std::shared_ptr<const ShapePlan>> GraphConvolution::planFor(const Dims& x, const Dims& y, bool bias,
                                                                     bool aligned16, bool exactIndex) const {
  std::string key = aligned16 ? "a" : "u";
  key += bias ? "b" : "-";
  for (int32_t i = 0; i < x.nbDims; ++i) key += "," + std::to_string(x.d[i]);
  key += ";";
  for (int32_t i = 0; i < y.nbDims; ++i) key += "," + std::to_string(y.d[i]);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
  }
  auto shape = std::make_shared<ShapePlan>();
  ConvGeometry& g = shape->g;
  KILN_RETURN_IF_ERROR(cuda::readGraphConvGeometry(params_, x, y, channelsLast_, g));
  // The NHWC variant adds the residual in its transpose back, so ReLU (which follows it) goes there too.
  const bool epilogueOutside = options_.nhwcVariant && residual_;
  shape->graphResidual = residual_ && !epilogueOutside;
  shape->graphRelu = relu_ && !epilogueOutside;

  ConvGraphSpec spec;
  spec.type = type_;
  spec.n = g.batch;
  spec.c = g.inChannels;
  spec.h = g.in.d[1];
  spec.w = g.in.d[2];
  spec.k = g.outMaps;
  spec.p = g.out.d[1];
  spec.q = g.out.d[2];
  spec.r = g.kernel.d[1];
  spec.s = g.kernel.d[2];
  spec.groups = g.groups;
  for (int i = 0; i < 2; ++i) {
    spec.pad[i] = g.pre[1 + i];
    spec.stride[i] = g.stride[1 + i];
    spec.dilation[i] = g.dilation[1 + i];
  }
  spec.nhwc = nhwc_;
  spec.bias = bias;
  spec.residual = shape->graphResidual;
  spec.relu = shape->graphRelu;
  spec.allowTf32 = allowTf32_;
  spec.alignment = aligned16 ? 16 : 2;

  std::vector<std::shared_ptr<const ConvGraphPlan>> plans;
  {
    KILN_ASSIGN_OR_RETURN(cuda::SharedCudnnHandle * shared, cuda::sharedGraphCudnnHandle());
    std::lock_guard<std::mutex> lock(shared->mutex);
    KILN_ASSIGN_OR_RETURN(plans, cuda::convGraphPlans(shared->handle, spec, where()));
  }
  if (static_cast<int>(plans.size()) <= options_.planIndex) {
    if (exactIndex) {
      return unimplemented("convolution '" + where() + "': cuDNN offers only " + std::to_string(plans.size()) +
                           " graph plan(s), this tactic takes plan " + std::to_string(options_.planIndex + 1));
    }
    shape->plan = plans.back();
  } else {
    shape->plan = plans[static_cast<size_t>(options_.planIndex)];
  }

  const int64_t element = dataTypeSize(type_);
  const int64_t weightBytes = g.outMaps * (g.inChannels / g.groups) * g.kernelVolume() * element;
  int64_t offset = alignUp(shape->plan->workspaceBytes);
  if (kernelFromInput_) {
    shape->convertedWeightsOffset = offset;
    offset = alignUp(offset + weightBytes);
    if (nhwc_) {
      shape->transposedWeightsOffset = offset;
      offset = alignUp(offset + weightBytes);
    }
  }
  if (biasFromInput_) {
    shape->biasOffset = offset;
    offset = alignUp(offset + g.outMaps * static_cast<int64_t>(sizeof(float)));
  }
  if (options_.nhwcVariant) {
    shape->inputOffset = offset;
    offset = alignUp(offset + g.batch * g.inChannels * g.in.volume() * element);
    shape->outputOffset = offset;
    offset = alignUp(offset + g.batch * g.outMaps * g.out.volume() * element);
  }
  shape->totalBytes = offset;
  std::lock_guard<std::mutex> lock(mutex_);
  auto inserted = plans_.emplace(key, std::shared_ptr<const ShapePlan>(std::move(shape)));
  return inserted.first->second;
}

int64_t GraphConvolution::workspaceSize(const KernelIO& io) const {
  if (io.inputs.empty() || io.outputs.empty() || io.inputs[0].count() <= 0 || io.outputs[0].count() <= 0) return 0;
  StatusOr<std::shared_ptr<const ShapePlan>> plan =
      planFor(io.inputs[0].dims, io.outputs[0].dims, hasBias(&io), aligned(io), false);
  return plan.isOk() ? plan.value()->totalBytes : 0;  // execute reports the problem
}

// No input values (no channels, or no spatial extent): every output is the epilogue applied to zero.
Status GraphConvolution::runEmptyInput(KernelIO& io, const ConvGeometry& g) const {
  TensorView& y = io.outputs[0];
  const cudaStream_t stream = static_cast<cudaStream_t>(io.stream);
  cuda::ConvEpilogue epilogue;
  if (io.inputs.size() > 2 && io.inputs[2].data != nullptr) {
    epilogue.bias = io.inputs[2].data;
    epilogue.biasType = io.inputs[2].type;
  } else {
    epilogue.bias = bias_.get();
  }
  if (residual_) epilogue.residual = io.inputs[3].data;
  epilogue.relu = relu_;
  KILN_CUDA_CHECK(cudaMemsetAsync(y.data, 0, static_cast<size_t>(y.bytes()), stream));
  const int64_t zeroShift[3] = {0, 0, 0};
  if (channelsLast_) {
    // Every element as its own plane: plane index modulo the channel count is then the NHWC channel.
    const cuda::ConvExtent3 unit;
    return cuda::launchConvWindow(y.data, y.data, type_, y.count(), g.outMaps, unit, unit, zeroShift, epilogue,
                                  stream);
  }
  return cuda::launchConvWindow(y.data, y.data, type_, g.batch * g.outMaps, g.outMaps, g.out, g.out, zeroShift,
                                epilogue, stream);
}

Status GraphConvolution::execute(KernelIO& io) const {
  if (io.inputs.empty() || io.outputs.empty()) return internalError("convolution '" + where() + "' has no I/O");
  const TensorView& x = io.inputs[0];
  TensorView& y = io.outputs[0];
  if (x.type != type_ || y.type != type_) {
    return invalidArgument("convolution '" + where() + "': tensor types differ from the ones it was built for");
  }
  ConvGeometry g;
  KILN_RETURN_IF_ERROR(cuda::readGraphConvGeometry(params_, x.dims, y.dims, channelsLast_, g));
  KILN_RETURN_IF_ERROR(cuda::checkGraphConvOperands(params_, io, g, weights_.get() != nullptr, weightCount_,
                                                    bias_.get() != nullptr, biasCount_, residual_));
  if (y.count() == 0) return Status::ok();
  if (x.count() == 0) return runEmptyInput(io, g);

  KILN_ASSIGN_OR_RETURN(std::shared_ptr<const ShapePlan> planPtr,
                        planFor(x.dims, y.dims, hasBias(&io), aligned(io), false));
  const ShapePlan& plan = *planPtr;
  if (io.workspaceSize < plan.totalBytes || (plan.totalBytes > 0 && io.workspace == nullptr)) {
    return resourceExhausted("convolution '" + where() + "' needs " + std::to_string(plan.totalBytes) +
                             " bytes of workspace, got " + std::to_string(io.workspaceSize));
  }
  auto* ws = static_cast<uint8_t*>(io.workspace);
  const cudaStream_t stream = static_cast<cudaStream_t>(io.stream);
  const int64_t zeroShift[3] = {0, 0, 0};

  const void* w = weights_.get();
  if (io.inputs.size() > 1 && io.inputs[1].data != nullptr) {
    w = io.inputs[1].data;
    if (io.inputs[1].type != type_) {
      KILN_RETURN_IF_ERROR(cuda::launchConvertFloats(w, io.inputs[1].type, ws + plan.convertedWeightsOffset, type_,
                                                     io.inputs[1].count(), stream));
      w = ws + plan.convertedWeightsOffset;
    }
    if (nhwc_) {  // [K, C/g, R, S] -> [K, R, S, C/g]
      cuda::ConvExtent3 taps;
      taps.d[1] = g.kernel.d[1];
      taps.d[2] = g.kernel.d[2];
      KILN_RETURN_IF_ERROR(cuda::launchNchwToNhwc(w, ws + plan.transposedWeightsOffset, type_, g.outMaps,
                                                  g.inChannels / g.groups, taps, taps, zeroShift, stream));
      w = ws + plan.transposedWeightsOffset;
    }
  }
  const void* bias = bias_.get();
  if (io.inputs.size() > 2 && io.inputs[2].data != nullptr) {
    bias = io.inputs[2].data;
    if (io.inputs[2].type != DataType::kFLOAT) {
      if (plan.biasOffset < 0) return internalError("convolution '" + where() + "': no scratch for the bias");
      KILN_RETURN_IF_ERROR(cuda::launchConvertFloats(bias, io.inputs[2].type, ws + plan.biasOffset,
                                                     DataType::kFLOAT, g.outMaps, stream));
      bias = ws + plan.biasOffset;
    }
  }
  const void* input = x.data;
  void* output = y.data;
  if (options_.nhwcVariant) {
    KILN_RETURN_IF_ERROR(cuda::launchNchwToNhwc(x.data, ws + plan.inputOffset, type_, g.batch, g.inChannels, g.in,
                                                g.in, zeroShift, stream));
    input = ws + plan.inputOffset;
    output = ws + plan.outputOffset;
  }

  std::vector<int64_t> uids = {cuda::kUID_X, cuda::kUID_W, cuda::kUID_Y};
  std::vector<void*> pointers = {const_cast<void*>(input), const_cast<void*>(w), output};
  if (bias != nullptr) {
    uids.push_back(cuda::kUID_BIAS);
    pointers.push_back(const_cast<void*>(bias));
  }
  if (plan.graphResidual) {
    uids.push_back(cuda::kUID_RESIDUAL);
    pointers.push_back(io.inputs[3].data);
  }
  void* cudnnWs = plan.plan->workspaceBytes > 0 ? ws : nullptr;
  {
    KILN_ASSIGN_OR_RETURN(cuda::SharedCudnnHandle * shared, cuda::sharedGraphCudnnHandle());
    std::lock_guard<std::mutex> lock(shared->mutex);
    KILN_CUDNN_CHECK(cudnnSetStream(shared->handle, stream), where());
    KILN_RETURN_IF_ERROR(cuda::executeConvGraphPlan(shared->handle, *plan.plan, uids, pointers, cudnnWs, where()));
  }
  if (!options_.nhwcVariant) return Status::ok();
  cuda::ConvEpilogue epilogue;
  if (!plan.graphResidual && residual_) epilogue.residual = io.inputs[3].data;
  if (!plan.graphRelu && relu_) epilogue.relu = true;
  return cuda::launchNhwcToNchw(output, y.data, type_, g.batch, g.outMaps, g.out.volume(), epilogue, stream);
}

CudaKernelFactory graphFactory(cuda::GraphConvOptions options) {
  return [options](const LayerInfo& layer, const Graph& graph) -> StatusOr<std::unique_ptr<Kernel>> {
    if (layer.inputs.empty() || layer.inputs[0] < 0 || layer.outputs.empty()) {
      return internalError("convolution '" + layer.params.name + "' has no I/O");
    }
    auto kernel = std::make_unique<GraphConvolution>(layer, graph, options);
    KILN_RETURN_IF_ERROR(kernel->init(layer, graph));
    return std::unique_ptr<Kernel>(std::move(kernel));
  };
}

}  // namespace

void registerConvolutionGraphCudaKernels(CudaKernelTable& table) {
  const char* suffixes[] = {"", "_1", "_2"};
  for (bool nhwcVariant : {false, true}) {
    for (int index = 0; index < 3; ++index) {
      CudaTactic tactic;
      tactic.name = std::string(nhwcVariant ? "cuda_conv_graph_nhwc" : "cuda_conv_graph") + suffixes[index];
      tactic.supports = nhwcVariant ? cuda::graphConvSupportsNhwcVariant : cuda::graphConvSupports;
      tactic.factory = graphFactory(cuda::GraphConvOptions{index, nhwcVariant});
      table.add(LayerType::kCONVOLUTION, std::move(tactic));
    }
  }
}

}  // namespace kiln
