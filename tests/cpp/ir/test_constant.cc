// Constants (checked conversions, Python-like repr, equality) and torch ScalarType mapping.
#include <gtest/gtest.h>

#include <cmath>

#include "ir/constant.h"
#include "ir/dtype.h"

namespace kiln {
namespace ir {
namespace {

TEST(ConstantTest, KindsAndAccessors) {
  EXPECT_TRUE(Constant().isNone());
  EXPECT_TRUE(Constant::none().isNone());
  EXPECT_EQ(Constant::fromBool(true).kind(), Constant::Kind::kBOOL);
  EXPECT_EQ(Constant::fromInt(3).kind(), Constant::Kind::kINT);
  EXPECT_EQ(Constant::fromDouble(0.5).kind(), Constant::Kind::kDOUBLE);
  EXPECT_EQ(Constant::fromString("tanh").kind(), Constant::Kind::kSTRING);
  EXPECT_EQ(Constant::fromInts({1, 2}).kind(), Constant::Kind::kLIST);
  EXPECT_TRUE(Constant::fromBool(false).isNumber());
  EXPECT_TRUE(Constant::fromInt(0).isNumber());
  EXPECT_TRUE(Constant::fromDouble(0).isNumber());
  EXPECT_FALSE(Constant::fromString("1").isNumber());
  EXPECT_FALSE(Constant().isNumber());
  EXPECT_EQ(Constant::fromDoubles({1.5, 2}).items().size(), 2u);
}

TEST(ConstantTest, CheckedConversions) {
  EXPECT_EQ(Constant::fromBool(true).toBool().value(), true);
  EXPECT_EQ(Constant::fromInt(0).toBool().value(), false);
  EXPECT_FALSE(Constant::fromInt(2).toBool().isOk());
  EXPECT_FALSE(Constant::fromString("True").toBool().isOk());

  EXPECT_EQ(Constant::fromInt(-7).toInt().value(), -7);
  EXPECT_EQ(Constant::fromBool(true).toInt().value(), 1);
  EXPECT_EQ(Constant::fromDouble(4.0).toInt().value(), 4);
  EXPECT_FALSE(Constant::fromDouble(2.5).toInt().isOk());
  EXPECT_FALSE(Constant::fromDouble(1e30).toInt().isOk());
  EXPECT_FALSE(Constant::fromDouble(NAN).toInt().isOk());
  EXPECT_FALSE(Constant().toInt().isOk());

  EXPECT_DOUBLE_EQ(Constant::fromInt(3).toDouble().value(), 3.0);
  EXPECT_DOUBLE_EQ(Constant::fromBool(true).toDouble().value(), 1.0);
  EXPECT_DOUBLE_EQ(Constant::fromDouble(-0.25).toDouble().value(), -0.25);
  EXPECT_FALSE(Constant::fromString("x").toDouble().isOk());

  EXPECT_EQ(Constant::fromString("none").toString().value(), "none");
  EXPECT_FALSE(Constant::fromInt(1).toString().isOk());

  EXPECT_EQ(Constant::fromInts({1, 2, 3}).toInts().value(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(Constant::fromInt(5).toInts().value(), (std::vector<int64_t>{5}));  // int[1] given one int
  EXPECT_EQ(Constant::fromList({}).toInts().value(), (std::vector<int64_t>{}));
  EXPECT_FALSE(Constant::fromString("x").toInts().isOk());
  StatusOr<std::vector<int64_t>> bad = Constant::fromList({Constant::fromInt(1), Constant::fromString("a")}).toInts();
  ASSERT_FALSE(bad.isOk());
  EXPECT_NE(bad.status().message().find("list item 1"), std::string::npos) << bad.status().message();

  EXPECT_EQ(Constant::fromDoubles({0.5, 2}).toDoubles().value(), (std::vector<double>{0.5, 2.0}));
  EXPECT_EQ(Constant::fromInts({1, 2}).toDoubles().value(), (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(Constant::fromDouble(0.5).toDoubles().value(), (std::vector<double>{0.5}));
  EXPECT_FALSE(Constant().toDoubles().isOk());
}

TEST(ConstantTest, ErrorsNameExpectedAndActualKind) {
  StatusOr<int64_t> v = Constant::fromString("tanh").toInt();
  ASSERT_FALSE(v.isOk());
  EXPECT_EQ(v.status().code(), StatusCode::kINVALID_ARGUMENT);
  EXPECT_NE(v.status().message().find("expected int"), std::string::npos) << v.status().message();
  EXPECT_NE(v.status().message().find("str \"tanh\""), std::string::npos) << v.status().message();
}

TEST(ConstantTest, PythonLikeRepr) {
  EXPECT_EQ(Constant().repr(), "None");
  EXPECT_EQ(Constant::fromBool(true).repr(), "True");
  EXPECT_EQ(Constant::fromBool(false).repr(), "False");
  EXPECT_EQ(Constant::fromInt(-3).repr(), "-3");
  EXPECT_EQ(Constant::fromString("tanh").repr(), "\"tanh\"");
  EXPECT_EQ(Constant::fromString("a\"b\\c\n").repr(), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(Constant::fromInts({1, 2}).repr(), "[1, 2]");
  EXPECT_EQ(Constant::fromList({}).repr(), "[]");
  EXPECT_EQ(Constant::fromList({Constant(), Constant::fromList({Constant::fromBool(true)})}).repr(), "[None, [True]]");
  // Floats as Python's repr writes them.
  EXPECT_EQ(Constant::fromDouble(0.5).repr(), "0.5");
  EXPECT_EQ(Constant::fromDouble(1.0).repr(), "1.0");
  EXPECT_EQ(Constant::fromDouble(0.0).repr(), "0.0");
  EXPECT_EQ(Constant::fromDouble(-0.0).repr(), "-0.0");
  EXPECT_EQ(Constant::fromDouble(1e-05).repr(), "1e-05");
  EXPECT_EQ(Constant::fromDouble(0.0001).repr(), "0.0001");
  EXPECT_EQ(Constant::fromDouble(0.1).repr(), "0.1");
  EXPECT_EQ(Constant::fromDouble(100000.0).repr(), "100000.0");
  EXPECT_EQ(Constant::fromDouble(1e16).repr(), "1e+16");
  EXPECT_EQ(Constant::fromDouble(1.5e16).repr(), "1.5e+16");
  EXPECT_EQ(Constant::fromDouble(123.456).repr(), "123.456");
  EXPECT_EQ(Constant::fromDouble(-2.5e-07).repr(), "-2.5e-07");
  EXPECT_EQ(Constant::fromDouble(1.0 / 3.0).repr(), "0.3333333333333333");
  EXPECT_EQ(Constant::fromDouble(1.7976931348623157e308).repr(), "1.7976931348623157e+308");
  EXPECT_EQ(Constant::fromDouble(INFINITY).repr(), "inf");
  EXPECT_EQ(Constant::fromDouble(-INFINITY).repr(), "-inf");
  EXPECT_EQ(Constant::fromDouble(NAN).repr(), "nan");
}

TEST(ConstantTest, EqualityIsStructuralAndKindStrict) {
  EXPECT_EQ(Constant(), Constant::none());
  EXPECT_EQ(Constant::fromInt(1), Constant::fromInt(1));
  EXPECT_FALSE(Constant::fromInt(1) == Constant::fromDouble(1.0));
  EXPECT_FALSE(Constant::fromInt(1) == Constant::fromBool(true));
  EXPECT_FALSE(Constant::fromInt(1) == Constant::fromInt(2));
  EXPECT_EQ(Constant::fromDouble(NAN), Constant::fromDouble(NAN));
  EXPECT_EQ(Constant::fromString("a"), Constant::fromString("a"));
  EXPECT_FALSE(Constant::fromString("a") == Constant::fromString("b"));
  EXPECT_EQ(Constant::fromInts({1, 2}), Constant::fromInts({1, 2}));
  EXPECT_FALSE(Constant::fromInts({1, 2}) == Constant::fromInts({1}));
  EXPECT_FALSE(Constant::fromInts({1, 2}) == Constant::fromDoubles({1, 2}));
}

TEST(ConstantTest, KindNames) {
  EXPECT_STREQ(constantKindName(Constant::Kind::kNONE), "None");
  EXPECT_STREQ(constantKindName(Constant::Kind::kBOOL), "bool");
  EXPECT_STREQ(constantKindName(Constant::Kind::kINT), "int");
  EXPECT_STREQ(constantKindName(Constant::Kind::kDOUBLE), "float");
  EXPECT_STREQ(constantKindName(Constant::Kind::kSTRING), "str");
  EXPECT_STREQ(constantKindName(Constant::Kind::kLIST), "list");
}

TEST(DtypeTest, TorchCodesMapToKilnTypes) {
  EXPECT_EQ(dataTypeFromTorch(0, false).value(), DataType::kUINT8);
  EXPECT_EQ(dataTypeFromTorch(1, false).value(), DataType::kINT8);
  EXPECT_EQ(dataTypeFromTorch(3, false).value(), DataType::kINT32);
  EXPECT_EQ(dataTypeFromTorch(4, false).value(), DataType::kINT64);
  EXPECT_EQ(dataTypeFromTorch(5, false).value(), DataType::kHALF);
  EXPECT_EQ(dataTypeFromTorch(6, false).value(), DataType::kFLOAT);
  EXPECT_EQ(dataTypeFromTorch(11, false).value(), DataType::kBOOL);
  EXPECT_EQ(dataTypeFromTorch(15, false).value(), DataType::kBF16);
}

TEST(DtypeTest, NarrowingOnlyWhenAllowed) {
  StatusOr<DataType> f64 = dataTypeFromTorch(7, false);
  ASSERT_FALSE(f64.isOk());
  EXPECT_NE(f64.status().message().find("torch.float64"), std::string::npos) << f64.status().message();
  EXPECT_EQ(dataTypeFromTorch(7, true).value(), DataType::kFLOAT);
  EXPECT_FALSE(dataTypeFromTorch(2, false).isOk());
  EXPECT_EQ(dataTypeFromTorch(2, true).value(), DataType::kINT32);
}

TEST(DtypeTest, UnsupportedCodesAreErrors) {
  StatusOr<DataType> complex = dataTypeFromTorch(9, true);
  ASSERT_FALSE(complex.isOk());
  EXPECT_NE(complex.status().message().find("torch.complex64"), std::string::npos) << complex.status().message();
  StatusOr<DataType> fp8 = dataTypeFromTorch(24, true);
  ASSERT_FALSE(fp8.isOk());
  EXPECT_NE(fp8.status().message().find("float8_e4m3fn"), std::string::npos);
  StatusOr<DataType> unknown = dataTypeFromTorch(-1, true);
  ASSERT_FALSE(unknown.isOk());
  EXPECT_NE(unknown.status().message().find("unknown ScalarType code -1"), std::string::npos);
  EXPECT_FALSE(dataTypeFromTorch(1000, true).isOk());
}

TEST(DtypeTest, RoundTripsEveryKilnType) {
  for (int32_t t = 0; t < kNB_DATA_TYPES; ++t) {
    const DataType type = static_cast<DataType>(t);
    const int64_t code = torchScalarTypeOf(type);
    StatusOr<DataType> back = dataTypeFromTorch(code, false);
    ASSERT_TRUE(back.isOk()) << dataTypeName(type);
    EXPECT_EQ(back.value(), type) << dataTypeName(type);
  }
  EXPECT_EQ(torchScalarTypeOf(DataType::kFLOAT), 6);
  EXPECT_EQ(torchScalarTypeOf(DataType::kBF16), 15);
}

}  // namespace
}  // namespace ir
}  // namespace kiln
