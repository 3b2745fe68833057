#include "conversion/converter.h"

#include <fstream>
#include <iterator>

#include <cstdio>
#include <set>
#include <utility>

#include "conversion/conversion_ctx.h"

namespace kiln {
namespace conversion {

namespace {

constexpr uint32_t kSTRONGLY_TYPED = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);

std::string describeNode(const ir::Node& node) { return "%" + node.name() + " (" + node.target() + ")"; }

// ---- segment inputs ---------------------------------------------------------------------------------

Status checkRange(const ir::Value& value, const Dims& declared, const InputRange& range) {
  const std::string where = "segment input %" + value.name() + " " + value.meta()->str();
  for (const Dims* d : {&range.min, &range.opt, &range.max}) {
    if (d->nbDims != declared.nbDims) {
      return invalidArgument(where + ": its min/opt/max shapes " + dimsToString(range.min) + " / " +
                             dimsToString(range.opt) + " / " + dimsToString(range.max) + " must have rank " +
                             std::to_string(declared.nbDims));
    }
  }
  for (int32_t k = 0; k < declared.nbDims; ++k) {
    const int64_t lo = range.min.d[k], opt = range.opt.d[k], hi = range.max.d[k];
    if (lo < 0 || lo > opt || opt > hi) {
      return invalidArgument(where + ": dim " + std::to_string(k) + " needs 0 <= min <= opt <= max, got " +
                             dimsToString(range.min) + " / " + dimsToString(range.opt) + " / " +
                             dimsToString(range.max));
    }
    if (declared.d[k] >= 0 && (lo != declared.d[k] || hi != declared.d[k])) {
      return invalidArgument(where + ": dim " + std::to_string(k) + " is static (" + std::to_string(declared.d[k]) +
                             ") but the range gives " + dimsToString(range.min) + " .. " + dimsToString(range.max));
    }
  }
  return Status::ok();
}

// Adds the network inputs and, when some input is dynamic, fills `profile`. Returns whether any input is dynamic.
StatusOr<bool> addInputs(const SegmentSpec& segment, ConversionCtx& ctx, OptimizationProfile& profile) {
  if (!segment.inputRanges.empty() && segment.inputRanges.size() != segment.inputs.size()) {
    return invalidArgument("the segment has " + std::to_string(segment.inputs.size()) + " inputs but " +
                           std::to_string(segment.inputRanges.size()) +
                           " input ranges; give one range per input, or none when every input is static");
  }
  bool anyDynamic = false;
  for (size_t i = 0; i < segment.inputs.size(); ++i) {
    const ir::Value* value = segment.inputs[i];
    if (value == nullptr) return invalidArgument("segment input #" + std::to_string(i) + " is null");
    if (!value->isTensor()) {
      return invalidArgument("segment input %" + value->name() +
                             " is not a tensor (an int or a list): engine inputs are tensors; the partitioner must "
                             "keep the nodes reading it in PyTorch, or the value must be a compile-time constant");
    }
    const Dims dims = value->meta()->toDims();
    if (dims.nbDims < 0) {
      return invalidArgument("segment input %" + value->name() + " " + value->meta()->str() + " has more than " +
                             std::to_string(Dims::kMAX_DIMS) + " dims, which Kiln engines do not support");
    }
    ITensor* input = ctx.net->addInput(value->name().c_str(), value->meta()->dtype, dims);
    if (input == nullptr) return ctx.net->status().withContext("segment input %" + value->name());
    ctx.associateValueAndTensor(value, input);
    const bool dynamic = hasDynamicExtent(dims);
    if (segment.inputRanges.empty()) {
      if (dynamic) {
        return invalidArgument("segment input %" + value->name() + " " + value->meta()->str() +
                               " has dynamic dims: give min/opt/max shapes for every input (SegmentSpec::inputRanges)");
      }
      continue;
    }
    const InputRange& range = segment.inputRanges[i];
    KILN_RETURN_IF_ERROR(checkRange(*value, dims, range));
    if (!dynamic) continue;
    anyDynamic = true;
    KILN_RETURN_IF_ERROR(profile.setDimensions(value->name().c_str(), OptProfileSelector::kMIN, range.min));
    KILN_RETURN_IF_ERROR(profile.setDimensions(value->name().c_str(), OptProfileSelector::kOPT, range.opt));
    KILN_RETURN_IF_ERROR(profile.setDimensions(value->name().c_str(), OptProfileSelector::kMAX, range.max));
  }
  return anyDynamic;
}

// ---- node arguments ---------------------------------------------------------------------------------

StatusOr<ConverterArg> makeArg(const ConversionCtx& ctx, const ir::Node& node, const ir::Arg& arg,
                               const std::string& name, int32_t position) {
  ConverterArg out;
  out.name = name;
  out.position = position;
  switch (arg.kind) {
    case ir::Arg::Kind::kVALUE: {
      const ir::Value* value = arg.value;
      if (value == nullptr) return internalError(describeNode(node) + ": " + out.describe() + " is a null value");
      if (ITensor* tensor = ctx.findTensor(value)) {
        out.tensor = tensor;
        out.weights = ctx.constantData(tensor);
      } else if (const std::vector<ITensor*>* tensors = ctx.findTensors(value)) {
        out.isList = true;
        for (size_t i = 0; i < tensors->size(); ++i) {
          ConverterArg item;
          item.name = (name.empty() ? "#" + std::to_string(position) : name) + "[" + std::to_string(i) + "]";
          item.position = position;
          item.tensor = (*tensors)[i];
          item.weights = ctx.constantData(item.tensor);
          out.list.push_back(std::move(item));
        }
      } else if (const ir::Constant* constant = ctx.findConstant(value)) {
        out.constant = *constant;
      } else {
        return invalidArgument(describeNode(node) + ": " + out.describe() + " reads %" + value->name() +
                               ", which is neither a segment input nor computed earlier in the segment "
                               "(the partitioner must list it as a segment input)");
      }
      return out;
    }
    case ir::Arg::Kind::kCONSTANT:
      out.constant = arg.constant;
      return out;
    case ir::Arg::Kind::kLIST:
      out.isList = true;
      for (size_t i = 0; i < arg.list.size(); ++i) {
        const std::string itemName =
            (name.empty() ? "#" + std::to_string(position) : name) + "[" + std::to_string(i) + "]";
        KILN_ASSIGN_OR_RETURN(ConverterArg item, makeArg(ctx, node, arg.list[i], itemName, position));
        out.list.push_back(std::move(item));
      }
      return out;
  }
  return internalError(describeNode(node) + ": unknown argument kind");
}

StatusOr<std::vector<ConverterArg>> makeArgs(const ConversionCtx& ctx, const ir::Node& node) {
  std::vector<ConverterArg> args;
  args.reserve(node.args().size());
  const ir::FunctionSchema* schema = node.schema();
  for (size_t i = 0; i < node.args().size(); ++i) {
    const std::string name = schema != nullptr && i < schema->arguments.size() ? schema->arguments[i].name : "";
    KILN_ASSIGN_OR_RETURN(ConverterArg arg, makeArg(ctx, node, node.args()[i], name, static_cast<int32_t>(i)));
    args.push_back(std::move(arg));
  }
  return args;
}

// ---- node outputs -----------------------------------------------------------------------------------

// A converter's tensor must be what PyTorch computes: the next converter and the PyTorch code reading the
// engine's outputs rely on the dtype and the shape recorded in the IR.
Status checkTensorMatchesMeta(const ir::Node& node, const ir::Value& value, const ITensor& tensor) {
  const ir::TensorMeta& meta = *value.meta();
  const Dims dims = tensor.getDimensions();
  const std::string what = "the converter for " + describeNode(node) + " produced " + dataTypeName(tensor.getType()) +
                           dimsToString(dims) + " for output %" + value.name() + ", which PyTorch computes as " +
                           meta.str();
  if (tensor.getType() != meta.dtype) return internalError(what + " (dtype differs): fix the converter, or cast");
  if (dims.nbDims != static_cast<int32_t>(meta.shape.size())) return internalError(what + " (rank differs)");
  for (int32_t k = 0; k < dims.nbDims; ++k) {
    const ir::SymDim& sym = meta.shape[static_cast<size_t>(k)];
    if (sym.isStatic() && dims.d[k] >= 0 && dims.d[k] != sym.extent) {
      return internalError(what + " (dim " + std::to_string(k) + " differs)");
    }
  }
  return Status::ok();
}

Status checkOutputs(const ConversionCtx& ctx, const ir::Node& node) {
  for (size_t i = 0; i < node.outputs().size(); ++i) {
    const ir::Value* value = node.outputs()[i];
    if (value == nullptr) continue;
    if (const ITensor* tensor = ctx.findTensor(value)) {
      if (value->isTensor()) KILN_RETURN_IF_ERROR(checkTensorMatchesMeta(node, *value, *tensor));
      continue;
    }
    if (ctx.findTensors(value) != nullptr || ctx.findConstant(value) != nullptr) continue;
    return internalError("the converter for " + describeNode(node) + " returned OK but did not associate output %" +
                         value->name() + " (#" + std::to_string(i) +
                         ") with a tensor or a constant: every output needs ctx.associateValueAndTensor or "
                         "associateValueAndConstant");
  }
  return Status::ok();
}

Status convertCall(ConversionCtx& ctx, const ir::Node& node, const ConverterRegistry& registry,
                   bool& requiresOutputAllocator) {
  Unsupported why = Unsupported::kNONE;
  const ConverterCandidate* candidate = registry.lookup(node, ctx.settings, &why);
  if (candidate == nullptr) {
    return invalidArgument("no converter for " + describeNode(node) + ": " + unsupportedReason(why) +
                           "; the partitioner should have left it in PyTorch (or register a converter for '" +
                           node.target() + "')");
  }
  KILN_ASSIGN_OR_RETURN(std::vector<ConverterArg> args, makeArgs(ctx, node));
  const int32_t layersBefore = ctx.net->getNbLayers();
  Status converted = candidate->converter(ctx, node, args);
  if (converted.isOk()) converted = ctx.status();
  // Layers validate their arguments when added; an add* failure the converter did not notice shows up here.
  if (converted.isOk()) converted = ctx.net->status();
  if (!converted.isOk()) return converted.withContext("converting " + describeNode(node));
  KILN_RETURN_IF_ERROR(checkOutputs(ctx, node));
  requiresOutputAllocator = requiresOutputAllocator || candidate->requiresOutputAllocator;
  if (ctx.settings.debug) {
    std::fprintf(stderr, "kiln: converted %s with the %s %s (%d layers)\n", describeNode(node).c_str(),
                 candidate->origin.c_str(), candidate->isEvaluator ? "evaluator" : "converter",
                 ctx.net->getNbLayers() - layersBefore);
  }
  return Status::ok();
}

Status convertNode(ConversionCtx& ctx, const ir::Node& node, const ConverterRegistry& registry,
                   bool& requiresOutputAllocator) {
  switch (node.op()) {
    case ir::NodeOp::kPLACEHOLDER:
      return invalidArgument("graph input " + describeNode(node) +
                             " is inside the segment: graph inputs must be segment inputs");
    case ir::NodeOp::kOUTPUT:
      return invalidArgument(
          "the graph's output node is inside the segment: list the values it reads as "
          "segment outputs instead");
    case ir::NodeOp::kGET_ATTR: {
      if (node.tensorValue() == nullptr) {
        return invalidArgument("get_attr %" + node.name() + " (" + node.target() + ") has no tensor value");
      }
      ITensor* constant = ctx.addConstantTensor(*node.tensorValue(), ConversionCtx::layerName("Constant", node));
      if (constant == nullptr) return ctx.status().withContext("get_attr %" + node.name());
      ctx.associateValueAndTensor(node.output(0), constant);
      return Status::ok();
    }
    case ir::NodeOp::kCALL_FUNCTION:
      return convertCall(ctx, node, registry, requiresOutputAllocator);
  }
  return internalError("unknown node kind for %" + node.name());
}

// ---- segment outputs --------------------------------------------------------------------------------

Status markOutputs(const SegmentSpec& segment, ConversionCtx& ctx, std::vector<std::string>& names) {
  std::set<const ir::Value*> seen;
  for (size_t i = 0; i < segment.outputs.size(); ++i) {
    const ir::Value* value = segment.outputs[i];
    if (value == nullptr) return invalidArgument("segment output #" + std::to_string(i) + " is null");
    if (!seen.insert(value).second) {
      return invalidArgument("segment output %" + value->name() + " is listed twice; list each value once");
    }
    const std::string producer = value->node() != nullptr ? describeNode(*value->node()) : "%" + value->name();
    ITensor* tensor = ctx.findTensor(value);
    if (tensor == nullptr) {
      if (const ir::Constant* constant = ctx.findConstant(value)) {
        return invalidArgument("segment output %" + value->name() + " is the compile-time constant " +
                               constant->repr() + " computed by " + producer +
                               ": an engine outputs tensors only, so the partitioner should not end a segment with "
                               "an evaluator whose result PyTorch reads (keep that node in PyTorch)");
      }
      if (ctx.findTensors(value) != nullptr) {
        return invalidArgument("segment output %" + value->name() + " is a list of tensors from " + producer +
                               ": engine outputs are single tensors; the partitioner should output the list's "
                               "items (their getitem values) instead");
      }
      return invalidArgument("segment output %" + value->name() + " is not computed by the segment");
    }
    if (!value->isTensor()) {
      return invalidArgument("segment output %" + value->name() + " from " + producer +
                             " is not a tensor in PyTorch (an int or a list) but is computed in the engine: "
                             "the partitioner should keep its producer in PyTorch");
    }
    // One engine tensor is bound under one name: an input, or a tensor that already is an output under another
    // name, goes out through an identity layer.
    if (tensor->isNetworkInput() || tensor->isNetworkOutput()) {
      IIdentityLayer* identity = ctx.net->addIdentity(*tensor);
      if (identity == nullptr) return ctx.net->status().withContext("segment output %" + value->name());
      identity->setName(("[Identity]-[output]-[%" + value->name() + "]").c_str());
      tensor = identity->getOutput(0);
    }
    tensor->setName(value->name().c_str());
    ctx.net->markOutput(*tensor);
    names.push_back(value->name());
  }
  return Status::ok();
}

}  // namespace

StatusOr<ConvertedSegment> convertSegment(const SegmentSpec& segment, const CompilationSettings& settings,
                                          const ConverterRegistry& registry) {
  if (segment.outputs.empty()) return invalidArgument("the segment has no outputs: an engine needs at least one");
  Builder builder;
  // With float16/bfloat16 enabled the network is weakly typed, so the builder may run float32 layers in reduced
  // precision where the backend gains from it (enabled_precisions as Torch-TensorRT means it); otherwise every
  // tensor keeps the dtype PyTorch gives it.
  const bool reducedPrecision =
      settings.enabledPrecisions.count(DataType::kHALF) != 0 || settings.enabledPrecisions.count(DataType::kBF16) != 0;
  std::unique_ptr<NetworkDefinition> network = builder.createNetworkV2(reducedPrecision ? 0u : kSTRONGLY_TYPED);
  ConversionCtx ctx(network.get(), settings);
  ConvertedSegment result;

  OptimizationProfile profile;
  KILN_ASSIGN_OR_RETURN(bool anyDynamic, addInputs(segment, ctx, profile));
  for (const ir::Value* value : segment.inputs) result.inputNames.push_back(value->name());

  for (const ir::Node* node : segment.nodes) {
    if (node == nullptr) return invalidArgument("the segment lists a null node");
    KILN_RETURN_IF_ERROR(convertNode(ctx, *node, registry, result.requiresOutputAllocator));
  }
  KILN_RETURN_IF_ERROR(markOutputs(segment, ctx, result.outputNames));
  KILN_RETURN_IF_ERROR(network->validate().withContext("the converted network"));

  std::unique_ptr<BuilderConfig> config = builder.createBuilderConfig();
  config->setBackend(settings.backend);
  if (settings.workspaceSize > 0) {
    config->setMemoryPoolLimit(MemoryPoolType::kWORKSPACE, static_cast<size_t>(settings.workspaceSize));
  }
  config->setBuilderOptimizationLevel(settings.optimizationLevel);
  if (settings.enabledPrecisions.count(DataType::kHALF) != 0) config->setFlag(BuilderFlag::kFP16);
  if (settings.enabledPrecisions.count(DataType::kBF16) != 0) config->setFlag(BuilderFlag::kBF16);
  if (anyDynamic) config->addOptimizationProfile(&profile);
  // The timing cache file is read before and rewritten after each build; an unreadable one is an error rather
  // than silently ignored, so the user learns the path is wrong or the file corrupt.
  std::unique_ptr<TimingCache> cache;
  if (!settings.timingCachePath.empty()) {
    std::ifstream in(settings.timingCachePath, std::ios::binary);
    if (in) {
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      StatusOr<std::unique_ptr<TimingCache>> loaded = TimingCache::deserialize(bytes.data(), bytes.size());
      if (!loaded.isOk()) return loaded.status().withContext("timing cache '" + settings.timingCachePath + "'");
      cache = std::move(loaded).value();
    } else {
      cache = std::make_unique<TimingCache>();
    }
    config->setTimingCache(cache.get());
  }

  StatusOr<std::unique_ptr<HostMemory>> plan = builder.buildSerializedNetwork(*network, *config);
  if (!plan.isOk()) return plan.status().withContext("building the engine for the segment");
  if (cache) {
    const std::vector<uint8_t> bytes = cache->serialize();
    std::ofstream out(settings.timingCachePath, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) return invalidArgument("cannot write the timing cache to '" + settings.timingCachePath + "'");
  }
  result.plan = std::move(plan).value();
  result.buildReport = builder.lastBuildReport();
  return result;
}

}  // namespace conversion
}  // namespace kiln
