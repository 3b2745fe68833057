// Device memory accounting (getMemoryUse): engines and contexts count what they hold, give all of it back when
// they go, and the peak starts over on reset.
#include "engine/backend.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);

// x [8, 64] @ w [64, 64] -> relu: 16 KiB of weights and two 2 KiB activations.
std::unique_ptr<HostMemory> buildMatmulPlan(BackendKind backend, const std::vector<float>& weights) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  ITensor* x = net->addInput("x", DataType::kFLOAT, Dims{8, 64});
  ITensor* w = net->addConstant(Dims{64, 64}, Weights{DataType::kFLOAT, weights.data(), 64 * 64})->getOutput(0);
  ITensor* y = net->addMatrixMultiply(*x, MatrixOperation::kNONE, *w, MatrixOperation::kNONE)->getOutput(0);
  net->markOutput(*net->addActivation(*y, ActivationType::kRELU)->getOutput(0));
  auto config = builder.createBuilderConfig();
  config->setBackend(backend);
  auto plan = builder.buildSerializedNetwork(*net, *config);
  EXPECT_TRUE(plan.isOk()) << plan.status().toString();
  return plan.isOk() ? std::move(plan).value() : nullptr;
}

int64_t currentBytes(BackendKind backend) {
  StatusOr<MemoryUse> use = getMemoryUse(backend);
  EXPECT_TRUE(use.isOk()) << use.status().toString();
  return use.isOk() ? use.value().currentBytes : -1;
}

TEST(MemoryUse, EnginesAndContextsCountWhatTheyHoldAndGiveItBack) {
  const BackendKind kind = testBackend();
  StatusOr<std::shared_ptr<Backend>> backend = getBackend(kind);
  ASSERT_TRUE(backend.isOk()) << backend.status().toString();
  const std::vector<float> weights(64 * 64, 0.5f);
  const int64_t before = currentBytes(kind);
  ASSERT_GE(before, 0);
  {
    auto plan = buildMatmulPlan(kind, weights);
    ASSERT_NE(plan, nullptr);
    EXPECT_EQ(currentBytes(kind), before);  // the build's timing buffers went with it

    Runtime runtime;
    auto engine = runtime.deserializeEngine(plan->data(), plan->size());
    ASSERT_TRUE(engine.isOk()) << engine.status().toString();
    const int64_t withEngine = currentBytes(kind);
    // A GPU engine holds its weights on the device; a CPU engine reads them from the plan in place.
    EXPECT_GE(withEngine - before, kind == BackendKind::kCPU ? int64_t{0} : int64_t{64 * 64 * 4});

    // The I/O, from the backend too, so that the run works on every backend.
    StatusOr<void*> x = backend.value()->allocate(8 * 64 * 4), y = backend.value()->allocate(8 * 64 * 4);
    ASSERT_TRUE(x.isOk() && y.isOk());
    const int64_t withIO = currentBytes(kind);
    EXPECT_EQ(withIO - withEngine, 2 * 8 * 64 * 4);
    ASSERT_TRUE(resetPeakMemoryUse(kind).isOk());
    StatusOr<MemoryUse> reset = getMemoryUse(kind);
    ASSERT_TRUE(reset.isOk());
    EXPECT_EQ(reset.value().peakBytes, withIO);
    {
      auto context = engine.value()->createExecutionContext();
      ASSERT_TRUE(context.isOk()) << context.status().toString();
      const char* output = engine.value()->getIOTensorName(1);
      ASSERT_TRUE(context.value()->setTensorAddress("x", x.value()).isOk());
      ASSERT_TRUE(context.value()->setTensorAddress(output, y.value()).isOk());
      const Status ran = context.value()->enqueueV3(nullptr);
      ASSERT_TRUE(ran.isOk()) << ran.toString();
      ASSERT_TRUE(backend.value()->synchronize(nullptr).isOk());
      StatusOr<MemoryUse> running = getMemoryUse(kind);
      ASSERT_TRUE(running.isOk());
      EXPECT_GT(running.value().currentBytes, withIO);  // the context's activations
      EXPECT_GE(running.value().peakBytes, running.value().currentBytes);
    }
    EXPECT_EQ(currentBytes(kind), withIO);  // the context gave its memory back
    backend.value()->deallocate(x.value());
    backend.value()->deallocate(y.value());
  }
  EXPECT_EQ(currentBytes(kind), before);
}

}  // namespace
}  // namespace testing
}  // namespace kiln
