// ATen softmax and log-softmax (the half_to_float flag and the dtype argument cast the input first), and
// _safe_softmax (attention's softmax: a row of -inf only gives zeros instead of NaN).
#include <cmath>

#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;
using Builder = StatusOr<ITensor*> (*)(ConversionCtx&, const impl::Site&, ITensor*, int64_t);

// _softmax(self, dim, half_to_float)
template <Builder kBuild>
Status halfToFloat(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(bool toFloat, args[2].asBool());
  if (toFloat) {
    KILN_ASSIGN_OR_RETURN(x, impl::castTo(ctx, impl::Site(node, "float"), x, DataType::kFLOAT));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, kBuild(ctx, node, x, dim));
  return impl::setOutput(ctx, node, 0, out, args);
}

// softmax.int(self, dim, dtype=None)
template <Builder kBuild>
Status withDtype(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(std::optional<DataType> dtype, impl::scalarTypeOf(args[2]));
  if (dtype.has_value()) {
    KILN_ASSIGN_OR_RETURN(x, impl::castTo(ctx, impl::Site(node, "dtype"), x, *dtype));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, kBuild(ctx, node, x, dim));
  return impl::setOutput(ctx, node, 0, out, args);
}

// _safe_softmax(self, dim, dtype=None)
Status safeSoftmax(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(std::optional<DataType> dtype, impl::scalarTypeOf(args[2]));
  if (dtype.has_value()) {
    KILN_ASSIGN_OR_RETURN(x, impl::castTo(ctx, impl::Site(node, "dtype"), x, *dtype));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * soft, impl::softmax(ctx, impl::Site(node, "softmax"), x, dim));
  if (x->getDimensions().nbDims == 0) return impl::setOutput(ctx, node, 0, soft, args);
  KILN_ASSIGN_OR_RETURN(ITensor * masked,
                        impl::compare(ctx, impl::Site(node, "masked"), impl::Operand::of(x),
                                      impl::Operand::of(ir::Constant::fromDouble(-INFINITY)), impl::Comparison::kEQ));
  KILN_ASSIGN_OR_RETURN(ITensor * allMasked, impl::all(ctx, impl::Site(node, "all"), masked, {dim}, true));
  KILN_ASSIGN_OR_RETURN(
      ITensor * out,
      impl::where(ctx, node, allMasked, impl::Operand::of(ir::Constant::fromDouble(0.0)), impl::Operand::of(soft)));
  return impl::setOutput(ctx, node, 0, out, args);
}

bool floatInput(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && impl::categoryOf(meta->dtype) == impl::TypeCategory::kFLOAT &&
         impl::constantArg(node, 1) != nullptr;
}

bool floatInputAndDtype(const ir::Node& node, const CompilationSettings& settings) {
  return floatInput(node, settings) && impl::scalarTypeArgSupported(node, 2);
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::_softmax(Tensor self, int dim, bool half_to_float) -> Tensor", halfToFloat<impl::softmax>},
                 {.validator = floatInput})
        .pattern(
            {"aten::softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor", withDtype<impl::softmax>},
            {.validator = floatInputAndDtype})
        .pattern(
            {"aten::_log_softmax(Tensor self, int dim, bool half_to_float) -> Tensor", halfToFloat<impl::logSoftmax>},
            {.validator = floatInput})
        .pattern({"aten::_safe_softmax(Tensor self, int dim, ScalarType? dtype=None) -> Tensor", safeSoftmax},
                 {.validator = floatInputAndDtype})
        .pattern({"aten::log_softmax.int(Tensor self, int dim, ScalarType? dtype=None) -> Tensor",
                  withDtype<impl::logSoftmax>},
                 {.validator = floatInputAndDtype});

}  // namespace
}  // namespace conversion
}  // namespace kiln
