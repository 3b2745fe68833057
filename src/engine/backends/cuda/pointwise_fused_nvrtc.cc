// The CUDA tactic of fused pointwise chains: the program becomes CUDA C++ (pointwise_fused_codegen.cc),
// NVRTC compiles it for this GPU when the kernel is created (build or plan load, never while executing), and
// execute only launches on the caller's stream, so it can be captured into a CUDA graph.
#include <cuda_runtime.h>
#include <nvrtc.h>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "engine/backends/cuda/cuda_kernels.h"
#include "engine/backends/cuda/pointwise_fused_codegen.h"

namespace kiln {
namespace cuda {
namespace {

Status nvrtcFailure(nvrtcResult result, const char* what) {
  return internalError(std::string("NVRTC error ") + nvrtcGetErrorString(result) + " from " + what);
}
#define KILN_NVRTC_CHECK(expr)                                                               \
  do {                                                                                       \
    const nvrtcResult kiln_nvrtc_result_ = (expr);                                           \
    if (kiln_nvrtc_result_ != NVRTC_SUCCESS) return nvrtcFailure(kiln_nvrtc_result_, #expr); \
  } while (0)

// Destroys the NVRTC program on every path out of compilePointwiseSource.
struct ProgramHandle {
  nvrtcProgram program = nullptr;
  ~ProgramHandle() {
    if (program != nullptr) nvrtcDestroyProgram(&program);
  }
};

// The architecture to compile for: the device's own when NVRTC has it, else the newest one below it as PTX.
StatusOr<std::pair<int32_t, bool>> chooseArchitecture(int32_t computeCapability) {
  int count = 0;
  KILN_NVRTC_CHECK(nvrtcGetNumSupportedArchs(&count));
  std::vector<int> archs(static_cast<size_t>(std::max(count, 0)));
  if (count > 0) KILN_NVRTC_CHECK(nvrtcGetSupportedArchs(archs.data()));
  if (std::find(archs.begin(), archs.end(), computeCapability) != archs.end())
    return std::make_pair(computeCapability, true);
  int best = -1;
  for (int a : archs) {
    if (a <= computeCapability) best = std::max(best, a);
  }
  if (best < 0) {
    return unimplemented("this NVRTC cannot compile for compute capability " + std::to_string(computeCapability) +
                         "; fused pointwise kernels need a newer CUDA toolkit");
  }
  return std::make_pair(static_cast<int32_t>(best), false);
}

struct LoadedModule {
  cudaLibrary_t library = nullptr;
  cudaKernel_t flat = nullptr;
  cudaKernel_t broadcast = nullptr;
};

// Identical chains (same source, same architecture) share one loaded library. Libraries stay loaded for the
// life of the process: kernels created from them may run until exit, and unloading during static destruction
// could race the CUDA runtime's own teardown.
class ModuleCache {
 public:
  static ModuleCache& instance() {
    static ModuleCache* cache = new ModuleCache();
    return *cache;
  }

  StatusOr<std::shared_ptr<const LoadedModule>> get(const PointwiseKernelSource& source, int32_t computeCapability) {
    const std::string key = std::to_string(computeCapability) + "\n" + source.source;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = modules_.find(key);
    if (it != modules_.end()) return it->second;
    KILN_ASSIGN_OR_RETURN(PointwiseBinary binary, compilePointwiseSource(source.source, computeCapability));
    auto module = std::make_shared<LoadedModule>();
    KILN_CUDA_CHECK(
        cudaLibraryLoadData(&module->library, binary.image.data(), nullptr, nullptr, 0, nullptr, nullptr, 0));
    KILN_CUDA_CHECK(cudaLibraryGetKernel(&module->flat, module->library, source.flatKernel.c_str()));
    KILN_CUDA_CHECK(cudaLibraryGetKernel(&module->broadcast, module->library, source.broadcastKernel.c_str()));
    modules_.emplace(key, module);
    return std::shared_ptr<const LoadedModule>(module);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const LoadedModule>> modules_;
};

class FusedPointwiseKernel : public Kernel {
 public:
  FusedPointwiseKernel(std::shared_ptr<const LoadedModule> module, std::vector<DataType> inputTypes,
                       DataType outputType)
      : module_(std::move(module)), inputTypes_(std::move(inputTypes)), outputType_(outputType) {}

  Status execute(KernelIO& io) const override {
    if (io.inputs.size() != inputTypes_.size() || io.outputs.size() != 1) {
      return invalidArgument("fused pointwise kernel: expected " + std::to_string(inputTypes_.size()) +
                             " inputs and 1 output");
    }
    const TensorView& out = io.outputs[0];
    if (out.type != outputType_ || out.dims.nbDims > Dims::kMAX_DIMS || out.dims.nbDims < 0) {
      return invalidArgument("fused pointwise kernel: the output type or rank differs from the compiled kernel's");
    }
    const int64_t count = out.count();
    if (count == 0) return Status::ok();
    PointwiseKernelArgs args{};
    args.output = out.data;
    args.count = count;
    args.rank = out.dims.nbDims;
    for (int32_t d = 0; d < out.dims.nbDims; ++d) args.outDims[d] = out.dims.d[d];
    bool flat = true;
    for (size_t k = 0; k < io.inputs.size(); ++k) {
      const TensorView& in = io.inputs[k];
      if (in.type != inputTypes_[k] || in.dims.nbDims > out.dims.nbDims) {
        return invalidArgument("fused pointwise kernel: input " + std::to_string(k) +
                               " has another type or a higher rank than the compiled kernel expects");
      }
      // Strides over the output's dims; a checked broadcast keeps every offset inside the input.
      int64_t stride = 1;
      for (int32_t d = in.dims.nbDims - 1; d >= 0; --d) {
        const int32_t od = out.dims.nbDims - in.dims.nbDims + d;
        const int64_t extent = in.dims.d[d];
        if (extent != out.dims.d[od] && extent != 1) {
          return invalidArgument("fused pointwise kernel: input " + std::to_string(k) + " " + dimsToString(in.dims) +
                                 " does not broadcast to " + dimsToString(out.dims));
        }
        args.strides[k][od] = extent == 1 ? 0 : stride;
        stride *= extent;
      }
      args.inputs[k] = in.data;
      const int64_t inCount = in.count();
      if (inCount == 1) {
        args.singleElementMask |= 1u << k;
      } else if (inCount != count) {
        flat = false;  // equal counts under a valid broadcast mean an identical layout
      }
    }
    const int64_t perBlock = int64_t{kPOINTWISE_BLOCK} * kPOINTWISE_ELEMENTS_PER_THREAD;
    const int64_t blocks =
        std::min<int64_t>((count + perBlock - 1) / perBlock, int64_t{1} << 16);  // grid-stride beyond
    void* params[] = {&args};
    const cudaKernel_t kernel = flat ? module_->flat : module_->broadcast;
    KILN_CUDA_CHECK(cudaLaunchKernel(reinterpret_cast<const void*>(kernel), dim3(static_cast<unsigned>(blocks)),
                                     dim3(kPOINTWISE_BLOCK), params, 0, static_cast<cudaStream_t>(io.stream)));
    return Status::ok();
  }

 private:
  std::shared_ptr<const LoadedModule> module_;
  std::vector<DataType> inputTypes_;
  DataType outputType_;
};

bool supportsFusedPointwise(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.empty() || layer.inputs.size() > static_cast<size_t>(kMAX_POINTWISE_INPUTS) ||
      layer.outputs.size() != 1) {
    return false;
  }
  for (int32_t t : layer.inputs) {
    if (t < 0 || static_cast<size_t>(t) >= graph.tensors.size() ||
        !isPointwiseFloatType(graph.tensors[static_cast<size_t>(t)].type)) {
      return false;
    }
  }
  const int32_t out = layer.outputs[0];
  return out >= 0 && static_cast<size_t>(out) < graph.tensors.size() &&
         isPointwiseFloatType(graph.tensors[static_cast<size_t>(out)].type);
}

StatusOr<std::unique_ptr<Kernel>> makeFusedPointwiseKernel(const LayerInfo& layer, const Graph& graph) {
  if (!supportsFusedPointwise(layer, graph)) {
    return invalidArgument("fused pointwise layer '" + layer.params.name +
                           "': inputs and output must be float tensors");
  }
  KILN_ASSIGN_OR_RETURN(PointwiseProgram program,
                        loadPointwiseProgram(layer.params.attrs, static_cast<int32_t>(layer.inputs.size())));
  std::vector<DataType> inputTypes;
  for (int32_t t : layer.inputs) inputTypes.push_back(graph.tensors[static_cast<size_t>(t)].type);
  if (graph.tensors[static_cast<size_t>(layer.outputs[0])].type != program.outputType) {
    return invalidArgument("fused pointwise layer '" + layer.params.name +
                           "': the program's output type differs "
                           "from the output tensor's");
  }
  KILN_ASSIGN_OR_RETURN(PointwiseKernelSource source, generatePointwiseSource(program, inputTypes));
  int device = 0, major = 0, minor = 0;
  KILN_CUDA_CHECK(cudaGetDevice(&device));
  KILN_CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  KILN_CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  StatusOr<std::shared_ptr<const LoadedModule>> module = ModuleCache::instance().get(source, major * 10 + minor);
  if (!module.isOk()) return module.status().withContext("compiling fused pointwise layer '" + layer.params.name + "'");
  return std::unique_ptr<Kernel>(
      std::make_unique<FusedPointwiseKernel>(std::move(module).value(), std::move(inputTypes), program.outputType));
}

}  // namespace

StatusOr<PointwiseBinary> compilePointwiseSource(const std::string& source, int32_t computeCapability) {
  KILN_ASSIGN_OR_RETURN(auto choice, chooseArchitecture(computeCapability));
  PointwiseBinary binary;
  binary.isCubin = choice.second;
  binary.architecture = std::string(binary.isCubin ? "sm_" : "compute_") + std::to_string(choice.first);
  ProgramHandle handle;
  KILN_NVRTC_CHECK(nvrtcCreateProgram(&handle.program, source.c_str(), "kiln_pointwise.cu", 0, nullptr, nullptr));
  const std::string archOption = "--gpu-architecture=" + binary.architecture;
  const char* options[] = {archOption.c_str(), "--std=c++17"};
  const nvrtcResult compiled = nvrtcCompileProgram(handle.program, 2, options);
  if (compiled != NVRTC_SUCCESS) {
    size_t logSize = 0;
    std::string log;
    if (nvrtcGetProgramLogSize(handle.program, &logSize) == NVRTC_SUCCESS && logSize > 1) {
      log.resize(logSize);
      if (nvrtcGetProgramLog(handle.program, &log[0]) != NVRTC_SUCCESS) log.clear();
      while (!log.empty() && log.back() == '\0') log.pop_back();
    }
    return internalError(std::string("NVRTC could not compile a fused pointwise kernel for ") + binary.architecture +
                         " (" + nvrtcGetErrorString(compiled) + "):\n" + log);
  }
  size_t size = 0;
  if (binary.isCubin) {
    KILN_NVRTC_CHECK(nvrtcGetCUBINSize(handle.program, &size));
    binary.image.resize(size);
    if (size > 0) KILN_NVRTC_CHECK(nvrtcGetCUBIN(handle.program, &binary.image[0]));
  } else {
    KILN_NVRTC_CHECK(nvrtcGetPTXSize(handle.program, &size));
    binary.image.resize(size);  // PTX keeps its terminating NUL, which the loader needs
    if (size > 0) KILN_NVRTC_CHECK(nvrtcGetPTX(handle.program, &binary.image[0]));
  }
  if (binary.image.empty()) return internalError("NVRTC produced an empty image for " + binary.architecture);
  return binary;
}

}  // namespace cuda

void registerFusedPointwiseCudaKernels(CudaKernelTable& table) {
  CudaTactic tactic;
  tactic.name = "cuda_pointwise_nvrtc";
  tactic.supports = cuda::supportsFusedPointwise;
  tactic.factory = cuda::makeFusedPointwiseKernel;
  table.add(LayerType::kPOINTWISE, std::move(tactic));
}

}  // namespace kiln
