#include <limits>
#include <string>

#include "kiln/layers.h"
#include "kiln/types.h"

namespace kiln {

int64_t dataTypeSize(DataType type) {
  switch (type) {
    case DataType::kFLOAT: return 4;
    case DataType::kHALF: return 2;
    case DataType::kBF16: return 2;
    case DataType::kINT8: return 1;
    case DataType::kINT32: return 4;
    case DataType::kINT64: return 8;
    case DataType::kBOOL: return 1;
    case DataType::kUINT8: return 1;
  }
  return 1;
}

const char* dataTypeName(DataType type) {
  switch (type) {
    case DataType::kFLOAT: return "float32";
    case DataType::kHALF: return "float16";
    case DataType::kBF16: return "bfloat16";
    case DataType::kINT8: return "int8";
    case DataType::kINT32: return "int32";
    case DataType::kINT64: return "int64";
    case DataType::kBOOL: return "bool";
    case DataType::kUINT8: return "uint8";
  }
  return "invalid";
}

bool isFloatType(DataType type) {
  return type == DataType::kFLOAT || type == DataType::kHALF || type == DataType::kBF16;
}

bool isIntegerType(DataType type) {
  return type == DataType::kINT8 || type == DataType::kINT32 || type == DataType::kINT64 || type == DataType::kUINT8;
}

bool isValidDataType(int32_t value) { return value >= 0 && value < kNB_DATA_TYPES; }

Dims::Dims(std::initializer_list<int64_t> extents) {
  for (int64_t e : extents) {
    if (nbDims == kMAX_DIMS) break;
    d[nbDims++] = e;
  }
}

bool Dims::operator==(const Dims& other) const {
  if (nbDims != other.nbDims) return false;
  for (int32_t i = 0; i < nbDims; ++i) {
    if (d[i] != other.d[i]) return false;
  }
  return true;
}

int64_t volume(const Dims& dims) {
  bool empty = false;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < 0) return -1;
    empty = empty || dims.d[i] == 0;
  }
  if (empty) return 0;
  int64_t v = 1;
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (v > std::numeric_limits<int64_t>::max() / dims.d[i]) return -1;
    v *= dims.d[i];
  }
  return v;
}

bool hasDynamicExtent(const Dims& dims) {
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] < 0) return true;
  }
  return false;
}

std::string dimsToString(const Dims& dims) {
  std::string s = "[";
  for (int32_t i = 0; i < dims.nbDims && i < Dims::kMAX_DIMS; ++i) {
    if (i) s += ",";
    s += std::to_string(dims.d[i]);
  }
  return s + "]";
}

const char* backendKindName(BackendKind kind) {
  switch (kind) {
    case BackendKind::kCPU: return "cpu";
    case BackendKind::kCUDA: return "cuda";
  }
  return "invalid";
}

const char* layerTypeName(LayerType type) {
  switch (type) {
    case LayerType::kACTIVATION: return "Activation";
    case LayerType::kELEMENTWISE: return "ElementWise";
    case LayerType::kUNARY: return "Unary";
    case LayerType::kCONVOLUTION: return "Convolution";
    case LayerType::kDECONVOLUTION: return "Deconvolution";
    case LayerType::kPOOLING: return "Pooling";
    case LayerType::kMATRIX_MULTIPLY: return "MatrixMultiply";
    case LayerType::kREDUCE: return "Reduce";
    case LayerType::kSOFTMAX: return "SoftMax";
    case LayerType::kNORMALIZATION: return "Normalization";
    case LayerType::kSHUFFLE: return "Shuffle";
    case LayerType::kSLICE: return "Slice";
    case LayerType::kCONCATENATION: return "Concatenation";
    case LayerType::kGATHER: return "Gather";
    case LayerType::kSELECT: return "Select";
    case LayerType::kCONSTANT: return "Constant";
    case LayerType::kCAST: return "Cast";
    case LayerType::kIDENTITY: return "Identity";
    case LayerType::kTOPK: return "TopK";
    case LayerType::kSCATTER: return "Scatter";
    case LayerType::kPADDING: return "Padding";
    case LayerType::kRESIZE: return "Resize";
    case LayerType::kSHAPE: return "Shape";
    case LayerType::kFILL: return "Fill";
    case LayerType::kCUMULATIVE: return "Cumulative";
    case LayerType::kNON_ZERO: return "NonZero";
    case LayerType::kONE_HOT: return "OneHot";
    case LayerType::kATTENTION: return "Attention";
    case LayerType::kPOINTWISE: return "PointWise";
  }
  return "Invalid";
}

}  // namespace kiln
