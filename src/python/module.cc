#include <pybind11/stl.h>

#include "python/bindings.h"

namespace kiln {
namespace python {

[[noreturn]] void raise(const Status& status) {
  switch (status.code()) {
    case StatusCode::kINVALID_ARGUMENT: throw py::value_error(status.message());
    case StatusCode::kNOT_FOUND: throw py::key_error(status.message());
    case StatusCode::kOUT_OF_RANGE: throw py::index_error(status.message());
    case StatusCode::kUNIMPLEMENTED:
    case StatusCode::kINVALID_PLAN:
    case StatusCode::kFAILED_PRECONDITION:
    case StatusCode::kINTERNAL:
    case StatusCode::kRESOURCE_EXHAUSTED:
    case StatusCode::kOK: break;
  }
  throw std::runtime_error(status.message());
}

Dims toDims(const std::vector<int64_t>& values) {
  if (values.size() > static_cast<size_t>(Dims::kMAX_DIMS)) throw py::value_error("Kiln tensors have at most 8 dims");
  Dims d;
  d.nbDims = static_cast<int32_t>(values.size());
  for (size_t i = 0; i < values.size(); ++i) d.d[i] = values[i];
  return d;
}

std::vector<int64_t> fromDims(const Dims& dims) {
  if (dims.nbDims < 0) return {};
  return std::vector<int64_t>(dims.d, dims.d + dims.nbDims);
}

}  // namespace python
}  // namespace kiln

PYBIND11_MODULE(_C, m) {
  m.doc() = "Kiln's C++ core: engine network API, runtime and compiler";
  kiln::python::bindEngine(m);
  kiln::python::bindRuntime(m);
  kiln::python::bindCompiler(m);
}
