// Argument checks shared by the validators of the shape, indexing, padding, resampling and creation
// converters: which argument forms a converter can take when the engine is built.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace checks {

// A SymInt the engine can compute: an int constant, or an extent read by sym_size.int.
inline bool symInt(const ir::Arg& arg, bool allowNone = false) {
  if (arg.isConstant()) return arg.constant.isInt() || (allowNone && arg.constant.isNone());
  return arg.isValue() && arg.value != nullptr && arg.value->node() != nullptr &&
         arg.value->node()->target() == "aten::sym_size.int";
}

// A SymInt[] the engine can compute: constant ints, or a list of SymInts as above.
inline bool symIntList(const ir::Arg& arg) {
  if (arg.isConstant()) return arg.constant.isList() || arg.constant.isInt();
  if (!arg.isList()) return false;
  for (const ir::Arg& item : arg.list) {
    if (!symInt(item)) return false;
  }
  return true;
}

inline std::optional<int64_t> intArg(const ir::Node& node, size_t index) {
  const ir::Constant* c = impl::constantArg(node, index);
  if (c == nullptr || !c->isInt()) return std::nullopt;
  return c->toInt().value();
}

inline std::optional<std::vector<int64_t>> intsArg(const ir::Node& node, size_t index) {
  const ir::Constant* c = impl::constantArg(node, index);
  if (c == nullptr) return std::nullopt;
  StatusOr<std::vector<int64_t>> values = c->toInts();
  if (!values.isOk()) return std::nullopt;
  return values.value();
}

// The dim argument of a tensor of rank `rank`, wrapped into [0, rank); nullopt when out of range.
inline std::optional<int64_t> wrapDim(int64_t dim, size_t rank) {
  const auto r = static_cast<int64_t>(rank);
  const int64_t d = dim < 0 ? dim + r : dim;
  if (d < 0 || d >= r) return std::nullopt;
  return d;
}

// Argument `index` is an int dim of tensor argument 0 whose extent is static.
inline bool staticDimArg(const ir::Node& node, size_t index) {
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  const std::optional<int64_t> dim = intArg(node, index);
  if (meta == nullptr || !dim) return false;
  const std::optional<int64_t> d = wrapDim(*dim, meta->shape.size());
  return d && meta->shape[static_cast<size_t>(*d)].isStatic();
}

inline bool isFloat(DataType type) { return impl::categoryOf(type) == impl::TypeCategory::kFLOAT; }
inline bool isIndexType(DataType type) { return type == DataType::kINT32 || type == DataType::kINT64; }

}  // namespace checks
}  // namespace conversion
}  // namespace kiln
