// A small tensor in host memory: values of shape tensors and constants during shape resolution,
// and the storage tests and the CPU backend use for scratch results.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "kiln/types.h"

namespace kiln {

struct HostTensor {
  DataType type = DataType::kINT64;
  Dims dims;
  std::vector<uint8_t> bytes;

  HostTensor() = default;
  HostTensor(DataType t, const Dims& d) : type(t), dims(d), bytes(static_cast<size_t>(volume(d) * dataTypeSize(t))) {}

  int64_t count() const { return volume(dims); }
  void* data() { return bytes.data(); }
  const void* data() const { return bytes.data(); }
  // Element i as an integer (int types and bool; floats are truncated).
  int64_t intAt(int64_t i) const;
  double floatAt(int64_t i) const;
  std::vector<int64_t> toInts() const;
};

}  // namespace kiln
