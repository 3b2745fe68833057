// cuDNN plumbing for the convolution kernels: the per-thread handle, RAII descriptors, error reporting and the
// device buffers a kernel owns.
#pragma once

#include <cuda_runtime.h>
#include <cudnn.h>

#include <string>

#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {
namespace cuda {

Status cudnnError(cudnnStatus_t status, const char* what, const std::string& layer);
#define KILN_CUDNN_CHECK(expr, layer)                                    \
  do {                                                                   \
    const cudnnStatus_t kiln_cudnn_status_ = (expr);                     \
    if (kiln_cudnn_status_ != CUDNN_STATUS_SUCCESS) {                    \
      return ::kiln::cuda::cudnnError(kiln_cudnn_status_, #expr, layer); \
    }                                                                    \
  } while (0)

// The calling thread's handle for the current device (a cudnnHandle_t must not be shared between threads),
// created on first use and destroyed when the thread exits.
StatusOr<cudnnHandle_t> threadCudnnHandle();

cudnnDataType_t cudnnTypeOf(DataType type);

struct TensorDescriptor {
  cudnnTensorDescriptor_t desc = nullptr;
  TensorDescriptor() { cudnnCreateTensorDescriptor(&desc); }
  ~TensorDescriptor() {
    if (desc != nullptr) cudnnDestroyTensorDescriptor(desc);
  }
  TensorDescriptor(const TensorDescriptor&) = delete;
  TensorDescriptor& operator=(const TensorDescriptor&) = delete;
};
struct FilterDescriptor {
  cudnnFilterDescriptor_t desc = nullptr;
  FilterDescriptor() { cudnnCreateFilterDescriptor(&desc); }
  ~FilterDescriptor() {
    if (desc != nullptr) cudnnDestroyFilterDescriptor(desc);
  }
  FilterDescriptor(const FilterDescriptor&) = delete;
  FilterDescriptor& operator=(const FilterDescriptor&) = delete;
};
struct ConvolutionDescriptor {
  cudnnConvolutionDescriptor_t desc = nullptr;
  ConvolutionDescriptor() { cudnnCreateConvolutionDescriptor(&desc); }
  ~ConvolutionDescriptor() {
    if (desc != nullptr) cudnnDestroyConvolutionDescriptor(desc);
  }
  ConvolutionDescriptor(const ConvolutionDescriptor&) = delete;
  ConvolutionDescriptor& operator=(const ConvolutionDescriptor&) = delete;
};
struct ActivationDescriptor {
  cudnnActivationDescriptor_t desc = nullptr;
  ActivationDescriptor() { cudnnCreateActivationDescriptor(&desc); }
  ~ActivationDescriptor() {
    if (desc != nullptr) cudnnDestroyActivationDescriptor(desc);
  }
  ActivationDescriptor(const ActivationDescriptor&) = delete;
  ActivationDescriptor& operator=(const ActivationDescriptor&) = delete;
};

// Device memory owned by a kernel (weights uploaded once at kernel creation).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  ~DeviceBuffer() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  Status upload(const void* host, int64_t bytes, const std::string& layer);
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
};

}  // namespace cuda
}  // namespace kiln
