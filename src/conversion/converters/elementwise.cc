// ATen binary elementwise ops: add/sub/rsub/mul/div (with alpha and rounding modes), pow, maximum/minimum,
// fmax/fmin, fmod/remainder/floor_divide, lerp, addcmul/addcdiv, atan2, xlogy, comparisons and logical ops.
// Tensor overloads also accept Python numbers (torch.export writes x + 1 as add.Tensor(x, 1)); PyTorch's type
// promotion decides every result type.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;
using impl::Operand;

StatusOr<std::pair<Operand, Operand>> operands(const Args& args) {
  KILN_ASSIGN_OR_RETURN(Operand a, impl::operandOf(args[0]));
  KILN_ASSIGN_OR_RETURN(Operand b, impl::operandOf(args[1]));
  return std::make_pair(a, b);
}

template <ElementWiseOperation kOp>
Status binary(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::elementwise(ctx, node, ab.first, ab.second, kOp));
  return impl::setOutput(ctx, node, 0, out, args);
}

// add/sub with alpha: self op alpha * other.
template <ElementWiseOperation kOp>
Status withAlpha(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::addScaled(ctx, node, ab.first, ab.second, args[2].constant, kOp));
  return impl::setOutput(ctx, node, 0, out, args);
}

// rsub: other - alpha * self.
Status rsub(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  KILN_ASSIGN_OR_RETURN(ITensor * out,
                        impl::addScaled(ctx, node, ab.second, ab.first, args[2].constant, ElementWiseOperation::kSUB));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status divide(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  impl::RoundingMode mode = impl::RoundingMode::kNONE;
  if (args.size() > 2) {
    KILN_ASSIGN_OR_RETURN(mode, impl::roundingModeFrom(args[2].constant));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::divide(ctx, node, ab.first, ab.second, mode));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status power(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::power(ctx, node, ab.first, ab.second));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status remainder(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::remainder(ctx, node, ab.first, ab.second));
  return impl::setOutput(ctx, node, 0, out, args);
}

template <impl::Comparison kCmp>
Status compare(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::compare(ctx, node, ab.first, ab.second, kCmp));
  return impl::setOutput(ctx, node, 0, out, args);
}

template <ElementWiseOperation kOp>
Status logical(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * a, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * b, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::logical(ctx, node, a, b, kOp));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status fmod(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::fmod(ctx, node, ab.first, ab.second));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status floorDivide(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::divide(ctx, node, ab.first, ab.second, impl::RoundingMode::kFLOOR));
  return impl::setOutput(ctx, node, 0, out, args);
}

template <bool kMax>
Status fmaxFmin(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::fmaxFmin(ctx, node, ab.first, ab.second, kMax));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status lerp(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * start, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * end, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(Operand weight, impl::operandOf(args[2]));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::lerp(ctx, node, start, end, weight));
  return impl::setOutput(ctx, node, 0, out, args);
}

template <bool kDivide>
Status addcmulDiv(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * self, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * t1, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * t2, args[2].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::addcmulDiv(ctx, node, self, t1, t2, args[3].constant, kDivide));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status atan2(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::atan2(ctx, node, ab.first, ab.second));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status xlogy(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(auto ab, operands(args));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::xlogy(ctx, node, ab.first, ab.second));
  return impl::setOutput(ctx, node, 0, out, args);
}

bool isFloat(const ir::TensorMeta* meta) {
  return meta != nullptr && impl::categoryOf(meta->dtype) == impl::TypeCategory::kFLOAT;
}

// Numbers or tensors in the first two arguments (a tensor-valued Scalar would be a 0-D tensor: fine too).
bool operandsSupported(const ir::Node& node, const CompilationSettings&) {
  for (size_t i = 0; i < 2 && i < node.args().size(); ++i) {
    const ir::Arg& arg = node.args()[i];
    if (arg.isValue()) {
      if (arg.value == nullptr || !arg.value->isTensor()) return false;  // a SymInt computed in PyTorch
    } else if (!arg.isConstant() || !arg.constant.isNumber()) {
      return false;
    }
  }
  return true;
}

bool roundingModeSupported(const ir::Node& node, const CompilationSettings& settings) {
  const ir::Constant* mode = impl::constantArg(node, 2);
  return operandsSupported(node, settings) && mode != nullptr && impl::roundingModeFrom(*mode).isOk();
}

// fmod/floor_divide: no bool tensor operand (PyTorch refuses bool division and bool fmod).
bool noBoolOperand(const ir::Node& node, const CompilationSettings& settings) {
  if (!operandsSupported(node, settings)) return false;
  for (size_t i = 0; i < 2; ++i) {
    const ir::TensorMeta* meta = impl::tensorMetaArg(node, i);
    if (meta != nullptr && meta->dtype == DataType::kBOOL) return false;
  }
  return true;
}

// lerp: float start and end of one dtype; the weight a number or a tensor of that dtype.
bool lerpSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* start = impl::tensorMetaArg(node, 0);
  const ir::TensorMeta* end = impl::tensorMetaArg(node, 1);
  if (!isFloat(start) || end == nullptr || end->dtype != start->dtype) return false;
  const ir::Constant* weight = impl::constantArg(node, 2);
  if (weight != nullptr) return weight->isNumber();
  const ir::TensorMeta* w = impl::tensorMetaArg(node, 2);
  return w != nullptr && w->dtype == start->dtype;
}

// addcmul/addcdiv: three tensors (no bool) and a number; integer results only for addcmul with an int value.
template <bool kDivide>
bool addcSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::Constant* value = impl::constantArg(node, 3);
  if (value == nullptr || !value->isNumber()) return false;
  bool anyFloat = false, factorFloat = false;
  for (size_t i = 0; i < 3; ++i) {
    const ir::TensorMeta* meta = impl::tensorMetaArg(node, i);
    if (meta == nullptr || meta->dtype == DataType::kBOOL) return false;
    anyFloat = anyFloat || isFloat(meta);
    if (i > 0) factorFloat = factorFloat || isFloat(meta);
  }
  if (kDivide) return factorFloat;
  return anyFloat || !value->isDouble();
}

constexpr auto kSUM = ElementWiseOperation::kSUM;
constexpr auto kSUB = ElementWiseOperation::kSUB;
constexpr auto kPROD = ElementWiseOperation::kPROD;
const ConverterOptions kOperands{.validator = operandsSupported};
const ConverterOptions kNoBool{.validator = noBoolOperand};

const auto registered =
    RegisterConverters()
        .pattern({"aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", withAlpha<kSUM>},
                 kOperands)
        .pattern({"aten::add.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor", withAlpha<kSUM>}, kOperands)
        .pattern({"aten::sub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", withAlpha<kSUB>},
                 kOperands)
        .pattern({"aten::sub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor", withAlpha<kSUB>}, kOperands)
        .pattern({"aten::rsub.Scalar(Tensor self, Scalar other, Scalar alpha=1) -> Tensor", rsub}, kOperands)
        .pattern({"aten::rsub.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor", rsub}, kOperands)
        .pattern({"aten::mul.Tensor(Tensor self, Tensor other) -> Tensor", binary<kPROD>}, kOperands)
        .pattern({"aten::mul.Scalar(Tensor self, Scalar other) -> Tensor", binary<kPROD>}, kOperands)
        .pattern({"aten::div.Tensor(Tensor self, Tensor other) -> Tensor", divide}, kOperands)
        .pattern({"aten::div.Scalar(Tensor self, Scalar other) -> Tensor", divide}, kOperands)
        .pattern({"aten::div.Tensor_mode(Tensor self, Tensor other, *, str? rounding_mode) -> Tensor", divide},
                 {.validator = roundingModeSupported})
        .pattern({"aten::div.Scalar_mode(Tensor self, Scalar other, *, str? rounding_mode) -> Tensor", divide},
                 {.validator = roundingModeSupported})
        .pattern({"aten::pow.Tensor_Scalar(Tensor self, Scalar exponent) -> Tensor", power}, kOperands)
        .pattern({"aten::pow.Tensor_Tensor(Tensor self, Tensor exponent) -> Tensor", power}, kOperands)
        .pattern({"aten::remainder.Scalar(Tensor self, Scalar other) -> Tensor", remainder}, kOperands)
        .pattern({"aten::remainder.Tensor(Tensor self, Tensor other) -> Tensor", remainder}, kOperands)
        .pattern({"aten::maximum(Tensor self, Tensor other) -> Tensor", binary<ElementWiseOperation::kMAX>}, kOperands)
        .pattern({"aten::minimum(Tensor self, Tensor other) -> Tensor", binary<ElementWiseOperation::kMIN>}, kOperands)
        .pattern({"aten::eq.Scalar(Tensor self, Scalar other) -> Tensor", compare<impl::Comparison::kEQ>}, kOperands)
        .pattern({"aten::eq.Tensor(Tensor self, Tensor other) -> Tensor", compare<impl::Comparison::kEQ>}, kOperands)
        .pattern({"aten::ne.Scalar(Tensor self, Scalar other) -> Tensor", compare<impl::Comparison::kNE>}, kOperands)
        .pattern({"aten::ne.Tensor(Tensor self, Tensor other) -> Tensor", compare<impl::Comparison::kNE>}, kOperands)
        .pattern({"aten::gt.Scalar(Tensor self, Scalar other) -> Tensor", compare<impl::Comparison::kGT>}, kOperands)
        .pattern({"aten::gt.Tensor(Tensor self, Tensor other) -> Tensor", compare<impl::Comparison::kGT>}, kOperands)
        .pattern({"aten::lt.Scalar(Tensor self, Scalar other) -> Tensor", compare<impl::Comparison::kLT>}, kOperands)
        .pattern({"aten::lt.Tensor(Tensor self, Tensor other) -> Tensor", compare<impl::Comparison::kLT>}, kOperands)
        .pattern({"aten::ge.Scalar(Tensor self, Scalar other) -> Tensor", compare<impl::Comparison::kGE>}, kOperands)
        .pattern({"aten::ge.Tensor(Tensor self, Tensor other) -> Tensor", compare<impl::Comparison::kGE>}, kOperands)
        .pattern({"aten::le.Scalar(Tensor self, Scalar other) -> Tensor", compare<impl::Comparison::kLE>}, kOperands)
        .pattern({"aten::le.Tensor(Tensor self, Tensor other) -> Tensor", compare<impl::Comparison::kLE>}, kOperands)
        .pattern({"aten::logical_and(Tensor self, Tensor other) -> Tensor", logical<ElementWiseOperation::kAND>})
        .pattern({"aten::logical_or(Tensor self, Tensor other) -> Tensor", logical<ElementWiseOperation::kOR>})
        .pattern({"aten::logical_xor(Tensor self, Tensor other) -> Tensor", logical<ElementWiseOperation::kXOR>})
        .pattern({"aten::pow.Scalar(Scalar self, Tensor exponent) -> Tensor", power}, kOperands)
        .pattern({"aten::remainder.Scalar_Tensor(Scalar self, Tensor other) -> Tensor", remainder}, kOperands)
        .pattern({"aten::fmod.Tensor(Tensor self, Tensor other) -> Tensor", fmod}, kNoBool)
        .pattern({"aten::fmod.Scalar(Tensor self, Scalar other) -> Tensor", fmod}, kNoBool)
        .pattern({"aten::floor_divide(Tensor self, Tensor other) -> Tensor", floorDivide}, kNoBool)
        .pattern({"aten::floor_divide.Scalar(Tensor self, Scalar other) -> Tensor", floorDivide}, kNoBool)
        .pattern({"aten::fmax(Tensor self, Tensor other) -> Tensor", fmaxFmin<true>}, kOperands)
        .pattern({"aten::fmin(Tensor self, Tensor other) -> Tensor", fmaxFmin<false>}, kOperands)
        .pattern({"aten::lerp.Scalar(Tensor self, Tensor end, Scalar weight) -> Tensor", lerp},
                 {.validator = lerpSupported})
        .pattern({"aten::lerp.Tensor(Tensor self, Tensor end, Tensor weight) -> Tensor", lerp},
                 {.validator = lerpSupported})
        .pattern({"aten::addcmul(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor",
                  addcmulDiv<false>},
                 {.validator = addcSupported<false>})
        .pattern({"aten::addcdiv(Tensor self, Tensor tensor1, Tensor tensor2, *, Scalar value=1) -> Tensor",
                  addcmulDiv<true>},
                 {.validator = addcSupported<true>})
        .pattern({"aten::atan2(Tensor self, Tensor other) -> Tensor", atan2}, kOperands)
        .pattern({"aten::xlogy.Tensor(Tensor self, Tensor other) -> Tensor", xlogy}, kOperands);

}  // namespace
}  // namespace conversion
}  // namespace kiln
