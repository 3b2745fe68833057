#include "test_helpers.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>

#include "engine/backend.h"
#include "engine/backends/cpu/cpu_util.h"

namespace kiln {
namespace testing {

HostTensor makeTensor(DataType type, const Dims& dims, const std::vector<double>& values) {
  HostTensor t(type, dims);
  EXPECT_EQ(static_cast<int64_t>(values.size()), t.count()) << "makeTensor: value count does not match " << dimsToString(dims);
  for (int64_t i = 0; i < t.count() && i < static_cast<int64_t>(values.size()); ++i) {
    if (isFloatType(type)) {
      cpu::storeDouble(t.data(), type, i, values[static_cast<size_t>(i)]);
    } else {
      cpu::storeInt(t.data(), type, i, static_cast<int64_t>(values[static_cast<size_t>(i)]));
    }
  }
  return t;
}

HostTensor randomTensor(DataType type, const Dims& dims, uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::vector<double> values(static_cast<size_t>(volume(dims)));
  for (double& v : values) {
    if (type == DataType::kBOOL) {
      v = static_cast<double>(rng() & 1u);
    } else if (isFloatType(type)) {
      v = std::uniform_real_distribution<double>(lo, hi)(rng);
    } else {
      v = static_cast<double>(std::uniform_int_distribution<int64_t>(static_cast<int64_t>(lo), static_cast<int64_t>(hi))(rng));
    }
  }
  return makeTensor(type, dims, values);
}

std::vector<double> toDoubles(const HostTensor& tensor) {
  std::vector<double> values(static_cast<size_t>(tensor.count() > 0 ? tensor.count() : 0));
  for (size_t i = 0; i < values.size(); ++i) values[i] = tensor.floatAt(static_cast<int64_t>(i));
  return values;
}

double defaultAtol(DataType type) {
  switch (type) {
    case DataType::kHALF: return 2e-3;
    case DataType::kBF16: return 1.6e-2;
    case DataType::kFLOAT: return 1e-5;
    case DataType::kINT8:
    case DataType::kINT32:
    case DataType::kINT64:
    case DataType::kBOOL:
    case DataType::kUINT8: return 0;
  }
  return 0;
}

void expectClose(const HostTensor& actual, const HostTensor& expected, double atol, double rtol) {
  ASSERT_EQ(dimsToString(actual.dims), dimsToString(expected.dims)) << "shape mismatch";
  ASSERT_EQ(actual.type, expected.type) << "dtype mismatch: " << dataTypeName(actual.type) << " vs "
                                        << dataTypeName(expected.type);
  int mismatches = 0;
  for (int64_t i = 0; i < actual.count(); ++i) {
    const double a = actual.floatAt(i), e = expected.floatAt(i);
    if (std::isnan(e) && std::isnan(a)) continue;
    if (std::isinf(e) && a == e) continue;
    if (!(std::fabs(a - e) <= atol + rtol * std::fabs(e))) {
      if (++mismatches <= 5) ADD_FAILURE() << "element " << i << ": got " << a << ", expected " << e;
    }
  }
  EXPECT_EQ(mismatches, 0) << mismatches << " of " << actual.count() << " elements differ";
}

void expectEqual(const HostTensor& actual, const HostTensor& expected) {
  ASSERT_EQ(dimsToString(actual.dims), dimsToString(expected.dims)) << "shape mismatch";
  ASSERT_EQ(actual.type, expected.type);
  EXPECT_TRUE(actual.bytes == expected.bytes) << "contents differ";
}

namespace {

// Output memory on the test backend's device; `host` holds a copy after fetch().
class TestAllocator : public IOutputAllocator {
 public:
  explicit TestAllocator(Backend* device) : device_(device) {}
  ~TestAllocator() override {
    if (device_ != nullptr) device_->deallocate(deviceBuffer_);
  }
  void* reallocateOutput(const char*, void* current, uint64_t size, uint64_t) override {
    if (device_ == nullptr) {
      if (size > host.size()) host.resize(size);
      return host.empty() ? current : host.data();
    }
    if (size > deviceBytes_) {
      device_->deallocate(deviceBuffer_);
      StatusOr<void*> mem = device_->allocate(static_cast<int64_t>(size));
      deviceBuffer_ = mem.isOk() ? mem.value() : nullptr;
      deviceBytes_ = mem.isOk() ? size : 0;
    }
    host.resize(size);
    return size == 0 ? current : deviceBuffer_;
  }
  void notifyShape(const char*, const Dims& d) override { dims = d; }
  Status fetch(int64_t bytes) {
    if (device_ == nullptr || bytes <= 0) return Status::ok();
    host.resize(static_cast<size_t>(bytes));
    KILN_RETURN_IF_ERROR(device_->copyToHost(host.data(), deviceBuffer_, bytes, nullptr));
    return device_->synchronize(nullptr);
  }
  std::vector<uint8_t> host;
  Dims dims;

 private:
  Backend* device_;
  void* deviceBuffer_ = nullptr;
  uint64_t deviceBytes_ = 0;
};

// Device copies of the inputs, freed with the run.
class DeviceInputs {
 public:
  explicit DeviceInputs(Backend* device) : device_(device) {}
  ~DeviceInputs() {
    for (void* p : owned_) device_->deallocate(p);
  }
  StatusOr<void*> upload(const HostTensor& value) {
    if (value.bytes.empty()) return static_cast<void*>(nullptr);
    KILN_ASSIGN_OR_RETURN(void* mem, device_->allocate(static_cast<int64_t>(value.bytes.size())));
    owned_.push_back(mem);
    KILN_RETURN_IF_ERROR(device_->copyToDevice(mem, value.data(), static_cast<int64_t>(value.bytes.size()), nullptr));
    return mem;
  }

 private:
  Backend* device_;
  std::vector<void*> owned_;
};

}  // namespace

BackendKind testBackend() {
  const char* env = std::getenv("KILN_TEST_BACKEND");
  return env != nullptr && std::string(env) == "cuda" ? BackendKind::kCUDA : BackendKind::kCPU;
}

RunResult buildAndRun(const NetworkFn& define, const std::vector<TestInput>& inputs, const RunOptions& options) {
  RunResult result;
  Builder builder;
  const uint32_t flags =
      options.stronglyTyped ? 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED) : 0u;
  std::unique_ptr<NetworkDefinition> net = builder.createNetworkV2(flags);
  std::vector<ITensor*> tensors;
  std::unique_ptr<OptimizationProfile> profile = builder.createOptimizationProfile();
  bool dynamic = false;
  for (const TestInput& in : inputs) {
    Dims declared = in.value.dims;
    for (int32_t d = 0; d < declared.nbDims; ++d) {
      if ((in.dynamicMask >> d) & 1u) declared.d[d] = -1;
    }
    tensors.push_back(net->addInput(in.name.c_str(), in.value.type, declared));
    if (in.dynamicMask != 0) {
      dynamic = true;
      Dims min = in.minDims.nbDims > 0 ? in.minDims : in.value.dims;
      Dims max = in.value.dims;
      if (in.maxDims.nbDims > 0) {
        max = in.maxDims;
      } else {
        for (int32_t d = 0; d < max.nbDims; ++d) {
          if ((in.dynamicMask >> d) & 1u) max.d[d] = std::max<int64_t>(2 * max.d[d], 1);
        }
      }
      (void)profile->setDimensions(in.name.c_str(), OptProfileSelector::kMIN, min);
      (void)profile->setDimensions(in.name.c_str(), OptProfileSelector::kOPT, in.value.dims);
      (void)profile->setDimensions(in.name.c_str(), OptProfileSelector::kMAX, max);
    }
  }
  define(*net, tensors);
  std::unique_ptr<BuilderConfig> config = builder.createBuilderConfig();
  const BackendKind backendKind = testBackend();
  config->setBackend(backendKind);
  for (BuilderFlag f : options.flags) config->setFlag(f);
  if (dynamic) config->addOptimizationProfile(profile.get());
  StatusOr<std::unique_ptr<HostMemory>> plan = builder.buildSerializedNetwork(*net, *config);
  if (!plan.isOk()) {
    result.status = plan.status();
    return result;
  }
  Runtime runtime;
  StatusOr<std::unique_ptr<Engine>> engine = runtime.deserializeEngine(plan.value()->data(), plan.value()->size());
  if (!engine.isOk()) {
    result.status = engine.status();
    return result;
  }
  if (options.roundTripPlan) {
    const std::vector<uint8_t> again = engine.value()->serialize();
    engine = runtime.deserializeEngine(again.data(), again.size());
    if (!engine.isOk()) {
      result.status = engine.status();
      return result;
    }
  }
  StatusOr<std::unique_ptr<ExecutionContext>> context = engine.value()->createExecutionContext();
  if (!context.isOk()) {
    result.status = context.status();
    return result;
  }
  ExecutionContext& ctx = *context.value();
  Backend* device = nullptr;
  if (backendKind != BackendKind::kCPU) {
    StatusOr<std::shared_ptr<Backend>> b = getBackend(backendKind);
    if (!b.isOk()) {
      result.status = b.status();
      return result;
    }
    device = b.value().get();
  }
  DeviceInputs deviceInputs(device);
  for (const TestInput& in : inputs) {
    Status s = ctx.setInputShape(in.name.c_str(), in.value.dims);
    const void* address = in.value.data();
    if (s.isOk() && device != nullptr) {
      StatusOr<void*> mem = deviceInputs.upload(in.value);
      s = mem.status();
      if (s.isOk()) address = mem.value();
    }
    if (s.isOk()) s = ctx.setInputTensorAddress(in.name.c_str(), address);
    if (!s.isOk()) {
      result.status = s;
      return result;
    }
  }
  const Engine& e = *engine.value();
  std::vector<std::unique_ptr<TestAllocator>> allocators;
  std::vector<std::string> outputNames;
  for (int32_t i = 0; i < e.getNbIOTensors(); ++i) {
    const char* name = e.getIOTensorName(i);
    if (e.getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
    outputNames.push_back(name);
    allocators.push_back(std::make_unique<TestAllocator>(device));
    Status s = ctx.setOutputAllocator(name, allocators.back().get());
    if (!s.isOk()) {
      result.status = s;
      return result;
    }
  }
  result.status = ctx.enqueueV3(nullptr);
  if (result.status.isOk() && device != nullptr) result.status = device->synchronize(nullptr);
  if (!result.status.isOk()) return result;
  for (size_t i = 0; i < outputNames.size(); ++i) {
    const char* name = outputNames[i].c_str();
    HostTensor out(e.getTensorDataType(name), allocators[i]->dims);
    result.status = allocators[i]->fetch(static_cast<int64_t>(out.bytes.size()));
    if (!result.status.isOk()) return result;
    if (!out.bytes.empty()) std::memcpy(out.data(), allocators[i]->host.data(), out.bytes.size());
    result.outputs[outputNames[i]] = out;
    result.ordered.push_back(out);
  }
  return result;
}

// The CPU backend is deterministic: a dynamic-shape build must give the same bytes. On CUDA the two builds time
// their tactics separately and may pick different algorithms (another summation order), so values must agree
// to the rounding of the output type instead.
void expectSameRun(const HostTensor& dyn, const HostTensor& fixed) {
  // Floats compare up to rounding on every backend: the two builds time their tactics separately and may pick
  // different algorithms (on a loaded CPU, the im2col and direct convolutions trade places).
  if (dyn.bytes.size() != fixed.bytes.size() ||
      (fixed.type != DataType::kFLOAT && fixed.type != DataType::kHALF && fixed.type != DataType::kBF16)) {
    EXPECT_TRUE(dyn.bytes == fixed.bytes) << "dynamic-shape run gives other values";
    return;
  }
  const double tolerance = fixed.type == DataType::kFLOAT ? 1e-4 : fixed.type == DataType::kHALF ? 4e-3 : 3e-2;
  const std::vector<double> a = toDoubles(dyn);
  const std::vector<double> b = toDoubles(fixed);
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (a[i] == b[i]) continue;  // equal infinities
    ASSERT_LE(std::fabs(a[i] - b[i]), tolerance * (1.0 + std::fabs(b[i])))
        << "dynamic-shape run gives other values at element " << i << ": " << a[i] << " vs " << b[i];
  }
}

HostTensor runSingleOutput(const NetworkFn& define, const std::vector<TestInput>& inputs, bool alsoDynamic) {
  RunResult fixed = buildAndRun(define, inputs);
  EXPECT_TRUE(fixed.status.isOk()) << "static run: " << fixed.status.toString();
  if (!fixed.status.isOk() || fixed.ordered.empty()) return HostTensor();
  if (alsoDynamic) {
    std::vector<TestInput> dynamicInputs = inputs;
    for (TestInput& in : dynamicInputs) {
      // Every dim declared -1, the profile pinned to the actual shape: exercises build-time inference
      // with unknown extents and run-time resolution without assuming the network accepts other shapes.
      if (in.dynamicMask == 0 && in.value.dims.nbDims > 0) {
        in.dynamicMask = (1u << in.value.dims.nbDims) - 1;
        in.minDims = in.value.dims;
        in.maxDims = in.value.dims;
      }
    }
    RunResult dyn = buildAndRun(define, dynamicInputs);
    EXPECT_TRUE(dyn.status.isOk()) << "dynamic-shape run: " << dyn.status.toString();
    if (dyn.status.isOk()) {
      EXPECT_EQ(dyn.ordered.size(), fixed.ordered.size());
      if (!dyn.ordered.empty()) {
        EXPECT_EQ(dimsToString(dyn.ordered[0].dims), dimsToString(fixed.ordered[0].dims));
        expectSameRun(dyn.ordered[0], fixed.ordered[0]);
      }
    }
  }
  return fixed.ordered[0];
}

}  // namespace testing
}  // namespace kiln

namespace kiln {
namespace testing {

PlanRun runPlanBytes(const std::vector<uint8_t>& plan, double (*fill)(int64_t)) {
  PlanRun run;
  Runtime runtime;
  auto engine = runtime.deserializeEngine(plan.data(), plan.size());
  if (!engine.isOk()) {
    run.status = engine.status();
    return run;
  }
  const Engine& e = *engine.value();
  auto context = e.createExecutionContext();
  if (!context.isOk()) {
    run.status = context.status();
    return run;
  }
  ExecutionContext& ctx = *context.value();
  std::vector<HostTensor> inputs;
  for (int32_t i = 0; i < e.getNbIOTensors(); ++i) {
    const char* name = e.getIOTensorName(i);
    if (e.getTensorIOMode(name) != TensorIOMode::kINPUT) continue;
    const Dims dims = e.getProfileShape(name, 0, OptProfileSelector::kOPT);
    if (volume(dims) < 0 || volume(dims) > (1 << 20)) {
      run.status = invalidArgument("input too large for a test");
      return run;
    }
    std::vector<double> values(static_cast<size_t>(volume(dims)));
    for (size_t k = 0; k < values.size(); ++k) values[k] = fill ? fill(static_cast<int64_t>(k)) : 0.0;
    inputs.push_back(makeTensor(e.getTensorDataType(name), dims, values));
    run.status = ctx.setInputShape(name, dims);
    if (run.status.isOk()) run.status = ctx.setInputTensorAddress(name, inputs.back().data());
    if (!run.status.isOk()) return run;
  }
  std::vector<std::unique_ptr<TestAllocator>> allocators;
  std::vector<std::string> names;
  for (int32_t i = 0; i < e.getNbIOTensors(); ++i) {
    const char* name = e.getIOTensorName(i);
    if (e.getTensorIOMode(name) != TensorIOMode::kOUTPUT) continue;
    names.push_back(name);
    allocators.push_back(std::make_unique<TestAllocator>(nullptr));
    run.status = ctx.setOutputAllocator(name, allocators.back().get());
    if (!run.status.isOk()) return run;
  }
  run.status = ctx.enqueueV3(nullptr);
  if (!run.status.isOk()) return run;
  for (size_t i = 0; i < names.size(); ++i) {
    HostTensor out(e.getTensorDataType(names[i].c_str()), allocators[i]->dims);
    if (!out.bytes.empty()) std::memcpy(out.data(), allocators[i]->host.data(), out.bytes.size());
    run.outputs.push_back(std::move(out));
  }
  return run;
}

}  // namespace testing
}  // namespace kiln
