// PyTorch's type promotion (torch.promote_types, torch.result_type) and casts.
#include <optional>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {

TypeCategory categoryOf(DataType type) {
  switch (type) {
    case DataType::kBOOL:
      return TypeCategory::kBOOL;
    case DataType::kINT8:
    case DataType::kUINT8:
    case DataType::kINT32:
    case DataType::kINT64:
      return TypeCategory::kINTEGER;
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16:
      return TypeCategory::kFLOAT;
  }
  return TypeCategory::kFLOAT;
}

namespace {

// Width order of the integer types for promotion (uint8 and int8 are handled apart).
int integerRank(DataType type) {
  switch (type) {
    case DataType::kUINT8:
    case DataType::kINT8:
      return 0;
    case DataType::kINT32:
      return 2;
    case DataType::kINT64:
      return 3;
    case DataType::kBOOL:
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16:
      return -1;
  }
  return -1;
}

using MaybeType = std::optional<DataType>;

MaybeType promoteMaybe(MaybeType a, MaybeType b) {
  if (!a) return b;
  if (!b) return a;
  return promoteTypes(*a, *b);
}

// c10's combine_categories: the higher-priority result wins unless the lower one is of a higher category.
MaybeType combineCategories(MaybeType higher, MaybeType lower) {
  if (higher && categoryOf(*higher) == TypeCategory::kFLOAT) return higher;
  if ((higher && *higher == DataType::kBOOL) || (lower && categoryOf(*lower) == TypeCategory::kFLOAT)) {
    return promoteMaybe(higher, lower);
  }
  return higher ? higher : lower;
}

}  // namespace

DataType promoteTypes(DataType a, DataType b) {
  if (a == b) return a;
  const TypeCategory ca = categoryOf(a), cb = categoryOf(b);
  if (ca == TypeCategory::kBOOL) return b;
  if (cb == TypeCategory::kBOOL) return a;
  if (ca == TypeCategory::kFLOAT && cb == TypeCategory::kFLOAT) {
    // Any pair with float32 is float32; float16 with bfloat16 has no common 16-bit type.
    return DataType::kFLOAT;
  }
  if (ca == TypeCategory::kFLOAT) return a;
  if (cb == TypeCategory::kFLOAT) return b;
  // Both integers: uint8 with int8 needs int16, which Kiln lacks; int32 holds every value of both.
  const int ra = integerRank(a), rb = integerRank(b);
  if (ra == rb) return DataType::kINT32;  // uint8 vs int8 (equal types returned above)
  return ra > rb ? a : b;
}

StatusOr<Operand> operandOf(const ConverterArg& arg) {
  if (arg.isTensor()) return Operand::of(arg.tensor);
  if (!arg.isList && arg.constant.isNumber()) return Operand::of(arg.constant);
  return invalidArgument(arg.describe() + ": expected a tensor or a number, got " +
                         (arg.isList ? std::string("a list") : arg.constant.repr()));
}

StatusOr<DataType> resultType(const std::vector<Operand>& operands) {
  MaybeType dimResult, zeroResult, wrappedResult;
  for (const Operand& operand : operands) {
    if (operand.isTensor()) {
      MaybeType& slot = operand.tensor->getDimensions().nbDims == 0 ? zeroResult : dimResult;
      slot = promoteMaybe(slot, operand.tensor->getType());
    } else if (operand.scalar.isBool()) {
      wrappedResult = promoteMaybe(wrappedResult, DataType::kBOOL);
    } else if (operand.scalar.isInt()) {
      wrappedResult = promoteMaybe(wrappedResult, DataType::kINT64);
    } else if (operand.scalar.isDouble()) {
      wrappedResult = promoteMaybe(wrappedResult, DataType::kFLOAT);  // torch's default dtype
    } else {
      return invalidArgument("type promotion: an operand is neither a tensor nor a number (" + operand.scalar.repr() +
                             ")");
    }
  }
  MaybeType result = combineCategories(dimResult, combineCategories(zeroResult, wrappedResult));
  if (!result) return invalidArgument("type promotion needs at least one operand");
  return *result;
}

StatusOr<ITensor*> castTo(ConversionCtx& ctx, const Site& site, ITensor* x, DataType type) {
  if (x->getType() == type) return x;
  return outputOf(ctx, site, ctx.net->addCast(*x, type));
}

StatusOr<ITensor*> materialize(ConversionCtx& ctx, const Site& site, const Operand& operand, DataType type,
                               int32_t rank) {
  if (operand.isTensor()) return castTo(ctx, site, operand.tensor, type);
  KILN_ASSIGN_OR_RETURN(double value, operand.scalar.toDouble());
  ITensor* t = ctx.addScalar(value, type, rank, site.layerName("Constant"));
  if (t == nullptr) return ctx.status().withContext(site.describe());
  return t;
}

StatusOr<ITensor*> toFloatIfIntegral(ConversionCtx& ctx, const Site& site, ITensor* x) {
  if (categoryOf(x->getType()) == TypeCategory::kFLOAT) return x;
  return castTo(ctx, site, x, DataType::kFLOAT);
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
