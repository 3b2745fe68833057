// A compile-time value of the IR: the non-tensor arguments of ATen ops (None, bool, int, float, str,
// and lists of them), and what evaluators produce. Scalar types are ints (torch's ScalarType codes, see
// ir/dtype.h); devices, layouts and memory formats are strings.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/status.h"

namespace kiln {
namespace ir {

class Constant {
 public:
  enum class Kind { kNONE, kBOOL, kINT, kDOUBLE, kSTRING, kLIST };

  Constant() = default;  // None
  static Constant none() { return Constant(); }
  static Constant fromBool(bool v);
  static Constant fromInt(int64_t v);
  static Constant fromDouble(double v);
  static Constant fromString(std::string v);
  static Constant fromList(std::vector<Constant> items);
  static Constant fromInts(const std::vector<int64_t>& values);
  static Constant fromDoubles(const std::vector<double>& values);

  Kind kind() const { return kind_; }
  bool isNone() const { return kind_ == Kind::kNONE; }
  bool isBool() const { return kind_ == Kind::kBOOL; }
  bool isInt() const { return kind_ == Kind::kINT; }
  bool isDouble() const { return kind_ == Kind::kDOUBLE; }
  bool isNumber() const { return isBool() || isInt() || isDouble(); }
  bool isString() const { return kind_ == Kind::kSTRING; }
  bool isList() const { return kind_ == Kind::kLIST; }

  // Checked conversions: an error names the expected and the actual kind. toDouble accepts ints and
  // bools; toInt accepts bools and doubles that hold an integer; toInts accepts a single int (int[1] args).
  StatusOr<bool> toBool() const;
  StatusOr<int64_t> toInt() const;
  StatusOr<double> toDouble() const;
  StatusOr<std::string> toString() const;
  StatusOr<std::vector<int64_t>> toInts() const;
  StatusOr<std::vector<double>> toDoubles() const;
  const std::vector<Constant>& items() const { return items_; }

  // Python-like text: None, True, 3, 0.5, "tanh", [1, 2].
  std::string repr() const;
  bool operator==(const Constant& other) const;

 private:
  Kind kind_ = Kind::kNONE;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0.0;
  std::string string_;
  std::vector<Constant> items_;
};

const char* constantKindName(Constant::Kind kind);

}  // namespace ir
}  // namespace kiln
