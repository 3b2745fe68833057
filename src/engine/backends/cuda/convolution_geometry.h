// Convolution geometry as the CUDA kernels see it, and the cuDNN plan for one set of concrete shapes:
// descriptors, how the input is staged or the output cropped around cuDNN's symmetric padding, the scratch
// layout and the usable algorithms.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/backends/cuda/convolution_cudnn.h"
#include "engine/backends/cuda/convolution_kernels.h"
#include "engine/graph.h"

namespace kiln {
namespace cuda {

// Spatial dims as 3D, missing leading ones of extent 1 (as the CPU kernels do).
struct ConvGeometry {
  int32_t nbSpatial = 0;
  int64_t batch = 0, inChannels = 0, outMaps = 0, groups = 1;
  ConvExtent3 in, out, kernel;
  int64_t stride[3] = {1, 1, 1}, dilation[3] = {1, 1, 1}, pre[3] = {0, 0, 0}, post[3] = {0, 0, 0};
  int64_t kernelVolume() const { return kernel.volume(); }
};

// Reads the layer's attributes against concrete shapes (SAME modes resolved the way the CPU kernels do).
Status readConvGeometry(const LayerParams& layer, const Dims& x, const Dims& y, bool deconv, ConvGeometry& g);

struct PlanRequest {
  bool deconv = false;
  bool nhwc = false;
  int algo = -1;  // -1: cuDNN's heuristic order
  DataType type = DataType::kFLOAT;
  DataType weightType = DataType::kFLOAT;  // of the kernel tensor input, when the kernel comes from one
  bool kernelFromInput = false;
  bool allowTf32 = false;
};

struct ConvPlan {
  ConvGeometry g;
  TensorDescriptor xDesc, yDesc;  // deconvolution: xDesc is cuDNN's dy (the layer input), yDesc its dx
  FilterDescriptor wDesc;
  ConvolutionDescriptor convDesc;
  // Convolution: cuDNN reads the input over cudnnIn, element o taken from x[o + inShift] (zero outside).
  ConvExtent3 cudnnIn;
  int64_t inShift[3] = {0, 0, 0};
  // Deconvolution: cuDNN writes cudnnOut; output element o is its element o + outShift (zero outside).
  ConvExtent3 cudnnOut;
  int64_t outShift[3] = {0, 0, 0};
  // Scratch offsets in bytes (-1: not used); cuDNN's own workspace starts at cudnnOffset.
  int64_t convertedWeightsOffset = -1, transposedWeightsOffset = -1, inputOffset = -1, outputOffset = -1;
  int64_t cudnnOffset = 0;
  std::vector<std::pair<int, size_t>> algos;  // usable algorithms in preference order, with their workspace
  std::string unsupported;                    // why `algos` is empty
};

StatusOr<std::shared_ptr<const ConvPlan>> makeConvPlan(cudnnHandle_t handle, const LayerParams& layer, const Dims& x,
                                                       const Dims& y, const PlanRequest& request);

}  // namespace cuda
}  // namespace kiln
