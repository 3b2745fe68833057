// Matrix products: matmul/mm/bmm, addmm and linear.
#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {

StatusOr<ITensor*> matmul(ConversionCtx& ctx, const Site& site, ITensor* a, ITensor* b, MatrixOperation opA,
                          MatrixOperation opB) {
  if (a->getDimensions().nbDims == 0 || b->getDimensions().nbDims == 0) {
    return site.error("both operands of a matrix product must have at least one dim");
  }
  KILN_ASSIGN_OR_RETURN(DataType type, resultType({Operand::of(a), Operand::of(b)}));
  if (type == DataType::kBOOL || type == DataType::kINT8 || type == DataType::kUINT8) {
    return site.error(std::string("matrix products of ") + dataTypeName(type) +
                      " tensors are not supported; cast "
                      "to float32 or int32 first");
  }
  KILN_ASSIGN_OR_RETURN(ITensor * ta, castTo(ctx, site.sub("self"), a, type));
  KILN_ASSIGN_OR_RETURN(ITensor * tb, castTo(ctx, site.sub("other"), b, type));
  return outputOf(ctx, site, ctx.net->addMatrixMultiply(*ta, opA, *tb, opB));
}

StatusOr<ITensor*> addmm(ConversionCtx& ctx, const Site& site, ITensor* bias, ITensor* a, ITensor* b, double beta,
                         double alpha) {
  KILN_ASSIGN_OR_RETURN(ITensor * product, matmul(ctx, site.sub("mm"), a, b));
  if (alpha != 1.0) {
    KILN_ASSIGN_OR_RETURN(
        product, elementwise(ctx, site.sub("alpha"), Operand::of(product), Operand::of(ir::Constant::fromDouble(alpha)),
                             ElementWiseOperation::kPROD));
  }
  // beta = 0 ignores the bias entirely (PyTorch does not propagate its NaNs or infs).
  if (beta == 0.0) return product;
  ITensor* scaledBias = bias;
  if (beta != 1.0) {
    KILN_ASSIGN_OR_RETURN(
        scaledBias, elementwise(ctx, site.sub("beta"), Operand::of(bias), Operand::of(ir::Constant::fromDouble(beta)),
                                ElementWiseOperation::kPROD));
  }
  return elementwise(ctx, site, Operand::of(scaledBias), Operand::of(product), ElementWiseOperation::kSUM);
}

StatusOr<ITensor*> linear(ConversionCtx& ctx, const Site& site, ITensor* x, ITensor* weight, ITensor* bias) {
  const int32_t wRank = weight->getDimensions().nbDims;
  if (wRank != 1 && wRank != 2)
    return site.error("the linear weight must be 1-D or 2-D, got rank " + std::to_string(wRank));
  // weight [out, in]: x @ weight^T; a 1-D weight is a vector (the output loses the feature dim).
  const MatrixOperation op = wRank == 2 ? MatrixOperation::kTRANSPOSE : MatrixOperation::kVECTOR;
  KILN_ASSIGN_OR_RETURN(ITensor * product,
                        matmul(ctx, bias ? site.sub("mm") : site, x, weight, MatrixOperation::kNONE, op));
  if (bias == nullptr) return product;
  return elementwise(ctx, site, Operand::of(product), Operand::of(bias), ElementWiseOperation::kSUM);
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
