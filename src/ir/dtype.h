// torch ScalarType codes as they appear in schemas' ScalarType arguments, and their Kiln types.
#pragma once

#include <cstdint>

#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {
namespace ir {

// torch.uint8=0, int8=1, int16=2, int32=3, int64=4, float16=5, float32=6, float64=7, bool=11, bfloat16=15.
enum class TorchScalarType : int64_t {
  kUINT8 = 0, kINT8 = 1, kINT16 = 2, kINT32 = 3, kINT64 = 4, kFLOAT16 = 5, kFLOAT32 = 6, kFLOAT64 = 7,
  kBOOL = 11, kBFLOAT16 = 15,
};

// Kiln has no float64 or int16: they map to float32 / int32 only when the caller allows narrowing.
StatusOr<DataType> dataTypeFromTorch(int64_t scalarType, bool allowNarrowing);
int64_t torchScalarTypeOf(DataType type);

}  // namespace ir
}  // namespace kiln
