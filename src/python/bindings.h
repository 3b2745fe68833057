// The torch_kiln._C extension: the engine's network API with TensorRT's Python names, the runtime, and the
// compiler core. It does not link libtorch: tensors cross as data pointers, shapes, dtypes and streams.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {
namespace python {

namespace py = pybind11;

// Raises a Python exception carrying the Status message (ValueError, IndexError, RuntimeError ... by code).
[[noreturn]] void raise(const Status& status);
inline void check(const Status& status) {
  if (!status.isOk()) raise(status);
}
template <typename T>
T unwrap(StatusOr<T> value) {
  if (!value.isOk()) raise(value.status());
  return std::move(value).value();
}

// Python shape lists <-> Dims (at most 8 dims).
Dims toDims(const std::vector<int64_t>& values);
std::vector<int64_t> fromDims(const Dims& dims);

void bindEngine(py::module_& m);    // types, enums, ITensor, layers, NetworkDefinition
void bindRuntime(py::module_& m);   // Builder, plans, Engine, execution
void bindCompiler(py::module_& m);  // IR graph building, lowering, partitioning, conversion, registry

}  // namespace python
}  // namespace kiln
