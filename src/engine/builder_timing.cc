// Tactic timing: device time from recorded graphs where the backend has them, host clocks elsewhere.
#include "engine/builder_timing.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace kiln {
namespace {

// A layer whose execution takes less than this (by the host clock) runs kGRAPH_RUNS times per recorded graph,
// so that the two marks around a replay time more than one short kernel.
constexpr double kSHORT_MS = 0.1;
constexpr int kGRAPH_RUNS = 10;

double median(std::vector<double> times) {
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

StatusOr<double> hostTimedMs(Backend& backend, const Kernel& kernel, KernelIO& io, int repeats) {
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    KILN_RETURN_IF_ERROR(kernel.execute(io));
    KILN_RETURN_IF_ERROR(backend.synchronize(io.stream));
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return median(times);
}

// What graphTimedMs creates, released on every path out of it.
struct RecordedRuns {
  Backend& backend;
  void* exec = nullptr;
  void* from = nullptr;
  void* to = nullptr;
  ~RecordedRuns() {
    if (to != nullptr) backend.destroyMark(to);
    if (from != nullptr) backend.destroyMark(from);
    backend.destroyGraph(exec);
  }
};

StatusOr<double> graphTimedMs(Backend& backend, const Kernel& kernel, KernelIO& io, int runs, int repeats) {
  void* const stream = io.stream;
  void* capture = nullptr;
  KILN_RETURN_IF_ERROR(backend.beginCapture(&capture));
  io.stream = capture;
  Status recorded = Status::ok();
  for (int r = 0; r < runs && recorded.isOk(); ++r) recorded = kernel.execute(io);
  io.stream = stream;
  RecordedRuns owned{backend};
  const Status ended = backend.endCapture(capture, &owned.exec);
  KILN_RETURN_IF_ERROR(recorded);
  KILN_RETURN_IF_ERROR(ended);
  KILN_ASSIGN_OR_RETURN(owned.from, backend.createMark());
  KILN_ASSIGN_OR_RETURN(owned.to, backend.createMark());
  KILN_RETURN_IF_ERROR(backend.launchGraph(owned.exec, stream));  // the first replay uploads the graph
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    KILN_RETURN_IF_ERROR(backend.recordMark(owned.from, stream));
    KILN_RETURN_IF_ERROR(backend.launchGraph(owned.exec, stream));
    KILN_RETURN_IF_ERROR(backend.recordMark(owned.to, stream));
    KILN_ASSIGN_OR_RETURN(const float ms, backend.elapsedMs(owned.from, owned.to));
    times.push_back(static_cast<double>(ms) / runs);
  }
  KILN_RETURN_IF_ERROR(backend.synchronize(stream));
  return median(times);
}

}  // namespace

StatusOr<double> timeTacticMs(Backend& backend, const Kernel& kernel, KernelIO& io, int repeats) {
  repeats = std::max(repeats, 1);
  // Warm-up: first-use work (descriptors, plans, generated code) stays out of the timings and the graph.
  KILN_RETURN_IF_ERROR(kernel.execute(io));
  KILN_RETURN_IF_ERROR(backend.synchronize(io.stream));
  if (backend.supportsGraphs()) {
    KILN_ASSIGN_OR_RETURN(const double hostMs, hostTimedMs(backend, kernel, io, 1));
    StatusOr<double> deviceMs = graphTimedMs(backend, kernel, io, hostMs < kSHORT_MS ? kGRAPH_RUNS : 1, repeats);
    if (deviceMs.isOk()) return deviceMs;
    // A kernel that cannot be recorded (it synchronizes, say) is timed by the host clock like everywhere else.
  }
  return hostTimedMs(backend, kernel, io, repeats);
}

}  // namespace kiln
