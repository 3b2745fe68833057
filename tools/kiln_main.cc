// The `kiln` command-line tool.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>

#include "demo.h"
#include "kiln/kiln.h"

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

// Runs a plan on random inputs at each input's profile-0 opt shape and reports the latency.
int run(const std::string& path, int iterations) {
  auto engine = loadPlan(path);
  if (!engine.isOk()) {
    std::cerr << "kiln run: " << engine.status().toString() << "\n";
    return 1;
  }
  kiln::Engine& e = *engine.value();
  auto context = e.createExecutionContext();
  if (!context.isOk()) {
    std::cerr << "kiln run: " << context.status().toString() << "\n";
    return 1;
  }
  kiln::ExecutionContext& ctx = *context.value();
  std::vector<std::vector<uint8_t>> buffers;
  std::mt19937 rng(0);
  for (int32_t i = 0; i < e.getNbIOTensors(); ++i) {
    const char* name = e.getIOTensorName(i);
    if (e.getTensorIOMode(name) != kiln::TensorIOMode::kINPUT) continue;
    const kiln::Dims dims = e.getProfileShape(name, 0, kiln::OptProfileSelector::kOPT);
    kiln::Status s = ctx.setInputShape(name, dims);
    if (!s.isOk()) {
      std::cerr << "kiln run: " << s.toString() << "\n";
      return 1;
    }
    buffers.emplace_back(static_cast<size_t>(kiln::volume(dims) * kiln::dataTypeSize(e.getTensorDataType(name))));
    if (e.getTensorDataType(name) == kiln::DataType::kFLOAT) {
      auto* f = reinterpret_cast<float*>(buffers.back().data());
      for (size_t k = 0; k < buffers.back().size() / 4; ++k) f[k] = std::uniform_real_distribution<float>(-1, 1)(rng);
    }
    (void)ctx.setTensorAddress(name, buffers.back().data());
  }
  for (int32_t i = 0; i < e.getNbIOTensors(); ++i) {
    const char* name = e.getIOTensorName(i);
    if (e.getTensorIOMode(name) != kiln::TensorIOMode::kOUTPUT) continue;
    const kiln::Dims dims = ctx.getTensorShape(name);
    if (kiln::hasDynamicExtent(dims)) {
      std::cerr << "kiln run: output '" << name << "' has a data-dependent shape; use the C++ or Python API\n";
      return 1;
    }
    buffers.emplace_back(static_cast<size_t>(kiln::volume(dims) * kiln::dataTypeSize(e.getTensorDataType(name))));
    (void)ctx.setTensorAddress(name, buffers.back().data());
    std::cout << "output " << name << ": " << kiln::dataTypeName(e.getTensorDataType(name))
              << kiln::dimsToString(dims) << "\n";
  }
  std::vector<double> times;
  for (int it = 0; it < iterations + 2; ++it) {
    const auto start = std::chrono::steady_clock::now();
    kiln::Status s = ctx.enqueueV3(nullptr);
    if (!s.isOk()) {
      std::cerr << "kiln run: " << s.toString() << "\n";
      return 1;
    }
    if (it >= 2) times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  std::cout << "median latency " << times[times.size() / 2] << " ms over " << iterations << " runs ("
            << kiln::backendKindName(e.getBackend()) << ")\n";
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
  std::string savePath;
  auto* demoCmd = app.add_subcommand("demo", "build and run a small CNN through the engine API on the CPU");
  demoCmd->add_option("--save", savePath, "also write the plan to this file");
  CLI11_PARSE(app, argc, argv);
  if (inspectCmd->parsed()) return inspect(planPath, json);
  if (runCmd->parsed()) return run(planPath, iterations);
  if (demoCmd->parsed()) return kiln::tools::runDemo(savePath);
  return 1;
}
