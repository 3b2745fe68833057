// Reductions over an axis mask, top-k along one axis, and cumulative sums/products along one axis.
#include <climits>
#include <cstdint>
#include <string>

#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

// Axis masks are stored as int64 attributes; anything outside uint32 comes from a corrupt plan.
StatusOr<uint32_t> maskAttr(const LayerParams& layer, const char* key, int64_t fallback) {
  const int64_t value = layer.attrs.getInt(key, fallback);
  if (value < 0 || value > static_cast<int64_t>(UINT32_MAX)) {
    return invalidArgument(std::string(key) + " " + std::to_string(value) + " is not a 32-bit axis mask");
  }
  return static_cast<uint32_t>(value);
}

StatusOr<bool> boolAttr(const LayerParams& layer, const char* key) {
  const int64_t value = layer.attrs.getInt(key, 0);
  if (value != 0 && value != 1)
    return invalidArgument(std::string(key) + " must be 0 or 1, got " + std::to_string(value));
  return value == 1;
}

bool isNumericType(DataType type) { return isFloatType(type) || isIntegerType(type); }

}  // namespace

// ---- reduce -------------------------------------------------------------------------------------------

Status inferReduceShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                         std::vector<ShapeOutput>& outputs) {
  const int64_t op = layer.attrs.getInt("operation", -1);
  if (op < 0 || op > static_cast<int64_t>(ReduceOperation::kAVG)) {
    return invalidArgument("unknown reduce operation " + std::to_string(op));
  }
  const DataType type = inputs[0].type;
  if (!isNumericType(type)) {
    return invalidArgument(std::string("reduce takes numeric inputs, got ") + dataTypeName(type) +
                           "; cast bool to an integer type first");
  }
  if (static_cast<ReduceOperation>(op) == ReduceOperation::kAVG && !isFloatType(type)) {
    return invalidArgument(std::string("average of ") + dataTypeName(type) +
                           " is not defined; cast to a float type first");
  }
  KILN_ASSIGN_OR_RETURN(uint32_t axes, maskAttr(layer, "axes", 0));
  KILN_ASSIGN_OR_RETURN(bool keep, boolAttr(layer, "keep_dims"));
  const Dims& in = inputs[0].dims;
  KILN_RETURN_IF_ERROR(checkAxisMask(axes, in.nbDims, "reduce axes"));
  Dims out;
  for (int32_t i = 0; i < in.nbDims; ++i) {
    const bool reduced = ((axes >> i) & 1u) != 0;
    if (!reduced) {
      out.d[out.nbDims++] = in.d[i];
    } else if (keep) {
      out.d[out.nbDims++] = 1;
    }
  }
  outputs[0] = {out, type};
  return Status::ok();
}

IReduceLayer* NetworkDefinition::addReduce(ITensor& input, ReduceOperation operation, uint32_t reduceAxes,
                                           bool keepDimensions) {
  if (!impl_->ownsTensor(&input, "addReduce input")) return nullptr;
  Attributes attrs;
  attrs.setInt("operation", static_cast<int64_t>(operation));
  attrs.setInt("axes", reduceAxes);
  attrs.setInt("keep_dims", keepDimensions ? 1 : 0);
  return impl_->addLayer<IReduceLayer>(LayerType::kREDUCE, {&input}, std::move(attrs));
}

void IReduceLayer::setOperation(ReduceOperation op) {
  attrsOf(this).setInt("operation", static_cast<int64_t>(op));
  touch(this);
}
ReduceOperation IReduceLayer::getOperation() const {
  return static_cast<ReduceOperation>(attrsOf(this).getInt("operation"));
}
void IReduceLayer::setReduceAxes(uint32_t axes) {
  attrsOf(this).setInt("axes", axes);
  touch(this);
}
uint32_t IReduceLayer::getReduceAxes() const { return static_cast<uint32_t>(attrsOf(this).getInt("axes")); }
void IReduceLayer::setKeepDimensions(bool keep) {
  attrsOf(this).setInt("keep_dims", keep ? 1 : 0);
  touch(this);
}
bool IReduceLayer::getKeepDimensions() const { return attrsOf(this).getInt("keep_dims") != 0; }

// ---- top-k --------------------------------------------------------------------------------------------

Status inferTopKShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                       std::vector<ShapeOutput>& outputs) {
  const int64_t op = layer.attrs.getInt("operation", -1);
  if (op < 0 || op > static_cast<int64_t>(TopKOperation::kMIN)) {
    return invalidArgument("unknown top-k operation " + std::to_string(op));
  }
  const DataType type = inputs[0].type;
  if (!isFloatType(type) && type != DataType::kINT32 && type != DataType::kINT64) {
    return invalidArgument(std::string("top-k takes float32/float16/bfloat16/int32/int64 inputs, got ") +
                           dataTypeName(type));
  }
  const int64_t indicesType = layer.attrs.getInt("indices_type", static_cast<int64_t>(DataType::kINT32));
  if (indicesType != static_cast<int64_t>(DataType::kINT32) && indicesType != static_cast<int64_t>(DataType::kINT64)) {
    return invalidArgument("top-k indices must be int32 or int64, got type " + std::to_string(indicesType));
  }
  const Dims& in = inputs[0].dims;
  if (in.nbDims < 1) return invalidArgument("top-k needs an input of rank >= 1");
  KILN_ASSIGN_OR_RETURN(uint32_t axes, maskAttr(layer, "axes", 0));
  KILN_ASSIGN_OR_RETURN(int32_t axis, singleAxisFromMask(axes, in.nbDims, "top-k axes"));
  const int64_t k = layer.attrs.getInt("k", -1);
  if (k < 0 || k > INT32_MAX) return invalidArgument("k = " + std::to_string(k) + " must be in [0, 2^31)");
  if (in.d[axis] >= 0 && k > in.d[axis]) {
    return invalidArgument("k = " + std::to_string(k) + " exceeds the extent " + std::to_string(in.d[axis]) +
                           " of axis " + std::to_string(axis));
  }
  Dims out = in;
  out.d[axis] = k;
  outputs[0] = {out, type};
  outputs[1] = {out, static_cast<DataType>(indicesType)};
  return Status::ok();
}

ITopKLayer* NetworkDefinition::addTopK(ITensor& input, TopKOperation op, int32_t k, uint32_t reduceAxes) {
  if (!impl_->ownsTensor(&input, "addTopK input")) return nullptr;
  Attributes attrs;
  attrs.setInt("operation", static_cast<int64_t>(op));
  attrs.setInt("k", k);
  attrs.setInt("axes", reduceAxes);
  attrs.setInt("indices_type", static_cast<int64_t>(DataType::kINT32));
  return impl_->addLayer<ITopKLayer>(LayerType::kTOPK, {&input}, std::move(attrs));
}

void ITopKLayer::setOperation(TopKOperation op) {
  attrsOf(this).setInt("operation", static_cast<int64_t>(op));
  touch(this);
}
TopKOperation ITopKLayer::getOperation() const { return static_cast<TopKOperation>(attrsOf(this).getInt("operation")); }
void ITopKLayer::setK(int32_t k) {
  attrsOf(this).setInt("k", k);
  touch(this);
}
int32_t ITopKLayer::getK() const { return static_cast<int32_t>(attrsOf(this).getInt("k")); }
void ITopKLayer::setReduceAxes(uint32_t reduceAxes) {
  attrsOf(this).setInt("axes", reduceAxes);
  touch(this);
}
uint32_t ITopKLayer::getReduceAxes() const { return static_cast<uint32_t>(attrsOf(this).getInt("axes")); }
void ITopKLayer::setIndicesType(DataType type) {
  attrsOf(this).setInt("indices_type", static_cast<int64_t>(type));
  touch(this);
}
DataType ITopKLayer::getIndicesType() const {
  return static_cast<DataType>(attrsOf(this).getInt("indices_type", static_cast<int64_t>(DataType::kINT32)));
}

// ---- cumulative ---------------------------------------------------------------------------------------

Status inferCumulativeShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                             std::vector<ShapeOutput>& outputs) {
  const int64_t op = layer.attrs.getInt("operation", -1);
  if (op < 0 || op > static_cast<int64_t>(CumulativeOperation::kPROD)) {
    return invalidArgument("unknown cumulative operation " + std::to_string(op));
  }
  const DataType type = inputs[0].type;
  if (!isNumericType(type)) {
    return invalidArgument(std::string("cumulative takes numeric inputs, got ") + dataTypeName(type));
  }
  const Dims& in = inputs[0].dims;
  if (in.nbDims < 1) return invalidArgument("cumulative needs an input of rank >= 1");
  KILN_RETURN_IF_ERROR(normalizeAxis(layer.attrs.getInt("axis", 0), in.nbDims, "cumulative axis").status());
  KILN_RETURN_IF_ERROR(boolAttr(layer, "exclusive").status());
  KILN_RETURN_IF_ERROR(boolAttr(layer, "reverse").status());
  outputs[0] = {in, type};
  return Status::ok();
}

ICumulativeLayer* NetworkDefinition::addCumulative(ITensor& input, int32_t axis, CumulativeOperation operation,
                                                   bool exclusive, bool reverse) {
  if (!impl_->ownsTensor(&input, "addCumulative input")) return nullptr;
  Attributes attrs;
  attrs.setInt("operation", static_cast<int64_t>(operation));
  attrs.setInt("axis", axis);
  attrs.setInt("exclusive", exclusive ? 1 : 0);
  attrs.setInt("reverse", reverse ? 1 : 0);
  return impl_->addLayer<ICumulativeLayer>(LayerType::kCUMULATIVE, {&input}, std::move(attrs));
}

void ICumulativeLayer::setOperation(CumulativeOperation op) {
  attrsOf(this).setInt("operation", static_cast<int64_t>(op));
  touch(this);
}
CumulativeOperation ICumulativeLayer::getOperation() const {
  return static_cast<CumulativeOperation>(attrsOf(this).getInt("operation"));
}
void ICumulativeLayer::setAxis(int32_t axis) {
  attrsOf(this).setInt("axis", axis);
  touch(this);
}
int32_t ICumulativeLayer::getAxis() const { return static_cast<int32_t>(attrsOf(this).getInt("axis")); }
void ICumulativeLayer::setExclusive(bool exclusive) {
  attrsOf(this).setInt("exclusive", exclusive ? 1 : 0);
  touch(this);
}
bool ICumulativeLayer::getExclusive() const { return attrsOf(this).getInt("exclusive") != 0; }
void ICumulativeLayer::setReverse(bool reverse) {
  attrsOf(this).setInt("reverse", reverse ? 1 : 0);
  touch(this);
}
bool ICumulativeLayer::getReverse() const { return attrsOf(this).getInt("reverse") != 0; }

}  // namespace kiln
