// Tactic timing (engine/builder_timing.h) against a simulated device: a backend with graphs and a device clock
// that advances only by the kernels' own costs, so the timings the graph path returns are exact, and kernels
// that refuse to be recorded show the fallback to host clocks.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <vector>

#include "engine/backend.h"
#include "engine/builder_timing.h"

namespace kiln {
namespace testing {
namespace {

class SimulatedDevice : public Backend {
 public:
  // What a kernel does on the device: `ms` of device time, or one more step of the capture being recorded.
  Status run(double ms, void* stream) {
    if (stream == captureToken()) {
      if (!capturing_) return internalError("launch on the capture stream outside a capture");
      recording_.push_back(ms);
    } else {
      clockMs_ += ms;
    }
    return Status::ok();
  }
  void* captureToken() { return &capturing_; }

  BackendKind kind() const override { return BackendKind::kCUDA; }
  std::string deviceName() const override { return "simulated"; }
  std::vector<TacticCandidate> tactics(const LayerInfo&, const Graph&) const override { return {}; }
  StatusOr<void*> allocateBytes(int64_t) override { return static_cast<void*>(nullptr); }
  void deallocateBytes(void*) override {}
  Status copyToDevice(void*, const void*, int64_t, void*) override { return Status::ok(); }
  Status copyToHost(void*, const void*, int64_t, void*) override { return Status::ok(); }
  Status synchronize(void* stream) override {
    if (stream == captureToken()) return internalError("synchronizing a capturing stream");
    return Status::ok();
  }

  StatusOr<void*> createMark() override {
    ++liveMarks;
    return static_cast<void*>(new double(0.0));
  }
  Status recordMark(void* mark, void*) override {
    *static_cast<double*>(mark) = clockMs_;
    return Status::ok();
  }
  StatusOr<float> elapsedMs(void* from, void* to) override {
    return static_cast<float>(*static_cast<double*>(to) - *static_cast<double*>(from));
  }
  void destroyMark(void* mark) override {
    --liveMarks;
    delete static_cast<double*>(mark);
  }

  bool supportsGraphs() const override { return true; }
  Status beginCapture(void** captureStream) override {
    capturing_ = true;
    recording_.clear();
    *captureStream = captureToken();
    return Status::ok();
  }
  Status endCapture(void*, void** exec) override {
    capturing_ = false;
    if (broken_) {
      broken_ = false;
      return internalError("capture invalidated");
    }
    auto graph = std::make_unique<std::vector<double>>(recording_);
    *exec = graph.get();
    graphs_.emplace(*exec, std::move(graph));
    lastGraphLaunches = static_cast<int>(recording_.size());
    return Status::ok();
  }
  Status launchGraph(void* exec, void*) override {
    for (double ms : *graphs_.at(exec)) clockMs_ += ms;
    return Status::ok();
  }
  void destroyGraph(void* exec) override { graphs_.erase(exec); }

  void breakCapture() { broken_ = true; }
  size_t liveGraphs() const { return graphs_.size(); }

  int liveMarks = 0;
  int lastGraphLaunches = 0;

 private:
  double clockMs_ = 0.0;
  bool capturing_ = false;
  bool broken_ = false;
  std::vector<double> recording_;
  std::map<void*, std::unique_ptr<std::vector<double>>> graphs_;
};

// A kernel of fixed device cost; one that synchronizes its stream cannot be recorded.
class FixedCostKernel : public Kernel {
 public:
  FixedCostKernel(SimulatedDevice& device, double ms, bool synchronizes)
      : device_(device), ms_(ms), synchronizes_(synchronizes) {}
  Status execute(KernelIO& io) const override {
    KILN_RETURN_IF_ERROR(device_.run(ms_, io.stream));
    if (synchronizes_) {
      const Status synced = device_.synchronize(io.stream);
      if (!synced.isOk()) device_.breakCapture();
      return synced;
    }
    return Status::ok();
  }

 private:
  SimulatedDevice& device_;
  double ms_;
  bool synchronizes_;
};

TEST(TacticTiming, RecordedGraphsGiveDeviceTimePerExecution) {
  SimulatedDevice device;
  const FixedCostKernel kernel(device, 0.004, false);
  KernelIO io;
  StatusOr<double> ms = timeTacticMs(device, kernel, io, 3);
  ASSERT_TRUE(ms.isOk()) << ms.status().toString();
  EXPECT_NEAR(ms.value(), 0.004, 1e-7);  // no launch or synchronization cost: the device clock alone
  EXPECT_EQ(device.lastGraphLaunches, 10);  // a short kernel runs ten times per recorded graph
  EXPECT_EQ(io.stream, nullptr);             // the caller's stream is given back
  EXPECT_EQ(device.liveGraphs(), 0u);
  EXPECT_EQ(device.liveMarks, 0);
}

TEST(TacticTiming, KernelsThatCannotBeRecordedFallBackToHostClocks) {
  SimulatedDevice device;
  const FixedCostKernel kernel(device, 0.004, true);
  KernelIO io;
  StatusOr<double> ms = timeTacticMs(device, kernel, io, 3);
  ASSERT_TRUE(ms.isOk()) << ms.status().toString();
  EXPECT_GE(ms.value(), 0.0);
  EXPECT_EQ(io.stream, nullptr);
  EXPECT_EQ(device.liveGraphs(), 0u);
  EXPECT_EQ(device.liveMarks, 0);
}

class FailingKernel : public Kernel {
 public:
  Status execute(KernelIO&) const override { return invalidArgument("this tactic cannot run these shapes"); }
};

TEST(TacticTiming, ACandidateThatFailsReportsWhy) {
  SimulatedDevice device;
  KernelIO io;
  StatusOr<double> ms = timeTacticMs(device, FailingKernel(), io, 3);
  ASSERT_FALSE(ms.isOk());
  EXPECT_NE(ms.status().toString().find("cannot run these shapes"), std::string::npos);
}

}  // namespace
}  // namespace testing
}  // namespace kiln
