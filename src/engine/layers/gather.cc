// Gather, one-hot and non-zero layers: indexed reads. The data side is moved byte-wise, so every dtype
// works; indices are int32 or int64.
#include <string>
#include <vector>

#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

constexpr const char* kMode = "mode";
constexpr const char* kAxis = "axis";
constexpr const char* kNbElementWiseDims = "nb_elementwise_dims";

bool isIndexType(DataType type) { return type == DataType::kINT32 || type == DataType::kINT64; }

Status checkIndexType(DataType type, const char* what) {
  if (!isIndexType(type)) {
    return invalidArgument(std::string(what) + " must be int32 or int64, got " + dataTypeName(type));
  }
  return Status::ok();
}

Status checkRank(int32_t rank, const char* what) {
  if (rank > Dims::kMAX_DIMS) {
    return invalidArgument(std::string(what) + " would have rank " + std::to_string(rank) + ", more than " +
                           std::to_string(Dims::kMAX_DIMS));
  }
  return Status::ok();
}

// Leading batch dims shared by data and indices must agree; the known extent wins.
Status checkBatchDims(const Dims& data, const Dims& indices, int32_t batchDims) {
  for (int32_t d = 0; d < batchDims; ++d) {
    if (!extentsCompatible(data.d[d], indices.d[d])) {
      return invalidArgument("batch dim " + std::to_string(d) + " of data " + dimsToString(data) + " and indices " +
                             dimsToString(indices) + " differ");
    }
  }
  return Status::ok();
}

int64_t knownOf(int64_t a, int64_t b) { return a >= 0 ? a : b; }

Status inferGatherDefault(const Dims& data, const Dims& indices, int64_t axisValue, int64_t batchDims, Dims& out) {
  const int32_t r = data.nbDims, q = indices.nbDims;
  if (r < 1) return invalidArgument("gather data must have rank >= 1");
  KILN_ASSIGN_OR_RETURN(const int32_t axis, normalizeAxis(axisValue, r, "gather axis"));
  if (batchDims < 0 || batchDims > axis || batchDims > q) {
    return invalidArgument("nbElementWiseDims " + std::to_string(batchDims) + " must be in [0, min(axis " +
                           std::to_string(axis) + ", indices rank " + std::to_string(q) + ")]");
  }
  const auto k = static_cast<int32_t>(batchDims);
  KILN_RETURN_IF_ERROR(checkBatchDims(data, indices, k));
  KILN_RETURN_IF_ERROR(checkRank(r - 1 + q - k, "gather output"));
  out.nbDims = 0;
  for (int32_t d = 0; d < axis; ++d) out.d[out.nbDims++] = d < k ? knownOf(data.d[d], indices.d[d]) : data.d[d];
  for (int32_t d = k; d < q; ++d) out.d[out.nbDims++] = indices.d[d];
  for (int32_t d = axis + 1; d < r; ++d) out.d[out.nbDims++] = data.d[d];
  return Status::ok();
}

Status inferGatherElement(const Dims& data, const Dims& indices, int64_t axisValue, Dims& out) {
  const int32_t r = data.nbDims;
  if (r < 1) return invalidArgument("element gather data must have rank >= 1");
  if (indices.nbDims != r) {
    return invalidArgument("element gather indices " + dimsToString(indices) + " must have the rank of data " +
                           dimsToString(data));
  }
  KILN_ASSIGN_OR_RETURN(const int32_t axis, normalizeAxis(axisValue, r, "gather axis"));
  for (int32_t d = 0; d < r; ++d) {
    // Like torch.gather: off the axis, indices may be smaller than data but not larger.
    if (d != axis && data.d[d] >= 0 && indices.d[d] > data.d[d]) {
      return invalidArgument("element gather indices " + dimsToString(indices) + " exceed data " + dimsToString(data) +
                             " on dim " + std::to_string(d));
    }
  }
  out = indices;
  return Status::ok();
}

Status inferGatherNd(const Dims& data, const Dims& indices, int64_t batchDims, Dims& out) {
  const int32_t r = data.nbDims, q = indices.nbDims;
  if (q < 1) return invalidArgument("ND gather indices must have rank >= 1");
  if (batchDims < 0 || batchDims >= q || batchDims > r) {
    return invalidArgument("nbElementWiseDims " + std::to_string(batchDims) + " must be below the indices rank " +
                           std::to_string(q) + " and at most the data rank " + std::to_string(r));
  }
  const int64_t m = indices.d[q - 1];
  if (m < 0) return invalidArgument("ND gather needs a static last indices dim, got " + dimsToString(indices));
  const auto b = static_cast<int32_t>(batchDims);
  if (b + m > r) {
    return invalidArgument("ND gather indices address " + std::to_string(m) + " dims after " + std::to_string(b) +
                           " batch dims, but data " + dimsToString(data) + " has rank " + std::to_string(r));
  }
  KILN_RETURN_IF_ERROR(checkBatchDims(data, indices, b));
  KILN_RETURN_IF_ERROR(checkRank(q - 1 + r - b - static_cast<int32_t>(m), "ND gather output"));
  out.nbDims = 0;
  for (int32_t d = 0; d < q - 1; ++d) out.d[out.nbDims++] = d < b ? knownOf(indices.d[d], data.d[d]) : indices.d[d];
  for (int32_t d = b + static_cast<int32_t>(m); d < r; ++d) out.d[out.nbDims++] = data.d[d];
  return Status::ok();
}

// The first axis on which gather inference accepts the inputs (0 when none does).
int64_t firstFittingAxis(Attributes attrs, const std::vector<const ITensor*>& tensors) {
  std::vector<ShapeInput> inputs;
  for (const ITensor* t : tensors) inputs.push_back({true, t->getDimensions(), t->getType(), nullptr});
  LayerParams params;
  params.type = LayerType::kGATHER;
  params.attrs = std::move(attrs);
  std::vector<ShapeOutput> outputs(1);
  for (int32_t axis = 0; axis < inputs[0].dims.nbDims; ++axis) {
    params.attrs.setInt(kAxis, axis);
    if (inferGatherShapes(params, inputs, outputs).isOk()) return axis;
  }
  return 0;
}

}  // namespace

Status inferGatherShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                         std::vector<ShapeOutput>& outputs) {
  const ShapeInput& data = inputs[0];
  const ShapeInput& indices = inputs[1];
  KILN_RETURN_IF_ERROR(checkIndexType(indices.type, "gather indices"));
  const int64_t mode = layer.attrs.getInt(kMode, 0);
  const int64_t axis = layer.attrs.getInt(kAxis, 0);
  const int64_t batchDims = layer.attrs.getInt(kNbElementWiseDims, 0);
  if (mode < 0 || mode > static_cast<int64_t>(GatherMode::kND)) {
    return invalidArgument("unknown gather mode " + std::to_string(mode));
  }
  Dims out;
  switch (static_cast<GatherMode>(mode)) {
    case GatherMode::kDEFAULT:
      KILN_RETURN_IF_ERROR(inferGatherDefault(data.dims, indices.dims, axis, batchDims, out));
      break;
    case GatherMode::kELEMENT:
      KILN_RETURN_IF_ERROR(inferGatherElement(data.dims, indices.dims, axis, out));
      break;
    case GatherMode::kND:
      KILN_RETURN_IF_ERROR(inferGatherNd(data.dims, indices.dims, batchDims, out));
      break;
  }
  KILN_RETURN_IF_ERROR(checkedVolume(out).status());
  outputs[0] = {out, data.type};
  return Status::ok();
}

IGatherLayer* NetworkDefinition::addGatherV2(ITensor& data, ITensor& indices, GatherMode mode) {
  if (!impl_->ownsTensor(&data, "addGather data") || !impl_->ownsTensor(&indices, "addGather indices")) {
    return nullptr;
  }
  Attributes attrs;
  attrs.setInt(kMode, static_cast<int64_t>(mode));
  attrs.setInt(kNbElementWiseDims, 0);
  // Converters call setGatherAxis after the add; element gathers are created on an axis that fits, then
  // reset to the default 0, whose mismatch (if setGatherAxis never comes) the next inference records.
  const int64_t axis = mode == GatherMode::kELEMENT ? firstFittingAxis(attrs, {&data, &indices}) : 0;
  attrs.setInt(kAxis, axis);
  IGatherLayer* layer = impl_->addLayer<IGatherLayer>(LayerType::kGATHER, {&data, &indices}, std::move(attrs));
  if (layer != nullptr && axis != 0) layer->setGatherAxis(0);
  return layer;
}

IGatherLayer* NetworkDefinition::addGather(ITensor& data, ITensor& indices, int32_t axis) {
  if (!impl_->ownsTensor(&data, "addGather data") || !impl_->ownsTensor(&indices, "addGather indices")) {
    return nullptr;
  }
  Attributes attrs;
  attrs.setInt(kMode, static_cast<int64_t>(GatherMode::kDEFAULT));
  attrs.setInt(kAxis, axis);
  attrs.setInt(kNbElementWiseDims, 0);
  return impl_->addLayer<IGatherLayer>(LayerType::kGATHER, {&data, &indices}, std::move(attrs));
}

void IGatherLayer::setGatherAxis(int32_t axis) {
  attrsOf(this).setInt(kAxis, axis);
  touch(this);
}
int32_t IGatherLayer::getGatherAxis() const { return static_cast<int32_t>(attrsOf(this).getInt(kAxis, 0)); }
void IGatherLayer::setNbElementWiseDims(int32_t k) {
  attrsOf(this).setInt(kNbElementWiseDims, k);
  touch(this);
}
int32_t IGatherLayer::getNbElementWiseDims() const {
  return static_cast<int32_t>(attrsOf(this).getInt(kNbElementWiseDims, 0));
}
void IGatherLayer::setMode(GatherMode mode) {
  attrsOf(this).setInt(kMode, static_cast<int64_t>(mode));
  touch(this);
}
GatherMode IGatherLayer::getMode() const { return static_cast<GatherMode>(attrsOf(this).getInt(kMode, 0)); }

// ---- one-hot --------------------------------------------------------------------------------------------

Status inferOneHotShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                         std::vector<ShapeOutput>& outputs) {
  const ShapeInput& indices = inputs[0];
  const ShapeInput& values = inputs[1];
  const ShapeInput& depth = inputs[2];
  KILN_RETURN_IF_ERROR(checkIndexType(indices.type, "one-hot indices"));
  KILN_RETURN_IF_ERROR(checkIndexType(depth.type, "one-hot depth"));
  if (depth.dims.nbDims > 1 || volume(depth.dims) != 1) {
    return invalidArgument("one-hot depth must be a 0-D shape tensor, got " + dimsToString(depth.dims));
  }
  const int64_t nbValues = volume(values.dims);
  if (values.dims.nbDims > 1 || (nbValues != 2 && nbValues != -1)) {
    return invalidArgument("one-hot values must be [off, on] (2 elements), got " + dimsToString(values.dims));
  }
  const int32_t rank = indices.dims.nbDims + 1;
  KILN_RETURN_IF_ERROR(checkRank(rank, "one-hot output"));
  KILN_ASSIGN_OR_RETURN(const int32_t axis, normalizeAxis(layer.attrs.getInt(kAxis, -1), rank, "one-hot axis"));
  int64_t extent = -1;
  if (depth.value != nullptr) {
    if (depth.value->count() != 1) return invalidArgument("one-hot depth value has the wrong size");
    extent = depth.value->intAt(0);
    if (extent < 0) return invalidArgument("one-hot depth " + std::to_string(extent) + " is negative");
  }
  Dims out;
  out.nbDims = rank;
  for (int32_t d = 0, s = 0; d < rank; ++d) out.d[d] = d == axis ? extent : indices.dims.d[s++];
  KILN_RETURN_IF_ERROR(checkedVolume(out).status());
  outputs[0] = {out, values.type};
  return Status::ok();
}

IOneHotLayer* NetworkDefinition::addOneHot(ITensor& indices, ITensor& values, ITensor& depth, int32_t axis) {
  if (!impl_->ownsTensor(&indices, "addOneHot indices") || !impl_->ownsTensor(&values, "addOneHot values") ||
      !impl_->ownsTensor(&depth, "addOneHot depth")) {
    return nullptr;
  }
  Attributes attrs;
  attrs.setInt(kAxis, axis);
  return impl_->addLayer<IOneHotLayer>(LayerType::kONE_HOT, {&indices, &values, &depth}, std::move(attrs));
}

void IOneHotLayer::setAxis(int32_t axis) {
  attrsOf(this).setInt(kAxis, axis);
  touch(this);
}
int32_t IOneHotLayer::getAxis() const { return static_cast<int32_t>(attrsOf(this).getInt(kAxis, -1)); }

// ---- non-zero -------------------------------------------------------------------------------------------

Status inferNonZeroShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                          std::vector<ShapeOutput>& outputs) {
  (void)layer;
  // The count is data-dependent: known only once the kernel has run.
  outputs[0] = {Dims{inputs[0].dims.nbDims, -1}, DataType::kINT64};
  return Status::ok();
}

INonZeroLayer* NetworkDefinition::addNonZero(ITensor& input) {
  if (!impl_->ownsTensor(&input, "addNonZero input")) return nullptr;
  return impl_->addLayer<INonZeroLayer>(LayerType::kNON_ZERO, {&input}, Attributes{});
}

}  // namespace kiln
