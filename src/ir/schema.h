// ATen function schemas: "aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor".
// The parsed schema keys converters ("aten::add.Tensor") and normalizes node arguments: positional order,
// keyword arguments placed, defaults filled.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/constant.h"
#include "kiln/status.h"

namespace kiln {
namespace ir {

enum class TypeKind {
  kTENSOR,
  kINT,      // int, SymInt
  kFLOAT,    // float, SymFloat
  kBOOL,     // bool, SymBool
  kSCALAR,   // int or float
  kSTRING,   // str, Dimname
  kSCALAR_TYPE,
  kLAYOUT,
  kDEVICE,
  kMEMORY_FORMAT,
  kGENERATOR,
  kANY,      // Any, t, complex, Storage, Stream, class types, Dict(...)/Future(...)/tuples, nested lists
};

struct SchemaType {
  TypeKind kind = TypeKind::kTENSOR;
  bool isList = false;      // Tensor[], int[2], SymInt[] (a list of lists is kANY)
  int32_t fixedLength = -1; // int[2] -> 2 (a single int broadcasts to this length when normalized)
  bool optional = false;    // Tensor?, int[1]?, Tensor?[] (optional elements: elementOptional)
  bool elementOptional = false;
  std::string text;         // as written: "SymInt[]?"
};

struct SchemaArgument {
  std::string name;
  SchemaType type;
  std::optional<Constant> defaultValue;  // parsed default ("none" -> the string, None -> Constant::none())
  bool kwargOnly = false;
  bool mutates = false;  // Tensor(a!) annotation: an in-place or out= argument
  std::string aliasSet;  // "a" for Tensor(a) and Tensor(a!), "a|b" for a set; empty without annotation
};

struct FunctionSchema {
  std::string name;      // "aten::add"
  std::string overload;  // "Tensor"; "default" when the schema has none
  std::vector<SchemaArgument> arguments;
  std::vector<SchemaArgument> returns;
  std::string text;      // the original string
  bool isVararg = false;  // "..." closes the argument list: extra positional args are kept after the named ones
  bool isVarret = false;  // "-> ..." (a variable number of returns; such calls get no output values)

  // "aten::add.Tensor", "aten::gelu.default": the registry key.
  std::string key() const { return name + "." + overload; }
  int32_t findArgument(const std::string& argName) const;  // -1 when absent
  bool isInPlace() const;  // some argument is annotated (a!)
};

// Parses a schema string in torch's format (str(torch.ops.aten.X.Y._schema), native_functions.yaml,
// TorchScript's parenthesized returns); errors give the 1-based column and point at the offending character.
// Defaults are typed by their argument: ints for int/SymInt/ScalarType ("long" -> 4, "Mean" -> 1), doubles
// for float (an int default of a float argument becomes a double), strings for str, Layout and MemoryFormat
// ("strided", "contiguous_format", also when torch prints their enum code). A bare scalar default of a
// fixed-length list ("int[2] padding=0") is kept as written; normalizeArgs expands it.
StatusOr<FunctionSchema> parseSchema(const std::string& text);

}  // namespace ir
}  // namespace kiln
