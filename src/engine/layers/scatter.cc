// Scatter layers: the data copied to the output, then updated at indexed positions (torch.scatter /
// scatter_reduce for kELEMENT, ONNX ScatterND for kND). Every dtype; indices are int32 or int64.
#include <string>
#include <vector>

#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

constexpr const char* kMode = "mode";
constexpr const char* kAxis = "axis";
constexpr const char* kReduction = "reduction";

Status inferScatterElement(const Dims& data, const Dims& indices, const Dims& updates, int64_t axisValue) {
  const int32_t r = data.nbDims;
  if (r < 1) return invalidArgument("element scatter data must have rank >= 1");
  KILN_ASSIGN_OR_RETURN(const int32_t axis, normalizeAxis(axisValue, r, "scatter axis"));
  if (indices.nbDims != r || updates.nbDims != r) {
    return invalidArgument("element scatter indices " + dimsToString(indices) + " and updates " +
                           dimsToString(updates) + " must have the rank of data " + dimsToString(data));
  }
  for (int32_t d = 0; d < r; ++d) {
    if (!extentsCompatible(indices.d[d], updates.d[d])) {
      return invalidArgument("element scatter updates " + dimsToString(updates) + " must have the shape of indices " +
                             dimsToString(indices));
    }
    if (d != axis && data.d[d] >= 0 && indices.d[d] > data.d[d]) {
      return invalidArgument("element scatter indices " + dimsToString(indices) + " exceed data " + dimsToString(data) +
                             " on dim " + std::to_string(d));
    }
  }
  return Status::ok();
}

Status inferScatterNd(const Dims& data, const Dims& indices, const Dims& updates) {
  const int32_t r = data.nbDims, q = indices.nbDims;
  if (q < 1) return invalidArgument("ND scatter indices must have rank >= 1");
  const int64_t k = indices.d[q - 1];
  if (k < 0) return Status::ok();  // checked again once the extent is known
  if (k > r) {
    return invalidArgument("ND scatter indices " + dimsToString(indices) + " address " + std::to_string(k) +
                           " dims of data " + dimsToString(data));
  }
  const int32_t expectedRank = q - 1 + r - static_cast<int32_t>(k);
  bool ok = updates.nbDims == expectedRank;
  for (int32_t d = 0; ok && d < q - 1; ++d) ok = extentsCompatible(updates.d[d], indices.d[d]);
  for (int32_t d = static_cast<int32_t>(k); ok && d < r; ++d) {
    ok = extentsCompatible(updates.d[q - 1 + d - k], data.d[d]);
  }
  if (!ok) {
    return invalidArgument("ND scatter updates " + dimsToString(updates) +
                           " must be indices.shape[:-1] + data.shape[k:] for indices " + dimsToString(indices) +
                           " and data " + dimsToString(data));
  }
  return Status::ok();
}

// The first axis on which scatter inference accepts the inputs (0 when none does).
int64_t firstFittingAxis(Attributes attrs, const std::vector<const ITensor*>& tensors) {
  std::vector<ShapeInput> inputs;
  for (const ITensor* t : tensors) inputs.push_back({true, t->getDimensions(), t->getType(), nullptr});
  LayerParams params;
  params.type = LayerType::kSCATTER;
  params.attrs = std::move(attrs);
  std::vector<ShapeOutput> outputs(1);
  for (int32_t axis = 0; axis < inputs[0].dims.nbDims; ++axis) {
    params.attrs.setInt(kAxis, axis);
    if (inferScatterShapes(params, inputs, outputs).isOk()) return axis;
  }
  return 0;
}

}  // namespace

Status inferScatterShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                          std::vector<ShapeOutput>& outputs) {
  const ShapeInput& data = inputs[0];
  const ShapeInput& indices = inputs[1];
  const ShapeInput& updates = inputs[2];
  if (indices.type != DataType::kINT32 && indices.type != DataType::kINT64) {
    return invalidArgument(std::string("scatter indices must be int32 or int64, got ") + dataTypeName(indices.type));
  }
  if (updates.type != data.type) {
    return invalidArgument(std::string("scatter updates are ") + dataTypeName(updates.type) + " but data is " +
                           dataTypeName(data.type));
  }
  const int64_t reduction = layer.attrs.getInt(kReduction, 0);
  if (reduction < 0 || reduction > static_cast<int64_t>(ScatterReduction::kMEAN)) {
    return invalidArgument("unknown scatter reduction " + std::to_string(reduction));
  }
  const int64_t mode = layer.attrs.getInt(kMode, 0);
  if (mode < 0 || mode > static_cast<int64_t>(ScatterMode::kND)) {
    return invalidArgument("unknown scatter mode " + std::to_string(mode));
  }
  switch (static_cast<ScatterMode>(mode)) {
    case ScatterMode::kELEMENT:
      KILN_RETURN_IF_ERROR(inferScatterElement(data.dims, indices.dims, updates.dims, layer.attrs.getInt(kAxis, 0)));
      break;
    case ScatterMode::kND:
      KILN_RETURN_IF_ERROR(inferScatterNd(data.dims, indices.dims, updates.dims));
      break;
  }
  outputs[0] = {data.dims, data.type};
  return Status::ok();
}

IScatterLayer* NetworkDefinition::addScatter(ITensor& data, ITensor& indices, ITensor& updates, ScatterMode mode) {
  if (!impl_->ownsTensor(&data, "addScatter data") || !impl_->ownsTensor(&indices, "addScatter indices") ||
      !impl_->ownsTensor(&updates, "addScatter updates")) {
    return nullptr;
  }
  Attributes attrs;
  attrs.setInt(kMode, static_cast<int64_t>(mode));
  attrs.setInt(kReduction, static_cast<int64_t>(ScatterReduction::kNONE));
  // Converters call setAxis after the add; element scatters are created on an axis that fits, then reset
  // to the default 0, whose mismatch (if setAxis never comes) the next inference records.
  const int64_t axis = mode == ScatterMode::kELEMENT ? firstFittingAxis(attrs, {&data, &indices, &updates}) : 0;
  attrs.setInt(kAxis, axis);
  IScatterLayer* layer =
      impl_->addLayer<IScatterLayer>(LayerType::kSCATTER, {&data, &indices, &updates}, std::move(attrs));
  if (layer != nullptr && axis != 0) layer->setAxis(0);
  return layer;
}

void IScatterLayer::setMode(ScatterMode mode) {
  attrsOf(this).setInt(kMode, static_cast<int64_t>(mode));
  touch(this);
}
ScatterMode IScatterLayer::getMode() const { return static_cast<ScatterMode>(attrsOf(this).getInt(kMode, 0)); }
void IScatterLayer::setAxis(int32_t axis) {
  attrsOf(this).setInt(kAxis, axis);
  touch(this);
}
int32_t IScatterLayer::getAxis() const { return static_cast<int32_t>(attrsOf(this).getInt(kAxis, 0)); }
void IScatterLayer::setReduction(ScatterReduction reduction) {
  attrsOf(this).setInt(kReduction, static_cast<int64_t>(reduction));
  touch(this);
}
ScatterReduction IScatterLayer::getReduction() const {
  return static_cast<ScatterReduction>(attrsOf(this).getInt(kReduction, 0));
}

}  // namespace kiln
