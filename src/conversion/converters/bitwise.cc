// ATen bitwise ops on bool tensors: and/or/xor (Tensor, Scalar, Scalar_Tensor) and not. On bools they are the
// logical ops; integer operands are left to PyTorch (the engine has no bitwise integer arithmetic).
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

template <ElementWiseOperation kOp>
Status bitwise(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(impl::Operand a, impl::operandOf(args[0]));
  KILN_ASSIGN_OR_RETURN(impl::Operand b, impl::operandOf(args[1]));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::elementwise(ctx, node, a, b, kOp));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status bitwiseNot(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::logicalNot(ctx, node, x));
  return impl::setOutput(ctx, node, 0, out, args);
}

// Every operand is a bool tensor or a Python bool (an int would make the result an integer).
bool boolOperands(const ir::Node& node, const CompilationSettings&) {
  for (size_t i = 0; i < node.args().size(); ++i) {
    const ir::Constant* c = impl::constantArg(node, i);
    if (c != nullptr) {
      if (!c->isBool()) return false;
      continue;
    }
    const ir::TensorMeta* meta = impl::tensorMetaArg(node, i);
    if (meta == nullptr || meta->dtype != DataType::kBOOL) return false;
  }
  return true;
}

constexpr auto kAND = ElementWiseOperation::kAND;
constexpr auto kOR = ElementWiseOperation::kOR;
constexpr auto kXOR = ElementWiseOperation::kXOR;
const ConverterOptions kBools{.validator = boolOperands};

const auto registered =
    RegisterConverters()
        .pattern({"aten::bitwise_and.Tensor(Tensor self, Tensor other) -> Tensor", bitwise<kAND>}, kBools)
        .pattern({"aten::bitwise_and.Scalar(Tensor self, Scalar other) -> Tensor", bitwise<kAND>}, kBools)
        .pattern({"aten::bitwise_and.Scalar_Tensor(Scalar self, Tensor other) -> Tensor", bitwise<kAND>}, kBools)
        .pattern({"aten::bitwise_or.Tensor(Tensor self, Tensor other) -> Tensor", bitwise<kOR>}, kBools)
        .pattern({"aten::bitwise_or.Scalar(Tensor self, Scalar other) -> Tensor", bitwise<kOR>}, kBools)
        .pattern({"aten::bitwise_or.Scalar_Tensor(Scalar self, Tensor other) -> Tensor", bitwise<kOR>}, kBools)
        .pattern({"aten::bitwise_xor.Tensor(Tensor self, Tensor other) -> Tensor", bitwise<kXOR>}, kBools)
        .pattern({"aten::bitwise_xor.Scalar(Tensor self, Scalar other) -> Tensor", bitwise<kXOR>}, kBools)
        .pattern({"aten::bitwise_xor.Scalar_Tensor(Scalar self, Tensor other) -> Tensor", bitwise<kXOR>}, kBools)
        .pattern({"aten::bitwise_not(Tensor self) -> Tensor", bitwiseNot}, kBools);

}  // namespace
}  // namespace conversion
}  // namespace kiln
