// Naming, errors, small constants and output association shared by every builder and converter.
#include <cstring>

#include "conversion/impl/impl.h"
#include "ir/dtype.h"
#include "util/half.h"

namespace kiln {
namespace conversion {
namespace impl {

Site Site::sub(const std::string& part) const { return Site(*node_, suffix_.empty() ? part : suffix_ + "." + part); }

std::string Site::layerName(const char* kind) const { return ConversionCtx::layerName(kind, *node_, suffix_); }

std::string Site::describe() const { return "%" + node_->name() + " (" + node_->target() + ")"; }

Status Site::error(const std::string& message) const { return invalidArgument(describe() + ": " + message); }

StatusOr<ILayer*> checkLayer(ConversionCtx& ctx, const Site& site, ILayer* layer) {
  if (layer == nullptr) {
    Status status = ctx.net->status();
    if (status.isOk()) status = internalError("the network refused a layer without recording why");
    return status.withContext(site.describe());
  }
  layer->setName(site.layerName(layerTypeName(layer->getType())).c_str());
  return layer;
}

StatusOr<ITensor*> outputOf(ConversionCtx& ctx, const Site& site, ILayer* layer) {
  KILN_ASSIGN_OR_RETURN(ILayer * checked, checkLayer(ctx, site, layer));
  return checked->getOutput(0);
}

StatusOr<int32_t> normalizeDim(const Site& site, int64_t dim, int32_t rank, const char* what) {
  const int64_t extent = rank == 0 ? 1 : rank;  // torch wraps dims of 0-D tensors as if they had one dim
  if (dim < -extent || dim >= extent) {
    return site.error(std::string(what) + " " + std::to_string(dim) + " is out of range for a tensor of rank " +
                      std::to_string(rank) + " (expected [" + std::to_string(-extent) + ", " +
                      std::to_string(extent - 1) + "])");
  }
  return static_cast<int32_t>(dim < 0 ? dim + extent : dim);
}

StatusOr<ITensor*> constantOf(ConversionCtx& ctx, const Site& site, DataType type, const Dims& dims,
                              const std::vector<double>& values) {
  HostTensor data(type, dims);
  if (static_cast<int64_t>(values.size()) != data.count()) {
    return internalError(site.describe() + ": constant of " + dimsToString(dims) + " given " +
                         std::to_string(values.size()) + " values");
  }
  for (size_t i = 0; i < values.size(); ++i) {
    uint8_t* p = data.bytes.data() + i * static_cast<size_t>(dataTypeSize(type));
    const double v = values[i];
    switch (type) {
      case DataType::kFLOAT: {
        const float f = static_cast<float>(v);
        std::memcpy(p, &f, 4);
        break;
      }
      case DataType::kHALF: {
        const uint16_t h = floatToHalf(static_cast<float>(v));
        std::memcpy(p, &h, 2);
        break;
      }
      case DataType::kBF16: {
        const uint16_t h = floatToBf16(static_cast<float>(v));
        std::memcpy(p, &h, 2);
        break;
      }
      case DataType::kINT8: {
        const int8_t q = static_cast<int8_t>(v);
        std::memcpy(p, &q, 1);
        break;
      }
      case DataType::kINT32: {
        const int32_t q = static_cast<int32_t>(v);
        std::memcpy(p, &q, 4);
        break;
      }
      case DataType::kINT64: {
        const int64_t q = static_cast<int64_t>(v);
        std::memcpy(p, &q, 8);
        break;
      }
      case DataType::kBOOL: {
        const uint8_t q = v != 0.0 ? 1 : 0;
        std::memcpy(p, &q, 1);
        break;
      }
      case DataType::kUINT8: {
        const uint8_t q = static_cast<uint8_t>(v);
        std::memcpy(p, &q, 1);
        break;
      }
    }
  }
  ITensor* t = ctx.addConstantTensor(data, site.layerName("Constant"));
  if (t == nullptr) return ctx.status().withContext(site.describe());
  return t;
}

StatusOr<ITensor*> int64Vector(ConversionCtx& ctx, const Site& site, const std::vector<int64_t>& values) {
  HostTensor data(DataType::kINT64, Dims{static_cast<int64_t>(values.size())});
  if (!values.empty()) std::memcpy(data.data(), values.data(), values.size() * sizeof(int64_t));
  ITensor* t = ctx.addConstantTensor(data, site.layerName("Constant"));
  if (t == nullptr) return ctx.status().withContext(site.describe());
  return t;
}

StatusOr<ITensor*> identity(ConversionCtx& ctx, const Site& site, ITensor* x) {
  return outputOf(ctx, site, ctx.net->addIdentity(*x));
}

StatusOr<ITensor*> dataInput(ConversionCtx& ctx, const Site& site, ITensor* x) {
  if (ctx.constantData(x) == nullptr) return x;
  return identity(ctx, site.sub("data"), x);
}

StatusOr<ITensor*> withKnownDims(ConversionCtx& ctx, const Site& site, ITensor* t, const Dims& known) {
  const Dims dims = t->getDimensions();
  if (dims.nbDims != known.nbDims) {
    return internalError(site.describe() + ": " + dimsToString(dims) + " and " + dimsToString(known) +
                         " differ in rank");
  }
  bool gained = false;
  Dims spec = known;
  for (int32_t i = 0; i < known.nbDims; ++i) {
    if (known.d[i] < 0) spec.d[i] = 0;  // placeholder: the extent the tensor has at run time
    gained = gained || (dims.d[i] < 0 && known.d[i] >= 0);
  }
  if (!gained) return t;
  KILN_ASSIGN_OR_RETURN(IShuffleLayer * layer, added(ctx, site.sub("known_dims"), ctx.net->addShuffle(*t)));
  layer->setZeroIsPlaceholder(true);
  layer->setReshapeDimensions(spec);
  return layer->getOutput(0);
}

StatusOr<ITensor*> spatialProxy(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t channels,
                                const Dims& spatial) {
  const Dims dims = x->getDimensions();
  const int32_t first = dims.nbDims - spatial.nbDims;
  if (first < 1) return x;  // the layer reports the rank problem itself
  bool fits = true;
  for (int32_t i = 0; i < spatial.nbDims; ++i) {
    const int64_t extent = dims.d[first + i];
    fits = fits && (extent < 0 || extent >= spatial.d[i]);
  }
  if (fits) return x;
  Dims proxy = dims;
  for (int32_t i = 0; i < first; ++i) proxy.d[i] = 1;
  proxy.d[first - 1] = channels > 0 ? channels : 1;
  for (int32_t i = 0; i < spatial.nbDims; ++i) proxy.d[first + i] = spatial.d[i];
  HostTensor zeros(x->getType(), proxy);
  ITensor* t = ctx.addConstantTensor(zeros, site.sub("proxy").layerName("Constant"));
  if (t == nullptr) return ctx.status().withContext(site.describe());
  return t;
}

// ---- converter helpers -----------------------------------------------------------------------------------

namespace {

bool isInputTensor(const ITensor* tensor, const std::vector<ConverterArg>& args) {
  for (const ConverterArg& arg : args) {
    if (arg.tensor == tensor) return true;
    if (arg.isList && isInputTensor(tensor, arg.list)) return true;
  }
  return false;
}

}  // namespace

Status setOutput(ConversionCtx& ctx, const ir::Node& node, size_t index, ITensor* tensor,
                 const std::vector<ConverterArg>& args) {
  const ir::Value* value = node.output(index);
  if (value == nullptr) {
    return internalError("%" + node.name() + " (" + node.target() + ") has no output #" + std::to_string(index));
  }
  if (tensor != nullptr && isInputTensor(tensor, args)) {
    KILN_ASSIGN_OR_RETURN(tensor, identity(ctx, Site(node, "out" + std::to_string(index)), tensor));
  }
  if (ctx.associateValueAndTensor(value, tensor) == nullptr) return ctx.status();
  return Status::ok();
}

StatusOr<ITensor*> tensorArg(ConversionCtx& ctx, const ir::Node& node, const std::vector<ConverterArg>& args,
                             size_t index) {
  if (index >= args.size()) {
    return internalError("%" + node.name() + " (" + node.target() + ") has no argument #" + std::to_string(index));
  }
  KILN_ASSIGN_OR_RETURN(ITensor * t, args[index].asTensor());
  const ir::TensorMeta* meta = tensorMetaArg(node, index);
  if (meta == nullptr) return t;
  const Dims known = meta->toDims();
  if (known.nbDims != t->getDimensions().nbDims) return t;  // the converter reports what is wrong
  return withKnownDims(ctx, Site(node, "arg" + std::to_string(index)), t, known);
}

void setUnusedOutputs(ConversionCtx& ctx, const ir::Node& node, size_t from) {
  for (size_t i = from; i < node.outputs().size(); ++i) {
    const ir::Value* value = node.output(i);
    if (value == nullptr) continue;
    const std::optional<ir::TensorMeta>& meta = value->meta();
    bool empty = meta.has_value() && meta->isStatic();
    if (empty) {
      const Dims dims = meta->toDims();
      empty = dims.nbDims >= 0 && volume(dims) == 0;
    }
    if (empty) {
      HostTensor data(meta->dtype, meta->toDims());
      ITensor* t =
          ctx.addConstantTensor(data, ConversionCtx::layerName("Constant", node, "unused" + std::to_string(i)));
      if (t != nullptr) ctx.associateValueAndTensor(value, t);
    } else {
      ctx.associateValueAndConstant(value, ir::Constant::none());
    }
  }
}

const ir::Constant* constantArg(const ir::Node& node, size_t index) {
  if (index >= node.args().size()) return nullptr;
  const ir::Arg& arg = node.args()[index];
  return arg.isConstant() ? &arg.constant : nullptr;
}

const ir::TensorMeta* tensorMetaArg(const ir::Node& node, size_t index) {
  if (index >= node.args().size()) return nullptr;
  const ir::Arg& arg = node.args()[index];
  if (!arg.isValue() || arg.value == nullptr || !arg.value->meta().has_value()) return nullptr;
  return &*arg.value->meta();
}

bool outputUnused(const ir::Node& node, size_t index) {
  const ir::Value* value = node.output(index);
  return value == nullptr || value->users().empty();
}

bool outputsUnusedOrEmpty(const ir::Node& node, size_t from) {
  for (size_t i = from; i < node.outputs().size(); ++i) {
    if (outputUnused(node, i)) continue;
    const ir::Value* value = node.output(i);
    if (!value->meta().has_value() || !value->meta()->isStatic()) return false;
    const Dims dims = value->meta()->toDims();
    if (dims.nbDims < 0 || volume(dims) != 0) return false;
  }
  return true;
}

StatusOr<std::optional<DataType>> scalarTypeOf(const ConverterArg& arg) {
  if (arg.isNone()) return std::optional<DataType>();
  KILN_ASSIGN_OR_RETURN(int64_t code, arg.asInt());
  StatusOr<DataType> type = ir::dataTypeFromTorch(code, /*allowNarrowing=*/true);
  if (!type.isOk()) return type.status().withContext(arg.describe());
  return std::optional<DataType>(type.value());
}

bool scalarTypeArgSupported(const ir::Node& node, size_t index) {
  const ir::Constant* c = constantArg(node, index);
  if (c == nullptr) return false;
  if (c->isNone()) return true;
  StatusOr<int64_t> code = c->toInt();
  return code.isOk() && ir::dataTypeFromTorch(code.value(), /*allowNarrowing=*/true).isOk();
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
