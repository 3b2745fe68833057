// cuDNN plumbing shared by the convolution kernels.
#include "engine/backends/cuda/convolution_cudnn.h"

#include <map>

namespace kiln {
namespace cuda {

Status cudnnError(cudnnStatus_t status, const char* what, const std::string& layer) {
  const std::string message = "convolution '" + layer + "': " + what + " failed: " + cudnnGetErrorString(status);
  // cuDNN 9 refines both kinds into ranges (CUDNN_STATUS_NOT_SUPPORTED_GRAPH_PATTERN, ..._BAD_PARAM_SHAPE_MISMATCH):
  // all of them mean "this configuration is not run", not a Kiln bug.
  const int code = static_cast<int>(status);
  const int badParam = static_cast<int>(CUDNN_STATUS_BAD_PARAM);
  const int notSupported = static_cast<int>(CUDNN_STATUS_NOT_SUPPORTED);
  const bool notRun =
      (code >= badParam && code < badParam + 1000) || (code >= notSupported && code < notSupported + 1000);
  if (notRun) return unimplemented(message);
  return internalError(message);
}

StatusOr<cudnnHandle_t> threadCudnnHandle() {
  // Destroyed at thread exit (for the main thread before the CUDA runtime's own exit handlers run).
  struct Handles {
    std::map<int, cudnnHandle_t> byDevice;
    ~Handles() {
      for (auto& entry : byDevice) cudnnDestroy(entry.second);
    }
  };
  thread_local Handles handles;
  int device = 0;
  const cudaError_t error = cudaGetDevice(&device);
  if (error != cudaSuccess) return internalError(std::string("cudaGetDevice failed: ") + cudaGetErrorString(error));
  auto it = handles.byDevice.find(device);
  if (it != handles.byDevice.end()) return it->second;
  cudnnHandle_t handle = nullptr;
  const cudnnStatus_t status = cudnnCreate(&handle);
  if (status != CUDNN_STATUS_SUCCESS) {
    return internalError(std::string("cudnnCreate failed: ") + cudnnGetErrorString(status) +
                         " (is cuDNN 9 installed and a GPU visible?)");
  }
  handles.byDevice.emplace(device, handle);
  return handle;
}

cudnnDataType_t cudnnTypeOf(DataType type) {
  switch (type) {
    case DataType::kHALF:
      return CUDNN_DATA_HALF;
    case DataType::kBF16:
      return CUDNN_DATA_BFLOAT16;
    default:
      return CUDNN_DATA_FLOAT;
  }
}

Status DeviceBuffer::upload(const void* host, int64_t bytes, const std::string& layer) {
  if (ptr_ != nullptr) {
    cudaFree(ptr_);
    ptr_ = nullptr;
  }
  if (bytes <= 0) return Status::ok();
  cudaError_t error = cudaMalloc(&ptr_, static_cast<size_t>(bytes));
  if (error == cudaSuccess) error = cudaMemcpy(ptr_, host, static_cast<size_t>(bytes), cudaMemcpyHostToDevice);
  if (error != cudaSuccess) {
    return resourceExhausted("convolution '" + layer + "': uploading " + std::to_string(bytes) +
                             " bytes of weights failed: " + cudaGetErrorString(error));
  }
  return Status::ok();
}

}  // namespace cuda
}  // namespace kiln
