// Runtime: deserializes plans into Engines; an ExecutionContext runs an engine.
//
//   kiln::Runtime runtime;
//   auto engine = runtime.deserializeEngine(plan.data(), plan.size());
//   auto context = engine.value()->createExecutionContext();
//   context->setInputShape("x", dims);
//   context->setTensorAddress("x", xPtr);
//   context->setTensorAddress("y", yPtr);   // context->getTensorShape("y") gives its size
//   context->enqueueV3(stream);
//
// I/O is bound by tensor name. An Engine is immutable and may be shared by several contexts; each
// context may run on its own thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/builder.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {

enum class TensorIOMode : int32_t { kNONE = 0, kINPUT = 1, kOUTPUT = 2 };

// Supplies memory for outputs whose size is known only during execution (data-dependent shapes), or
// for any output the caller prefers to size late.
class IOutputAllocator {
 public:
  virtual ~IOutputAllocator() = default;
  // Return memory of at least `size` bytes for `tensorName` (currentMemory may be reused), or null to fail.
  virtual void* reallocateOutput(const char* tensorName, void* currentMemory, uint64_t size, uint64_t alignment) = 0;
  // The output's final shape, reported after execution.
  virtual void notifyShape(const char* tensorName, const Dims& dims) = 0;
};

// Receives each layer's execution time when set on a context (ExecutionContext::setProfiler). Profiling runs
// layer by layer (no CUDA graph) and waits for the stream at the end of enqueueV3.
class IProfiler {
 public:
  virtual ~IProfiler() = default;
  // startMs: when the layer started, relative to the start of this enqueue; ms: how long it ran.
  virtual void reportLayerTime(const char* layerName, const char* layerType, float startMs, float ms) = 0;
};

class Engine;

class ExecutionContext {
 public:
  ~ExecutionContext();
  ExecutionContext(const ExecutionContext&) = delete;
  ExecutionContext& operator=(const ExecutionContext&) = delete;

  const Engine& getEngine() const;
  Status setOptimizationProfileAsync(int32_t profileIndex, void* stream);
  int32_t getOptimizationProfile() const;
  // Errors name the input and the profile's range when the shape lies outside it.
  Status setInputShape(const char* tensorName, const Dims& dims);
  // Inputs: the shape set. Outputs: inferred from the input shapes (-1 for data-dependent extents, or
  // when some input shape is not set yet).
  Dims getTensorShape(const char* tensorName) const;
  Status setTensorAddress(const char* tensorName, void* data);
  Status setInputTensorAddress(const char* tensorName, const void* data);
  void* getTensorAddress(const char* tensorName) const;
  // Checked binding for callers that know what their buffer holds (the Python runtime): the dtype must match
  // the engine's; for inputs `dims` is set as the input shape, for outputs it must equal the inferred shape.
  Status bindTensor(const char* tensorName, void* data, DataType type, const Dims& dims);
  Status setOutputAllocator(const char* tensorName, IOutputAllocator* allocator);
  // Runs the engine on `stream` (a cudaStream_t for CUDA engines; ignored by CPU engines, which run
  // synchronously). Checks shapes, bindings and dtypes first; nothing runs when a check fails.
  Status enqueueV3(void* stream);

  // CUDA engines record their launches once per input shape and I/O addresses into a CUDA graph and replay it
  // (far less launch overhead). On by default; off here, or for every context with KILN_CUDA_GRAPHS=0.
  // Engines with data-dependent output shapes or output allocators, and profiled runs, never use graphs.
  void setCudaGraphsEnabled(bool enabled);
  bool getCudaGraphsEnabled() const;
  // How many CUDA graphs this context recorded (each new shape or new I/O addresses records one).
  int64_t getCudaGraphCaptureCount() const;
  void setProfiler(IProfiler* profiler);  // null: off
  IProfiler* getProfiler() const;

  struct Impl;
  explicit ExecutionContext(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// One layer of an engine as inspection shows it.
struct LayerDescription {
  std::string name;
  std::string type;      // "Convolution"
  std::string kernel;    // the tactic the builder chose
  std::vector<std::string> inputs;   // "name:float32[1,3,-1,-1]"
  std::vector<std::string> outputs;
  std::string parameters;  // key=value list
};

class EngineInspector {
 public:
  explicit EngineInspector(const Engine& engine) : engine_(engine) {}
  int32_t getNbLayers() const;
  LayerDescription getLayerInformation(int32_t layerIndex) const;
  // A human-readable table of all layers, and a JSON document with the same content.
  std::string getEngineInformationText() const;
  std::string getEngineInformationJson() const;

 private:
  const Engine& engine_;
};

class Engine {
 public:
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  int32_t getNbIOTensors() const;
  const char* getIOTensorName(int32_t index) const;
  TensorIOMode getTensorIOMode(const char* tensorName) const;
  DataType getTensorDataType(const char* tensorName) const;
  Dims getTensorShape(const char* tensorName) const;  // build-time shape, -1 where dynamic
  int32_t getNbOptimizationProfiles() const;
  Dims getProfileShape(const char* tensorName, int32_t profileIndex, OptProfileSelector select) const;
  int32_t getNbLayers() const;
  BackendKind getBackend() const;
  std::string getDeviceName() const;
  // Bytes of activation memory each context reserves for the given profile.
  int64_t getDeviceMemorySize(int32_t profileIndex = 0) const;

  StatusOr<std::unique_ptr<ExecutionContext>> createExecutionContext() const;
  std::unique_ptr<EngineInspector> createEngineInspector() const;
  std::vector<uint8_t> serialize() const;

  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

class Runtime {
 public:
  // The plan is untrusted: every error gives a Status naming what is wrong, never a crash.
  StatusOr<std::unique_ptr<Engine>> deserializeEngine(const void* blob, size_t size);
};

// Device memory Kiln holds on a backend (MemoryUse, kiln/types.h): engines' weights and activations, execution
// contexts' workspaces and output buffers, and while a build runs, its timing buffers.
StatusOr<MemoryUse> getMemoryUse(BackendKind backend);
Status resetPeakMemoryUse(BackendKind backend);

// "0.1.0"
const char* kilnVersion();

}  // namespace kiln
