// Per-layer-kind rules, as data: arity, shape inference and which inputs must be known on the host.
// One table entry per LayerType (layer_kinds.cc); each family's inference lives in layers/<family>.cc.
//
// Shape inference runs in three places with the same function: while the network is built (extents may be
// -1 and host values may be missing), in the builder against every profile's min/opt/max shapes, and at
// run time with concrete shapes before each execution. It must therefore
//   - accept -1 extents and produce -1 where an output extent cannot be known;
//   - validate every attribute and input shape the kernels rely on (plans are untrusted input), returning
//     a Status that names the problem (the caller adds the layer name);
//   - never index out of bounds or divide by zero on any input.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/graph.h"
#include "engine/host_tensor.h"
#include "kiln/status.h"

namespace kiln {

struct ShapeInput {
  bool present = false;            // optional inputs may be absent
  Dims dims;
  DataType type = DataType::kFLOAT;
  const HostTensor* value = nullptr;  // known on the host: constants and shape tensors
};

struct ShapeOutput {
  Dims dims;
  DataType type = DataType::kFLOAT;
};

using InferShapesFn = Status (*)(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                                 std::vector<ShapeOutput>& outputs);

struct LayerKindInfo {
  LayerType type;
  int32_t minInputs;
  int32_t maxInputs;
  int32_t nbOutputs;
  InferShapesFn inferShapes;
  // Bit i: input i must be known on the host for shape inference to give concrete extents.
  uint32_t hostInputMask;
  // Output extents depend on the input values (non-zero): known only after execution.
  bool dataDependentOutput;
  // May run on the host during shape resolution when all its inputs are host values.
  bool hostEvaluable;
};

const LayerKindInfo& layerKindInfo(LayerType type);
// The kind's input limit, plus the extra input a builder epilogue fusion adds (fused_residual on convolutions,
// fused_bias on matrix multiplies): only the builder creates those, never the network API.
int32_t maxInputsOf(const LayerParams& layer);
bool isValidLayerType(int32_t value);

// Runs the kind's inference with arity checks; errors are prefixed with the layer's kind and name.
Status inferLayerShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                        std::vector<ShapeOutput>& outputs);

// Family inference functions (layers/<family>.cc).
Status inferActivationShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferElementWiseShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferUnaryShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferConvolutionShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferDeconvolutionShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferPoolingShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferMatrixMultiplyShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferReduceShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferSoftMaxShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferNormalizationShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferShuffleShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferSliceShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferConcatenationShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferGatherShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferSelectShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferConstantShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferCastShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferIdentityShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferTopKShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferScatterShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferPaddingShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferResizeShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferShapeShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferFillShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferCumulativeShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferNonZeroShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferOneHotShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
Status inferAttentionShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);
// Builder-fused pointwise chains (pointwise_program.cc); at most kMAX_POINTWISE_INPUTS inputs.
constexpr int32_t kMAX_POINTWISE_INPUTS = 16;
Status inferPointWiseShapes(const LayerParams&, const std::vector<ShapeInput>&, std::vector<ShapeOutput>&);

}  // namespace kiln
