// cuDNN graph (backend) API plumbing for the graph convolution tactics (convolution_graph.cc): owned backend
// descriptors, the operation graph of one convolution with its fused epilogue, and the execution plans cuDNN's
// heuristics rank for it. Only API present since cuDNN 9.0 is used.
#pragma once

#include <cudnn.h>

#include <memory>
#include <string>
#include <vector>

#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {
namespace cuda {

// A cudnnBackendDescriptor_t destroyed with its owner.
class BackendDescriptor {
 public:
  BackendDescriptor() = default;
  ~BackendDescriptor();
  BackendDescriptor(BackendDescriptor&& other) noexcept : desc_(other.desc_) { other.desc_ = nullptr; }
  BackendDescriptor& operator=(BackendDescriptor&& other) noexcept;
  BackendDescriptor(const BackendDescriptor&) = delete;
  BackendDescriptor& operator=(const BackendDescriptor&) = delete;

  Status create(cudnnBackendDescriptorType_t type, const std::string& layer);
  cudnnBackendDescriptor_t get() const { return desc_; }

 private:
  cudnnBackendDescriptor_t desc_ = nullptr;
};

// Unique ids of the tensors a plan reads and writes (the variant pack pairs them with addresses).
enum ConvGraphUid : int64_t { kUID_X = 1, kUID_W = 2, kUID_Y = 3, kUID_BIAS = 4, kUID_RESIDUAL = 5 };

// One 2-D convolution and its epilogue as the graph sees it: Y = relu(conv(X, W) + bias + residual), each
// epilogue step optional. X is [n, c, h, w], W [k, c/groups, r, s], Y and the residual [n, k, p, q]; `nhwc`
// stores X, Y and the residual channels-last and W as [k, r, s, c/groups]. Bias is float32 [k].
struct ConvGraphSpec {
  DataType type = DataType::kFLOAT;  // of X, W, Y and the residual
  int64_t n = 0, c = 0, h = 0, w = 0, k = 0, p = 0, q = 0, r = 0, s = 0, groups = 1;
  int64_t pad[2] = {0, 0}, stride[2] = {1, 1}, dilation[2] = {1, 1};
  bool nhwc = false;
  bool bias = false, residual = false, relu = false;
  bool allowTf32 = false;      // float32 only: engines using tensor cores (TF32) are dropped unless set
  int64_t alignment = 16;      // bytes every tensor's address is aligned to (at least its element size)
};

// A finalized execution plan with everything it was made from kept alive.
struct ConvGraphPlan {
  std::shared_ptr<const std::vector<BackendDescriptor>> graph;  // the operation graph, operations, tensors
  BackendDescriptor config;
  BackendDescriptor plan;
  int64_t workspaceBytes = 0;
  int64_t engineIndex = -1;
};

constexpr int kMAX_CONV_GRAPH_PLANS = 3;

// Builds the operation graph on `handle` and finalizes up to kMAX_CONV_GRAPH_PLANS execution plans in the order
// of cuDNN's heuristic mode A, then the fallback list for engines not already taken. Engines whose numerical
// notes break the precision contract (TF32 for strict float32, half-precision accumulation for float16/bfloat16)
// are skipped. An empty list is returned as an unimplemented Status naming the layer. Results (failures too)
// are shared process-wide per (handle, spec): the tactics that differ only in the plan they take, and layers of
// equal geometry, build once. The caller serializes calls on `handle`.
StatusOr<std::vector<std::shared_ptr<const ConvGraphPlan>>> convGraphPlans(cudnnHandle_t handle,
                                                                           const ConvGraphSpec& spec,
                                                                           const std::string& layer);

// Runs a plan: the variant pack is built from `uids`/`pointers` on every call, since addresses change.
Status executeConvGraphPlan(cudnnHandle_t handle, const ConvGraphPlan& plan, const std::vector<int64_t>& uids,
                            const std::vector<void*>& pointers, void* workspace, const std::string& layer);

}  // namespace cuda
}  // namespace kiln
