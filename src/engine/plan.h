// The serialized plan: a versioned, checksummed, self-describing file.
//
//   offset 0   "KILNPLAN" magic (8 bytes)
//          8   u32 format version, u32 reserved
//         16   u64 total size, u64 FNV-1a-64 checksum of every byte after offset 32
//         32   header: kiln version, backend, device (GPU architecture), I/O table (name, mode, dtype, dims),
//              profiles (min/opt/max per input)
//              body: tensors, layers (type, name, inputs, outputs, chosen kernel, attributes), memory plans
//              weights: 256-byte aligned blobs that layer attributes reference by offset and size
// All integers little-endian. The reader treats the bytes as untrusted: every count, length and offset is
// checked against what remains, and the decoded graph is validated before anything runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/graph.h"
#include "kiln/status.h"

namespace kiln {

constexpr uint32_t kPLAN_FORMAT_VERSION = 1;
constexpr int64_t kPLAN_WEIGHT_ALIGNMENT = 256;

struct ProfileShapes {
  std::vector<Dims> min, opt, max;  // per graph input
};

// Where each activation tensor lives in a context's arena for one profile.
struct MemoryPlan {
  int64_t arenaBytes = 0;
  std::vector<int64_t> offsets;     // per tensor; -1 when not in the arena (I/O, constants, dynamic)
  std::vector<int64_t> capacities;  // bytes reserved at offsets[t]
};

struct PlanContents {
  std::string kilnVersion;
  BackendKind backend = BackendKind::kCPU;
  std::string deviceName;
  Graph graph;
  std::vector<ProfileShapes> profiles;
  std::vector<MemoryPlan> memoryPlans;  // one per profile
};

std::vector<uint8_t> serializePlan(const PlanContents& plan);
// Parses and validates; errors are kINVALID_PLAN and say which field is wrong.
StatusOr<PlanContents> deserializePlan(const void* data, size_t size);
// Structural checks of a decoded plan: indices in range, topological order, one producer per tensor, types.
Status validatePlan(const PlanContents& plan);
// Recomputes the checksum in place (tests use it so mutated plans reach the structural checks).
void resealPlan(std::vector<uint8_t>& bytes);

}  // namespace kiln
