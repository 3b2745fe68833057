// Fused pointwise layers in plans (round trip, corrupt programs refused at load) and the generated CUDA source,
// compiled with NVRTC for sm_90 (NVRTC needs no GPU, so this runs everywhere the CUDA backend is built).
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "engine/plan.h"
#include "pointwise_fusion_networks.h"
#ifdef KILN_WITH_CUDA
#include "engine/backends/cuda/pointwise_fused_codegen.h"
#endif

namespace kiln {
namespace testing {
namespace {

// ---- plans ----------------------------------------------------------------------------------------------------

TEST(PointwiseFusion, PlanRoundTripRuns) {
  const std::vector<TestInput> in = oneInput(DataType::kFLOAT, Dims{2, 8}, 18);
  const FusedBuild build = buildFused(geluTanhNetwork(DataType::kFLOAT), in);
  ASSERT_FALSE(build.plan.empty());
  EXPECT_NE(build.kernels.find(testBackend() == BackendKind::kCUDA ? "cuda_pointwise_nvrtc" : "cpu_pointwise_fused"),
            std::string::npos)
      << build.kernels;
  StatusOr<PlanContents> plan = deserializePlan(build.plan.data(), build.plan.size());
  ASSERT_TRUE(plan.isOk()) << plan.status().toString();
  const std::vector<uint8_t> again = serializePlan(plan.value());
  // runPlanBytes binds host memory, so it runs CPU plans only (on CUDA every buildAndRun-based fusion test
  // already serializes, deserializes and runs the fused plan from device memory).
  if (testBackend() == BackendKind::kCUDA) GTEST_SKIP() << "runPlanBytes binds host buffers";
  const PlanRun run = runPlanBytes(again, [](int64_t i) { return 0.1 * static_cast<double>(i % 17) - 0.8; });
  ASSERT_TRUE(run.status.isOk()) << run.status.toString();
  ASSERT_EQ(run.outputs.size(), 1u);
  const std::vector<double> got = toDoubles(run.outputs[0]);
  for (size_t i = 0; i < got.size(); ++i) {
    const double x = 0.1 * static_cast<double>(i % 17) - 0.8;
    EXPECT_NEAR(got[i], 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x))), 1e-5);
  }
}

TEST(PointwiseFusion, CorruptProgramIsRefusedAtLoad) {
  const FusedBuild build = buildFused(siluNetwork(), oneInput(DataType::kFLOAT, Dims{4, 4}, 19));
  ASSERT_FALSE(build.plan.empty());
  StatusOr<PlanContents> decoded = deserializePlan(build.plan.data(), build.plan.size());
  ASSERT_TRUE(decoded.isOk());
  size_t index = 0;
  for (size_t l = 0; l < decoded.value().graph.layers.size(); ++l) {
    if (decoded.value().graph.layers[l].params.type == LayerType::kPOINTWISE) index = l;
  }
  const Attributes original = decoded.value().graph.layers[index].params.attrs;
  ASSERT_TRUE(loadPointwiseProgram(original, 1).isOk());
  const std::vector<int64_t> program = original.getInts("program");
  std::vector<std::pair<std::string, std::function<void(Attributes&)>>> corruptions = {
      {"forward operand",
       [&](Attributes& a) {
         auto p = program;
         p[p.size() - 2] = 50;
         a.setInts("program", p);
       }},
      {"negative operand",
       [&](Attributes& a) {
         auto p = program;
         p[p.size() - 2] = -7;
         a.setInts("program", p);
       }},
      {"unknown opcode",
       [&](Attributes& a) {
         auto p = program;
         p[0] = 99;
         a.setInts("program", p);
       }},
      {"load out of range",
       [&](Attributes& a) {
         auto p = program;
         p[1] = 3;
         a.setInts("program", p);
       }},
      {"truncated",
       [&](Attributes& a) {
         auto p = program;
         p.pop_back();
         a.setInts("program", p);
       }},
      {"missing", [&](Attributes& a) { a.erase("program"); }},
      {"immediates", [&](Attributes& a) { a.setFloats("immediates", {1.0}); }},
      {"bool output", [&](Attributes& a) { a.setInt("output_type", static_cast<int64_t>(DataType::kBOOL)); }},
      {"rank", [&](Attributes& a) { a.setInt("output_rank", 99); }},
      {"compare op",
       [&](Attributes& a) {
         auto p = program;
         for (size_t i = 0; i < p.size(); i += 4) {
           if (p[i] == static_cast<int64_t>(PointwiseOpcode::kBINARY))
             p[i + 1] = static_cast<int64_t>(ElementWiseOperation::kGREATER);
         }
         a.setInts("program", p);
       }},
  };
  for (const auto& [what, corrupt] : corruptions) {
    SCOPED_TRACE(what);
    PlanContents plan = decoded.value();
    corrupt(plan.graph.layers[index].params.attrs);
    const std::vector<uint8_t> bytes = serializePlan(plan);
    Runtime runtime;
    auto engine = runtime.deserializeEngine(bytes.data(), bytes.size());
    ASSERT_FALSE(engine.isOk());
    EXPECT_NE(engine.status().message().find("pointwise program"), std::string::npos) << engine.status().toString();
  }
}

// ---- CUDA source: every program above compiles with NVRTC ------------------------------------------------------

#ifdef KILN_WITH_CUDA
void expectProgramsCompile(const NetworkFn& define, const std::vector<std::pair<DataType, Dims>>& inputs) {
  Graph g = graphOf(define, inputs);
  ASSERT_GT(fusePointwiseChains(g), 0);
  for (const LayerInfo& l : g.layers) {
    if (l.params.type != LayerType::kPOINTWISE) continue;
    StatusOr<PointwiseProgram> program = loadPointwiseProgram(l.params.attrs, static_cast<int32_t>(l.inputs.size()));
    ASSERT_TRUE(program.isOk()) << program.status().toString();
    std::vector<DataType> types;
    for (int32_t t : l.inputs) types.push_back(g.tensors[static_cast<size_t>(t)].type);
    StatusOr<cuda::PointwiseKernelSource> source = cuda::generatePointwiseSource(program.value(), types);
    ASSERT_TRUE(source.isOk()) << source.status().toString();
    StatusOr<cuda::PointwiseBinary> binary = cuda::compilePointwiseSource(source.value().source, 90);
    ASSERT_TRUE(binary.isOk()) << binary.status().toString() << "\n" << source.value().source;
    EXPECT_TRUE(binary.value().isCubin);
    EXPECT_EQ(binary.value().architecture, "sm_90");
    EXPECT_GT(binary.value().image.size(), 100u);
  }
}

TEST(PointwiseFusionCodegen, GeneratedSourceCompilesForSm90) {
  for (DataType type : {DataType::kFLOAT, DataType::kHALF, DataType::kBF16}) {
    SCOPED_TRACE(dataTypeName(type));
    expectProgramsCompile(geluTanhNetwork(type), {{type, Dims{2, 8}}});
    expectProgramsCompile(siluNetwork(), {{type, Dims{2, 8}}});
    expectProgramsCompile(hardSwishNetwork(), {{type, Dims{2, 8}}});
    expectProgramsCompile(layerScaleNetwork(type), {{type, Dims{2, 4, 8}}, {type, Dims{2, 4, 8}}});
  }
  expectProgramsCompile(
      broadcastNetwork(),
      {{DataType::kFLOAT, Dims{2, 3, 4}}, {DataType::kFLOAT, Dims{3, 1}}, {DataType::kFLOAT, Dims{4}}});
  expectProgramsCompile(castNetwork(), {{DataType::kHALF, Dims{2, 40}}});
}

TEST(PointwiseFusionCodegen, EveryInstructionKindCompiles) {
  // One program using every activation, fusable unary and binary operation and every cast.
  PointwiseProgram p;
  auto push = [&](PointwiseOpcode op, int32_t code, int32_t a = -1, int32_t b = -1, float alpha = 0.f,
                  float beta = 0.f) {
    p.code.push_back({op, code, a, b, alpha, beta});
    return static_cast<int32_t>(p.code.size() - 1);
  };
  int32_t acc = push(PointwiseOpcode::kLOAD, 0);
  const int32_t other = push(PointwiseOpcode::kLOAD, 1);
  push(PointwiseOpcode::kCONSTANT, 0, -1, -1, INFINITY);
  push(PointwiseOpcode::kCONSTANT, 0, -1, -1, NAN);
  for (int32_t a = 0; a <= static_cast<int32_t>(ActivationType::kGELU_TANH); ++a) {
    acc = push(PointwiseOpcode::kACTIVATION, a, acc, -1, 0.25f, 0.75f);
  }
  for (int32_t u = 0; u <= static_cast<int32_t>(UnaryOperation::kISNAN); ++u) {
    if (isFusableUnaryOperation(static_cast<UnaryOperation>(u))) acc = push(PointwiseOpcode::kUNARY, u, acc);
  }
  for (int32_t b = 0; b <= static_cast<int32_t>(ElementWiseOperation::kLESS); ++b) {
    if (isFusableBinaryOperation(static_cast<ElementWiseOperation>(b)))
      acc = push(PointwiseOpcode::kBINARY, b, acc, other);
  }
  for (DataType t : {DataType::kHALF, DataType::kBF16, DataType::kFLOAT}) {
    acc = push(PointwiseOpcode::kCAST, static_cast<int32_t>(t), acc);
  }
  p.outputType = DataType::kHALF;
  p.outputRank = 2;
  Attributes attrs;
  storePointwiseProgram(p, attrs);
  ASSERT_TRUE(loadPointwiseProgram(attrs, 2).isOk());
  StatusOr<cuda::PointwiseKernelSource> source = cuda::generatePointwiseSource(p, {DataType::kBF16, DataType::kFLOAT});
  ASSERT_TRUE(source.isOk()) << source.status().toString();
  StatusOr<cuda::PointwiseBinary> binary = cuda::compilePointwiseSource(source.value().source, 90);
  ASSERT_TRUE(binary.isOk()) << binary.status().toString() << "\n" << source.value().source;
  EXPECT_TRUE(binary.value().isCubin);
}

TEST(PointwiseFusionCodegen, CompileErrorCarriesTheLog) {
  StatusOr<cuda::PointwiseBinary> binary = cuda::compilePointwiseSource("this is not CUDA;", 90);
  ASSERT_FALSE(binary.isOk());
  EXPECT_NE(binary.status().message().find("NVRTC"), std::string::npos);
  EXPECT_NE(binary.status().message().find("error"), std::string::npos) << binary.status().toString();
}
#endif

}  // namespace
}  // namespace testing
}  // namespace kiln
