// The `kiln` command-line tool.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>

#include <nlohmann/json.hpp>

#include "demo.h"
#include "engine/backend.h"
#include "kiln/kiln.h"
#include "ops.h"

namespace {

kiln::StatusOr<std::unique_ptr<kiln::Engine>> loadPlan(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return kiln::notFound("cannot open plan file '" + path + "'");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  kiln::Runtime runtime;
  kiln::StatusOr<std::unique_ptr<kiln::Engine>> engine = runtime.deserializeEngine(bytes.data(), bytes.size());
  if (!engine.isOk()) return engine.status().withContext(path);
  return engine;
}

int inspect(const std::string& path, bool json) {
  auto engine = loadPlan(path);
  if (!engine.isOk()) {
    std::cerr << "kiln inspect: " << engine.status().toString() << "\n";
    return 1;
  }
  auto inspector = engine.value()->createEngineInspector();
  std::cout << (json ? inspector->getEngineInformationJson() : inspector->getEngineInformationText()) << "\n";
  return 0;
}

// Prints each layer's time as the context reports it, and keeps the records for a Chrome trace.
class TableProfiler : public kiln::IProfiler {
 public:
  void reportLayerTime(const char* name, const char* type, float startMs, float ms) override {
    records.push_back({name, type, startMs, ms});
  }
  struct Record {
    std::string name, type;
    float startMs, ms;
  };
  std::vector<Record> records;
};

int fail(const kiln::Status& s) {
  std::cerr << "kiln run: " << s.toString() << "\n";
  return 1;
}

// Runs a plan on random inputs at each input's profile-0 opt shape and reports the latency; with `profile`,
// a per-layer table of the last run, and with `tracePath` a Chrome trace of it.
int run(const std::string& path, int iterations, bool profile, const std::string& tracePath) {
  auto engine = loadPlan(path);
  if (!engine.isOk()) return fail(engine.status());
  kiln::Engine& e = *engine.value();
  auto context = e.createExecutionContext();
  if (!context.isOk()) return fail(context.status());
  kiln::ExecutionContext& ctx = *context.value();
  auto device = kiln::getBackend(e.getBackend());
  if (!device.isOk()) return fail(device.status());
  kiln::Backend& backend = *device.value();
  std::vector<void*> owned;
  auto release = [&] {
    for (void* p : owned) backend.deallocate(p);
  };
  // Host bytes are copied into the engine's device memory (the same buffer on the CPU).
  auto place = [&](std::vector<uint8_t>& host) -> kiln::StatusOr<void*> {
    if (e.getBackend() == kiln::BackendKind::kCPU) return static_cast<void*>(host.data());
    KILN_ASSIGN_OR_RETURN(void* mem, backend.allocate(static_cast<int64_t>(host.size())));
    owned.push_back(mem);
    KILN_RETURN_IF_ERROR(backend.copyToDevice(mem, host.data(), static_cast<int64_t>(host.size()), nullptr));
    return mem;
  };
  std::vector<std::vector<uint8_t>> buffers;
  buffers.reserve(static_cast<size_t>(e.getNbIOTensors()));
  std::mt19937 rng(0);
  for (int32_t i = 0; i < e.getNbIOTensors(); ++i) {
    const char* name = e.getIOTensorName(i);
    if (e.getTensorIOMode(name) != kiln::TensorIOMode::kINPUT) continue;
    const kiln::Dims dims = e.getProfileShape(name, 0, kiln::OptProfileSelector::kOPT);
    kiln::Status s = ctx.setInputShape(name, dims);
    if (!s.isOk()) return release(), fail(s);
    buffers.emplace_back(static_cast<size_t>(kiln::volume(dims) * kiln::dataTypeSize(e.getTensorDataType(name))));
    if (e.getTensorDataType(name) == kiln::DataType::kFLOAT) {
      auto* f = reinterpret_cast<float*>(buffers.back().data());
      for (size_t k = 0; k < buffers.back().size() / 4; ++k) f[k] = std::uniform_real_distribution<float>(-1, 1)(rng);
    }
    auto mem = place(buffers.back());
    if (!mem.isOk()) return release(), fail(mem.status());
    (void)ctx.setTensorAddress(name, mem.value());
  }
  for (int32_t i = 0; i < e.getNbIOTensors(); ++i) {
    const char* name = e.getIOTensorName(i);
    if (e.getTensorIOMode(name) != kiln::TensorIOMode::kOUTPUT) continue;
    const kiln::Dims dims = ctx.getTensorShape(name);
    if (kiln::hasDynamicExtent(dims)) {
      release();
      std::cerr << "kiln run: output '" << name << "' has a data-dependent shape; use the C++ or Python API\n";
      return 1;
    }
    buffers.emplace_back(static_cast<size_t>(kiln::volume(dims) * kiln::dataTypeSize(e.getTensorDataType(name))));
    auto mem = place(buffers.back());
    if (!mem.isOk()) return release(), fail(mem.status());
    (void)ctx.setTensorAddress(name, mem.value());
    std::cout << "output " << name << ": " << kiln::dataTypeName(e.getTensorDataType(name))
              << kiln::dimsToString(dims) << "\n";
  }
  std::vector<double> times;
  for (int it = 0; it < iterations + 2; ++it) {
    const auto start = std::chrono::steady_clock::now();
    kiln::Status s = ctx.enqueueV3(nullptr);
    if (s.isOk()) s = backend.synchronize(nullptr);
    if (!s.isOk()) return release(), fail(s);
    if (it >= 2) times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  std::cout << "median latency " << times[times.size() / 2] << " ms over " << iterations << " runs ("
            << kiln::backendKindName(e.getBackend()) << ")\n";
  if (profile || !tracePath.empty()) {
    TableProfiler profiler;
    ctx.setProfiler(&profiler);
    kiln::Status s = ctx.enqueueV3(nullptr);
    ctx.setProfiler(nullptr);
    if (!s.isOk()) return release(), fail(s);
    std::vector<TableProfiler::Record> sorted = profiler.records;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.ms > b.ms; });
    double total = 0;
    for (const auto& r : sorted) total += r.ms;
    std::printf("%-48s %-16s %10s %7s\n", "layer", "type", "ms", "share");
    for (const auto& r : sorted) {
      std::printf("%-48.48s %-16s %10.4f %6.1f%%\n", r.name.c_str(), r.type.c_str(), r.ms, total > 0 ? 100.0 * r.ms / total : 0.0);
    }
    std::printf("%-48s %-16s %10.4f\n", "total", "", total);
    if (!tracePath.empty()) {
      nlohmann::json events = nlohmann::json::array();
      for (const auto& r : profiler.records) {
        events.push_back({{"name", r.name}, {"cat", r.type}, {"ph", "X"}, {"pid", 0}, {"tid", 0},
                          {"ts", r.startMs * 1000.0}, {"dur", r.ms * 1000.0}});
      }
      std::ofstream out(tracePath);
      out << nlohmann::json{{"traceEvents", events}, {"displayTimeUnit", "ms"}}.dump();
      std::cout << "wrote Chrome trace " << tracePath << "\n";
    }
  }
  release();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kiln: build, inspect and run Kiln engine plans"};
  app.require_subcommand(1);
  std::string planPath;
  bool json = false;
  auto* inspectCmd = app.add_subcommand("inspect", "list the layers, kernels and I/O of a plan");
  inspectCmd->add_option("plan", planPath, "plan file")->required();
  inspectCmd->add_flag("--json", json, "print JSON instead of a table");
  int iterations = 20;
  auto* runCmd = app.add_subcommand("run", "run a plan on random inputs and time it");
  runCmd->add_option("plan", planPath, "plan file")->required();
  runCmd->add_option("-n,--iterations", iterations, "timed runs");
  bool profile = false;
  std::string tracePath;
  runCmd->add_flag("--profile", profile, "print each layer's time (one extra run, layer by layer)");
  runCmd->add_option("--trace", tracePath, "write that run's layer timeline as a Chrome trace (JSON)");
  bool opsJson = false;
  auto* opsCmd = app.add_subcommand("ops", "list the ATen ops Kiln converts, with each converter's flags");
  opsCmd->add_flag("--json", opsJson, "print JSON instead of a table");
  std::string savePath;
  auto* demoCmd = app.add_subcommand("demo", "build and run a small CNN through the engine API on the CPU");
  demoCmd->add_option("--save", savePath, "also write the plan to this file");
  CLI11_PARSE(app, argc, argv);
  if (inspectCmd->parsed()) return inspect(planPath, json);
  if (runCmd->parsed()) return run(planPath, iterations, profile, tracePath);
  if (opsCmd->parsed()) return kiln::tools::printOps(opsJson);
  if (demoCmd->parsed()) return kiln::tools::runDemo(savePath);
  return 1;
}
