// Activation layers: y = f(x; alpha, beta), elementwise, floating-point types only.
#include "engine/layer_kinds.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

// Default alpha/beta per activation (TensorRT's defaults where it has them).
void defaultParameters(ActivationType type, double& alpha, double& beta) {
  alpha = 0.0;
  beta = 0.0;
  switch (type) {
    case ActivationType::kLEAKY_RELU: alpha = 0.01; break;
    case ActivationType::kELU: alpha = 1.0; break;
    case ActivationType::kSELU: alpha = 1.6732632423543772; beta = 1.0507009873554805; break;
    case ActivationType::kSOFTPLUS: alpha = 1.0; beta = 1.0; break;
    case ActivationType::kHARD_SIGMOID: alpha = 0.2; beta = 0.5; break;
    case ActivationType::kSCALED_TANH: alpha = 1.0; beta = 1.0; break;
    case ActivationType::kRELU:
    case ActivationType::kSIGMOID:
    case ActivationType::kTANH:
    case ActivationType::kSOFTSIGN:
    case ActivationType::kCLIP:
    case ActivationType::kTHRESHOLDED_RELU:
    case ActivationType::kGELU_ERF:
    case ActivationType::kGELU_TANH: break;
  }
}

}  // namespace

Status inferActivationShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                             std::vector<ShapeOutput>& outputs) {
  const int64_t type = layer.attrs.getInt("activation", -1);
  if (type < 0 || type > static_cast<int64_t>(ActivationType::kGELU_TANH)) {
    return invalidArgument("unknown activation type " + std::to_string(type));
  }
  if (!isFloatType(inputs[0].type)) {
    return invalidArgument(std::string("activations take float32/float16/bfloat16 inputs, got ") +
                           dataTypeName(inputs[0].type));
  }
  outputs[0] = {inputs[0].dims, inputs[0].type};
  return Status::ok();
}

IActivationLayer* NetworkDefinition::addActivation(ITensor& input, ActivationType type) {
  if (!impl_->ownsTensor(&input, "addActivation input")) return nullptr;
  Attributes attrs;
  double alpha = 0.0, beta = 0.0;
  defaultParameters(type, alpha, beta);
  attrs.setInt("activation", static_cast<int64_t>(type));
  attrs.setFloat("alpha", alpha);
  attrs.setFloat("beta", beta);
  return impl_->addLayer<IActivationLayer>(LayerType::kACTIVATION, {&input}, std::move(attrs));
}

void IActivationLayer::setActivationType(ActivationType type) {
  attrsOf(this).setInt("activation", static_cast<int64_t>(type));
  touch(this);
}
ActivationType IActivationLayer::getActivationType() const {
  return static_cast<ActivationType>(attrsOf(this).getInt("activation"));
}
void IActivationLayer::setAlpha(float alpha) { attrsOf(this).setFloat("alpha", alpha); }
float IActivationLayer::getAlpha() const { return static_cast<float>(attrsOf(this).getFloat("alpha")); }
void IActivationLayer::setBeta(float beta) { attrsOf(this).setFloat("beta", beta); }
float IActivationLayer::getBeta() const { return static_cast<float>(attrsOf(this).getFloat("beta")); }

}  // namespace kiln
