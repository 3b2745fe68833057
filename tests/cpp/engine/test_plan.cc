// The serialized plan: round trip, and corrupt, truncated or foreign plans give errors, never crashes.
#include <cstring>

#include "engine/plan.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

double ramp(int64_t i) { return static_cast<double>(i % 10) * 0.1; }

const std::vector<uint8_t>& samplePlan() {
  static const std::vector<uint8_t> plan = buildSamplePlan();
  return plan;
}

TEST(Plan, RoundTripGivesIdenticalOutputsAndBytes) {
  const std::vector<uint8_t>& plan = samplePlan();
  ASSERT_FALSE(plan.empty());
  PlanRun first = runPlanBytes(plan, ramp);
  ASSERT_TRUE(first.status.isOk()) << first.status.toString();
  Runtime runtime;
  auto engine = runtime.deserializeEngine(plan.data(), plan.size());
  ASSERT_TRUE(engine.isOk());
  const std::vector<uint8_t> again = engine.value()->serialize();
  EXPECT_TRUE(again == plan) << "re-serializing a loaded plan changed its bytes";
  PlanRun second = runPlanBytes(again, ramp);
  ASSERT_TRUE(second.status.isOk());
  ASSERT_EQ(first.outputs.size(), 2u);
  for (size_t i = 0; i < first.outputs.size(); ++i) expectEqual(second.outputs[i], first.outputs[i]);
  EXPECT_EQ(first.outputs[0].dims, (Dims{2, 5}));
  EXPECT_EQ(first.outputs[1].dims, (Dims{2, 2}));
  // Each row of probs sums to one.
  for (int r = 0; r < 2; ++r) {
    double sum = 0;
    for (int c = 0; c < 5; ++c) sum += first.outputs[0].floatAt(r * 5 + c);
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
  // picked = sum over the sequence of embedding rows ids (ramp: 0,.1,.2 -> int 0) -> columns 1..2 of row 0.
  EXPECT_EQ(first.outputs[1].floatAt(0), 3.0);
  EXPECT_EQ(first.outputs[1].floatAt(1), 6.0);
}

TEST(Plan, HeaderIsSelfDescribing) {
  const std::vector<uint8_t>& plan = samplePlan();
  ASSERT_GE(plan.size(), 32u);
  EXPECT_EQ(std::memcmp(plan.data(), "KILNPLAN", 8), 0);
  uint32_t version = 0;
  std::memcpy(&version, plan.data() + 8, 4);
  EXPECT_EQ(version, kPLAN_FORMAT_VERSION);
  auto parsed = deserializePlan(plan.data(), plan.size());
  ASSERT_TRUE(parsed.isOk()) << parsed.status().toString();
  EXPECT_EQ(parsed.value().deviceName, "cpu");
  EXPECT_EQ(parsed.value().kilnVersion, kilnVersion());
  EXPECT_EQ(parsed.value().profiles.size(), 1u);
}

TEST(Plan, EveryTruncationIsRejected) {
  const std::vector<uint8_t>& plan = samplePlan();
  for (size_t n = 0; n < plan.size(); n += (n < 128 ? 1 : 97)) {
    std::vector<uint8_t> cut(plan.begin(), plan.begin() + static_cast<std::ptrdiff_t>(n));
    Runtime runtime;
    auto engine = runtime.deserializeEngine(cut.data(), cut.size());
    ASSERT_FALSE(engine.isOk()) << "a plan cut to " << n << " bytes was accepted";
    EXPECT_EQ(engine.status().code(), StatusCode::kINVALID_PLAN);
  }
}

TEST(Plan, BitFlipsAreCaughtByTheChecksum) {
  const std::vector<uint8_t>& plan = samplePlan();
  for (size_t pos = 32; pos < plan.size(); pos += 53) {
    std::vector<uint8_t> bad = plan;
    bad[pos] ^= static_cast<uint8_t>(1u << (pos % 8));
    Runtime runtime;
    auto engine = runtime.deserializeEngine(bad.data(), bad.size());
    ASSERT_FALSE(engine.isOk());
    EXPECT_NE(engine.status().message().find("checksum"), std::string::npos) << engine.status().toString();
  }
}

TEST(Plan, WrongVersionAndMagicAreExplained) {
  std::vector<uint8_t> plan = samplePlan();
  const uint32_t future = kPLAN_FORMAT_VERSION + 1;
  std::memcpy(plan.data() + 8, &future, 4);
  Runtime runtime;
  auto engine = runtime.deserializeEngine(plan.data(), plan.size());
  ASSERT_FALSE(engine.isOk());
  EXPECT_NE(engine.status().message().find("format version"), std::string::npos) << engine.status().toString();
  plan[0] = 'X';
  engine = runtime.deserializeEngine(plan.data(), plan.size());
  EXPECT_NE(engine.status().message().find("magic"), std::string::npos);
  EXPECT_FALSE(runtime.deserializeEngine(nullptr, 0).isOk());
}

TEST(Plan, ResealedStructuralDamageIsRejected) {
  // Past the checksum: a layer reading an undefined tensor, a kernel this backend lacks.
  auto parsed = deserializePlan(samplePlan().data(), samplePlan().size());
  ASSERT_TRUE(parsed.isOk());
  PlanContents broken = parsed.value();
  broken.graph.layers[1].inputs[0] = static_cast<int32_t>(broken.graph.tensors.size()) + 5;
  std::vector<uint8_t> bytes = serializePlan(broken);
  Runtime runtime;
  auto engine = runtime.deserializeEngine(bytes.data(), bytes.size());
  ASSERT_FALSE(engine.isOk());
  EXPECT_NE(engine.status().message().find("not defined"), std::string::npos) << engine.status().toString();

  broken = parsed.value();
  for (LayerInfo& layer : broken.graph.layers) {
    if (layer.params.type == LayerType::kCONVOLUTION) layer.kernel = "warp_drive";
  }
  bytes = serializePlan(broken);
  engine = runtime.deserializeEngine(bytes.data(), bytes.size());
  ASSERT_FALSE(engine.isOk());
  EXPECT_NE(engine.status().message().find("warp_drive"), std::string::npos) << engine.status().toString();

  broken = parsed.value();
  broken.memoryPlans[0].arenaBytes = 16;
  bytes = serializePlan(broken);
  EXPECT_FALSE(runtime.deserializeEngine(bytes.data(), bytes.size()).isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
