// ATen padding: constant_pad_nd, pad, reflection_pad{1,2,3}d, replication_pad{1,2,3}d, _pad_circular. Every mode
// is one slice that starts `pre` elements before the data and samples outside it: kFILL (the constant),
// kREFLECT, kCLAMP (replicate) or kWRAP (circular). Negative pads crop, as in PyTorch.
#include "conversion/converters/arg_checks.h"
#include "conversion/impl/impl.h"
#include "conversion/registry.h"

namespace kiln {
namespace conversion {
namespace {

using Args = std::vector<ConverterArg>;
using impl::ShapeItem;

// pad lists pairs (pre, post) starting from the last dim, as torch.nn.functional.pad does.
StatusOr<ITensor*> padded(ConversionCtx& ctx, const impl::Site& site, ITensor* x, const std::vector<int64_t>& pad,
                          SampleMode mode, double value) {
  const int32_t rank = x->getDimensions().nbDims;
  if (pad.size() % 2 != 0 || static_cast<int32_t>(pad.size() / 2) > rank) {
    return site.error("padding of length " + std::to_string(pad.size()) + " for a tensor of rank " +
                      std::to_string(rank) + ": it must be even and cover at most every dim");
  }
  KILN_ASSIGN_OR_RETURN(std::vector<ShapeItem> size, impl::dimsOf(ctx, site.sub("in"), x));
  std::vector<ShapeItem> start(static_cast<size_t>(rank), ShapeItem::number(0));
  for (size_t i = 0; i < pad.size() / 2; ++i) {
    const size_t d = static_cast<size_t>(rank) - 1 - i;
    const int64_t pre = pad[2 * i], post = pad[2 * i + 1];
    if (mode != SampleMode::kFILL && size[d].isStatic()) {
      const int64_t extent = size[d].value;
      const bool fits = mode == SampleMode::kREFLECT ? (pre < extent && post < extent) : extent > 0;
      if (!fits || (mode == SampleMode::kWRAP && (pre > extent || post > extent))) {
        return site.error("padding (" + std::to_string(pre) + ", " + std::to_string(post) + ") of dim " +
                          std::to_string(d) + " with extent " + std::to_string(extent) + " is out of range for the mode");
      }
    }
    start[d] = ShapeItem::number(-pre);
    KILN_ASSIGN_OR_RETURN(size[d], impl::shapeArith(ctx, site.sub("size" + std::to_string(d)), size[d],
                                                    ShapeItem::number(pre + post), ElementWiseOperation::kSUM));
    if (size[d].isStatic() && size[d].value < 0) {
      return site.error("padding makes dim " + std::to_string(d) + " negative");
    }
  }
  ITensor* fill = nullptr;
  if (mode == SampleMode::kFILL && value != 0.0) {
    fill = ctx.addScalar(value, x->getType(), 0, site.sub("value").layerName("Constant"));
    if (fill == nullptr) return ctx.status().withContext(site.describe());
  }
  return impl::sampledSlice(ctx, site, x, start, size, std::vector<int64_t>(static_cast<size_t>(rank), 1), mode, fill);
}

Status constantPad(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> pad, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(double value, args[2].asDouble());
  KILN_ASSIGN_OR_RETURN(ITensor * out, padded(ctx, node, x, pad, SampleMode::kFILL, value));
  return impl::setOutput(ctx, node, 0, out, args);
}

template <SampleMode kMode>
Status modePad(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> pad, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(ITensor * out, padded(ctx, node, x, pad, kMode, 0.0));
  return impl::setOutput(ctx, node, 0, out, args);
}

std::optional<SampleMode> modeNamed(const std::string& mode) {
  if (mode == "constant") return SampleMode::kFILL;
  if (mode == "reflect") return SampleMode::kREFLECT;
  if (mode == "replicate") return SampleMode::kCLAMP;
  if (mode == "circular") return SampleMode::kWRAP;
  return std::nullopt;
}

// pad(self, pad, mode="constant", value=None)
Status pad(ConversionCtx& ctx, const ir::Node& node, Args& args) {
  KILN_ASSIGN_OR_RETURN(ITensor * x, impl::tensorArg(ctx, node, args, 0));
  KILN_ASSIGN_OR_RETURN(std::vector<int64_t> amounts, args[1].asInts());
  KILN_ASSIGN_OR_RETURN(std::string name, args[2].constant.toString());
  const std::optional<SampleMode> mode = modeNamed(name);
  if (!mode) return impl::Site(node).error("unknown padding mode '" + name + "'");
  double value = 0.0;
  if (!args[3].isNone()) {
    KILN_ASSIGN_OR_RETURN(value, args[3].asDouble());
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, padded(ctx, node, x, amounts, *mode, value));
  return impl::setOutput(ctx, node, 0, out, args);
}

// Constant pads; for the other modes PyTorch requires pads that fit the padded dims (reflect: < extent,
// circular: <= extent), checked here where the extent is static.
bool padSupported(const ir::Node& node, std::optional<SampleMode> mode, size_t spatial) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  const std::optional<std::vector<int64_t>> pads = checks::intsArg(node, 1);
  if (meta == nullptr || !pads || pads->size() % 2 != 0 || pads->size() / 2 > meta->shape.size()) return false;
  if (spatial != 0 && pads->size() != 2 * spatial) return false;
  if (!mode) return false;
  for (size_t i = 0; i < pads->size() / 2; ++i) {
    const int64_t pre = (*pads)[2 * i], post = (*pads)[2 * i + 1];
    const ir::SymDim& dim = meta->shape[meta->shape.size() - 1 - i];
    if (*mode == SampleMode::kFILL) continue;
    if (pre < 0 || post < 0) return false;
    if (!dim.isStatic()) continue;
    if (*mode == SampleMode::kREFLECT && (pre >= dim.extent || post >= dim.extent)) return false;
    if (*mode == SampleMode::kWRAP && (pre > dim.extent || post > dim.extent)) return false;
    if (dim.extent == 0) return false;
  }
  return true;
}

template <SampleMode kMode, size_t kSpatial>
bool modePadSupported(const ir::Node& node, const CompilationSettings&) {
  return padSupported(node, kMode, kSpatial);
}

bool constantPadSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::Constant* value = impl::constantArg(node, 2);
  return value != nullptr && value->isNumber() && padSupported(node, SampleMode::kFILL, 0);
}

bool genericPadSupported(const ir::Node& node, const CompilationSettings&) {
  const ir::Constant* mode = impl::constantArg(node, 2);
  const ir::Constant* value = impl::constantArg(node, 3);
  if (mode == nullptr || !mode->isString() || value == nullptr || !(value->isNone() || value->isNumber())) {
    return false;
  }
  return padSupported(node, modeNamed(mode->toString().value()), 0);
}

template <SampleMode kMode, size_t kSpatial>
ConversionPattern modePattern(const char* schema) {
  return {schema, modePad<kMode>};
}

template <SampleMode kMode, size_t kSpatial>
ConverterOptions modeOptions() {
  return {.validator = modePadSupported<kMode, kSpatial>};
}

constexpr SampleMode kREFLECT = SampleMode::kREFLECT;
constexpr SampleMode kCLAMP = SampleMode::kCLAMP;
constexpr SampleMode kWRAP = SampleMode::kWRAP;

const auto registered =
    RegisterConverters()
        .pattern({"aten::constant_pad_nd(Tensor self, SymInt[] pad, Scalar value=0) -> Tensor", constantPad},
                 {.validator = constantPadSupported})
        .pattern({"aten::pad(Tensor self, SymInt[] pad, str mode=\"constant\", float? value=None) -> Tensor", pad},
                 {.validator = genericPadSupported})
        .pattern(modePattern<kREFLECT, 1>("aten::reflection_pad1d(Tensor self, SymInt[2] padding) -> Tensor"),
                 modeOptions<kREFLECT, 1>())
        .pattern(modePattern<kREFLECT, 2>("aten::reflection_pad2d(Tensor self, SymInt[4] padding) -> Tensor"),
                 modeOptions<kREFLECT, 2>())
        .pattern(modePattern<kREFLECT, 3>("aten::reflection_pad3d(Tensor self, SymInt[6] padding) -> Tensor"),
                 modeOptions<kREFLECT, 3>())
        .pattern(modePattern<kCLAMP, 1>("aten::replication_pad1d(Tensor self, SymInt[2] padding) -> Tensor"),
                 modeOptions<kCLAMP, 1>())
        .pattern(modePattern<kCLAMP, 2>("aten::replication_pad2d(Tensor self, SymInt[4] padding) -> Tensor"),
                 modeOptions<kCLAMP, 2>())
        .pattern(modePattern<kCLAMP, 3>("aten::replication_pad3d(Tensor self, SymInt[6] padding) -> Tensor"),
                 modeOptions<kCLAMP, 3>())
        .pattern(modePattern<kWRAP, 0>("aten::_pad_circular(Tensor self, SymInt[] pad) -> Tensor"),
                 modeOptions<kWRAP, 0>());

}  // namespace
}  // namespace conversion
}  // namespace kiln
