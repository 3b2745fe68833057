// normalizeArgs: call arguments in schema order, so that converters and passes read args[i] for schema
// argument i whatever way the frontend spelled the call.
#include <optional>

#include "ir/graph.h"

namespace kiln {
namespace ir {
namespace {

std::string describeArgument(const SchemaArgument& arg) { return "'" + arg.name + "' (" + arg.type.text + ")"; }

std::string argumentList(const FunctionSchema& schema) {
  std::string names;
  for (const SchemaArgument& arg : schema.arguments) names += (names.empty() ? "" : ", ") + arg.name;
  return names.empty() ? "no arguments" : names;
}

// Rejects None where the schema does not allow it (torch would raise a TypeError for the same call).
Status checkNone(const FunctionSchema& schema, const SchemaArgument& arg, const Arg& value) {
  if (arg.type.kind == TypeKind::kANY) return Status::ok();
  if (value.isConstant() && value.constant.isNone() && !arg.type.optional) {
    return invalidArgument(schema.key() + ": argument " + describeArgument(arg) +
                           " is None but its type is not optional; pass a value");
  }
  if (!arg.type.isList || arg.type.elementOptional) return Status::ok();
  const auto isNone = [](const Arg& a) { return a.isConstant() && a.constant.isNone(); };
  bool noneItem = false;
  if (value.isList()) {
    for (const Arg& item : value.list) noneItem = noneItem || isNone(item);
  } else if (value.isConstant() && value.constant.isList()) {
    for (const Constant& item : value.constant.items()) noneItem = noneItem || item.isNone();
  }
  if (noneItem) {
    return invalidArgument(schema.key() + ": argument " + describeArgument(arg) +
                           " has a None item but its items are not optional");
  }
  return Status::ok();
}

// A value that holds one int (sym_size.int's SymInt): its producer's schema says so; untyped tensors and
// int[] values do not qualify.
bool isScalarIntValue(const Value* value) {
  if (value == nullptr || value->node() == nullptr || value->node()->schema() == nullptr) return false;
  const std::vector<SchemaArgument>& returns = value->node()->schema()->returns;
  const size_t index = static_cast<size_t>(value->outputIndex());
  if (index >= returns.size()) return false;
  const SchemaType& type = returns[index].type;
  return !type.isList && (type.kind == TypeKind::kINT || type.kind == TypeKind::kSCALAR);
}

// int[2] padding=0 means [0, 0]: a single number (or a scalar value such as a SymInt) for a fixed-length
// list becomes N copies, so converters always see the full list.
Arg expandFixedLength(const SchemaArgument& arg, Arg value) {
  const SchemaType& type = arg.type;
  if (!type.isList || type.fixedLength <= 0) return value;
  const size_t n = static_cast<size_t>(type.fixedLength);
  if (value.isConstant() && value.constant.isNumber()) {
    return Arg::of(Constant::fromList(std::vector<Constant>(n, value.constant)));
  }
  if (value.isValue() && isScalarIntValue(value.value)) return Arg::listOf(std::vector<Arg>(n, value));
  return value;
}

}  // namespace

StatusOr<std::vector<Arg>> normalizeArgs(const FunctionSchema& schema, std::vector<Arg> positional,
                                         std::map<std::string, Arg> keywords) {
  const size_t n = schema.arguments.size();
  size_t positionalSlots = 0;
  while (positionalSlots < n && !schema.arguments[positionalSlots].kwargOnly) ++positionalSlots;

  if (positional.size() > positionalSlots && !schema.isVararg) {
    std::string message = schema.key() + " takes " + std::to_string(positionalSlots) + " positional argument" +
                          (positionalSlots == 1 ? "" : "s") + " but " + std::to_string(positional.size()) +
                          " were given";
    if (positionalSlots < n) {
      message +=
          "; argument " + describeArgument(schema.arguments[positionalSlots]) + " is keyword-only: pass it by name";
    }
    return invalidArgument(message);
  }

  std::vector<std::optional<Arg>> slots(n);
  std::vector<Arg> extra;
  for (size_t i = 0; i < positional.size(); ++i) {
    if (i < positionalSlots) {
      slots[i] = std::move(positional[i]);
    } else {
      extra.push_back(std::move(positional[i]));
    }
  }
  for (auto& [name, value] : keywords) {
    const int32_t index = schema.findArgument(name);
    if (index < 0) {
      return invalidArgument(schema.key() + ": unknown keyword argument '" + name + "'; the schema takes " +
                             argumentList(schema));
    }
    if (slots[static_cast<size_t>(index)].has_value()) {
      return invalidArgument(schema.key() + ": argument " + describeArgument(schema.arguments[index]) +
                             " given both positionally and by keyword");
    }
    slots[static_cast<size_t>(index)] = std::move(value);
  }

  std::vector<Arg> args;
  args.reserve(n + extra.size());
  for (size_t i = 0; i < n; ++i) {
    const SchemaArgument& arg = schema.arguments[i];
    if (!slots[i].has_value()) {
      if (!arg.defaultValue.has_value()) {
        return invalidArgument(schema.key() + ": missing required argument " + describeArgument(arg) + " (argument " +
                               std::to_string(i) + ")");
      }
      slots[i] = Arg::of(*arg.defaultValue);
    }
    Arg value = expandFixedLength(arg, std::move(*slots[i]));
    KILN_RETURN_IF_ERROR(checkNone(schema, arg, value));
    args.push_back(std::move(value));
  }
  for (Arg& a : extra) args.push_back(std::move(a));
  return args;
}

}  // namespace ir
}  // namespace kiln
