// The backend interface: what the builder and runtime ask of a device. A backend answers "which kernels
// (tactics) can run this layer" and "make me that kernel"; it owns memory and streams. The network,
// builder and plan never depend on a particular backend, so CUDA slots in beside the CPU.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/graph.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {

// A tensor as a kernel sees it: memory on the backend's device, a concrete shape and a type.
struct TensorView {
  void* data = nullptr;  // null for an absent optional input
  Dims dims;
  DataType type = DataType::kFLOAT;

  int64_t count() const { return volume(dims); }
  int64_t bytes() const { return count() * dataTypeSize(type); }
  template <typename T>
  T* as() const { return static_cast<T*>(data); }
};

struct KernelIO {
  std::vector<TensorView> inputs;
  std::vector<TensorView> outputs;
  void* workspace = nullptr;
  int64_t workspaceSize = 0;
  void* stream = nullptr;  // cudaStream_t on CUDA; unused on the CPU (execution is synchronous)
  // Layers with data-dependent outputs call this once the extent is known; it sets outputs[index].data
  // and .dims. Null for other layers.
  std::function<Status(int32_t index, const Dims& dims)> allocateOutput;
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Must be callable from several threads at once (one per execution context): no mutable state.
  virtual Status execute(KernelIO& io) const = 0;
  // Scratch memory needed for these shapes (allocated by the execution context).
  virtual int64_t workspaceSize(const KernelIO& io) const { (void)io; return 0; }
};

struct TacticCandidate {
  std::string name;
  // Fails when the tactic cannot run this layer/type combination; the builder tries the next.
  std::function<StatusOr<std::unique_ptr<Kernel>>(const LayerInfo&, const Graph&)> create;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual BackendKind kind() const = 0;
  // "cpu", or the GPU architecture ("sm_90") a plan is built for.
  virtual std::string deviceName() const = 0;

  // Candidate kernels for the layer, best guess first. Empty means no kernel: the builder fails naming the layer.
  virtual std::vector<TacticCandidate> tactics(const LayerInfo& layer, const Graph& graph) const = 0;

  // Device memory, counted: memoryUse() is what the backend holds now and at the most since resetPeakMemory
  // (engines' weights and activations, contexts' workspaces, the builder's timing buffers).
  StatusOr<void*> allocate(int64_t bytes);
  void deallocate(void* ptr);
  MemoryUse memoryUse() const;
  void resetPeakMemory();
  virtual Status copyToDevice(void* dst, const void* src, int64_t bytes, void* stream) = 0;
  virtual Status copyToHost(void* dst, const void* src, int64_t bytes, void* stream) = 0;
  virtual Status synchronize(void* stream) = 0;

  // Profiling marks: recorded on a stream; the time between two marks is known once the stream reached both.
  virtual StatusOr<void*> createMark() = 0;
  virtual Status recordMark(void* mark, void* stream) = 0;
  virtual StatusOr<float> elapsedMs(void* from, void* to) = 0;
  virtual void destroyMark(void* mark) = 0;

  // Stream capture into a replayable graph (CUDA graphs). Backends without it return false from supportsGraphs.
  // Capture runs on a stream of the backend's own (`*captureStream`, the one kernels must launch on while
  // recording): the caller's stream may be one that cannot be captured, such as the legacy default stream.
  virtual bool supportsGraphs() const { return false; }
  virtual Status beginCapture(void** captureStream) { return unimplemented("graph capture"); }
  // Ends the capture and makes `*exec` (created or updated in place) replay it; on failure nothing is left
  // recording and no error lingers for later calls.
  virtual Status endCapture(void* captureStream, void** exec) { return unimplemented("graph capture"); }
  virtual Status launchGraph(void* exec, void* stream) { return unimplemented("graph capture"); }
  virtual void destroyGraph(void* exec) {}

 protected:
  // What allocate and deallocate count: the device's own allocation (aligned for any tensor), and its release.
  virtual StatusOr<void*> allocateBytes(int64_t bytes) = 0;
  virtual void deallocateBytes(void* ptr) = 0;

 private:
  mutable std::mutex memoryMutex_;
  std::unordered_map<void*, int64_t> allocationBytes_;
  MemoryUse memory_;
};

// The backend for a kind; CUDA fails with a clear message when Kiln was built without it or no GPU is present.
StatusOr<std::shared_ptr<Backend>> getBackend(BackendKind kind);
#ifdef KILN_WITH_CUDA
StatusOr<std::shared_ptr<Backend>> getCudaBackend();  // backends/cuda/cuda_backend.cc
#endif

}  // namespace kiln
