#include "engine/backends/cpu/cpu_util.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace kiln {
namespace cpu {

float loadFloat(const void* data, DataType type, int64_t i) {
  switch (type) {
    case DataType::kFLOAT: return static_cast<const float*>(data)[i];
    case DataType::kHALF: return halfToFloat(static_cast<const uint16_t*>(data)[i]);
    case DataType::kBF16: return bf16ToFloat(static_cast<const uint16_t*>(data)[i]);
    case DataType::kINT8: return static_cast<float>(static_cast<const int8_t*>(data)[i]);
    case DataType::kINT32: return static_cast<float>(static_cast<const int32_t*>(data)[i]);
    case DataType::kINT64: return static_cast<float>(static_cast<const int64_t*>(data)[i]);
    case DataType::kBOOL: return static_cast<const uint8_t*>(data)[i] ? 1.f : 0.f;
    case DataType::kUINT8: return static_cast<float>(static_cast<const uint8_t*>(data)[i]);
  }
  return 0.f;
}

double loadDouble(const void* data, DataType type, int64_t i) {
  switch (type) {
    case DataType::kINT64: return static_cast<double>(static_cast<const int64_t*>(data)[i]);
    case DataType::kINT32: return static_cast<double>(static_cast<const int32_t*>(data)[i]);
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16:
    case DataType::kINT8:
    case DataType::kBOOL:
    case DataType::kUINT8: return static_cast<double>(loadFloat(data, type, i));
  }
  return 0.0;
}

int64_t loadInt(const void* data, DataType type, int64_t i) {
  switch (type) {
    case DataType::kINT8: return static_cast<const int8_t*>(data)[i];
    case DataType::kINT32: return static_cast<const int32_t*>(data)[i];
    case DataType::kINT64: return static_cast<const int64_t*>(data)[i];
    case DataType::kBOOL: return static_cast<const uint8_t*>(data)[i] ? 1 : 0;
    case DataType::kUINT8: return static_cast<const uint8_t*>(data)[i];
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16: {
      const float f = loadFloat(data, type, i);
      if (std::isnan(f)) return 0;
      if (f >= 9.2e18f) return INT64_MAX;
      if (f <= -9.2e18f) return INT64_MIN;
      return static_cast<int64_t>(f);
    }
  }
  return 0;
}

namespace {
template <typename T>
T saturatingFromDouble(double v) {
  // C++ leaves out-of-range float->int casts undefined; Kiln saturates (and maps NaN to 0).
  if (std::isnan(v)) return 0;
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  return static_cast<T>(v);
}
}  // namespace

void storeDouble(void* data, DataType type, int64_t i, double value) {
  switch (type) {
    case DataType::kFLOAT: static_cast<float*>(data)[i] = static_cast<float>(value); break;
    case DataType::kHALF: static_cast<uint16_t*>(data)[i] = floatToHalf(static_cast<float>(value)); break;
    case DataType::kBF16: static_cast<uint16_t*>(data)[i] = floatToBf16(static_cast<float>(value)); break;
    case DataType::kINT8: static_cast<int8_t*>(data)[i] = saturatingFromDouble<int8_t>(value); break;
    case DataType::kINT32: static_cast<int32_t*>(data)[i] = saturatingFromDouble<int32_t>(value); break;
    case DataType::kINT64: static_cast<int64_t*>(data)[i] = saturatingFromDouble<int64_t>(value); break;
    case DataType::kBOOL: static_cast<uint8_t*>(data)[i] = value != 0.0 ? 1 : 0; break;
    case DataType::kUINT8: static_cast<uint8_t*>(data)[i] = saturatingFromDouble<uint8_t>(value); break;
  }
}

void storeFloat(void* data, DataType type, int64_t i, float value) { storeDouble(data, type, i, value); }

void storeInt(void* data, DataType type, int64_t i, int64_t value) {
  switch (type) {
    case DataType::kINT8: static_cast<int8_t*>(data)[i] = static_cast<int8_t>(value); break;
    case DataType::kINT32: static_cast<int32_t*>(data)[i] = static_cast<int32_t>(value); break;
    case DataType::kINT64: static_cast<int64_t*>(data)[i] = value; break;
    case DataType::kBOOL: static_cast<uint8_t*>(data)[i] = value != 0 ? 1 : 0; break;
    case DataType::kUINT8: static_cast<uint8_t*>(data)[i] = static_cast<uint8_t>(value); break;
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16: storeDouble(data, type, i, static_cast<double>(value)); break;
  }
}

void convertBuffer(const void* src, DataType srcType, void* dst, DataType dstType, int64_t count) {
  if (srcType == dstType) {
    std::memcpy(dst, src, static_cast<size_t>(count * dataTypeSize(srcType)));
    return;
  }
  const bool exactInts = !isFloatType(srcType) && !isFloatType(dstType);
  parallelFor(count, 1 << 15, [&](int64_t begin, int64_t end) {
    if (exactInts) {
      for (int64_t i = begin; i < end; ++i) storeInt(dst, dstType, i, loadInt(src, srcType, i));
    } else if (srcType == DataType::kINT64 || srcType == DataType::kINT32) {
      for (int64_t i = begin; i < end; ++i) storeDouble(dst, dstType, i, loadDouble(src, srcType, i));
    } else {
      for (int64_t i = begin; i < end; ++i) storeFloat(dst, dstType, i, loadFloat(src, srcType, i));
    }
  });
}

FloatInput::FloatInput(const TensorView& view) {
  if (view.type == DataType::kFLOAT) {
    ptr_ = static_cast<const float*>(view.data);
    return;
  }
  storage_.resize(static_cast<size_t>(view.count()));
  convertBuffer(view.data, view.type, storage_.data(), DataType::kFLOAT, view.count());
  ptr_ = storage_.data();
}

FloatOutput::FloatOutput(const TensorView& view) : view_(view) {
  if (view.type == DataType::kFLOAT) {
    ptr_ = static_cast<float*>(view.data);
    return;
  }
  storage_.resize(static_cast<size_t>(view.count()));
  ptr_ = storage_.data();
}

void FloatOutput::commit() {
  if (view_.type == DataType::kFLOAT) return;
  convertBuffer(storage_.data(), DataType::kFLOAT, view_.data, view_.type, view_.count());
}

std::vector<int64_t> contiguousStrides(const Dims& dims) {
  std::vector<int64_t> strides(static_cast<size_t>(dims.nbDims));
  int64_t s = 1;
  for (int32_t d = dims.nbDims - 1; d >= 0; --d) {
    strides[static_cast<size_t>(d)] = s;
    s *= dims.d[d];
  }
  return strides;
}

std::vector<int64_t> broadcastStrides(const Dims& in, const Dims& out) {
  std::vector<int64_t> strides(static_cast<size_t>(out.nbDims), 0);
  const std::vector<int64_t> inStrides = contiguousStrides(in);
  const int32_t offset = out.nbDims - in.nbDims;
  for (int32_t d = 0; d < in.nbDims; ++d) {
    strides[static_cast<size_t>(d + offset)] = in.d[d] == 1 ? 0 : inStrides[static_cast<size_t>(d)];
  }
  return strides;
}

}  // namespace cpu
}  // namespace kiln
