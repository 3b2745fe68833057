// Shared tools of the CPU kernels: typed element access, float32 staging for the "compute in float32"
// kernels, broadcasting strides and a parallel loop.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/backend.h"
#include "kiln/status.h"
#include "kiln/types.h"
#include "util/half.h"

namespace kiln {
namespace cpu {

// Reads element i of a buffer of `type` as float / double / int64 (bool reads as 0/1).
float loadFloat(const void* data, DataType type, int64_t i);
double loadDouble(const void* data, DataType type, int64_t i);
int64_t loadInt(const void* data, DataType type, int64_t i);
// Writes element i, converting like a C++ cast (float to int truncates, to bool is != 0).
void storeFloat(void* data, DataType type, int64_t i, float value);
void storeDouble(void* data, DataType type, int64_t i, double value);
void storeInt(void* data, DataType type, int64_t i, int64_t value);

// A float32 copy of a tensor (no copy when it already is float32).
class FloatInput {
 public:
  explicit FloatInput(const TensorView& view);
  const float* data() const { return ptr_; }

 private:
  std::vector<float> storage_;
  const float* ptr_ = nullptr;
};

// A float32 buffer that is written back to the output's type on commit() (no copy for float32 outputs).
class FloatOutput {
 public:
  explicit FloatOutput(const TensorView& view);
  float* data() { return ptr_; }
  void commit();

 private:
  TensorView view_;
  std::vector<float> storage_;
  float* ptr_ = nullptr;
};

// Converts count elements between types (used by cast and by the staging classes).
void convertBuffer(const void* src, DataType srcType, void* dst, DataType dstType, int64_t count);

// Row-major strides of dims.
std::vector<int64_t> contiguousStrides(const Dims& dims);
// Strides for reading `in` while iterating over `out` with numpy broadcasting (0 on broadcast dims).
// `in` may have lower rank (leading dims are implied 1).
std::vector<int64_t> broadcastStrides(const Dims& in, const Dims& out);
// Offset of flat output index `linear` through the given strides over dims `out`.
inline int64_t offsetOf(int64_t linear, const Dims& out, const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (int32_t d = out.nbDims - 1; d >= 0; --d) {
    const int64_t extent = out.d[d];
    const int64_t index = linear % extent;
    linear /= extent;
    offset += index * strides[static_cast<size_t>(d)];
  }
  return offset;
}

// Runs body(begin, end) over [0, n) on the OpenMP threads; serially when n is small.
template <typename Body>
void parallelFor(int64_t n, int64_t grain, Body body) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t chunks = (n + grain - 1) / grain;
  if (chunks <= 1) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t begin = c * grain;
    const int64_t end = begin + grain < n ? begin + grain : n;
    body(begin, end);
  }
}

}  // namespace cpu
}  // namespace kiln

namespace kiln {
namespace cpu {

// Walks output elements [begin, end) of `out`, tracking the matching offsets into up to three
// broadcast inputs (strides from broadcastStrides). Calls fn(outIndex, offsets...).
template <int N, typename Fn>
void forEachBroadcast(const Dims& out, const std::vector<int64_t>* strides[N], int64_t begin, int64_t end, Fn fn) {
  int64_t index[Dims::kMAX_DIMS] = {};
  int64_t offsets[N] = {};
  int64_t rest = begin;
  for (int32_t d = out.nbDims - 1; d >= 0; --d) {
    index[d] = rest % out.d[d];
    rest /= out.d[d];
    for (int k = 0; k < N; ++k) offsets[k] += index[d] * (*strides[k])[static_cast<size_t>(d)];
  }
  for (int64_t i = begin; i < end; ++i) {
    fn(i, offsets);
    for (int32_t d = out.nbDims - 1; d >= 0; --d) {
      ++index[d];
      for (int k = 0; k < N; ++k) offsets[k] += (*strides[k])[static_cast<size_t>(d)];
      if (index[d] < out.d[d]) break;
      for (int k = 0; k < N; ++k) offsets[k] -= index[d] * (*strides[k])[static_cast<size_t>(d)];
      index[d] = 0;
    }
  }
}

}  // namespace cpu
}  // namespace kiln
