// Concatenation layers: inputs of one type and rank joined along an axis. Data movement: every dtype.
#include <string>
#include <vector>

#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

constexpr const char* kAxis = "axis";

// TensorRT's default: the channel dim of NCHW-like tensors (rank - 3), or 0 for lower ranks.
int32_t defaultAxis(int32_t rank) { return rank >= 3 ? rank - 3 : 0; }

// Whether the inputs agree on every dim but `axis` (ranks and types are checked by inference).
bool fitsAxis(const std::vector<ITensor*>& inputs, int32_t axis) {
  const Dims first = inputs[0]->getDimensions();
  for (const ITensor* input : inputs) {
    const Dims dims = input->getDimensions();
    if (dims.nbDims != first.nbDims) return false;
    for (int32_t d = 0; d < dims.nbDims; ++d) {
      if (d != axis && !extentsCompatible(dims.d[d], first.d[d])) return false;
    }
  }
  return true;
}

}  // namespace

Status inferConcatenationShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                                std::vector<ShapeOutput>& outputs) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].present) return invalidArgument("input " + std::to_string(i) + " is missing");
  }
  const ShapeInput& first = inputs[0];
  const int32_t rank = first.dims.nbDims;
  if (rank < 1) return invalidArgument("cannot concatenate 0-D tensors");
  const int64_t axisValue = layer.attrs.has(kAxis) ? layer.attrs.getInt(kAxis) : defaultAxis(rank);
  KILN_ASSIGN_OR_RETURN(const int32_t axis, normalizeAxis(axisValue, rank, "concatenation axis"));

  Dims out = first.dims;
  int64_t axisExtent = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ShapeInput& in = inputs[i];
    if (in.type != first.type) {
      return invalidArgument("input " + std::to_string(i) + " is " + dataTypeName(in.type) + " but input 0 is " +
                             dataTypeName(first.type) + "; all inputs must share one type");
    }
    if (in.dims.nbDims != rank) {
      return invalidArgument("input " + std::to_string(i) + " has shape " + dimsToString(in.dims) +
                             ", of a different rank than input 0 " + dimsToString(first.dims));
    }
    for (int32_t d = 0; d < rank; ++d) {
      const int64_t e = in.dims.d[d];
      if (e < -1) return invalidArgument("input " + std::to_string(i) + " has a negative extent");
      if (d == axis) continue;
      if (!extentsCompatible(out.d[d], e)) {
        return invalidArgument("input " + std::to_string(i) + " " + dimsToString(in.dims) + " does not match " +
                               dimsToString(first.dims) + " on dim " + std::to_string(d) + " (concatenating on " +
                               std::to_string(axis) + ")");
      }
      if (out.d[d] == -1) out.d[d] = e;
    }
    const int64_t e = in.dims.d[axis];
    if (axisExtent >= 0) {
      if (e < 0) {
        axisExtent = -1;
      } else if (e > (int64_t{1} << 62) - axisExtent) {
        return invalidArgument("concatenated extent overflows");
      } else {
        axisExtent += e;
      }
    }
  }
  out.d[axis] = axisExtent;
  KILN_RETURN_IF_ERROR(checkedVolume(out).status());
  outputs[0] = {out, first.type};
  return Status::ok();
}

IConcatenationLayer* NetworkDefinition::addConcatenation(ITensor* const* inputs, int32_t nbInputs) {
  if (inputs == nullptr || nbInputs < 1) {
    impl_->recordError(invalidArgument("addConcatenation: needs at least one input, got " + std::to_string(nbInputs)));
    return nullptr;
  }
  std::vector<ITensor*> layerInputs;
  layerInputs.reserve(static_cast<size_t>(nbInputs));
  for (int32_t i = 0; i < nbInputs; ++i) {
    if (inputs[i] == nullptr) {
      impl_->recordError(invalidArgument("addConcatenation: input " + std::to_string(i) + " is null"));
      return nullptr;
    }
    if (!impl_->ownsTensor(inputs[i], "addConcatenation input")) return nullptr;
    layerInputs.push_back(inputs[i]);
  }
  // The axis stays unset so the default follows the inputs' rank until setAxis is called. Converters set
  // the axis after the add, so inputs that only fit another axis must not fail it: the layer is created
  // on an axis they fit, then reset to the default, whose mismatch (if setAxis never comes) is recorded
  // lazily by the next shape inference.
  const int32_t rank = layerInputs[0]->getDimensions().nbDims;
  int32_t fittingAxis = defaultAxis(rank);
  if (!fitsAxis(layerInputs, fittingAxis)) {
    for (int32_t axis = 0; axis < rank; ++axis) {
      if (fitsAxis(layerInputs, axis)) {
        fittingAxis = axis;
        break;
      }
    }
  }
  Attributes attrs;
  const bool isDefault = fittingAxis == defaultAxis(rank);
  if (!isDefault) attrs.setInt(kAxis, fittingAxis);
  IConcatenationLayer* layer =
      impl_->addLayer<IConcatenationLayer>(LayerType::kCONCATENATION, std::move(layerInputs), std::move(attrs));
  if (layer != nullptr && !isDefault) {
    attrsOf(layer).erase(kAxis);
    touch(layer);
  }
  return layer;
}

void IConcatenationLayer::setAxis(int32_t axis) {
  attrsOf(this).setInt(kAxis, axis);
  touch(this);
}
int32_t IConcatenationLayer::getAxis() const {
  if (attrsOf(this).has(kAxis)) return static_cast<int32_t>(attrsOf(this).getInt(kAxis));
  const ITensor* input = getNbInputs() > 0 ? getInput(0) : nullptr;
  return defaultAxis(input != nullptr ? input->getDimensions().nbDims : 0);
}

}  // namespace kiln
