// torch ScalarType codes <-> Kiln data types.
#include "ir/dtype.h"

#include <string>

namespace kiln {
namespace ir {
namespace {

// torch's c10::ScalarType order, for error messages that name what the graph asked for.
const char* torchScalarTypeName(int64_t code) {
  static const char* const kNames[] = {
      "uint8",           "int8",
      "int16",           "int32",
      "int64",           "float16",
      "float32",         "float64",
      "complex32",       "complex64",
      "complex128",      "bool",
      "qint8",           "quint8",
      "qint32",          "bfloat16",
      "quint4x2",        "quint2x4",
      "bits1x8",         "bits2x4",
      "bits4x2",         "bits8",
      "bits16",          "float8_e5m2",
      "float8_e4m3fn",   "float8_e5m2fnuz",
      "float8_e4m3fnuz", "uint16",
      "uint32",          "uint64",
  };
  const int64_t count = static_cast<int64_t>(sizeof(kNames) / sizeof(kNames[0]));
  return code >= 0 && code < count ? kNames[code] : nullptr;
}

std::string describe(int64_t code) {
  const char* name = torchScalarTypeName(code);
  return name ? std::string("torch.") + name + " (ScalarType " + std::to_string(code) + ")"
              : "unknown ScalarType code " + std::to_string(code);
}

}  // namespace

StatusOr<DataType> dataTypeFromTorch(int64_t scalarType, bool allowNarrowing) {
  switch (scalarType) {
    case static_cast<int64_t>(TorchScalarType::kUINT8):
      return DataType::kUINT8;
    case static_cast<int64_t>(TorchScalarType::kINT8):
      return DataType::kINT8;
    case static_cast<int64_t>(TorchScalarType::kINT32):
      return DataType::kINT32;
    case static_cast<int64_t>(TorchScalarType::kINT64):
      return DataType::kINT64;
    case static_cast<int64_t>(TorchScalarType::kFLOAT16):
      return DataType::kHALF;
    case static_cast<int64_t>(TorchScalarType::kFLOAT32):
      return DataType::kFLOAT;
    case static_cast<int64_t>(TorchScalarType::kBOOL):
      return DataType::kBOOL;
    case static_cast<int64_t>(TorchScalarType::kBFLOAT16):
      return DataType::kBF16;
    case static_cast<int64_t>(TorchScalarType::kFLOAT64):
      if (allowNarrowing) return DataType::kFLOAT;
      return invalidArgument(describe(scalarType) +
                             " has no Kiln type; allow narrowing to compute it in float32, or keep the op in PyTorch");
    case static_cast<int64_t>(TorchScalarType::kINT16):
      if (allowNarrowing) return DataType::kINT32;
      return invalidArgument(describe(scalarType) +
                             " has no Kiln type; allow narrowing to compute it in int32, or keep the op in PyTorch");
    default:
      break;  // an int64 code, not an enum: the remaining torch types have no Kiln equivalent
  }
  return invalidArgument(describe(scalarType) + " has no Kiln type; keep the op in PyTorch");
}

int64_t torchScalarTypeOf(DataType type) {
  switch (type) {
    case DataType::kFLOAT:
      return static_cast<int64_t>(TorchScalarType::kFLOAT32);
    case DataType::kHALF:
      return static_cast<int64_t>(TorchScalarType::kFLOAT16);
    case DataType::kBF16:
      return static_cast<int64_t>(TorchScalarType::kBFLOAT16);
    case DataType::kINT8:
      return static_cast<int64_t>(TorchScalarType::kINT8);
    case DataType::kINT32:
      return static_cast<int64_t>(TorchScalarType::kINT32);
    case DataType::kINT64:
      return static_cast<int64_t>(TorchScalarType::kINT64);
    case DataType::kBOOL:
      return static_cast<int64_t>(TorchScalarType::kBOOL);
    case DataType::kUINT8:
      return static_cast<int64_t>(TorchScalarType::kUINT8);
  }
  return -1;
}

}  // namespace ir
}  // namespace kiln
