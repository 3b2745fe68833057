// The memory accounting every backend shares: allocate and deallocate count bytes around the backend's own
// allocation, so users (and the benchmark) can see what Kiln holds on a device.
#include "engine/backend.h"

#include <algorithm>

#include "kiln/runtime.h"

namespace kiln {

StatusOr<void*> Backend::allocate(int64_t bytes) {
  KILN_ASSIGN_OR_RETURN(void* ptr, allocateBytes(bytes));
  if (ptr == nullptr) return ptr;
  std::lock_guard<std::mutex> lock(memoryMutex_);
  allocationBytes_[ptr] = bytes;
  memory_.currentBytes += bytes;
  memory_.peakBytes = std::max(memory_.peakBytes, memory_.currentBytes);
  return ptr;
}

void Backend::deallocate(void* ptr) {
  if (ptr == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(memoryMutex_);
    auto it = allocationBytes_.find(ptr);
    if (it != allocationBytes_.end()) {
      memory_.currentBytes -= it->second;
      allocationBytes_.erase(it);
    }
  }
  deallocateBytes(ptr);
}

MemoryUse Backend::memoryUse() const {
  std::lock_guard<std::mutex> lock(memoryMutex_);
  return memory_;
}

void Backend::resetPeakMemory() {
  std::lock_guard<std::mutex> lock(memoryMutex_);
  memory_.peakBytes = memory_.currentBytes;
}

StatusOr<MemoryUse> getMemoryUse(BackendKind kind) {
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<Backend> backend, getBackend(kind));
  return backend->memoryUse();
}

Status resetPeakMemoryUse(BackendKind kind) {
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<Backend> backend, getBackend(kind));
  backend->resetPeakMemory();
  return Status::ok();
}

}  // namespace kiln
