// Convolution geometry and cuDNN plans (see convolution_geometry.h).
#include "engine/backends/cuda/convolution_geometry.h"

#include <algorithm>
#include <climits>

namespace kiln {
namespace cuda {
namespace {

int64_t floorDiv(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

int64_t alignUp(int64_t bytes) { return (bytes + 255) / 256 * 256; }

bool fitsInt(int64_t v) { return v >= INT_MIN && v <= INT_MAX; }

Status checkInts(const LayerParams& layer, const std::vector<int64_t>& values) {
  for (int64_t v : values) {
    if (!fitsInt(v)) return unimplemented("convolution '" + layer.name + "' has an extent too large for cuDNN");
  }
  return Status::ok();
}

bool isTensorOpMath(cudnnMathType_t math) {
  return math == CUDNN_TENSOR_OP_MATH || math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// Fills plan.algos: the pinned algorithm when supported, else cuDNN's heuristic order followed by every other
// algorithm it accepts (so that a smaller workspace still finds one).
void chooseAlgorithms(cudnnHandle_t handle, const LayerParams& layer, const PlanRequest& request, ConvPlan& plan) {
  const bool fp32Strict = request.type == DataType::kFLOAT && !request.allowTf32;
  auto add = [&](int algo) {
    for (const auto& known : plan.algos) {
      if (known.first == algo) return;
    }
    size_t bytes = 0;
    cudnnStatus_t status;
    if (request.deconv) {
      status = cudnnGetConvolutionBackwardDataWorkspaceSize(handle, plan.wDesc.desc, plan.xDesc.desc,
                                                            plan.convDesc.desc, plan.yDesc.desc,
                                                            static_cast<cudnnConvolutionBwdDataAlgo_t>(algo), &bytes);
    } else {
      status = cudnnGetConvolutionForwardWorkspaceSize(handle, plan.xDesc.desc, plan.wDesc.desc, plan.convDesc.desc,
                                                       plan.yDesc.desc, static_cast<cudnnConvolutionFwdAlgo_t>(algo),
                                                       &bytes);
    }
    if (status == CUDNN_STATUS_SUCCESS) {
      plan.algos.emplace_back(algo, bytes);
    } else if (request.algo >= 0) {
      plan.unsupported = "convolution '" + layer.name + "': cuDNN algorithm " + std::to_string(algo) +
                         " does not support this layer's shapes and types (" + cudnnGetErrorString(status) + ")";
    }
  };
  if (request.algo >= 0) {
    add(request.algo);
    return;
  }
  const int count = request.deconv ? static_cast<int>(CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT)
                                   : static_cast<int>(CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  int returned = 0;
  if (request.deconv) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    if (cudnnGetConvolutionBackwardDataAlgorithm_v7(handle, plan.wDesc.desc, plan.xDesc.desc, plan.convDesc.desc,
                                                    plan.yDesc.desc, count, &returned, perf) == CUDNN_STATUS_SUCCESS) {
      for (int i = 0; i < returned; ++i) {
        if (perf[i].status == CUDNN_STATUS_SUCCESS && !(fp32Strict && isTensorOpMath(perf[i].mathType))) {
          add(static_cast<int>(perf[i].algo));
        }
      }
    }
  } else {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    if (cudnnGetConvolutionForwardAlgorithm_v7(handle, plan.xDesc.desc, plan.wDesc.desc, plan.convDesc.desc,
                                               plan.yDesc.desc, count, &returned, perf) == CUDNN_STATUS_SUCCESS) {
      for (int i = 0; i < returned; ++i) {
        if (perf[i].status == CUDNN_STATUS_SUCCESS && !(fp32Strict && isTensorOpMath(perf[i].mathType))) {
          add(static_cast<int>(perf[i].algo));
        }
      }
    }
  }
  std::vector<std::pair<int, size_t>> rest;
  const size_t ranked = plan.algos.size();
  for (int algo = 0; algo < count; ++algo) {
    if (!request.deconv && algo == CUDNN_CONVOLUTION_FWD_ALGO_DIRECT) continue;  // cuDNN has no kernel for it
    add(algo);
  }
  // The unranked ones by workspace size, smallest first.
  std::stable_sort(plan.algos.begin() + static_cast<std::ptrdiff_t>(ranked), plan.algos.end(),
                   [](const auto& a, const auto& b) { return a.second < b.second; });
  if (plan.algos.empty()) {
    plan.unsupported = "convolution '" + layer.name + "': no cuDNN algorithm supports this layer's shapes and types";
  }
}

}  // namespace

Status readConvGeometry(const LayerParams& layer, const Dims& x, const Dims& y, bool deconv, ConvGeometry& g) {
  const Dims kernel = layer.attrs.getDims("kernel_size");
  const Dims stride = layer.attrs.getDims("stride");
  const Dims dilation = layer.attrs.getDims("dilation");
  const Dims pre = layer.attrs.getDims("pre_padding");
  const Dims post = layer.attrs.getDims("post_padding");
  const int32_t ns = kernel.nbDims;
  if (ns < 1 || ns > 3 || x.nbDims != ns + 2 || y.nbDims != ns + 2 || stride.nbDims != ns || dilation.nbDims != ns ||
      pre.nbDims != ns || post.nbDims != ns) {
    return invalidArgument("convolution '" + layer.name + "': inconsistent ranks");
  }
  g.nbSpatial = ns;
  g.batch = x.d[0];
  g.inChannels = x.d[1];
  g.outMaps = y.d[1];
  g.groups = layer.attrs.getInt("groups", 1);
  if (g.groups < 1 || g.inChannels % g.groups != 0 || g.outMaps % g.groups != 0 || y.d[0] != g.batch) {
    return invalidArgument("convolution '" + layer.name + "': groups do not divide the channels");
  }
  const auto mode = static_cast<PaddingMode>(layer.attrs.getInt("padding_mode", 0));
  const bool same = mode == PaddingMode::kSAME_UPPER || mode == PaddingMode::kSAME_LOWER;
  for (int32_t i = 0; i < ns; ++i) {
    const int j = 3 - ns + i;
    g.in.d[j] = x.d[2 + i];
    g.out.d[j] = y.d[2 + i];
    g.kernel.d[j] = kernel.d[i];
    g.stride[j] = stride.d[i];
    g.dilation[j] = dilation.d[i];
    if (g.kernel.d[j] < 1 || g.stride[j] < 1 || g.dilation[j] < 1) {
      return invalidArgument("convolution '" + layer.name + "': bad kernel geometry");
    }
    const int64_t effective = g.dilation[j] * (g.kernel.d[j] - 1) + 1;
    if (!same) {
      g.pre[j] = pre.d[i];
      g.post[j] = post.d[i];
      continue;
    }
    // SAME modes ignore the explicit padding (same split as the CPU kernels).
    int64_t total = 0;
    if (deconv) {
      total = (g.in.d[j] - 1) * g.stride[j] + effective - g.out.d[j];
      const int64_t half = floorDiv(total, 2);
      g.pre[j] = mode == PaddingMode::kSAME_UPPER ? half : total - half;
    } else {
      total = std::max<int64_t>(0, (g.out.d[j] - 1) * g.stride[j] + effective - g.in.d[j]);
      g.pre[j] = mode == PaddingMode::kSAME_UPPER ? total / 2 : total - total / 2;
    }
    g.post[j] = total - g.pre[j];
  }
  return Status::ok();
}

StatusOr<std::shared_ptr<const ConvPlan>> makeConvPlan(cudnnHandle_t handle, const LayerParams& layer, const Dims& x,
                                                       const Dims& y, const PlanRequest& request) {
  auto plan = std::make_shared<ConvPlan>();
  ConvGeometry& g = plan->g;
  KILN_RETURN_IF_ERROR(readConvGeometry(layer, x, y, request.deconv, g));
  const int nsc = std::max(g.nbSpatial, 2);  // 1-D runs as 2-D with a unit dim
  const int first = 3 - nsc;
  int pad[3] = {0, 0, 0}, str[3] = {1, 1, 1}, dil[3] = {1, 1, 1};
  bool staged = false, cropped = false;
  plan->cudnnIn = g.in;
  plan->cudnnOut = g.out;
  for (int i = 0; i < nsc; ++i) {
    const int j = first + i;
    const int64_t s = g.stride[j], effective = g.dilation[j] * (g.kernel.d[j] - 1) + 1;
    int64_t p = 0;
    if (!request.deconv) {
      const int64_t span = g.in.d[j] + 2 * g.pre[j] - effective;
      if (g.pre[j] >= 0 && span >= 0 && span / s + 1 == g.out.d[j]) {
        p = g.pre[j];
      } else {
        // Zero-padded copy holding exactly the extent the outputs read; cuDNN then pads nothing.
        plan->cudnnIn.d[j] = (g.out.d[j] - 1) * s + effective;
        plan->inShift[j] = -g.pre[j];
        staged = true;
      }
    } else {
      const int64_t full = (g.in.d[j] - 1) * s + effective;
      const int64_t extra = g.out.d[j] - (full - 2 * g.pre[j]);  // cuDNN accepts 0 <= extra < stride
      if (g.pre[j] >= 0 && extra >= 0 && extra < s) {
        p = g.pre[j];
      } else {
        p = std::max<int64_t>(0, std::min(g.pre[j], g.post[j]));
        plan->cudnnOut.d[j] = full - 2 * p;
        plan->outShift[j] = g.pre[j] - p;
        cropped = true;
      }
    }
    KILN_RETURN_IF_ERROR(checkInts(layer, {p, s, g.dilation[j], plan->cudnnIn.d[j], plan->cudnnOut.d[j]}));
    pad[i] = static_cast<int>(p);
    str[i] = static_cast<int>(s);
    dil[i] = static_cast<int>(g.dilation[j]);
  }
  const int nd = nsc + 2;
  const int64_t cg = g.inChannels / g.groups, kg = g.outMaps / g.groups;
  std::vector<int64_t> xd = {g.batch, g.inChannels}, yd = {g.batch, g.outMaps};
  std::vector<int64_t> wd =
      request.deconv ? std::vector<int64_t>{g.inChannels, kg} : std::vector<int64_t>{g.outMaps, cg};
  for (int i = 0; i < nsc; ++i) {
    const int j = first + i;
    xd.push_back(request.deconv ? g.in.d[j] : plan->cudnnIn.d[j]);
    yd.push_back(request.deconv ? plan->cudnnOut.d[j] : g.out.d[j]);
    wd.push_back(g.kernel.d[j]);
  }
  KILN_RETURN_IF_ERROR(checkInts(layer, xd));
  KILN_RETURN_IF_ERROR(checkInts(layer, yd));
  KILN_RETURN_IF_ERROR(checkInts(layer, wd));
  auto setTensor = [&](cudnnTensorDescriptor_t desc, const std::vector<int64_t>& dims) -> Status {
    int d[5], s[5];
    for (int i = 0; i < nd; ++i) d[i] = static_cast<int>(dims[static_cast<size_t>(i)]);
    if (request.nhwc) {  // [N, C, H, W] with channels innermost
      s[1] = 1;
      s[3] = d[1];
      s[2] = d[3] * d[1];
      s[0] = d[2] * s[2];
    } else {
      s[nd - 1] = 1;
      for (int i = nd - 2; i >= 0; --i) s[i] = s[i + 1] * d[i + 1];
    }
    KILN_CUDNN_CHECK(cudnnSetTensorNdDescriptor(desc, cudnnTypeOf(request.type), nd, d, s), layer.name);
    return Status::ok();
  };
  KILN_RETURN_IF_ERROR(setTensor(plan->xDesc.desc, xd));
  KILN_RETURN_IF_ERROR(setTensor(plan->yDesc.desc, yd));
  int w[5];
  for (int i = 0; i < nd; ++i) w[i] = static_cast<int>(wd[static_cast<size_t>(i)]);
  KILN_CUDNN_CHECK(cudnnSetFilterNdDescriptor(plan->wDesc.desc, cudnnTypeOf(request.type),
                                              request.nhwc ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW, nd, w),
                   layer.name);
  KILN_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(plan->convDesc.desc, nsc, pad, str, dil, CUDNN_CROSS_CORRELATION,
                                                   CUDNN_DATA_FLOAT),
                   layer.name);
  KILN_CUDNN_CHECK(cudnnSetConvolutionGroupCount(plan->convDesc.desc, static_cast<int>(g.groups)), layer.name);
  const cudnnMathType_t math = request.type != DataType::kFLOAT ? CUDNN_TENSOR_OP_MATH
                               : request.allowTf32              ? CUDNN_DEFAULT_MATH
                                                                : CUDNN_FMA_MATH;
  KILN_CUDNN_CHECK(cudnnSetConvolutionMathType(plan->convDesc.desc, math), layer.name);

  // The forward convolution cuDNN sees must map its input extents onto its output extents exactly.
  int produced[5];
  KILN_CUDNN_CHECK(
      cudnnGetConvolutionNdForwardOutputDim(plan->convDesc.desc, request.deconv ? plan->yDesc.desc : plan->xDesc.desc,
                                            plan->wDesc.desc, nd, produced),
      layer.name);
  const std::vector<int64_t>& expected = request.deconv ? xd : yd;
  for (int i = 0; i < nd; ++i) {
    if (produced[i] != expected[static_cast<size_t>(i)]) {
      return internalError("convolution '" + layer.name + "': cuDNN geometry mismatch in dim " + std::to_string(i));
    }
  }

  const int64_t elementSize = dataTypeSize(request.type);
  const int64_t weightBytes = g.inChannels * kg * g.kernelVolume() * elementSize;
  int64_t offset = 0;
  if (request.kernelFromInput && request.weightType != request.type) {
    plan->convertedWeightsOffset = offset;
    offset = alignUp(offset + weightBytes);
  }
  if (request.kernelFromInput && request.nhwc) {
    plan->transposedWeightsOffset = offset;
    offset = alignUp(offset + weightBytes);
  }
  if (!request.deconv && (staged || request.nhwc)) {
    plan->inputOffset = offset;
    offset = alignUp(offset + g.batch * g.inChannels * plan->cudnnIn.volume() * elementSize);
  }
  if (request.nhwc || cropped) {
    plan->outputOffset = offset;
    offset = alignUp(offset + g.batch * g.outMaps * plan->cudnnOut.volume() * elementSize);
  }
  plan->cudnnOffset = offset;
  chooseAlgorithms(handle, layer, request, *plan);
  return std::shared_ptr<const ConvPlan>(std::move(plan));
}

}  // namespace cuda
}  // namespace kiln
