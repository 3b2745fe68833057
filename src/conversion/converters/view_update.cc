// Functional forms of writing into a view, as functionalization leaves them (`mask[a:b, c:d] = v` becomes
// slice -> copy -> slice_scatter): aten::copy (src broadcast to self's shape and dtype) and
// aten::slice_scatter with unit step (the kept parts of self around src, concatenated).
#include <optional>
#include <string>
#include <vector>

#include "conversion/converters/arg_checks.h"
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;

// Whether `src` broadcasts to `self` as torch's copy_ allows: right-aligned dims equal or 1 in src.
bool broadcastsTo(const ir::TensorMeta& src, const ir::TensorMeta& self) {
  if (src.shape.size() > self.shape.size()) return false;
  const size_t offset = self.shape.size() - src.shape.size();
  for (size_t i = 0; i < src.shape.size(); ++i) {
    const ir::SymDim& s = src.shape[i];
    const ir::SymDim& t = self.shape[offset + i];
    if (s.isStatic() && s.extent == 1) continue;
    if (s.isStatic() != t.isStatic()) return false;
    if (s.isStatic() ? s.extent != t.extent : s.symbol != t.symbol) return false;
  }
  return true;
}

Status copy(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * self, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * src, args[1].asTensor());
  const impl::Site site(node);
  KILN_ASSIGN_OR_RETURN(ITensor * cast, impl::castTo(ctx, site.sub("cast"), src, self->getType()));
  KILN_ASSIGN_OR_RETURN(std::vector<impl::ShapeItem> shape, impl::dimsOf(ctx, site.sub("shape"), self));
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::expand(ctx, site.sub("expand"), cast, shape));
  return impl::setOutput(ctx, node, 0, out, args);
}

bool copySupported(const ir::Node& node, const CompilationSettings&) {
  const ir::TensorMeta* self = impl::tensorMetaArg(node, 0);
  const ir::TensorMeta* src = impl::tensorMetaArg(node, 1);
  return self != nullptr && src != nullptr && broadcastsTo(*src, *self);
}

// The [start, end) window of slice_scatter along a static extent, clamped as PyTorch's slice clamps.
struct Window {
  int64_t start = 0;
  int64_t end = 0;
};

std::optional<Window> windowOf(const ir::Node& node) {
  const ir::TensorMeta* self = impl::tensorMetaArg(node, 0);
  const std::optional<int64_t> dim = checks::intArg(node, 2);
  if (self == nullptr || !dim || node.args().size() < 6) return std::nullopt;
  const std::optional<int64_t> d = checks::wrapDim(*dim, self->shape.size());
  if (!d || !self->shape[static_cast<size_t>(*d)].isStatic()) return std::nullopt;
  const int64_t extent = self->shape[static_cast<size_t>(*d)].extent;
  auto bound = [&](size_t index, int64_t absent) -> std::optional<int64_t> {
    const ir::Constant* c = impl::constantArg(node, index);
    if (c == nullptr) return std::nullopt;
    if (c->isNone()) return absent;
    if (!c->isInt()) return std::nullopt;
    int64_t v = c->toInt().value();
    if (v < 0) v += extent;
    return std::min(std::max<int64_t>(v, 0), extent);
  };
  const std::optional<int64_t> start = bound(3, 0);
  const std::optional<int64_t> end = bound(4, extent);
  if (!start || !end) return std::nullopt;
  return Window{*start, std::max(*start, *end)};
}

Status sliceScatter(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * self, args[0].asTensor());
  KILN_ASSIGN_OR_RETURN(ITensor * src, args[1].asTensor());
  KILN_ASSIGN_OR_RETURN(int64_t dim, args[2].asInt());
  KILN_ASSIGN_OR_RETURN(int64_t step, args[5].asInt());
  const impl::Site site(node);
  if (step != 1) return site.error("slice_scatter with step " + std::to_string(step) + " (only step 1 is supported)");
  const std::optional<Window> window = windowOf(node);
  if (!window) return site.error("slice_scatter needs a static extent along dim and constant start/end");
  KILN_ASSIGN_OR_RETURN(int32_t d, impl::normalizeDim(site, dim, self->getDimensions().nbDims));
  const int64_t extent = self->getDimensions().d[d];
  std::vector<ITensor*> parts;
  if (window->start > 0) {
    KILN_ASSIGN_OR_RETURN(ITensor * head, impl::slice(ctx, site.sub("head"), self, d, impl::ShapeItem::number(0),
                                                      impl::ShapeItem::number(window->start), 1));
    parts.push_back(head);
  }
  parts.push_back(src);
  if (window->end < extent) {
    KILN_ASSIGN_OR_RETURN(ITensor * tail,
                          impl::slice(ctx, site.sub("tail"), self, d, impl::ShapeItem::number(window->end),
                                      impl::ShapeItem::number(extent), 1));
    parts.push_back(tail);
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, impl::concat(ctx, site, parts, d));
  return impl::setOutput(ctx, node, 0, out, args);
}

// Unit step; src of self's dtype and exactly the window's shape (PyTorch refuses anything else).
bool sliceScatterSupported(const ir::Node& node, const CompilationSettings&) {
  const std::optional<int64_t> step = checks::intArg(node, 5);
  const std::optional<Window> window = windowOf(node);
  const ir::TensorMeta* self = impl::tensorMetaArg(node, 0);
  const ir::TensorMeta* src = impl::tensorMetaArg(node, 1);
  if (!step || *step != 1 || !window || src == nullptr || src->dtype != self->dtype ||
      src->shape.size() != self->shape.size()) {
    return false;
  }
  const int64_t d = *checks::wrapDim(*checks::intArg(node, 2), self->shape.size());
  for (size_t i = 0; i < self->shape.size(); ++i) {
    const ir::SymDim& s = src->shape[i];
    const ir::SymDim& t = self->shape[i];
    if (static_cast<int64_t>(i) == d) {
      if (!s.isStatic() || s.extent != window->end - window->start) return false;
    } else if (s.isStatic() != t.isStatic() || (s.isStatic() ? s.extent != t.extent : s.symbol != t.symbol)) {
      return false;
    }
  }
  return true;
}

const auto registered =
    RegisterConverters()
        .pattern({"aten::copy(Tensor self, Tensor src, bool non_blocking=False) -> Tensor", copy},
                 {.validator = copySupported})
        .pattern({"aten::slice_scatter(Tensor self, Tensor src, int dim=0, SymInt? start=None, SymInt? end=None, "
                  "SymInt step=1) -> Tensor",
                  sliceScatter},
                 {.validator = sliceScatterSupported});

}  // namespace
}  // namespace conversion
}  // namespace kiln
