// Plan fuzzing under AddressSanitizer and UndefinedBehaviorSanitizer: thousands of mutated plans must each
// give a clean error or a clean run, never a crash, leak or undefined behaviour. Half of the mutations are
// resealed (checksum recomputed) so they reach the structural decoder and the graph validation.
#include <cstdio>
#include <cstring>
#include <random>

#include "engine/plan.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

double ramp(int64_t i) { return static_cast<double>(i % 7) * 0.3; }

std::vector<uint8_t> mutate(const std::vector<uint8_t>& plan, std::mt19937_64& rng) {
  std::vector<uint8_t> bytes = plan;
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % (n ? n : 1)); };
  switch (rng() % 6) {
    case 0: {  // flip a few bits
      const int flips = 1 + static_cast<int>(rng() % 8);
      for (int i = 0; i < flips; ++i) bytes[pick(bytes.size())] ^= static_cast<uint8_t>(1u << (rng() % 8));
      break;
    }
    case 1: {  // overwrite an aligned 8-byte field with an extreme value
      static const int64_t kExtremes[] = {0, -1, 1, 7, INT32_MAX, INT64_MAX, INT64_MIN, 1ll << 40, -2};
      const size_t pos = pick(bytes.size() / 4) * 4;
      const int64_t v = kExtremes[rng() % (sizeof(kExtremes) / sizeof(kExtremes[0]))];
      for (size_t k = 0; k < 8 && pos + k < bytes.size(); ++k) bytes[pos + k] = static_cast<uint8_t>(v >> (8 * k));
      break;
    }
    case 2: {  // overwrite a 4-byte field (ranks, types, indices) with a small or negative value
      const size_t pos = pick(bytes.size() / 4) * 4;
      const int32_t v = static_cast<int32_t>(rng() % 40) - 10;
      for (size_t k = 0; k < 4 && pos + k < bytes.size(); ++k) bytes[pos + k] = static_cast<uint8_t>(v >> (8 * k));
      break;
    }
    case 3:  // truncate
      bytes.resize(pick(bytes.size()));
      break;
    case 4: {  // insert or delete a run of bytes
      const size_t pos = pick(bytes.size());
      if (rng() & 1) {
        bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(pos), 1 + pick(16), static_cast<uint8_t>(rng()));
      } else {
        bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(pos),
                    bytes.begin() + static_cast<std::ptrdiff_t>(std::min(bytes.size(), pos + 1 + pick(16))));
      }
      break;
    }
    default:  // random byte
      bytes[pick(bytes.size())] = static_cast<uint8_t>(rng());
  }
  return bytes;
}

TEST(PlanFuzz, TenThousandMutatedPlansNeverCrash) {
  const std::vector<uint8_t> plan = buildSamplePlan();
  ASSERT_FALSE(plan.empty());
  PlanRun clean = runPlanBytes(plan, ramp);
  ASSERT_TRUE(clean.status.isOk()) << clean.status.toString();
  std::mt19937_64 rng(20261121);
  int accepted = 0, ran = 0, rejected = 0;
  constexpr int kCASES = 10000;
  for (int i = 0; i < kCASES; ++i) {
    std::vector<uint8_t> bytes = mutate(plan, rng);
    if (i % 2 == 0) {
      // Keep the size field consistent so the mutation reaches the decoder.
      if (bytes.size() >= 32) {
        const uint64_t total = bytes.size();
        std::memcpy(bytes.data() + 16, &total, 8);
      }
      resealPlan(bytes);
    }
    PlanRun run = runPlanBytes(bytes, ramp);
    if (run.status.isOk()) {
      ++ran;
    } else if (run.status.code() == StatusCode::kINVALID_PLAN) {
      ++rejected;
    } else {
      ++accepted;  // loaded, then refused at bind or run time with a clean error
    }
    EXPECT_FALSE(run.status.message().empty() && !run.status.isOk()) << "an error without a message";
  }
  std::printf("plan fuzz: %d cases: %d rejected as invalid plans, %d failed cleanly later, %d ran\n", kCASES,
              rejected, accepted, ran);
  EXPECT_EQ(rejected + accepted + ran, kCASES);
  EXPECT_GT(rejected, kCASES / 2);
}

}  // namespace
}  // namespace testing
}  // namespace kiln
