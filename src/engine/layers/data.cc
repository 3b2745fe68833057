// Layers that create or relabel data: constant, cast, identity, shape, fill.
#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {

// ---- constant --------------------------------------------------------------------------------------

Status inferConstantShapes(const LayerParams& layer, const std::vector<ShapeInput>&, std::vector<ShapeOutput>& outputs) {
  const Dims dims = layer.attrs.getDims("dims");
  KILN_RETURN_IF_ERROR(checkDimsAttr(dims, "constant dims"));
  KILN_ASSIGN_OR_RETURN(int64_t count, checkedVolume(dims));
  if (count < 0) return invalidArgument("constant dims " + dimsToString(dims) + " must be static");
  const WeightsBlob* weights = layer.attrs.getWeights("weights");
  if (weights == nullptr) return invalidArgument("constant has no weights");
  if (!isValidDataType(static_cast<int32_t>(weights->type))) return invalidArgument("constant weights have an invalid type");
  if (weights->count != count || weights->byteSize() != count * dataTypeSize(weights->type)) {
    return invalidArgument("constant of shape " + dimsToString(dims) + " needs " + std::to_string(count) +
                           " values, got " + std::to_string(weights->count));
  }
  outputs[0] = {dims, weights->type};
  return Status::ok();
}

IConstantLayer* NetworkDefinition::addConstant(const Dims& dimensions, Weights weights) {
  if (weights.count > 0 && weights.values == nullptr) {
    impl_->recordError(invalidArgument("addConstant: weights have a count but no values"));
    return nullptr;
  }
  Attributes attrs;
  attrs.setDims("dims", dimensions);
  attrs.setWeights("weights", WeightsBlob::copyOf(weights));
  return impl_->addLayer<IConstantLayer>(LayerType::kCONSTANT, {}, std::move(attrs));
}

void IConstantLayer::setWeights(Weights weights) {
  attrsOf(this).setWeights("weights", WeightsBlob::copyOf(weights));
  touch(this);
}
Dims IConstantLayer::getDimensions() const { return attrsOf(this).getDims("dims"); }
void IConstantLayer::setDimensions(const Dims& dims) {
  attrsOf(this).setDims("dims", dims);
  touch(this);
}

// ---- cast and identity -------------------------------------------------------------------------------

Status inferCastShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                       std::vector<ShapeOutput>& outputs) {
  const int64_t to = layer.attrs.getInt("to_type", -1);
  if (to < 0 || to >= kNB_DATA_TYPES) return invalidArgument("invalid cast target type " + std::to_string(to));
  outputs[0] = {inputs[0].dims, static_cast<DataType>(to)};
  return Status::ok();
}

Status inferIdentityShapes(const LayerParams&, const std::vector<ShapeInput>& inputs, std::vector<ShapeOutput>& outputs) {
  outputs[0] = {inputs[0].dims, inputs[0].type};
  return Status::ok();
}

ICastLayer* NetworkDefinition::addCast(ITensor& input, DataType toType) {
  if (!impl_->ownsTensor(&input, "addCast input")) return nullptr;
  Attributes attrs;
  attrs.setInt("to_type", static_cast<int64_t>(toType));
  return impl_->addLayer<ICastLayer>(LayerType::kCAST, {&input}, std::move(attrs));
}

void ICastLayer::setToType(DataType toType) {
  attrsOf(this).setInt("to_type", static_cast<int64_t>(toType));
  touch(this);
}
DataType ICastLayer::getToType() const { return static_cast<DataType>(attrsOf(this).getInt("to_type")); }

IIdentityLayer* NetworkDefinition::addIdentity(ITensor& input) {
  if (!impl_->ownsTensor(&input, "addIdentity input")) return nullptr;
  return impl_->addLayer<IIdentityLayer>(LayerType::kIDENTITY, {&input}, Attributes());
}

// ---- shape -------------------------------------------------------------------------------------------

Status inferShapeShapes(const LayerParams&, const std::vector<ShapeInput>& inputs, std::vector<ShapeOutput>& outputs) {
  outputs[0] = {Dims{inputs[0].dims.nbDims}, DataType::kINT64};
  return Status::ok();
}

IShapeLayer* NetworkDefinition::addShape(ITensor& input) {
  if (!impl_->ownsTensor(&input, "addShape input")) return nullptr;
  return impl_->addLayer<IShapeLayer>(LayerType::kSHAPE, {&input}, Attributes());
}

// ---- fill --------------------------------------------------------------------------------------------

Status inferFillShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                       std::vector<ShapeOutput>& outputs) {
  const int64_t op = layer.attrs.getInt("operation", -1);
  if (op != static_cast<int64_t>(FillOperation::kLINSPACE) && op != static_cast<int64_t>(FillOperation::kCONSTANT)) {
    return invalidArgument("unknown fill operation " + std::to_string(op));
  }
  const int64_t to = layer.attrs.getInt("to_type", -1);
  if (to < 0 || to >= kNB_DATA_TYPES) return invalidArgument("invalid fill output type " + std::to_string(to));
  Dims dims;
  const bool dimsFromTensor = !inputs.empty() && inputs[0].present;
  if (dimsFromTensor) {
    const ShapeInput& shape = inputs[0];
    if (shape.dims.nbDims != 1 || shape.dims.d[0] < 0 || shape.dims.d[0] > Dims::kMAX_DIMS ||
        (shape.type != DataType::kINT32 && shape.type != DataType::kINT64)) {
      return invalidArgument("input 0 (dimensions) must be a 1-D int32/int64 shape tensor of static length <= 8");
    }
    dims = makeDims(static_cast<int32_t>(shape.dims.d[0]), -1);
    if (shape.value != nullptr) {
      for (int32_t i = 0; i < dims.nbDims; ++i) {
        dims.d[i] = shape.value->intAt(i);
        if (dims.d[i] < 0) return invalidArgument("negative fill extent in " + dimsToString(dims));
      }
    }
  } else {
    dims = layer.attrs.getDims("dims");
    KILN_RETURN_IF_ERROR(checkDimsAttr(dims, "fill dims"));
    for (int32_t i = 0; i < dims.nbDims; ++i) {
      if (dims.d[i] < 0) return invalidArgument("fill dims " + dimsToString(dims) + " must be >= 0 (or pass input 0)");
    }
  }
  KILN_RETURN_IF_ERROR(checkedVolume(dims).status());
  if (inputs.size() > 1 && inputs[1].present && inputs[1].dims.nbDims != 0) {
    return invalidArgument("input 1 (alpha) must be a 0-D tensor");
  }
  if (inputs.size() > 2 && inputs[2].present) {
    const Dims& beta = inputs[2].dims;
    if (beta.nbDims != 1 || !extentsCompatible(beta.d[0], dims.nbDims)) {
      return invalidArgument("input 2 (beta) must be a 1-D tensor with one value per output dim");
    }
  } else if (op == static_cast<int64_t>(FillOperation::kLINSPACE)) {
    const size_t nbBetas = layer.attrs.getFloats("beta").size();
    if (nbBetas != 1 && nbBetas != static_cast<size_t>(dims.nbDims)) {
      return invalidArgument("linspace needs one beta, or one per output dim; got " + std::to_string(nbBetas));
    }
  }
  outputs[0] = {dims, static_cast<DataType>(to)};
  return Status::ok();
}

IFillLayer* NetworkDefinition::addFill(const Dims& dimensions, FillOperation op, DataType outputType) {
  Attributes attrs;
  attrs.setDims("dims", dimensions);
  attrs.setInt("operation", static_cast<int64_t>(op));
  attrs.setInt("to_type", static_cast<int64_t>(outputType));
  attrs.setFloat("alpha", 0.0);
  attrs.setFloats("beta", {op == FillOperation::kLINSPACE ? 1.0 : 0.0});
  return impl_->addLayer<IFillLayer>(LayerType::kFILL, {}, std::move(attrs));
}

void IFillLayer::setDimensions(const Dims& dimensions) {
  attrsOf(this).setDims("dims", dimensions);
  touch(this);
}
Dims IFillLayer::getDimensions() const { return attrsOf(this).getDims("dims"); }
void IFillLayer::setOperation(FillOperation op) {
  attrsOf(this).setInt("operation", static_cast<int64_t>(op));
  touch(this);
}
FillOperation IFillLayer::getOperation() const { return static_cast<FillOperation>(attrsOf(this).getInt("operation")); }
void IFillLayer::setAlpha(double alpha) { attrsOf(this).setFloat("alpha", alpha); }
double IFillLayer::getAlpha() const { return attrsOf(this).getFloat("alpha"); }
void IFillLayer::setBeta(double beta) {
  attrsOf(this).setFloats("beta", {beta});
  touch(this);
}
void IFillLayer::setBetaNd(const double* betas, int32_t nbBetas) {
  attrsOf(this).setFloats("beta", std::vector<double>(betas, betas + (nbBetas > 0 ? nbBetas : 0)));
  touch(this);
}
double IFillLayer::getBeta() const {
  const std::vector<double> betas = attrsOf(this).getFloats("beta");
  return betas.empty() ? 0.0 : betas.back();
}
void IFillLayer::setToType(DataType type) {
  attrsOf(this).setInt("to_type", static_cast<int64_t>(type));
  touch(this);
}
DataType IFillLayer::getToType() const { return static_cast<DataType>(attrsOf(this).getInt("to_type")); }

}  // namespace kiln
