// Data types, dimensions and weights: the vocabulary shared by the network, builder and runtime.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

namespace kiln {

// Element types. Values are part of the plan format: never renumber, only append.
enum class DataType : int32_t {
  kFLOAT = 0,
  kHALF = 1,
  kBF16 = 2,
  kINT8 = 3,
  kINT32 = 4,
  kINT64 = 5,
  kBOOL = 6,
  kUINT8 = 7,
};
constexpr int32_t kNB_DATA_TYPES = 8;

// Size of one element in bytes.
int64_t dataTypeSize(DataType type);
// "float32", "float16", "bfloat16", "int8", "int32", "int64", "bool", "uint8".
const char* dataTypeName(DataType type);
bool isFloatType(DataType type);    // float32, float16, bfloat16
bool isIntegerType(DataType type);  // int8, int32, int64, uint8 (not bool)
bool isValidDataType(int32_t value);

// Shape of a tensor. An extent of -1 is dynamic: fixed per run by the input shapes within an
// optimization profile, or data-dependent (non-zero) and known only after the layer has run.
struct Dims {
  static constexpr int32_t kMAX_DIMS = 8;
  int32_t nbDims = 0;
  int64_t d[kMAX_DIMS] = {};

  Dims() = default;
  Dims(std::initializer_list<int64_t> extents);

  bool operator==(const Dims& other) const;
  bool operator!=(const Dims& other) const { return !(*this == other); }
};

// Number of elements; -1 when any extent is dynamic or the count overflows int64. A rank-0 tensor has volume 1.
int64_t volume(const Dims& dims);
bool hasDynamicExtent(const Dims& dims);
// "[2,3,-1]"
std::string dimsToString(const Dims& dims);

// A permutation for shuffle layers: output dim i takes input dim order[i].
struct Permutation {
  int32_t order[Dims::kMAX_DIMS] = {0, 1, 2, 3, 4, 5, 6, 7};
};

// A view of host memory holding weights. The network copies the bytes when the layer is created,
// so the caller's buffer may be freed right after the add* call returns.
struct Weights {
  DataType type = DataType::kFLOAT;
  const void* values = nullptr;
  int64_t count = 0;
};

// Which backend a plan is built for and runs on.
enum class BackendKind : int32_t {
  kCPU = 0,
  kCUDA = 1,
};
const char* backendKindName(BackendKind kind);

// Bytes of device memory held now, and the most held at once since the peak was last reset.
struct MemoryUse {
  int64_t currentBytes = 0;
  int64_t peakBytes = 0;
};

}  // namespace kiln
