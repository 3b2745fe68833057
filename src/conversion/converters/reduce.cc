// ATen reductions: sum, mean, prod, amax, amin, max/min of everything, any and all (over listed dims, or all
// dims).
#include "conversion/impl/impl.h"
#include "conversion/registry.h"
#include "ir/dtype.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

// None or [] reduce every dim; a single int is a one-dim list.
StatusOr<std::vector<int64_t>> dimsOf(const ConverterArg& arg) {
  if (arg.isNone()) return std::vector<int64_t>();
  return arg.asInts();
}

// One reduction with optional dtype (cast before reducing, as PyTorch does) and keepdim.
Status reduceWith(ConversionCtx& ctx, const ir::Node& node, Args& args, ReduceOperation op, const ConverterArg* dimsArg,
                  const ConverterArg* keepArg, const ConverterArg* dtypeArg) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  std::vector<int64_t> dims;
  if (dimsArg != nullptr) {
    KILN_ASSIGN_OR_RETURN(dims, dimsOf(*dimsArg));
  }
  bool keep = false;
  if (keepArg != nullptr) {
    KILN_ASSIGN_OR_RETURN(keep, keepArg->asBool());
  }
  std::optional<DataType> dtype;
  if (dtypeArg != nullptr) {
    KILN_ASSIGN_OR_RETURN(dtype, impl::scalarTypeOf(*dtypeArg));
  }
  if (dtype.has_value()) {
    KILN_ASSIGN_OR_RETURN(x, impl::castTo(ctx, impl::Site(node, "dtype"), x, *dtype));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::reduce(ctx, node, x, op, dims, keep));
  if (dtype.has_value()) {
    KILN_ASSIGN_OR_RETURN(out, impl::castTo(ctx, impl::Site(node, "result"), out, *dtype));
  }
  return impl::setOutput(ctx, node, 0, out, args);
}

// (self, dims, keepdim, *, dtype): mean.dim, sum.dim_IntList, prod.dim_int
template <ReduceOperation kOp>
Status reduceDims(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  return reduceWith(ctx, node, args, kOp, &args[1], &args[2], &args[3]);
}

// (self, *, dtype): mean.default, sum.default
template <ReduceOperation kOp>
Status reduceAll(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  return reduceWith(ctx, node, args, kOp, nullptr, nullptr, &args[1]);
}

// (self, dims=[], keepdim): amax, amin
template <ReduceOperation kOp>
Status reduceExtremum(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  return reduceWith(ctx, node, args, kOp, &args[1], &args[2], nullptr);
}

Status any(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  std::vector<int64_t> dims;
  bool keep = false;
  if (args.size() > 1) {
    KILN_ASSIGN_OR_RETURN(dims, dimsOf(args[1]));
    KILN_ASSIGN_OR_RETURN(keep, args[2].asBool());
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::any(ctx, node, x, dims, keep));
  return impl::setOutput(ctx, node, 0, out, args);
}

// all(self), all.dim(self, dim, keepdim), all.dims(self, dim?, keepdim)
Status all(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  std::vector<int64_t> dims;
  bool keep = false;
  if (args.size() > 1) {
    KILN_ASSIGN_OR_RETURN(dims, dimsOf(args[1]));
    KILN_ASSIGN_OR_RETURN(keep, args[2].asBool());
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::all(ctx, node, x, dims, keep));
  return impl::setOutput(ctx, node, 0, out, args);
}

// max(self)/min(self): the extremum of every element, 0-D.
template <ReduceOperation kOp>
Status extremumOfAll(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  return reduceWith(ctx, node, args, kOp, nullptr, nullptr, nullptr);
}

// Compile-time dims, a known dtype, and (for means) a float input or dtype.
bool constantArgs(const ir::Node& node) {
  for (size_t i = 1; i < node.args().size(); ++i) {
    if (impl::constantArg(node, i) == nullptr) return false;
  }
  return impl::tensorMetaArg(node, 0) != nullptr;
}

// torch.max() of an empty tensor is an error; a statically empty input stays in PyTorch to raise it.
bool nonEmpty(const ir::Node& node) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  if (meta == nullptr) return false;
  const Dims dims = meta->toDims();
  for (int32_t i = 0; i < dims.nbDims; ++i) {
    if (dims.d[i] == 0) return false;
  }
  return dims.nbDims >= 0;
}

bool dtypeAt(const ir::Node& node, size_t index) {
  return index >= node.args().size() || impl::scalarTypeArgSupported(node, index);
}

bool meanSupported(const ir::Node& node, size_t dtypeIndex) {
  if (!constantArgs(node) || !dtypeAt(node, dtypeIndex)) return false;
  const ir::Constant* dtype = impl::constantArg(node, dtypeIndex);
  DataType type = impl::tensorMetaArg(node, 0)->dtype;
  if (!dtype->isNone()) type = ir::dataTypeFromTorch(dtype->toInt().value(), true).value();
  return impl::categoryOf(type) == impl::TypeCategory::kFLOAT;
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
                  reduceDims<ReduceOperation::kAVG>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return meanSupported(n, 3); }})
        .pattern({"aten::mean(Tensor self, *, ScalarType? dtype=None) -> Tensor", reduceAll<ReduceOperation::kAVG>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return meanSupported(n, 1); }})
        .pattern({"aten::sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> "
                  "Tensor",
                  reduceDims<ReduceOperation::kSUM>},
                 {.validator = [](const ir::Node& n,
                                  const CompilationSettings&) { return constantArgs(n) && dtypeAt(n, 3); }})
        .pattern({"aten::sum(Tensor self, *, ScalarType? dtype=None) -> Tensor", reduceAll<ReduceOperation::kSUM>},
                 {.validator = [](const ir::Node& n,
                                  const CompilationSettings&) { return constantArgs(n) && dtypeAt(n, 1); }})
        .pattern({"aten::prod.dim_int(Tensor self, int dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
                  reduceDims<ReduceOperation::kPROD>},
                 {.validator = [](const ir::Node& n,
                                  const CompilationSettings&) { return constantArgs(n) && dtypeAt(n, 3); }})
        .pattern({"aten::prod(Tensor self, *, ScalarType? dtype=None) -> Tensor", reduceAll<ReduceOperation::kPROD>},
                 {.validator = [](const ir::Node& n,
                                  const CompilationSettings&) { return constantArgs(n) && dtypeAt(n, 1); }})
        .pattern({"aten::max(Tensor self) -> Tensor", extremumOfAll<ReduceOperation::kMAX>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return nonEmpty(n); }})
        .pattern({"aten::min(Tensor self) -> Tensor", extremumOfAll<ReduceOperation::kMIN>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return nonEmpty(n); }})
        .pattern({"aten::all.dim(Tensor self, int dim, bool keepdim=False) -> Tensor", all},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return constantArgs(n); }})
        .pattern({"aten::all.dims(Tensor self, int[]? dim=None, bool keepdim=False) -> Tensor", all},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return constantArgs(n); }})
        .pattern({"aten::all(Tensor self) -> Tensor", all})
        .pattern({"aten::amax(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor",
                  reduceExtremum<ReduceOperation::kMAX>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return constantArgs(n); }})
        .pattern({"aten::amin(Tensor self, int[1] dim=[], bool keepdim=False) -> Tensor",
                  reduceExtremum<ReduceOperation::kMIN>},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return constantArgs(n); }})
        .pattern({"aten::any.dim(Tensor self, int dim, bool keepdim=False) -> Tensor", any},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return constantArgs(n); }})
        .pattern({"aten::any.dims(Tensor self, int[]? dim=None, bool keepdim=False) -> Tensor", any},
                 {.validator = [](const ir::Node& n, const CompilationSettings&) { return constantArgs(n); }})
        .pattern({"aten::any(Tensor self) -> Tensor", any});

}  // namespace
}  // namespace conversion
}  // namespace kiln
