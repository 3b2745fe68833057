// Constants of the IR: checked conversions and Python-like text.
#include "ir/constant.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace kiln {
namespace ir {
namespace {

Status kindError(const char* expected, const Constant& actual) {
  return invalidArgument(std::string("expected ") + expected + ", got " + constantKindName(actual.kind()) + " " +
                         actual.repr());
}

// Python's repr(float): the shortest digits that round-trip, positional for exponents in [-4, 16),
// scientific otherwise ("1e-05", "1e+16"), and always a '.' or an exponent so it reads back as a float.
std::string pythonFloatRepr(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  for (int precision = 0; precision <= 16; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*e", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  // buf is "[-]d[.ddd]e[+-]XX".
  std::string text(buf);
  std::string sign;
  if (text[0] == '-') {
    sign = "-";
    text = text.substr(1);
  }
  const size_t ePos = text.find('e');
  const int exponent = std::atoi(text.c_str() + ePos + 1);
  std::string digits;
  for (size_t i = 0; i < ePos; ++i) {
    if (text[i] != '.') digits += text[i];
  }
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();

  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) return sign + "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    const size_t intDigits = static_cast<size_t>(exponent) + 1;
    if (digits.size() <= intDigits) return sign + digits + std::string(intDigits - digits.size(), '0') + ".0";
    return sign + digits.substr(0, intDigits) + "." + digits.substr(intDigits);
  }
  std::string mantissa = digits.substr(0, 1);
  if (digits.size() > 1) mantissa += "." + digits.substr(1);
  char expText[16];
  std::snprintf(expText, sizeof(expText), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return sign + mantissa + expText;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  return out + "\"";
}

}  // namespace

const char* constantKindName(Constant::Kind kind) {
  switch (kind) {
    case Constant::Kind::kNONE:
      return "None";
    case Constant::Kind::kBOOL:
      return "bool";
    case Constant::Kind::kINT:
      return "int";
    case Constant::Kind::kDOUBLE:
      return "float";
    case Constant::Kind::kSTRING:
      return "str";
    case Constant::Kind::kLIST:
      return "list";
  }
  return "unknown";
}

Constant Constant::fromBool(bool v) {
  Constant c;
  c.kind_ = Kind::kBOOL;
  c.bool_ = v;
  return c;
}

Constant Constant::fromInt(int64_t v) {
  Constant c;
  c.kind_ = Kind::kINT;
  c.int_ = v;
  return c;
}

Constant Constant::fromDouble(double v) {
  Constant c;
  c.kind_ = Kind::kDOUBLE;
  c.double_ = v;
  return c;
}

Constant Constant::fromString(std::string v) {
  Constant c;
  c.kind_ = Kind::kSTRING;
  c.string_ = std::move(v);
  return c;
}

Constant Constant::fromList(std::vector<Constant> items) {
  Constant c;
  c.kind_ = Kind::kLIST;
  c.items_ = std::move(items);
  return c;
}

Constant Constant::fromInts(const std::vector<int64_t>& values) {
  std::vector<Constant> items;
  items.reserve(values.size());
  for (int64_t v : values) items.push_back(fromInt(v));
  return fromList(std::move(items));
}

Constant Constant::fromDoubles(const std::vector<double>& values) {
  std::vector<Constant> items;
  items.reserve(values.size());
  for (double v : values) items.push_back(fromDouble(v));
  return fromList(std::move(items));
}

StatusOr<bool> Constant::toBool() const {
  if (isBool()) return bool_;
  // TorchScript graphs sometimes carry flags as 0/1 ints.
  if (isInt() && (int_ == 0 || int_ == 1)) return int_ == 1;
  return kindError("bool", *this);
}

StatusOr<int64_t> Constant::toInt() const {
  if (isInt()) return int_;
  if (isBool()) return static_cast<int64_t>(bool_);
  // Only exact integers in int64 range: 2.0 is 2, 2.5 and 1e30 are errors (a silent truncation would
  // change a shape or an index).
  if (isDouble() && std::isfinite(double_) && std::trunc(double_) == double_ && double_ >= -9.223372036854775808e18 &&
      double_ < 9.223372036854775808e18) {
    return static_cast<int64_t>(double_);
  }
  return kindError("int", *this);
}

StatusOr<double> Constant::toDouble() const {
  if (isDouble()) return double_;
  if (isInt()) return static_cast<double>(int_);
  if (isBool()) return bool_ ? 1.0 : 0.0;
  return kindError("float", *this);
}

StatusOr<std::string> Constant::toString() const {
  if (isString()) return string_;
  return kindError("str", *this);
}

StatusOr<std::vector<int64_t>> Constant::toInts() const {
  if (isInt() || isBool()) return std::vector<int64_t>{toInt().value()};  // an int[1] argument given one int
  if (!isList()) return kindError("a list of ints", *this);
  std::vector<int64_t> out;
  out.reserve(items_.size());
  for (size_t i = 0; i < items_.size(); ++i) {
    StatusOr<int64_t> v = items_[i].toInt();
    if (!v.isOk()) return v.status().withContext("list item " + std::to_string(i) + " of " + repr());
    out.push_back(v.value());
  }
  return out;
}

StatusOr<std::vector<double>> Constant::toDoubles() const {
  if (isNumber()) return std::vector<double>{toDouble().value()};
  if (!isList()) return kindError("a list of floats", *this);
  std::vector<double> out;
  out.reserve(items_.size());
  for (size_t i = 0; i < items_.size(); ++i) {
    StatusOr<double> v = items_[i].toDouble();
    if (!v.isOk()) return v.status().withContext("list item " + std::to_string(i) + " of " + repr());
    out.push_back(v.value());
  }
  return out;
}

std::string Constant::repr() const {
  switch (kind_) {
    case Kind::kNONE:
      return "None";
    case Kind::kBOOL:
      return bool_ ? "True" : "False";
    case Kind::kINT:
      return std::to_string(int_);
    case Kind::kDOUBLE:
      return pythonFloatRepr(double_);
    case Kind::kSTRING:
      return quoted(string_);
    case Kind::kLIST: {
      std::string out = "[";
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i > 0) out += ", ";
        out += items_[i].repr();
      }
      return out + "]";
    }
  }
  return "?";
}

// Structural equality: kinds must match (1 != 1.0 != True), so passes that compare constants (CSE, no-op
// detection) never merge values of different types; NaN equals NaN for the same reason.
bool Constant::operator==(const Constant& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case Kind::kNONE:
      return true;
    case Kind::kBOOL:
      return bool_ == other.bool_;
    case Kind::kINT:
      return int_ == other.int_;
    case Kind::kDOUBLE:
      return double_ == other.double_ || (std::isnan(double_) && std::isnan(other.double_));
    case Kind::kSTRING:
      return string_ == other.string_;
    case Kind::kLIST:
      return items_ == other.items_;
  }
  return false;
}

}  // namespace ir
}  // namespace kiln
