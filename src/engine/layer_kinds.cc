#include "engine/layer_kinds.h"

#include <string>

namespace kiln {
namespace {

constexpr uint32_t kNONE = 0;

LayerKindInfo makeInfo(LayerType type) {
  // Arity (min, max inputs; outputs), inference, host-value inputs, data dependence, host evaluability.
  switch (type) {
    case LayerType::kACTIVATION: return {type, 1, 1, 1, inferActivationShapes, kNONE, false, false};
    case LayerType::kELEMENTWISE: return {type, 2, 2, 1, inferElementWiseShapes, kNONE, false, true};
    case LayerType::kUNARY: return {type, 1, 1, 1, inferUnaryShapes, kNONE, false, true};
    case LayerType::kCONVOLUTION: return {type, 1, 3, 1, inferConvolutionShapes, kNONE, false, false};
    case LayerType::kDECONVOLUTION: return {type, 1, 3, 1, inferDeconvolutionShapes, kNONE, false, false};
    case LayerType::kPOOLING: return {type, 1, 1, 1, inferPoolingShapes, kNONE, false, false};
    case LayerType::kMATRIX_MULTIPLY: return {type, 2, 2, 1, inferMatrixMultiplyShapes, kNONE, false, false};
    case LayerType::kREDUCE: return {type, 1, 1, 1, inferReduceShapes, kNONE, false, true};
    case LayerType::kSOFTMAX: return {type, 1, 1, 1, inferSoftMaxShapes, kNONE, false, false};
    case LayerType::kNORMALIZATION: return {type, 3, 3, 1, inferNormalizationShapes, kNONE, false, false};
    case LayerType::kSHUFFLE: return {type, 1, 2, 1, inferShuffleShapes, 0b10, false, true};
    case LayerType::kSLICE: return {type, 1, 5, 1, inferSliceShapes, 0b01110, false, true};
    case LayerType::kCONCATENATION: return {type, 1, 1 << 20, 1, inferConcatenationShapes, kNONE, false, true};
    case LayerType::kGATHER: return {type, 2, 2, 1, inferGatherShapes, kNONE, false, true};
    case LayerType::kSELECT: return {type, 3, 3, 1, inferSelectShapes, kNONE, false, true};
    case LayerType::kCONSTANT: return {type, 0, 0, 1, inferConstantShapes, kNONE, false, true};
    case LayerType::kCAST: return {type, 1, 1, 1, inferCastShapes, kNONE, false, true};
    case LayerType::kIDENTITY: return {type, 1, 1, 1, inferIdentityShapes, kNONE, false, true};
    case LayerType::kTOPK: return {type, 1, 1, 2, inferTopKShapes, kNONE, false, false};
    case LayerType::kSCATTER: return {type, 3, 3, 1, inferScatterShapes, kNONE, false, false};
    case LayerType::kPADDING: return {type, 1, 1, 1, inferPaddingShapes, kNONE, false, false};
    case LayerType::kRESIZE: return {type, 1, 2, 1, inferResizeShapes, 0b10, false, false};
    case LayerType::kSHAPE: return {type, 1, 1, 1, inferShapeShapes, kNONE, false, true};
    case LayerType::kFILL: return {type, 0, 3, 1, inferFillShapes, 0b001, false, true};
    case LayerType::kCUMULATIVE: return {type, 1, 1, 1, inferCumulativeShapes, kNONE, false, false};
    case LayerType::kNON_ZERO: return {type, 1, 1, 1, inferNonZeroShapes, kNONE, true, false};
    case LayerType::kONE_HOT: return {type, 3, 3, 1, inferOneHotShapes, 0b100, false, false};
    case LayerType::kATTENTION: return {type, 3, 4, 1, inferAttentionShapes, kNONE, false, false};
    case LayerType::kPOINTWISE: return {type, 1, kMAX_POINTWISE_INPUTS, 1, inferPointWiseShapes, kNONE, false, false};
  }
  return {type, 0, 0, 0, nullptr, kNONE, false, false};
}

struct KindTable {
  LayerKindInfo infos[kNB_LAYER_TYPES];
  KindTable() : infos{} {
    for (int32_t i = 0; i < kNB_LAYER_TYPES; ++i) infos[i] = makeInfo(static_cast<LayerType>(i));
  }
};

}  // namespace

bool isValidLayerType(int32_t value) { return value >= 0 && value < kNB_LAYER_TYPES; }

const LayerKindInfo& layerKindInfo(LayerType type) {
  static const KindTable table;
  return table.infos[static_cast<int32_t>(type)];
}

int32_t maxInputsOf(const LayerParams& layer) {
  const LayerKindInfo& info = layerKindInfo(layer.type);
  if (layer.type == LayerType::kCONVOLUTION && layer.attrs.getInt("fused_residual", 0) == 1) return info.maxInputs + 1;
  if (layer.type == LayerType::kMATRIX_MULTIPLY && layer.attrs.getInt("fused_residual", 0) == 1) return info.maxInputs + 2;
  if (layer.type == LayerType::kMATRIX_MULTIPLY && layer.attrs.getInt("fused_bias", 0) == 1) return info.maxInputs + 1;
  return info.maxInputs;
}

Status inferLayerShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                        std::vector<ShapeOutput>& outputs) {
  const std::string where = std::string(layerTypeName(layer.type)) + " layer '" + layer.name + "'";
  const LayerKindInfo& info = layerKindInfo(layer.type);
  const auto nbInputs = static_cast<int32_t>(inputs.size());
  if (nbInputs < info.minInputs || nbInputs > maxInputsOf(layer)) {
    return invalidArgument(where + ": takes " + std::to_string(info.minInputs) + " to " +
                           std::to_string(maxInputsOf(layer)) + " inputs, got " + std::to_string(nbInputs));
  }
  for (int32_t i = 0; i < info.minInputs; ++i) {
    if (!inputs[i].present) return invalidArgument(where + ": input " + std::to_string(i) + " is required");
  }
  for (const ShapeInput& in : inputs) {
    if (in.present && (in.dims.nbDims < 0 || in.dims.nbDims > Dims::kMAX_DIMS)) {
      return invalidArgument(where + ": an input has an invalid rank " + std::to_string(in.dims.nbDims));
    }
  }
  outputs.assign(static_cast<size_t>(info.nbOutputs), ShapeOutput{});
  Status status = info.inferShapes(layer, inputs, outputs);
  if (!status.isOk()) return status.withContext(where);
  for (const ShapeOutput& out : outputs) {
    if (out.dims.nbDims < 0 || out.dims.nbDims > Dims::kMAX_DIMS) {
      return internalError(where + ": inferred an invalid output rank");
    }
  }
  return Status::ok();
}

}  // namespace kiln
