// Softmax over one axis, and normalization (layer, instance and group norm) over an axis mask.
#include <climits>
#include <cmath>
#include <string>

#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

StatusOr<uint32_t> maskAttr(const LayerParams& layer, const char* key) {
  const int64_t value = layer.attrs.getInt(key, 0);
  if (value < 0 || value > static_cast<int64_t>(UINT32_MAX)) {
    return invalidArgument(std::string(key) + " " + std::to_string(value) + " is not a 32-bit axis mask");
  }
  return static_cast<uint32_t>(value);
}

// scale and bias broadcast against the input without growing it: rank at most the input's, and each
// (right-aligned) extent 1 or the input's.
Status checkAffineShape(const Dims& param, const Dims& input, const char* what) {
  if (param.nbDims > input.nbDims) {
    return invalidArgument(std::string(what) + " " + dimsToString(param) + " has a higher rank than the input " +
                           dimsToString(input));
  }
  const int32_t shift = input.nbDims - param.nbDims;
  for (int32_t i = 0; i < param.nbDims; ++i) {
    const int64_t p = param.d[i], x = input.d[i + shift];
    if (p != 1 && !extentsCompatible(p, x)) {
      return invalidArgument(std::string(what) + " " + dimsToString(param) + " does not broadcast to the input " +
                             dimsToString(input));
    }
  }
  return Status::ok();
}

}  // namespace

// ---- softmax ------------------------------------------------------------------------------------------

Status inferSoftMaxShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                          std::vector<ShapeOutput>& outputs) {
  const DataType type = inputs[0].type;
  if (!isFloatType(type)) {
    return invalidArgument(std::string("softmax takes float32/float16/bfloat16 inputs, got ") + dataTypeName(type));
  }
  const Dims& in = inputs[0].dims;
  if (in.nbDims < 1) return invalidArgument("softmax needs an input of rank >= 1");
  // No "axes" attribute means the last dim, whatever the input's rank becomes.
  if (layer.attrs.has("axes")) {
    KILN_ASSIGN_OR_RETURN(uint32_t axes, maskAttr(layer, "axes"));
    KILN_RETURN_IF_ERROR(singleAxisFromMask(axes, in.nbDims, "softmax axes").status());
  }
  outputs[0] = {in, type};
  return Status::ok();
}

ISoftMaxLayer* NetworkDefinition::addSoftMax(ITensor& input) {
  if (!impl_->ownsTensor(&input, "addSoftMax input")) return nullptr;
  return impl_->addLayer<ISoftMaxLayer>(LayerType::kSOFTMAX, {&input}, Attributes());
}

void ISoftMaxLayer::setAxes(uint32_t axes) {
  attrsOf(this).setInt("axes", axes);
  touch(this);
}
uint32_t ISoftMaxLayer::getAxes() const {
  if (attrsOf(this).has("axes")) return static_cast<uint32_t>(attrsOf(this).getInt("axes"));
  const ITensor* input = getInput(0);
  const int32_t rank = input != nullptr ? input->getDimensions().nbDims : 0;
  return rank > 0 ? 1u << (rank - 1) : 0u;
}

// ---- normalization ------------------------------------------------------------------------------------

Status inferNormalizationShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                                std::vector<ShapeOutput>& outputs) {
  const DataType type = inputs[0].type;
  if (!isFloatType(type)) {
    return invalidArgument(std::string("normalization takes float32/float16/bfloat16 inputs, got ") +
                           dataTypeName(type));
  }
  if (!isFloatType(inputs[1].type) || !isFloatType(inputs[2].type)) {
    return invalidArgument(std::string("normalization scale and bias must be float types, got ") +
                           dataTypeName(inputs[1].type) + " and " + dataTypeName(inputs[2].type));
  }
  const Dims& in = inputs[0].dims;
  if (in.nbDims < 1) return invalidArgument("normalization needs an input of rank >= 1");
  KILN_ASSIGN_OR_RETURN(uint32_t axes, maskAttr(layer, "axes"));
  KILN_RETURN_IF_ERROR(checkAxisMask(axes, in.nbDims, "normalization axes"));
  if (axes == 0) return invalidArgument("normalization axes mask must name at least one dim");
  const double eps = layer.attrs.getFloat("epsilon", 1e-5);
  if (!std::isfinite(eps) || eps < 0) return invalidArgument("epsilon " + std::to_string(eps) + " must be >= 0");
  const int64_t groups = layer.attrs.getInt("nb_groups", 1);
  if (groups < 1) return invalidArgument("nbGroups " + std::to_string(groups) + " must be >= 1");
  if (groups > 1) {
    if (in.nbDims < 2) return invalidArgument("group normalization needs a channel dim (rank >= 2)");
    if (in.d[1] >= 0 && in.d[1] % groups != 0) {
      return invalidArgument("the channel extent " + std::to_string(in.d[1]) + " is not a multiple of nbGroups " +
                             std::to_string(groups));
    }
  }
  KILN_RETURN_IF_ERROR(checkAffineShape(inputs[1].dims, in, "scale"));
  KILN_RETURN_IF_ERROR(checkAffineShape(inputs[2].dims, in, "bias"));
  outputs[0] = {in, type};
  return Status::ok();
}

INormalizationLayer* NetworkDefinition::addNormalization(ITensor& input, ITensor& scale, ITensor& bias,
                                                         uint32_t axesMask) {
  if (!impl_->ownsTensor(&input, "addNormalization input") || !impl_->ownsTensor(&scale, "addNormalization scale") ||
      !impl_->ownsTensor(&bias, "addNormalization bias")) {
    return nullptr;
  }
  Attributes attrs;
  attrs.setInt("axes", axesMask);
  attrs.setFloat("epsilon", 1e-5);
  attrs.setInt("nb_groups", 1);
  return impl_->addLayer<INormalizationLayer>(LayerType::kNORMALIZATION, {&input, &scale, &bias}, std::move(attrs));
}

void INormalizationLayer::setEpsilon(float eps) {
  attrsOf(this).setFloat("epsilon", eps);
  touch(this);
}
float INormalizationLayer::getEpsilon() const { return static_cast<float>(attrsOf(this).getFloat("epsilon", 1e-5)); }
void INormalizationLayer::setAxes(uint32_t axesMask) {
  attrsOf(this).setInt("axes", axesMask);
  touch(this);
}
uint32_t INormalizationLayer::getAxes() const { return static_cast<uint32_t>(attrsOf(this).getInt("axes")); }
void INormalizationLayer::setNbGroups(int64_t groups) {
  attrsOf(this).setInt("nb_groups", groups);
  touch(this);
}
int64_t INormalizationLayer::getNbGroups() const { return attrsOf(this).getInt("nb_groups", 1); }

}  // namespace kiln
