// Compilation settings as converters, validators and the partitioner see them (mirrors
// torch_kiln.dynamo.CompilationSettings).
#pragma once

#include <cstdint>
#include <set>
#include <string>

#include "kiln/types.h"

namespace kiln {
namespace conversion {

struct CompilationSettings {
  std::set<DataType> enabledPrecisions = {DataType::kFLOAT};
  int32_t minBlockSize = 5;
  std::set<std::string> torchExecutedOps;  // "aten::add.Tensor" or "aten::add" (every overload)
  bool requireFullCompilation = false;
  BackendKind backend = BackendKind::kCPU;
  int64_t workspaceSize = 0;  // 0: the builder's default
  int32_t optimizationLevel = 3;
  bool debug = false;
  std::string timingCachePath;  // read before and written after each engine build; empty: no file
  // Torch-TensorRT's assume_dynamic_shape_support. False (the default): converters registered without
  // dynamic-shape support are skipped for nodes touching tensors with symbolic dims. True: they are used anyway.
  bool assumeDynamicShapesAllowed = false;
};

}  // namespace conversion
}  // namespace kiln
