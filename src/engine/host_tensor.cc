#include "engine/host_tensor.h"

#include "engine/backends/cpu/cpu_util.h"

namespace kiln {

int64_t HostTensor::intAt(int64_t i) const { return cpu::loadInt(bytes.data(), type, i); }
double HostTensor::floatAt(int64_t i) const { return cpu::loadDouble(bytes.data(), type, i); }

std::vector<int64_t> HostTensor::toInts() const {
  std::vector<int64_t> values(static_cast<size_t>(count() > 0 ? count() : 0));
  for (size_t i = 0; i < values.size(); ++i) values[i] = intAt(static_cast<int64_t>(i));
  return values;
}

}  // namespace kiln
