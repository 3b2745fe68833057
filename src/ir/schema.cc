// The schema parser: a tokenizer and a recursive-descent parser for torch's schema grammar
//   schema   := name ['.' overload] '(' [arg {',' arg}] ')' '->' returns
//   arg      := '*' | '...' | type name ['=' default]
//   returns  := '(' [ret {',' ret}] ')' | '...' | ret          ret := type [name]
//   type     := base [alias] {'[' [N] ']' [alias] | '?'}       alias := '(' set ['!'] ['->' set] ')'
// Errors carry the 1-based column of the offending token and a caret line under the schema.
#include "ir/schema.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

namespace kiln {
namespace ir {
namespace {

enum class Tok { kIDENT, kNUMBER, kSTRING, kPUNCT, kARROW, kDCOLON, kELLIPSIS, kEND };

struct Token {
  Tok kind = Tok::kEND;
  std::string text;  // the characters; for strings the unescaped contents
  size_t begin = 0;  // offsets into the schema text
  size_t end = 0;
};

bool isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }

Status errorAt(const std::string& text, size_t pos, const std::string& what) {
  return invalidArgument("cannot parse schema at column " + std::to_string(pos + 1) + ": " + what + "\n  " + text +
                         "\n  " + std::string(pos, ' ') + "^");
}

StatusOr<std::vector<Token>> tokenize(const std::string& s) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    Token t;
    t.begin = i;
    if (isIdentStart(c)) {
      while (i < s.size() && isIdentChar(s[i])) ++i;
      t.kind = Tok::kIDENT;
    } else if (isDigit(c) || (c == '.' && i + 1 < s.size() && isDigit(s[i + 1]))) {
      // 1, 0., .5, 1e-05, 1.5E+10: the exponent belongs to the number only when digits follow.
      while (i < s.size() && isDigit(s[i])) ++i;
      if (i < s.size() && s[i] == '.') {
        ++i;
        while (i < s.size() && isDigit(s[i])) ++i;
      }
      if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
        if (j < s.size() && isDigit(s[j])) {
          i = j;
          while (i < s.size() && isDigit(s[i])) ++i;
        }
      }
      t.kind = Tok::kNUMBER;
    } else if (c == '"' || c == '\'') {
      std::string value;
      ++i;
      bool closed = false;
      while (i < s.size()) {
        char ch = s[i++];
        if (ch == c) {
          closed = true;
          break;
        }
        if (ch == '\\' && i < s.size()) {
          const char e = s[i++];
          switch (e) {
            case 'n':
              ch = '\n';
              break;
            case 't':
              ch = '\t';
              break;
            case 'r':
              ch = '\r';
              break;
            default:
              ch = e;  // \\, \", \' and anything else stand for themselves
          }
        }
        value += ch;
      }
      if (!closed) return errorAt(s, t.begin, "unterminated string");
      t.kind = Tok::kSTRING;
      t.end = i;
      t.text = std::move(value);
      tokens.push_back(std::move(t));
      continue;
    } else if (s.compare(i, 2, "->") == 0) {
      t.kind = Tok::kARROW;
      i += 2;
    } else if (s.compare(i, 2, "::") == 0) {
      t.kind = Tok::kDCOLON;
      i += 2;
    } else if (s.compare(i, 3, "...") == 0) {
      t.kind = Tok::kELLIPSIS;
      i += 3;
    } else if (std::string("()[],*?!|=.-").find(c) != std::string::npos) {
      t.kind = Tok::kPUNCT;
      ++i;
    } else {
      return errorAt(s, i, std::string("unexpected character '") + c + "'");
    }
    t.end = i;
    t.text = s.substr(t.begin, t.end - t.begin);
    tokens.push_back(std::move(t));
  }
  Token end;
  end.begin = end.end = s.size();
  tokens.push_back(end);
  return tokens;
}

struct ParsedType {
  SchemaType type;
  std::string aliasSet;
  bool mutates = false;
};

// Type names and what they mean to Kiln; besides these and the opaque ones only TorchScript classes
// ("__torch__.x.Y") parse, so a typo in a converter's schema is an error, not an opaque type.
const std::map<std::string, TypeKind>& typeNames() {
  static const std::map<std::string, TypeKind> kNames = {
      {"Tensor", TypeKind::kTENSOR},       {"int", TypeKind::kINT},        {"SymInt", TypeKind::kINT},
      {"float", TypeKind::kFLOAT},         {"SymFloat", TypeKind::kFLOAT}, {"bool", TypeKind::kBOOL},
      {"SymBool", TypeKind::kBOOL},        {"Scalar", TypeKind::kSCALAR},  {"number", TypeKind::kSCALAR},
      {"str", TypeKind::kSTRING},          {"Dimname", TypeKind::kSTRING}, {"ScalarType", TypeKind::kSCALAR_TYPE},
      {"Layout", TypeKind::kLAYOUT},       {"Device", TypeKind::kDEVICE},  {"MemoryFormat", TypeKind::kMEMORY_FORMAT},
      {"Generator", TypeKind::kGENERATOR},
  };
  return kNames;
}

// Types Kiln treats as opaque (converters never see them as tensors or numbers).
const std::set<std::string>& opaqueTypes() {
  static const std::set<std::string> kNames = {
      "Any",     "t",       "t1",       "t2",           "complex",     "Storage",     "Stream",
      "QScheme", "Capsule", "NoneType", "AnyClassType", "AnyEnumType", "GraphModule", "ConstQuantizerPtr"};
  return kNames;
}

// Types that take type arguments: Dict(str, Tensor), Future(t), Union(Tensor, int) ...
const std::set<std::string>& containerTypes() {
  static const std::set<std::string> kNames = {"Future", "Await", "RRef", "Dict", "Union", "Optional", "List", "Tuple"};
  return kNames;
}

// Names torch accepts as defaults in native_functions.yaml, by the argument's type.
std::optional<int64_t> scalarTypeCode(const std::string& name) {
  static const std::map<std::string, int64_t> kCodes = {
      {"uint8", 0},   {"int8", 1},   {"int16", 2},     {"short", 2},   {"int32", 3},   {"int", 3},
      {"int64", 4},   {"long", 4},   {"float16", 5},   {"half", 5},    {"float32", 6}, {"float", 6},
      {"float64", 7}, {"double", 7}, {"complex64", 9}, {"complex", 9}, {"bool", 11},   {"bfloat16", 15},
  };
  auto it = kCodes.find(name);
  if (it == kCodes.end()) return std::nullopt;
  return it->second;
}

const char* layoutName(int64_t code) {
  static const char* const kNames[] = {"strided",    "sparse_coo", "sparse_csr", "_mkldnn",
                                       "sparse_csc", "sparse_bsr", "sparse_bsc", "jagged"};
  return code >= 0 && code < 8 ? kNames[code] : nullptr;
}

const char* memoryFormatName(int64_t code) {
  static const char* const kNames[] = {"contiguous_format", "preserve_format", "channels_last", "channels_last_3d"};
  return code >= 0 && code < 4 ? kNames[code] : nullptr;
}

class Parser {
 public:
  Parser(const std::string& text, std::vector<Token> tokens) : text_(text), tokens_(std::move(tokens)) {}

  StatusOr<FunctionSchema> parse() {
    FunctionSchema schema;
    schema.text = text_;
    KILN_RETURN_IF_ERROR(parseName(schema));
    KILN_RETURN_IF_ERROR(expectPunct("(", "'(' after the op name"));
    KILN_RETURN_IF_ERROR(parseArguments(schema));
    if (peek().kind != Tok::kARROW) return error(peek(), "expected '->' after the arguments");
    next();
    KILN_RETURN_IF_ERROR(parseReturns(schema));
    if (peek().kind != Tok::kEND) return error(peek(), "unexpected '" + peek().text + "' after the returns");
    return schema;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }
  bool isPunct(const char* p, size_t ahead = 0) const {
    return peek(ahead).kind == Tok::kPUNCT && peek(ahead).text == p;
  }
  bool acceptPunct(const char* p) {
    if (!isPunct(p)) return false;
    next();
    return true;
  }
  Status error(const Token& at, const std::string& what) const {
    return errorAt(text_, at.begin, at.kind == Tok::kEND ? what + " (the schema ends here)" : what);
  }
  Status expectPunct(const char* p, const std::string& what) {
    if (acceptPunct(p)) return Status::ok();
    return error(peek(), "expected " + what);
  }

  Status parseName(FunctionSchema& schema) {
    if (peek().kind != Tok::kIDENT) return error(peek(), "expected the op name (\"aten::relu\")");
    schema.name = next().text;
    if (peek().kind == Tok::kDCOLON) {
      next();
      if (peek().kind != Tok::kIDENT) return error(peek(), "expected the op name after '::'");
      schema.name += "::" + next().text;
    }
    schema.overload = "default";
    if (acceptPunct(".")) {
      if (peek().kind != Tok::kIDENT) return error(peek(), "expected the overload name after '.'");
      schema.overload = next().text;
    }
    return Status::ok();
  }

  Status parseArguments(FunctionSchema& schema) {
    if (acceptPunct(")")) return Status::ok();
    bool kwargOnly = false;
    while (true) {
      if (isPunct("*")) {
        if (kwargOnly) return error(peek(), "a second '*' in the argument list");
        next();
        kwargOnly = true;
      } else if (peek().kind == Tok::kELLIPSIS) {
        next();
        schema.isVararg = true;
        if (!isPunct(")")) return error(peek(), "'...' must be the last argument");
      } else {
        SchemaArgument arg;
        KILN_RETURN_IF_ERROR(parseArgument(arg, /*isReturn=*/false));
        arg.kwargOnly = kwargOnly;
        for (const SchemaArgument& other : schema.arguments) {
          if (other.name == arg.name) return error(tokens_[nameToken_], "duplicate argument name '" + arg.name + "'");
        }
        schema.arguments.push_back(std::move(arg));
      }
      if (acceptPunct(")")) return Status::ok();
      KILN_RETURN_IF_ERROR(expectPunct(",", "',' or ')' after an argument"));
    }
  }

  Status parseReturns(FunctionSchema& schema) {
    if (peek().kind == Tok::kELLIPSIS) {
      next();
      schema.isVarret = true;
      return Status::ok();
    }
    if (!acceptPunct("(")) {
      SchemaArgument ret;
      KILN_RETURN_IF_ERROR(parseArgument(ret, /*isReturn=*/true));
      schema.returns.push_back(std::move(ret));
      return Status::ok();
    }
    if (acceptPunct(")")) return Status::ok();
    while (true) {
      SchemaArgument ret;
      KILN_RETURN_IF_ERROR(parseArgument(ret, /*isReturn=*/true));
      schema.returns.push_back(std::move(ret));
      if (acceptPunct(")")) return Status::ok();
      KILN_RETURN_IF_ERROR(expectPunct(",", "',' or ')' after a return"));
    }
  }

  Status parseArgument(SchemaArgument& arg, bool isReturn) {
    ParsedType parsed;
    KILN_RETURN_IF_ERROR(parseType(parsed));
    arg.type = std::move(parsed.type);
    arg.aliasSet = std::move(parsed.aliasSet);
    arg.mutates = parsed.mutates;
    if (peek().kind == Tok::kIDENT) {
      nameToken_ = pos_;
      arg.name = next().text;
    } else if (!isReturn) {
      return error(peek(), "expected an argument name after the type '" + arg.type.text + "'");
    }
    if (!isPunct("=")) return Status::ok();
    if (isReturn) return error(peek(), "returns cannot have default values");
    next();
    const Token& at = peek();
    Constant value;
    bool named = false;
    KILN_RETURN_IF_ERROR(parseConstant(value, &named));
    StatusOr<Constant> typed = typeDefault(arg.type, value, named);
    if (!typed.isOk()) return error(at, "default of '" + arg.name + "': " + typed.status().message());
    arg.defaultValue = std::move(typed).value();
    return Status::ok();
  }

  Status parseType(ParsedType& out) {
    const size_t begin = peek().begin;
    SchemaType& type = out.type;
    if (isPunct("(")) {
      // A tuple type, "(Tensor, int)".
      KILN_RETURN_IF_ERROR(parseTypeArguments());
      type.kind = TypeKind::kANY;
    } else {
      if (peek().kind != Tok::kIDENT) return error(peek(), "expected a type");
      const Token& nameToken = next();
      std::string name = nameToken.text;
      // Class types are dotted paths: __torch__.torch.classes.quantized.Conv2dPackedParamsBase.
      while (isPunct(".") && peek(1).kind == Tok::kIDENT) {
        next();
        name += "." + next().text;
      }
      if (containerTypes().count(name) && isPunct("(")) {
        KILN_RETURN_IF_ERROR(parseTypeArguments());
        type.kind = TypeKind::kANY;
      } else {
        auto it = typeNames().find(name);
        if (it != typeNames().end()) {
          type.kind = it->second;
        } else if (opaqueTypes().count(name) || name.rfind("__torch__.", 0) == 0) {
          type.kind = TypeKind::kANY;
        } else {
          return error(nameToken, "unknown type '" + name + "'");
        }
        if (isPunct("(")) KILN_RETURN_IF_ERROR(parseAlias(out));
      }
    }
    bool baseOptional = false;
    while (true) {
      if (acceptPunct("?")) {
        if (type.isList) {
          type.optional = true;
        } else {
          baseOptional = true;
        }
      } else if (isPunct("[")) {
        const Token& open = next();
        if (type.isList) {
          // A list of lists (int[][]): Kiln has no such argument; keep it opaque.
          type.kind = TypeKind::kANY;
          type.fixedLength = -1;
        } else {
          type.isList = true;
          type.elementOptional = baseOptional;
          baseOptional = false;
        }
        if (peek().kind == Tok::kNUMBER) {
          const Token& n = next();
          if (n.text.find_first_not_of("0123456789") != std::string::npos || n.text.size() > 9) {
            return error(n, "a list length must be a small integer, got '" + n.text + "'");
          }
          if (type.kind != TypeKind::kANY) type.fixedLength = std::atoi(n.text.c_str());
        }
        if (!acceptPunct("]"))
          return error(peek(),
                       "expected ']' to close the list type opened at column " + std::to_string(open.begin + 1));
        if (isPunct("(")) KILN_RETURN_IF_ERROR(parseAlias(out));  // t[](a!)
      } else {
        break;
      }
    }
    if (!type.isList) type.optional = baseOptional;
    const size_t end = tokens_[pos_ - 1].end;
    type.text = text_.substr(begin, end - begin);
    return Status::ok();
  }

  // "(T1, T2 ...)" after a container name or as a tuple type; the types themselves are not kept.
  Status parseTypeArguments() {
    KILN_RETURN_IF_ERROR(expectPunct("(", "'('"));
    if (acceptPunct(")")) return Status::ok();
    while (true) {
      ParsedType inner;
      KILN_RETURN_IF_ERROR(parseType(inner));
      if (peek().kind == Tok::kIDENT) next();  // NamedTuple fields may be named
      if (acceptPunct(")")) return Status::ok();
      KILN_RETURN_IF_ERROR(expectPunct(",", "',' or ')' in the type arguments"));
    }
  }

  // "(a)", "(a!)", "(a -> *)", "(a|b)", "(a! -> a|b)".
  Status parseAlias(ParsedType& out) {
    const Token& open = next();
    std::string set;
    KILN_RETURN_IF_ERROR(parseAliasSet(set));
    if (!out.aliasSet.empty() && out.aliasSet != set) {
      return error(open, "a second alias annotation '" + set + "' (already '" + out.aliasSet + "')");
    }
    out.aliasSet = set;
    if (acceptPunct("!")) out.mutates = true;
    if (peek().kind == Tok::kARROW) {
      next();
      std::string after;
      KILN_RETURN_IF_ERROR(parseAliasSet(after));
    }
    if (!acceptPunct(")")) {
      return error(peek(),
                   "expected ')' to close the alias annotation opened at column " + std::to_string(open.begin + 1));
    }
    return Status::ok();
  }

  Status parseAliasSet(std::string& set) {
    while (true) {
      if (peek().kind == Tok::kIDENT || isPunct("*")) {
        set += next().text;
      } else {
        return error(peek(), "expected an alias name (a, b, *) in the annotation");
      }
      if (!isPunct("|")) return Status::ok();
      set += next().text;
    }
  }

  // `named` is set for a bare identifier (long, Mean, contiguous_format), kept as a string for typeDefault
  // to resolve by the argument type; only a whole default may be one.
  Status parseConstant(Constant& out, bool* named) {
    const Token& t = peek();
    if (t.kind == Tok::kSTRING) {
      out = Constant::fromString(next().text);
      return Status::ok();
    }
    if (isPunct("[")) {
      next();
      std::vector<Constant> items;
      if (!acceptPunct("]")) {
        while (true) {
          Constant item;
          KILN_RETURN_IF_ERROR(parseConstant(item, nullptr));
          items.push_back(std::move(item));
          if (acceptPunct("]")) break;
          KILN_RETURN_IF_ERROR(expectPunct(",", "',' or ']' in the list"));
        }
      }
      out = Constant::fromList(std::move(items));
      return Status::ok();
    }
    const bool negative = acceptPunct("-");
    const Token& v = peek();
    if (v.kind == Tok::kNUMBER) {
      next();
      return parseNumber(v, negative, out);
    }
    if (v.kind == Tok::kIDENT && (v.text == "inf" || v.text == "nan")) {
      next();
      const double d = v.text == "inf" ? HUGE_VAL : std::nan("");
      out = Constant::fromDouble(negative ? -d : d);
      return Status::ok();
    }
    if (negative) return error(v, "expected a number after '-'");
    if (v.kind == Tok::kIDENT && (v.text == "None" || v.text == "True" || v.text == "False")) {
      next();
      out = v.text == "None" ? Constant::none() : Constant::fromBool(v.text == "True");
      return Status::ok();
    }
    if (v.kind == Tok::kIDENT && named) {
      next();
      out = Constant::fromString(v.text);
      *named = true;
      return Status::ok();
    }
    return error(v, "expected a default value (a number, True, False, None, a string or a list)");
  }

  Status parseNumber(const Token& t, bool negative, Constant& out) {
    const std::string text = (negative ? "-" : "") + t.text;
    errno = 0;
    if (t.text.find_first_of(".eE") == std::string::npos) {
      const long long v = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) return error(t, "integer default out of the int64 range");
      out = Constant::fromInt(static_cast<int64_t>(v));
    } else {
      out = Constant::fromDouble(std::strtod(text.c_str(), nullptr));
    }
    return Status::ok();
  }

  // Checks a parsed default against the argument type and gives it the type's representation.
  StatusOr<Constant> typeDefault(const SchemaType& type, const Constant& value, bool named) {
    if (value.isNone()) {
      if (type.optional || type.kind == TypeKind::kANY) return value;
      return invalidArgument("None for the non-optional type '" + type.text + "'");
    }
    if (type.isList && value.isList()) {
      std::vector<Constant> items;
      for (const Constant& item : value.items()) {
        if (item.isNone() && (type.elementOptional || type.kind == TypeKind::kANY)) {
          items.push_back(item);
          continue;
        }
        KILN_ASSIGN_OR_RETURN(Constant typed, typeElement(type, item, /*named=*/false));
        items.push_back(std::move(typed));
      }
      return Constant::fromList(std::move(items));
    }
    // A bare scalar of a list type stays a scalar ("int[2] padding=0"); normalizeArgs expands it.
    return typeElement(type, value, named);
  }

  StatusOr<Constant> typeElement(const SchemaType& type, const Constant& value, bool named) {
    const std::string what = "'" + value.repr() + "' for type '" + type.text + "'";
    if (named) {
      const std::string name = value.toString().value();
      switch (type.kind) {
        case TypeKind::kSCALAR_TYPE:
        case TypeKind::kINT:
          if (auto code = scalarTypeCode(name)) return Constant::fromInt(*code);
          if (name == "Mean") return Constant::fromInt(1);  // at::Reduction
          if (name == "Sum") return Constant::fromInt(2);
          break;
        case TypeKind::kLAYOUT:
        case TypeKind::kMEMORY_FORMAT:
        case TypeKind::kDEVICE:
        case TypeKind::kANY:
          return value;
        case TypeKind::kTENSOR:
        case TypeKind::kFLOAT:
        case TypeKind::kBOOL:
        case TypeKind::kSCALAR:
        case TypeKind::kSTRING:
        case TypeKind::kGENERATOR:
          break;
      }
      return invalidArgument("unknown name " + name + " for type '" + type.text + "'");
    }
    switch (type.kind) {
      case TypeKind::kANY:
        return value;
      case TypeKind::kINT:
      case TypeKind::kSCALAR_TYPE:
        if (value.isInt()) return value;
        break;
      case TypeKind::kFLOAT:
        if (value.isInt() || value.isDouble()) return Constant::fromDouble(value.toDouble().value());
        break;
      case TypeKind::kSCALAR:
        if (value.isInt() || value.isDouble() || value.isBool()) return value;
        break;
      case TypeKind::kBOOL:
        if (value.isBool()) return value;
        break;
      case TypeKind::kSTRING:
      case TypeKind::kDEVICE:
        if (value.isString()) return value;
        break;
      case TypeKind::kLAYOUT:
        if (value.isString()) return value;
        if (value.isInt() && layoutName(value.toInt().value())) {
          return Constant::fromString(layoutName(value.toInt().value()));
        }
        break;
      case TypeKind::kMEMORY_FORMAT:
        if (value.isString()) return value;
        if (value.isInt() && memoryFormatName(value.toInt().value())) {
          return Constant::fromString(memoryFormatName(value.toInt().value()));
        }
        break;
      case TypeKind::kTENSOR:
        // Only None (handled above) or numbers that torch wraps into tensors.
        if (value.isNumber()) return value;
        break;
      case TypeKind::kGENERATOR:
        break;
    }
    return invalidArgument(what + " does not match the type");
  }

  const std::string& text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  size_t nameToken_ = 0;
};

}  // namespace

int32_t FunctionSchema::findArgument(const std::string& argName) const {
  for (size_t i = 0; i < arguments.size(); ++i) {
    if (arguments[i].name == argName) return static_cast<int32_t>(i);
  }
  return -1;
}

bool FunctionSchema::isInPlace() const {
  for (const SchemaArgument& arg : arguments) {
    if (arg.mutates) return true;
  }
  return false;
}

StatusOr<FunctionSchema> parseSchema(const std::string& text) {
  KILN_ASSIGN_OR_RETURN(std::vector<Token> tokens, tokenize(text));
  Parser parser(text, std::move(tokens));
  return parser.parse();
}

}  // namespace ir
}  // namespace kiln
