// Shuffle layers: transpose(first) -> reshape -> transpose(second). Pure data movement, every dtype.
// The reshape comes from the "reshape" attribute or, when present, from input 1 (a 1-D int32/int64 shape
// tensor whose values may only be known at run time).
#include <string>
#include <vector>

#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

constexpr const char* kFirstTranspose = "first_transpose";
constexpr const char* kSecondTranspose = "second_transpose";
constexpr const char* kReshape = "reshape";
constexpr const char* kHasReshape = "has_reshape";
constexpr const char* kZeroIsPlaceholder = "zero_is_placeholder";

std::vector<int64_t> permutationToInts(const Permutation& permutation) {
  return std::vector<int64_t>(permutation.order, permutation.order + Dims::kMAX_DIMS);
}

Permutation intsToPermutation(const std::vector<int64_t>& values) {
  Permutation permutation;
  for (size_t i = 0; i < values.size() && i < static_cast<size_t>(Dims::kMAX_DIMS); ++i) {
    permutation.order[i] = static_cast<int32_t>(values[i]);
  }
  return permutation;
}

// The first `rank` entries of a stored permutation (entries past the rank are ignored, as in TensorRT);
// a missing attribute is the identity.
StatusOr<std::vector<int32_t>> readPermutation(const Attributes& attrs, const char* key, int32_t rank) {
  std::vector<int32_t> perm(static_cast<size_t>(rank));
  for (int32_t i = 0; i < rank; ++i) perm[static_cast<size_t>(i)] = i;
  if (!attrs.has(key)) return perm;
  const std::vector<int64_t> stored = attrs.getInts(key);
  if (stored.size() < static_cast<size_t>(rank)) {
    return invalidArgument(std::string(key) + " has " + std::to_string(stored.size()) + " entries, fewer than rank " +
                           std::to_string(rank));
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (int32_t i = 0; i < rank; ++i) {
    const int64_t v = stored[static_cast<size_t>(i)];
    if (v < 0 || v >= rank || seen[static_cast<size_t>(v)]) {
      std::string text;
      for (int32_t j = 0; j < rank; ++j) text += (j ? "," : "") + std::to_string(stored[static_cast<size_t>(j)]);
      return invalidArgument(std::string(key) + " (" + text + ") is not a permutation of the " + std::to_string(rank) +
                             " dims");
    }
    seen[static_cast<size_t>(v)] = true;
    perm[static_cast<size_t>(i)] = static_cast<int32_t>(v);
  }
  return perm;
}

Dims permute(const Dims& dims, const std::vector<int32_t>& perm) {
  Dims out = dims;
  for (int32_t i = 0; i < dims.nbDims; ++i) out.d[i] = dims.d[perm[static_cast<size_t>(i)]];
  return out;
}

// Resolves reshape dims against the (transposed) input shape. Placeholder zeros copy the input extent at
// the same position; their factors cancel from both volumes, so [-1,3,4] reshaped to [0,-1] gives [-1,12]
// even though the batch is unknown.
StatusOr<Dims> resolveReshape(const Dims& in, const std::vector<int64_t>& spec, bool zeroIsPlaceholder) {
  const auto rank = static_cast<int32_t>(spec.size());
  Dims out = makeDims(rank, -1);
  std::vector<bool> copied(static_cast<size_t>(Dims::kMAX_DIMS), false);
  int32_t inferAt = -1;
  for (int32_t i = 0; i < rank; ++i) {
    const int64_t v = spec[static_cast<size_t>(i)];
    if (v == 0 && zeroIsPlaceholder) {
      if (i >= in.nbDims) {
        return invalidArgument("reshape dim " + std::to_string(i) + " is a placeholder 0 but the input " +
                               dimsToString(in) + " has no dim " + std::to_string(i));
      }
      out.d[i] = in.d[i];
      copied[static_cast<size_t>(i)] = true;
    } else if (v == -1) {
      if (inferAt >= 0) return invalidArgument("reshape dims have more than one -1");
      inferAt = i;
    } else if (v < 0) {
      return invalidArgument("reshape dim " + std::to_string(i) + " is negative (" + std::to_string(v) + ")");
    } else {
      out.d[i] = v;
    }
  }
  // Volumes of the parts not copied by placeholders; -1 when unknown.
  Dims inRest = makeDims(0, 0), outRest = makeDims(0, 0);
  for (int32_t i = 0; i < in.nbDims; ++i) {
    if (!copied[static_cast<size_t>(i)]) inRest.d[inRest.nbDims++] = in.d[i];
  }
  for (int32_t i = 0; i < rank; ++i) {
    if (!copied[static_cast<size_t>(i)] && i != inferAt) outRest.d[outRest.nbDims++] = out.d[i];
  }
  KILN_ASSIGN_OR_RETURN(const int64_t inVolume, checkedVolume(inRest));
  KILN_ASSIGN_OR_RETURN(const int64_t outVolume, checkedVolume(outRest));
  if (inferAt >= 0) {
    if (inVolume >= 0 && outVolume >= 0) {
      if (outVolume == 0) {
        return invalidArgument("cannot infer the -1 reshape dim of " + dimsToString(out) +
                               ": the other dims have zero elements");
      }
      if (inVolume % outVolume != 0) {
        return invalidArgument("cannot reshape " + dimsToString(in) + " to " + dimsToString(out) +
                               ": the element count " + std::to_string(inVolume) + " is not a multiple of " +
                               std::to_string(outVolume));
      }
      out.d[inferAt] = inVolume / outVolume;
    }
  } else if (inVolume >= 0 && outVolume >= 0 && inVolume != outVolume) {
    return invalidArgument("cannot reshape " + dimsToString(in) + " to " + dimsToString(out) +
                           ": the element counts differ");
  }
  return out;
}

void recordLayerError(ILayer* layer, const std::string& message) {
  layer->data().network->impl().recordError(
      invalidArgument(std::string(layerTypeName(layer->getType())) + " layer '" + layer->getName() + "': " + message));
}

}  // namespace

Status inferShuffleShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                          std::vector<ShapeOutput>& outputs) {
  const ShapeInput& data = inputs[0];
  KILN_ASSIGN_OR_RETURN(const std::vector<int32_t> first,
                        readPermutation(layer.attrs, kFirstTranspose, data.dims.nbDims));
  const Dims transposed = permute(data.dims, first);
  const bool zeroIsPlaceholder = layer.attrs.getInt(kZeroIsPlaceholder, 1) != 0;

  Dims reshaped = transposed;
  if (inputs.size() > 1 && inputs[1].present) {
    const ShapeInput& shape = inputs[1];
    if (shape.type != DataType::kINT32 && shape.type != DataType::kINT64) {
      return invalidArgument(std::string("reshape dims input must be int32 or int64, got ") + dataTypeName(shape.type));
    }
    if (shape.dims.nbDims != 1 || shape.dims.d[0] < 0) {
      return invalidArgument("reshape dims input must be 1-D with a static extent, got " + dimsToString(shape.dims));
    }
    if (shape.dims.d[0] > Dims::kMAX_DIMS) {
      return invalidArgument("reshape dims input has " + std::to_string(shape.dims.d[0]) + " values, more than " +
                             std::to_string(Dims::kMAX_DIMS));
    }
    const auto rank = static_cast<int32_t>(shape.dims.d[0]);
    if (shape.value == nullptr) {
      reshaped = makeDims(rank, -1);  // values known only at run time
    } else {
      if (shape.value->count() != rank) return invalidArgument("reshape dims input value has the wrong size");
      std::vector<int64_t> spec(static_cast<size_t>(rank));
      for (int32_t i = 0; i < rank; ++i) spec[static_cast<size_t>(i)] = shape.value->intAt(i);
      KILN_ASSIGN_OR_RETURN(reshaped, resolveReshape(transposed, spec, zeroIsPlaceholder));
    }
  } else if (layer.attrs.getInt(kHasReshape, 0) != 0) {
    const Dims spec = layer.attrs.getDims(kReshape);
    KILN_RETURN_IF_ERROR(checkDimsAttr(spec, "reshape dims"));
    KILN_ASSIGN_OR_RETURN(
        reshaped, resolveReshape(transposed, std::vector<int64_t>(spec.d, spec.d + spec.nbDims), zeroIsPlaceholder));
  }

  KILN_ASSIGN_OR_RETURN(const std::vector<int32_t> second,
                        readPermutation(layer.attrs, kSecondTranspose, reshaped.nbDims));
  outputs[0] = {permute(reshaped, second), data.type};
  return Status::ok();
}

IShuffleLayer* NetworkDefinition::addShuffle(ITensor& input) {
  if (!impl_->ownsTensor(&input, "addShuffle input")) return nullptr;
  Attributes attrs;
  const Permutation identity;
  attrs.setInts(kFirstTranspose, permutationToInts(identity));
  attrs.setInts(kSecondTranspose, permutationToInts(identity));
  attrs.setInt(kHasReshape, 0);
  attrs.setInt(kZeroIsPlaceholder, 1);
  return impl_->addLayer<IShuffleLayer>(LayerType::kSHUFFLE, {&input}, std::move(attrs));
}

void IShuffleLayer::setFirstTranspose(const Permutation& permutation) {
  attrsOf(this).setInts(kFirstTranspose, permutationToInts(permutation));
  touch(this);
}
Permutation IShuffleLayer::getFirstTranspose() const {
  return intsToPermutation(attrsOf(this).getInts(kFirstTranspose));
}

void IShuffleLayer::setReshapeDimensions(const Dims& dimensions) {
  if (dimensions.nbDims < 0 || dimensions.nbDims > Dims::kMAX_DIMS) {
    recordLayerError(this, "reshape dims rank " + std::to_string(dimensions.nbDims) + " is out of range");
    return;
  }
  attrsOf(this).setDims(kReshape, dimensions);
  attrsOf(this).setInt(kHasReshape, 1);
  touch(this);
}
Dims IShuffleLayer::getReshapeDimensions() const {
  // Like TensorRT: no reshape, or one given by the shape-tensor input, reads as rank -1.
  const bool fromInput = getNbInputs() > 1 && getInput(1) != nullptr;
  if (fromInput || attrsOf(this).getInt(kHasReshape, 0) == 0) {
    Dims none;
    none.nbDims = -1;
    return none;
  }
  return attrsOf(this).getDims(kReshape);
}

void IShuffleLayer::setSecondTranspose(const Permutation& permutation) {
  attrsOf(this).setInts(kSecondTranspose, permutationToInts(permutation));
  touch(this);
}
Permutation IShuffleLayer::getSecondTranspose() const {
  return intsToPermutation(attrsOf(this).getInts(kSecondTranspose));
}

void IShuffleLayer::setZeroIsPlaceholder(bool zeroIsPlaceholder) {
  attrsOf(this).setInt(kZeroIsPlaceholder, zeroIsPlaceholder ? 1 : 0);
  touch(this);
}
bool IShuffleLayer::getZeroIsPlaceholder() const { return attrsOf(this).getInt(kZeroIsPlaceholder, 1) != 0; }

}  // namespace kiln
