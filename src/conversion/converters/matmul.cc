// ATen matrix products: mm, bmm, matmul, mv, dot/vdot, outer, linear, and the scaled sums addmm, addmv,
// baddbmm, addbmm.
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

Status matmul(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * a, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * b, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::matmul(ctx, node, a, b));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status addmm(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * bias, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * a, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * b, args[2].asTensor());
  KILN_ASSIGN_OR_RETURN(double beta, args[3].asDouble());
  KILN_ASSIGN_OR_RETURN(double alpha, args[4].asDouble());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::addmm(ctx, node, bias, a, b, beta, alpha));
  return impl::setOutput(ctx, node, 0, out, args);
}

// addmv(self, mat, vec, beta, alpha), baddbmm(self, batch1, batch2, beta, alpha): beta * self + alpha * (a @ b).
Status scaledProduct(ConversionCtx& ctx, const ir::Node& node, Args& args) { return addmm(ctx, node, args); }

// addbmm(self, batch1, batch2, beta, alpha): beta * self + alpha * sum_b(batch1[b] @ batch2[b]).
Status addbmm(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * bias, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * a, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * b, args[2].asTensor());
  KILN_ASSIGN_OR_RETURN(double beta, args[3].asDouble());
  KILN_ASSIGN_OR_RETURN(double alpha, args[4].asDouble());
  if (a->getDimensions().nbDims != 3 || b->getDimensions().nbDims != 3) {
    return impl::Site(node).error("addbmm takes 3-D batches, got " + dimsToString(a->getDimensions()) + " and " +
                                  dimsToString(b->getDimensions()));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * products, impl::matmul(ctx, impl::Site(node, "bmm"), a, b));
  KILN_ASSIGN_OR_RETURN(ITensor * summed,
                        impl::reduce(ctx, impl::Site(node, "sum"), products, ReduceOperation::kSUM, {0}, false));
  // Integer sums widen to int64; the product keeps the operands' type like torch.addbmm.
  KILN_ASSIGN_OR_RETURN(summed, impl::castTo(ctx, impl::Site(node, "type"), summed, products->getType()));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::scaledSum(ctx, node, bias, summed, beta, alpha));
  return impl::setOutput(ctx, node, 0, out, args);
}

// outer(self, vec2): self[:, None] * vec2[None, :], with type promotion.
Status outer(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * a, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * b, args[1].asTensor());
  if (a->getDimensions().nbDims != 1 || b->getDimensions().nbDims != 1) {
    return impl::Site(node).error("outer takes two vectors, got " + dimsToString(a->getDimensions()) + " and " +
                                  dimsToString(b->getDimensions()));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * column, impl::unsqueeze(ctx, impl::Site(node, "column"), a, 1));
  KILN_ASSIGN_OR_RETURN(ITensor * row, impl::unsqueeze(ctx, impl::Site(node, "row"), b, 0));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::elementwise(ctx, node, impl::Operand::of(column), impl::Operand::of(row),
                                                         ElementWiseOperation::kPROD));
  return impl::setOutput(ctx, node, 0, out, args);
}

Status linear(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * w, args[1].asTensor());
  ITensor* bias = nullptr;
  if (!args[2].isNone()) {
    KILN_ASSIGN_OR_RETURN(bias, args[2].asTensor());
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::linear(ctx, node, x, w, bias));
  return impl::setOutput(ctx, node, 0, out, args);
}

// The engine multiplies float and 32/64-bit integer matrices.
bool matmulTypes(const ir::Node& node, const CompilationSettings&) {
  for (size_t i = 0; i < node.args().size(); ++i) {
    const ir::TensorMeta* meta = impl::tensorMetaArg(node, i);
    if (meta == nullptr) continue;
    const DataType t = meta->dtype;
    if (t == DataType::kBOOL || t == DataType::kINT8 || t == DataType::kUINT8) return false;
  }
  return true;
}

const ConverterOptions kTypes{.validator = matmulTypes};

// Operand ranks fixed by the op (mv: 2-D and 1-D ...): others make torch raise, so such nodes stay there.
template <int kRank0, int kRank1, int kRank2>
bool ranked(const ir::Node& node, const CompilationSettings& settings) {
  const int ranks[] = {kRank0, kRank1, kRank2};
  for (size_t i = 0; i < 3; ++i) {
    if (ranks[i] < 0) continue;
    const ir::TensorMeta* meta = impl::tensorMetaArg(node, i);
    if (meta == nullptr || static_cast<int>(meta->shape.size()) != ranks[i]) return false;
  }
  return matmulTypes(node, settings);
}

// Scaled forms: beta and alpha must be known numbers.
template <int kRank0, int kRank1, int kRank2>
bool rankedScaled(const ir::Node& node, const CompilationSettings& settings) {
  const ir::Constant* beta = impl::constantArg(node, 3);
  const ir::Constant* alpha = impl::constantArg(node, 4);
  if (beta == nullptr || !beta->isNumber() || alpha == nullptr || !alpha->isNumber()) return false;
  if (!ranked<kRank0, kRank1, kRank2>(node, settings)) return false;
  // The scaling is done in float: integer products stay exact only without it.
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 1);
  if (impl::categoryOf(meta->dtype) != impl::TypeCategory::kFLOAT) {
    return alpha->toDouble().value() == 1.0 && (beta->toDouble().value() == 1.0 || beta->toDouble().value() == 0.0);
  }
  return true;
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::mm(Tensor self, Tensor mat2) -> Tensor", matmul}, kTypes)
        .pattern({"aten::bmm(Tensor self, Tensor mat2) -> Tensor", matmul}, kTypes)
        .pattern({"aten::matmul(Tensor self, Tensor other) -> Tensor", matmul}, kTypes)
        .pattern(
            {"aten::addmm(Tensor self, Tensor mat1, Tensor mat2, *, Scalar beta=1, Scalar alpha=1) -> Tensor", addmm},
            kTypes)
        .pattern({"aten::linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor", linear}, kTypes)
        .pattern({"aten::mv(Tensor self, Tensor vec) -> Tensor", matmul}, {.validator = ranked<2, 1, -1>})
        .pattern({"aten::dot(Tensor self, Tensor tensor) -> Tensor", matmul}, {.validator = ranked<1, 1, -1>})
        // vdot conjugates its first operand: the same as dot for the real types Kiln has.
        .pattern({"aten::vdot(Tensor self, Tensor other) -> Tensor", matmul}, {.validator = ranked<1, 1, -1>})
        .pattern({"aten::outer(Tensor self, Tensor vec2) -> Tensor", outer}, {.validator = ranked<1, 1, -1>})
        .pattern({"aten::addmv(Tensor self, Tensor mat, Tensor vec, *, Scalar beta=1, Scalar alpha=1) -> Tensor",
                  scaledProduct},
                 {.validator = rankedScaled<-1, 2, 1>})
        .pattern({"aten::baddbmm(Tensor self, Tensor batch1, Tensor batch2, *, Scalar beta=1, Scalar alpha=1) -> "
                  "Tensor",
                  scaledProduct},
                 {.validator = rankedScaled<-1, 3, 3>})
        .pattern({"aten::addbmm(Tensor self, Tensor batch1, Tensor batch2, *, Scalar beta=1, Scalar alpha=1) -> "
                  "Tensor",
                  addbmm},
                 {.validator = rankedScaled<-1, 3, 3>});

}  // namespace
}  // namespace conversion
}  // namespace kiln
