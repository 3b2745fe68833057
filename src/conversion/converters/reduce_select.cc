// ATen selections along a dim, all through the engine's top-k: max.dim/min.dim (values and indices),
// argmax/argmin, topk, and sort (top-k with k = the extent; the layer keeps ties in index order, so every
// sort is stable).
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

Status setBoth(ConversionCtx& ctx, const ir::Node& node, const impl::TopK& out, Args& args) {
  KILN_RETURN_IF_ERROR(impl::setOutput(ctx, node, 0, out.values, args));
  return impl::setOutput(ctx, node, 1, out.indices, args);
}

// max.dim/min.dim(self, dim, keepdim) -> (values, indices)
template <bool kLargest>
Status extremumDim(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(bool keep, args[2].asBool());
  KILN_ASSIGN_OR_RETURN(impl::TopK out, impl::extremumAlong(ctx, node, x, dim, keep, kLargest));
  return setBoth(ctx, node, out, args);
}

// argmax/argmin(self, dim=None, keepdim)
template <bool kLargest>
Status argExtremum(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  std::optional<int64_t> dim;
  if (!args[1].isNone()) {
    KILN_ASSIGN_OR_RETURN(dim, args[1].asInt());
  }
  KILN_ASSIGN_OR_RETURN(bool keep, args[2].asBool());
  KILN_ASSIGN_OR_RETURN(impl::TopK out, impl::extremumAlong(ctx, node, x, dim, keep, kLargest));
  return impl::setOutput(ctx, node, 0, out.indices, args);
}

// topk(self, k, dim, largest, sorted): the result is always sorted, which unsorted callers accept.
Status topk(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t k, args[1].asInt());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[2].asInt());
  KILN_ASSIGN_OR_RETURN(bool largest, args[3].asBool());
  KILN_ASSIGN_OR_RETURN(impl::TopK out, impl::topk(ctx, node, x, k, dim, largest));
  return setBoth(ctx, node, out, args);
}

Status sortAlong(ConversionCtx& ctx, const ir::Node& node, Args& args, const ConverterArg& dimArg,
                 const ConverterArg& descendingArg) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t dim, dimArg.asInt());
  KILN_ASSIGN_OR_RETURN(bool descending, descendingArg.asBool());
  const Dims dims = x->getDimensions();
  KILN_ASSIGN_OR_RETURN(int32_t axis, impl::normalizeDim(node, dim, dims.nbDims));
  const int64_t extent = dims.nbDims == 0 ? 1 : dims.d[axis];
  if (extent < 0) return impl::Site(node).error("sort needs a static extent along dim " + std::to_string(axis));
  KILN_ASSIGN_OR_RETURN(impl::TopK out, impl::topk(ctx, node, x, extent, axis, descending));
  return setBoth(ctx, node, out, args);
}

// sort(self, dim, descending)
Status sort(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  return sortAlong(ctx, node, args, args[1], args[2]);
}

// sort.stable(self, *, stable, dim, descending)
Status sortStable(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  return sortAlong(ctx, node, args, args[2], args[3]);
}

// Top-k takes numbers and bools (through int32); every scalar argument must be known when converting.
bool selectable(const ir::Node& node) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  if (meta == nullptr || meta->toDims().nbDims < 0) return false;
  for (size_t i = 1; i < node.args().size(); ++i) {
    if (impl::constantArg(node, i) == nullptr) return false;
  }
  return true;
}

// The dim argument at `index`: its extent must be non-zero (an empty dim makes torch raise) and, with
// `needStatic`, known when building.
bool dimExtentOk(const ir::Node& node, size_t index, bool needStatic) {
  const Dims dims = impl::tensorMetaArg(node, 0)->toDims();
  const ir::Constant* dim = impl::constantArg(node, index);
  if (dim->isNone()) {
    for (int32_t i = 0; i < dims.nbDims; ++i) {
      if (dims.d[i] == 0) return false;
    }
    return true;
  }
  StatusOr<int64_t> d = dim->toInt();
  if (!d.isOk()) return false;
  if (dims.nbDims == 0) return d.value() == 0 || d.value() == -1;
  if (d.value() < -dims.nbDims || d.value() >= dims.nbDims) return false;
  const int64_t extent = dims.d[d.value() < 0 ? d.value() + dims.nbDims : d.value()];
  return extent != 0 && (!needStatic || extent > 0);
}

bool extremumSupported(const ir::Node& node, const CompilationSettings&) {
  return selectable(node) && dimExtentOk(node, 1, false);
}

// k within int32 and no more than the dim's extent when that is known (torch raises otherwise).
bool topkSupported(const ir::Node& node, const CompilationSettings&) {
  if (!selectable(node)) return false;
  StatusOr<int64_t> k = impl::constantArg(node, 1)->toInt();
  if (!k.isOk() || k.value() < 0 || k.value() > INT32_MAX) return false;
  const Dims dims = impl::tensorMetaArg(node, 0)->toDims();
  StatusOr<int64_t> dim = impl::constantArg(node, 2)->toInt();
  if (!dim.isOk()) return false;
  if (dims.nbDims == 0) return k.value() <= 1 && (dim.value() == 0 || dim.value() == -1);
  if (dim.value() < -dims.nbDims || dim.value() >= dims.nbDims) return false;
  const int64_t extent = dims.d[dim.value() < 0 ? dim.value() + dims.nbDims : dim.value()];
  return extent < 0 || k.value() <= extent;
}

template <size_t kDimIndex>
bool sortSupported(const ir::Node& node, const CompilationSettings&) {
  return selectable(node) && dimExtentOk(node, kDimIndex, true);
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::max.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)",
                  extremumDim<true>},
                 {.validator = extremumSupported})
        .pattern({"aten::min.dim(Tensor self, int dim, bool keepdim=False) -> (Tensor values, Tensor indices)",
                  extremumDim<false>},
                 {.validator = extremumSupported})
        .pattern({"aten::argmax(Tensor self, int? dim=None, bool keepdim=False) -> Tensor", argExtremum<true>},
                 {.validator = extremumSupported})
        .pattern({"aten::argmin(Tensor self, int? dim=None, bool keepdim=False) -> Tensor", argExtremum<false>},
                 {.validator = extremumSupported})
        .pattern({"aten::topk(Tensor self, SymInt k, int dim=-1, bool largest=True, bool sorted=True) -> "
                  "(Tensor values, Tensor indices)",
                  topk},
                 {.validator = topkSupported})
        .pattern(
            {"aten::sort(Tensor self, int dim=-1, bool descending=False) -> (Tensor values, Tensor indices)", sort},
            {.validator = sortSupported<1>})
        .pattern({"aten::sort.stable(Tensor self, *, bool? stable, int dim=-1, bool descending=False) -> "
                  "(Tensor values, Tensor indices)",
                  sortStable},
                 {.validator = sortSupported<2>});

}  // namespace
}  // namespace conversion
}  // namespace kiln
