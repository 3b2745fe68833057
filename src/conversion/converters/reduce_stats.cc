// ATen statistics over dims: var/std (correction, unbiased and default forms), var_mean/std_mean, vector
// norms, logsumexp, and the cumulative sum and product.
#include <cmath>

#include "conversion/impl/impl.h"
#include "conversion/registry.h"
#include "ir/dtype.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

StatusOr<std::vector<int64_t>> dimsOf(const ConverterArg& arg) {
  if (arg.isNone()) return std::vector<int64_t>();
  return arg.asInts();
}

// What a moments converter returns: var, std, or (var, mean) / (std, mean).
enum class Stat { kVAR, kSTD };

template <Stat kStat>
Status emitMoments(ConversionCtx& ctx, const ir::Node& node, Args& args, const std::vector<int64_t>& dims,
                   double correction, bool keep) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(impl::Moments m, impl::moments(ctx, node, x, dims, correction, keep));
  ITensor* spread = m.var;
  if (kStat == Stat::kSTD) {
    KILN_ASSIGN_OR_RETURN(spread, impl::unary(ctx, impl::Site(node, "sqrt"), m.var, UnaryOperation::kSQRT));
  }
  KILN_RETURN_IF_ERROR(impl::setOutput(ctx, node, 0, spread, args));
  if (node.outputs().size() > 1) return impl::setOutput(ctx, node, 1, m.mean, args);
  return Status::ok();
}

// var.correction(self, dim=None, *, correction=None, keepdim): None means Bessel's correction (1).
template <Stat kStat>
Status withCorrection(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, dimsOf(args[1]));
  double correction = 1.0;
  if (!args[2].isNone()) {
    KILN_ASSIGN_OR_RETURN(correction, args[2].asDouble());
  }
  KILN_ASSIGN_OR_RETURN(bool keep, args[3].asBool());
  return emitMoments<kStat>(ctx, node, args, dims, correction, keep);
}

// var.dim(self, dim, unbiased, keepdim)
template <Stat kStat>
Status withUnbiasedDims(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, dimsOf(args[1]));
  KILN_ASSIGN_OR_RETURN(bool unbiased, args[2].asBool());
  KILN_ASSIGN_OR_RETURN(bool keep, args[3].asBool());
  return emitMoments<kStat>(ctx, node, args, dims, unbiased ? 1.0 : 0.0, keep);
}

// var(self, unbiased): every element.
template <Stat kStat>
Status withUnbiased(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(bool unbiased, args[1].asBool());
  return emitMoments<kStat>(ctx, node, args, {}, unbiased ? 1.0 : 0.0, false);
}

Status castForDtype(ConversionCtx& ctx, const ir::Node& node, const ConverterArg& dtypeArg, ITensor*& x) {
  KILN_ASSIGN_OR_RETURN(std::optional<DataType> dtype, impl::scalarTypeOf(dtypeArg));
  if (dtype.has_value()) {
    KILN_ASSIGN_OR_RETURN(x, impl::castTo(ctx, impl::Site(node, "dtype"), x, *dtype));
  }
  return Status::ok();
}

// linalg_vector_norm(self, ord, dim=None, keepdim, *, dtype=None)
Status linalgVectorNorm(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(double ord, args[1].asDouble());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, dimsOf(args[2]));
  KILN_ASSIGN_OR_RETURN(bool keep, args[3].asBool());
  KILN_RETURN_IF_ERROR(castForDtype(ctx, node, args[4], x));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::vectorNorm(ctx, node, x, ord, dims, keep));
  return impl::setOutput(ctx, node, 0, out, args);
}

// norm.ScalarOpt_dim(self, p=None, dim, keepdim) and norm.Scalar(self, p=2): p None is 2.
Status norm(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  double p = 2.0;
  if (!args[1].isNone()) {
    KILN_ASSIGN_OR_RETURN(p, args[1].asDouble());
  }
  std::vector<int64_t> dims;
  bool keep = false;
  if (args.size() > 2) {
    KILN_ASSIGN_OR_RETURN(dims, dimsOf(args[2]));
    KILN_ASSIGN_OR_RETURN(keep, args[3].asBool());
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::vectorNorm(ctx, node, x, p, dims, keep));
  return impl::setOutput(ctx, node, 0, out, args);
}

// norm.ScalarOpt_dim_dtype(self, p, dim, keepdim, *, dtype), norm.ScalarOpt_dtype(self, p, *, dtype): the input is
// cast to dtype first.
Status normDtype(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  double p = 2.0;
  if (!args[1].isNone()) {
    KILN_ASSIGN_OR_RETURN(p, args[1].asDouble());
  }
  std::vector<int64_t> dims;
  bool keep = false;
  const bool withDims = args.size() > 3;
  if (withDims) {
    KILN_ASSIGN_OR_RETURN(dims, dimsOf(args[2]));
    KILN_ASSIGN_OR_RETURN(keep, args[3].asBool());
  }
  KILN_RETURN_IF_ERROR(castForDtype(ctx, node, args[withDims ? 4 : 2], x));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::vectorNorm(ctx, node, x, p, dims, keep));
  return impl::setOutput(ctx, node, 0, out, args);
}

// logsumexp(self, dim, keepdim)
Status logsumexp(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> dims, dimsOf(args[1]));
  KILN_ASSIGN_OR_RETURN(bool keep, args[2].asBool());
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::logSumExp(ctx, node, x, dims, keep));
  return impl::setOutput(ctx, node, 0, out, args);
}

// cumsum/cumprod(self, dim, *, dtype=None)
template <CumulativeOperation kOp>
Status cumulative(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_RETURN_IF_ERROR(castForDtype(ctx, node, args[2], x));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::cumulative(ctx, node, x, dim, kOp));
  return impl::setOutput(ctx, node, 0, out, args);
}

// ---- validators -------------------------------------------------------------------------------------

bool constantArgs(const ir::Node& node) {
  for (size_t i = 1; i < node.args().size(); ++i) {
    if (impl::constantArg(node, i) == nullptr) return false;
  }
  return impl::tensorMetaArg(node, 0) != nullptr;
}

bool floatInput(const ir::Node& node) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  return meta != nullptr && impl::categoryOf(meta->dtype) == impl::TypeCategory::kFLOAT;
}

// Every reduced extent must be non-zero: an empty reduction gives NaN or raises in torch, which the engine's
// reductions do not reproduce.
bool nonEmptyReduction(const ir::Node& node, size_t dimsIndex) {
  const Dims dims = impl::tensorMetaArg(node, 0)->toDims();
  if (dims.nbDims < 0) return false;
  std::vector<int64_t> listed;
  const ir::Constant* dimsArg = dimsIndex < node.args().size() ? impl::constantArg(node, dimsIndex) : nullptr;
  if (dimsArg != nullptr && !dimsArg->isNone()) {
    StatusOr<std::vector<int64_t>> values = dimsArg->toInts();
    if (!values.isOk()) return false;
    listed = values.value();
  }
  if (listed.empty()) {
    for (int32_t i = 0; i < dims.nbDims; ++i) listed.push_back(i);
  }
  for (int64_t d : listed) {
    if (dims.nbDims == 0) {
      if (d != 0 && d != -1) return false;
      continue;
    }
    if (d < -dims.nbDims || d >= dims.nbDims) return false;
    if (dims.d[d < 0 ? d + dims.nbDims : d] == 0) return false;
  }
  return true;
}

template <size_t kDims>
bool momentsSupported(const ir::Node& node, const CompilationSettings&) {
  return constantArgs(node) && floatInput(node) && nonEmptyReduction(node, kDims);
}

// A float result (input or dtype) and a finite or infinite numeric order.
bool vectorNormSupported(const ir::Node& node, const CompilationSettings&) {
  if (!constantArgs(node) || !impl::scalarTypeArgSupported(node, 4)) return false;
  const ir::Constant* dtype = impl::constantArg(node, 4);
  if (!dtype->isNone()) {
    StatusOr<DataType> type = ir::dataTypeFromTorch(dtype->toInt().value(), true);
    if (!type.isOk() || impl::categoryOf(type.value()) != impl::TypeCategory::kFLOAT) return false;
  } else if (!floatInput(node)) {
    return false;
  }
  StatusOr<double> ord = impl::constantArg(node, 1)->toDouble();
  return ord.isOk() && !std::isnan(ord.value()) && nonEmptyReduction(node, 2);
}

bool normSupported(const ir::Node& node, const CompilationSettings&) {
  if (!constantArgs(node) || !floatInput(node)) return false;
  const ir::Constant* p = impl::constantArg(node, 1);
  if (p->isNone()) return true;
  StatusOr<double> value = p->toDouble();
  return value.isOk() && !std::isnan(value.value()) && nonEmptyReduction(node, 2);
}

// The dtype (last argument) is a float type; p is a number or None.
bool normDtypeSupported(const ir::Node& node, const CompilationSettings&) {
  const size_t dtypeIndex = node.args().size() - 1;
  if (!constantArgs(node) || !impl::scalarTypeArgSupported(node, dtypeIndex)) return false;
  StatusOr<int64_t> code = impl::constantArg(node, dtypeIndex)->toInt();
  if (!code.isOk()) return false;
  StatusOr<DataType> type = ir::dataTypeFromTorch(code.value(), true);
  if (!type.isOk() || impl::categoryOf(type.value()) != impl::TypeCategory::kFLOAT) return false;
  const ir::Constant* p = impl::constantArg(node, 1);
  if (!p->isNone() && (!p->toDouble().isOk() || std::isnan(p->toDouble().value()))) return false;
  return nonEmptyReduction(node, node.args().size() > 3 ? 2 : 99);
}

bool logsumexpSupported(const ir::Node& node, const CompilationSettings&) {
  if (!constantArgs(node)) return false;
  // An empty dim list makes eager PyTorch raise: such a node stays there.
  StatusOr<std::vector<int64_t>> dims = impl::constantArg(node, 1)->toInts();
  if (!dims.isOk() || dims.value().empty()) return false;
  return nonEmptyReduction(node, 1);
}

bool cumulativeSupported(const ir::Node& node, const CompilationSettings&) {
  return constantArgs(node) && impl::scalarTypeArgSupported(node, 2);
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::var.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, "
                  "bool keepdim=False) -> Tensor",
                  withCorrection<Stat::kVAR>},
                 {.validator = momentsSupported<1>})
        .pattern({"aten::std.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, "
                  "bool keepdim=False) -> Tensor",
                  withCorrection<Stat::kSTD>},
                 {.validator = momentsSupported<1>})
        .pattern({"aten::var_mean.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, "
                  "bool keepdim=False) -> (Tensor, Tensor)",
                  withCorrection<Stat::kVAR>},
                 {.validator = momentsSupported<1>})
        .pattern({"aten::std_mean.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, "
                  "bool keepdim=False) -> (Tensor, Tensor)",
                  withCorrection<Stat::kSTD>},
                 {.validator = momentsSupported<1>})
        .pattern({"aten::var.dim(Tensor self, int[1]? dim, bool unbiased=True, bool keepdim=False) -> Tensor",
                  withUnbiasedDims<Stat::kVAR>},
                 {.validator = momentsSupported<1>})
        .pattern({"aten::std.dim(Tensor self, int[1]? dim, bool unbiased=True, bool keepdim=False) -> Tensor",
                  withUnbiasedDims<Stat::kSTD>},
                 {.validator = momentsSupported<1>})
        .pattern({"aten::var(Tensor self, bool unbiased=True) -> Tensor", withUnbiased<Stat::kVAR>},
                 {.validator = momentsSupported<99>})
        .pattern({"aten::std(Tensor self, bool unbiased=True) -> Tensor", withUnbiased<Stat::kSTD>},
                 {.validator = momentsSupported<99>})
        .pattern({"aten::var_mean.dim(Tensor self, int[1]? dim, bool unbiased=True, bool keepdim=False) -> "
                  "(Tensor, Tensor)",
                  withUnbiasedDims<Stat::kVAR>},
                 {.validator = momentsSupported<1>})
        .pattern({"aten::std_mean.dim(Tensor self, int[1]? dim, bool unbiased=True, bool keepdim=False) -> "
                  "(Tensor, Tensor)",
                  withUnbiasedDims<Stat::kSTD>},
                 {.validator = momentsSupported<1>})
        .pattern({"aten::var_mean(Tensor self, bool unbiased=True) -> (Tensor, Tensor)", withUnbiased<Stat::kVAR>},
                 {.validator = momentsSupported<99>})
        .pattern({"aten::std_mean(Tensor self, bool unbiased=True) -> (Tensor, Tensor)", withUnbiased<Stat::kSTD>},
                 {.validator = momentsSupported<99>})
        .pattern({"aten::norm.ScalarOpt_dim_dtype(Tensor self, Scalar? p, int[1] dim, bool keepdim, *, "
                  "ScalarType dtype) -> Tensor",
                  normDtype},
                 {.validator = normDtypeSupported})
        .pattern({"aten::norm.ScalarOpt_dtype(Tensor self, Scalar? p, *, ScalarType dtype) -> Tensor", normDtype},
                 {.validator = normDtypeSupported})
        .pattern({"aten::linalg_vector_norm(Tensor self, Scalar ord=2, int[1]? dim=None, bool keepdim=False, *, "
                  "ScalarType? dtype=None) -> Tensor",
                  linalgVectorNorm},
                 {.validator = vectorNormSupported})
        .pattern({"aten::norm.ScalarOpt_dim(Tensor self, Scalar? p, int[1] dim, bool keepdim=False) -> Tensor", norm},
                 {.validator = normSupported})
        .pattern({"aten::norm.Scalar(Tensor self, Scalar p=2) -> Tensor", norm}, {.validator = normSupported})
        .pattern({"aten::logsumexp(Tensor self, int[1] dim, bool keepdim=False) -> Tensor", logsumexp},
                 {.validator = logsumexpSupported})
        .pattern({"aten::cumsum(Tensor self, int dim, *, ScalarType? dtype=None) -> Tensor",
                  cumulative<CumulativeOperation::kSUM>},
                 {.validator = cumulativeSupported})
        .pattern({"aten::cumprod(Tensor self, int dim, *, ScalarType? dtype=None) -> Tensor",
                  cumulative<CumulativeOperation::kPROD>},
                 {.validator = cumulativeSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
