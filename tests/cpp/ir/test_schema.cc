// The schema parser on the schemas torch 2.11 prints (and TorchScript/native_functions.yaml spellings),
// its error positions, and argument normalization.
#include <gtest/gtest.h>

#include <cmath>

#include "ir/graph.h"
#include "ir/schema.h"

namespace kiln {
namespace ir {
namespace {

FunctionSchema parseOk(const std::string& text) {
  StatusOr<FunctionSchema> s = parseSchema(text);
  EXPECT_TRUE(s.isOk()) << text << "\n" << s.status().message();
  return s.isOk() ? s.value() : FunctionSchema();
}

const SchemaArgument& arg(const FunctionSchema& s, const std::string& name) {
  const int32_t i = s.findArgument(name);
  EXPECT_GE(i, 0) << name;
  static const SchemaArgument kMissing;
  return i >= 0 ? s.arguments[static_cast<size_t>(i)] : kMissing;
}

TEST(SchemaTest, Gelu) {
  FunctionSchema s = parseOk("aten::gelu(Tensor self, *, str approximate=\"none\") -> Tensor");
  EXPECT_EQ(s.name, "aten::gelu");
  EXPECT_EQ(s.overload, "default");
  EXPECT_EQ(s.key(), "aten::gelu.default");
  ASSERT_EQ(s.arguments.size(), 2u);
  EXPECT_EQ(s.arguments[0].name, "self");
  EXPECT_EQ(s.arguments[0].type.kind, TypeKind::kTENSOR);
  EXPECT_FALSE(s.arguments[0].kwargOnly);
  EXPECT_FALSE(s.arguments[0].defaultValue.has_value());
  EXPECT_EQ(s.arguments[1].type.kind, TypeKind::kSTRING);
  EXPECT_TRUE(s.arguments[1].kwargOnly);
  EXPECT_EQ(s.arguments[1].defaultValue, Constant::fromString("none"));
  ASSERT_EQ(s.returns.size(), 1u);
  EXPECT_EQ(s.returns[0].type.kind, TypeKind::kTENSOR);
  EXPECT_EQ(s.returns[0].name, "");
  EXPECT_FALSE(s.isInPlace());
  EXPECT_EQ(s.text, "aten::gelu(Tensor self, *, str approximate=\"none\") -> Tensor");
}

TEST(SchemaTest, Convolution) {
  FunctionSchema s = parseOk(
      "aten::convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, SymInt[] "
      "dilation, bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor");
  ASSERT_EQ(s.arguments.size(), 9u);
  EXPECT_TRUE(arg(s, "bias").type.optional);
  EXPECT_EQ(arg(s, "bias").type.kind, TypeKind::kTENSOR);
  EXPECT_FALSE(arg(s, "weight").type.optional);
  const SchemaType& stride = arg(s, "stride").type;
  EXPECT_EQ(stride.kind, TypeKind::kINT);
  EXPECT_TRUE(stride.isList);
  EXPECT_EQ(stride.fixedLength, -1);
  EXPECT_FALSE(stride.optional);
  EXPECT_EQ(stride.text, "SymInt[]");
  EXPECT_EQ(arg(s, "transposed").type.kind, TypeKind::kBOOL);
  EXPECT_EQ(arg(s, "groups").type.kind, TypeKind::kINT);
  EXPECT_FALSE(arg(s, "groups").type.isList);
  EXPECT_EQ(s.findArgument("groups"), 8);
  EXPECT_EQ(s.findArgument("nope"), -1);
}

TEST(SchemaTest, AddTensor) {
  FunctionSchema s = parseOk("aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor");
  EXPECT_EQ(s.name, "aten::add");
  EXPECT_EQ(s.overload, "Tensor");
  EXPECT_EQ(s.key(), "aten::add.Tensor");
  EXPECT_EQ(arg(s, "alpha").type.kind, TypeKind::kSCALAR);
  EXPECT_TRUE(arg(s, "alpha").kwargOnly);
  EXPECT_EQ(arg(s, "alpha").defaultValue, Constant::fromInt(1));
}

TEST(SchemaTest, BatchNormNoTrainingHasThreeReturns) {
  FunctionSchema s = parseOk(
      "aten::_native_batch_norm_legit_no_training(Tensor input, Tensor? weight, Tensor? bias, Tensor running_mean, "
      "Tensor running_var, float momentum, float eps) -> (Tensor, Tensor, Tensor)");
  EXPECT_EQ(s.name, "aten::_native_batch_norm_legit_no_training");
  EXPECT_EQ(s.arguments.size(), 7u);
  EXPECT_EQ(arg(s, "momentum").type.kind, TypeKind::kFLOAT);
  EXPECT_FALSE(arg(s, "eps").defaultValue.has_value());
  ASSERT_EQ(s.returns.size(), 3u);
  for (const SchemaArgument& r : s.returns) EXPECT_EQ(r.type.kind, TypeKind::kTENSOR);
}

TEST(SchemaTest, MaxPoolFixedLengthListsAndDefaults) {
  FunctionSchema s = parseOk(
      "aten::max_pool2d_with_indices(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, int[2] "
      "dilation=1, bool ceil_mode=False) -> (Tensor, Tensor)");
  const SchemaArgument& kernel = arg(s, "kernel_size");
  EXPECT_TRUE(kernel.type.isList);
  EXPECT_EQ(kernel.type.fixedLength, 2);
  EXPECT_EQ(kernel.type.text, "int[2]");
  EXPECT_FALSE(kernel.defaultValue.has_value());
  EXPECT_EQ(arg(s, "stride").defaultValue, Constant::fromList({}));
  EXPECT_EQ(arg(s, "padding").defaultValue, Constant::fromInt(0));  // kept as written; normalizeArgs expands
  EXPECT_EQ(arg(s, "dilation").defaultValue, Constant::fromInt(1));
  EXPECT_EQ(arg(s, "ceil_mode").defaultValue, Constant::fromBool(false));
  EXPECT_EQ(s.returns.size(), 2u);
}

TEST(SchemaTest, MeanDimOptionalFixedList) {
  FunctionSchema s =
      parseOk("aten::mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor");
  const SchemaType& dim = arg(s, "dim").type;
  EXPECT_TRUE(dim.isList);
  EXPECT_TRUE(dim.optional);
  EXPECT_FALSE(dim.elementOptional);
  EXPECT_EQ(dim.fixedLength, 1);
  EXPECT_EQ(dim.text, "int[1]?");
  EXPECT_FALSE(arg(s, "dim").defaultValue.has_value());  // required, even though optional
  EXPECT_EQ(arg(s, "dtype").type.kind, TypeKind::kSCALAR_TYPE);
  EXPECT_TRUE(arg(s, "dtype").type.optional);
  EXPECT_TRUE(arg(s, "dtype").kwargOnly);
  EXPECT_EQ(arg(s, "dtype").defaultValue, Constant::none());
}

TEST(SchemaTest, EfficientAttentionNamedReturnsAndFloatDefaults) {
  FunctionSchema s = parseOk(
      "aten::_scaled_dot_product_efficient_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_bias, bool "
      "compute_log_sumexp, float dropout_p=0., bool is_causal=False, *, float? scale=None) -> (Tensor output, Tensor "
      "log_sumexp, Tensor philox_seed, Tensor philox_offset)");
  EXPECT_EQ(arg(s, "dropout_p").defaultValue, Constant::fromDouble(0.0));
  EXPECT_EQ(arg(s, "scale").type.kind, TypeKind::kFLOAT);
  EXPECT_TRUE(arg(s, "scale").type.optional);
  EXPECT_TRUE(arg(s, "scale").kwargOnly);
  EXPECT_FALSE(arg(s, "is_causal").kwargOnly);
  ASSERT_EQ(s.returns.size(), 4u);
  EXPECT_EQ(s.returns[0].name, "output");
  EXPECT_EQ(s.returns[1].name, "log_sumexp");
  EXPECT_EQ(s.returns[3].name, "philox_offset");
}

TEST(SchemaTest, ViewAliasIsNotMutation) {
  FunctionSchema s = parseOk("aten::view(Tensor(a) self, SymInt[] size) -> Tensor(a)");
  EXPECT_EQ(arg(s, "self").aliasSet, "a");
  EXPECT_FALSE(arg(s, "self").mutates);
  EXPECT_EQ(arg(s, "self").type.text, "Tensor(a)");
  EXPECT_EQ(s.returns[0].aliasSet, "a");
  EXPECT_FALSE(s.isInPlace());
}

TEST(SchemaTest, InPlaceAddMutates) {
  FunctionSchema s = parseOk("aten::add_.Tensor(Tensor(a!) self, Tensor other, *, Scalar alpha=1) -> Tensor(a!)");
  EXPECT_EQ(s.name, "aten::add_");
  EXPECT_TRUE(arg(s, "self").mutates);
  EXPECT_EQ(arg(s, "self").aliasSet, "a");
  EXPECT_FALSE(arg(s, "other").mutates);
  EXPECT_TRUE(s.returns[0].mutates);
  EXPECT_TRUE(s.isInPlace());
}

TEST(SchemaTest, IndexOptionalTensorList) {
  FunctionSchema s = parseOk("aten::index.Tensor(Tensor self, Tensor?[] indices) -> Tensor");
  const SchemaType& t = arg(s, "indices").type;
  EXPECT_EQ(t.kind, TypeKind::kTENSOR);
  EXPECT_TRUE(t.isList);
  EXPECT_TRUE(t.elementOptional);
  EXPECT_FALSE(t.optional);
  EXPECT_EQ(t.text, "Tensor?[]");
}

TEST(SchemaTest, SliceOptionalSymInts) {
  FunctionSchema s = parseOk(
      "aten::slice.Tensor(Tensor(a) self, int dim=0, SymInt? start=None, SymInt? end=None, SymInt step=1) -> "
      "Tensor(a)");
  EXPECT_EQ(arg(s, "dim").defaultValue, Constant::fromInt(0));
  EXPECT_EQ(arg(s, "start").type.kind, TypeKind::kINT);
  EXPECT_TRUE(arg(s, "start").type.optional);
  EXPECT_EQ(arg(s, "end").defaultValue, Constant::none());
  EXPECT_EQ(arg(s, "step").defaultValue, Constant::fromInt(1));
}

TEST(SchemaTest, ToCopyKeywordOnlyTypes) {
  FunctionSchema s = parseOk(
      "aten::_to_copy(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? "
      "pin_memory=None, bool non_blocking=False, MemoryFormat? memory_format=None) -> Tensor");
  ASSERT_EQ(s.arguments.size(), 7u);
  for (size_t i = 1; i < s.arguments.size(); ++i) EXPECT_TRUE(s.arguments[i].kwargOnly) << s.arguments[i].name;
  EXPECT_EQ(arg(s, "layout").type.kind, TypeKind::kLAYOUT);
  EXPECT_EQ(arg(s, "device").type.kind, TypeKind::kDEVICE);
  EXPECT_EQ(arg(s, "memory_format").type.kind, TypeKind::kMEMORY_FORMAT);
  EXPECT_EQ(arg(s, "pin_memory").type.kind, TypeKind::kBOOL);
  EXPECT_TRUE(arg(s, "pin_memory").type.optional);
  EXPECT_EQ(arg(s, "non_blocking").defaultValue, Constant::fromBool(false));
}

TEST(SchemaTest, SplitReturnsAList) {
  FunctionSchema s = parseOk("aten::split.Tensor(Tensor(a -> *) self, SymInt split_size, int dim=0) -> Tensor(a)[]");
  EXPECT_EQ(arg(s, "self").aliasSet, "a");
  EXPECT_FALSE(arg(s, "self").mutates);
  EXPECT_EQ(arg(s, "self").type.text, "Tensor(a -> *)");
  ASSERT_EQ(s.returns.size(), 1u);
  EXPECT_TRUE(s.returns[0].type.isList);
  EXPECT_EQ(s.returns[0].type.kind, TypeKind::kTENSOR);
  EXPECT_EQ(s.returns[0].type.text, "Tensor(a)[]");
}

TEST(SchemaTest, FullScalarFill) {
  FunctionSchema s = parseOk(
      "aten::full(SymInt[] size, Scalar fill_value, *, ScalarType? dtype=None, Layout? layout=None, Device? "
      "device=None, bool? pin_memory=None) -> Tensor");
  EXPECT_EQ(arg(s, "size").type.kind, TypeKind::kINT);
  EXPECT_TRUE(arg(s, "size").type.isList);
  EXPECT_EQ(arg(s, "fill_value").type.kind, TypeKind::kSCALAR);
  EXPECT_FALSE(arg(s, "fill_value").kwargOnly);
  EXPECT_TRUE(arg(s, "dtype").kwargOnly);
}

TEST(SchemaTest, TorchScriptParenthesizedSingleReturn) {
  FunctionSchema s = parseOk("aten::hardtanh(Tensor self, Scalar min_val=-1, Scalar max_val=1) -> (Tensor)");
  ASSERT_EQ(s.returns.size(), 1u);
  EXPECT_EQ(s.returns[0].type.kind, TypeKind::kTENSOR);
  EXPECT_EQ(arg(s, "min_val").defaultValue, Constant::fromInt(-1));
  EXPECT_EQ(arg(s, "max_val").defaultValue, Constant::fromInt(1));
}

TEST(SchemaTest, SymSizeReturnsSymInt) {
  FunctionSchema s = parseOk("aten::sym_size.int(Tensor self, int dim) -> SymInt");
  EXPECT_EQ(s.key(), "aten::sym_size.int");
  ASSERT_EQ(s.returns.size(), 1u);
  EXPECT_EQ(s.returns[0].type.kind, TypeKind::kINT);
  EXPECT_FALSE(s.returns[0].type.isList);
}

TEST(SchemaTest, TopkNamedReturns) {
  FunctionSchema s = parseOk(
      "aten::topk(Tensor self, SymInt k, int dim=-1, bool largest=True, bool sorted=True) -> (Tensor values, Tensor "
      "indices)");
  EXPECT_EQ(arg(s, "dim").defaultValue, Constant::fromInt(-1));
  EXPECT_EQ(arg(s, "largest").defaultValue, Constant::fromBool(true));
  ASSERT_EQ(s.returns.size(), 2u);
  EXPECT_EQ(s.returns[0].name, "values");
  EXPECT_EQ(s.returns[1].name, "indices");
}

TEST(SchemaTest, FloatDefaultSpellings) {
  FunctionSchema s = parseOk(
      "test::f(float a=1e-05, float b=-inf, float c=inf, float d=0., float e=.5, float f=1, float g=-0.25, float "
      "h=1.0000000000000001e-05, float i=nan, float j=1.5E+3, Scalar k=2.5, float[] l=[1, 0.5]) -> Tensor");
  EXPECT_EQ(arg(s, "a").defaultValue, Constant::fromDouble(1e-05));
  EXPECT_EQ(arg(s, "b").defaultValue, Constant::fromDouble(-INFINITY));
  EXPECT_EQ(arg(s, "c").defaultValue, Constant::fromDouble(INFINITY));
  EXPECT_EQ(arg(s, "d").defaultValue, Constant::fromDouble(0.0));
  EXPECT_EQ(arg(s, "e").defaultValue, Constant::fromDouble(0.5));
  EXPECT_EQ(arg(s, "f").defaultValue, Constant::fromDouble(1.0));  // an int default of a float arg is a float
  EXPECT_EQ(arg(s, "g").defaultValue, Constant::fromDouble(-0.25));
  EXPECT_EQ(arg(s, "h").defaultValue, Constant::fromDouble(1.0000000000000001e-05));
  EXPECT_TRUE(std::isnan(arg(s, "i").defaultValue->toDouble().value()));
  EXPECT_EQ(arg(s, "j").defaultValue, Constant::fromDouble(1500.0));
  EXPECT_EQ(arg(s, "k").defaultValue, Constant::fromDouble(2.5));
  EXPECT_EQ(arg(s, "l").defaultValue, Constant::fromDoubles({1.0, 0.5}));
  EXPECT_EQ(s.name, "test::f");
}

TEST(SchemaTest, StringAndListDefaultSpellings) {
  FunctionSchema s = parseOk(
      "test::g(str a='tanh', str b=\"valid\", str c=\"q\\\"uote\", str? d=None, int[] e=[0,0], int[2] f=[1, 2], "
      "bool[3] g=[True, False, True], SymInt[] h=[], Tensor?[] i=[None], int j=-9223372036854775808) -> Tensor");
  EXPECT_EQ(arg(s, "a").defaultValue, Constant::fromString("tanh"));
  EXPECT_EQ(arg(s, "b").defaultValue, Constant::fromString("valid"));
  EXPECT_EQ(arg(s, "c").defaultValue, Constant::fromString("q\"uote"));
  EXPECT_EQ(arg(s, "d").defaultValue, Constant::none());
  EXPECT_EQ(arg(s, "e").defaultValue, Constant::fromInts({0, 0}));
  EXPECT_EQ(arg(s, "f").defaultValue, Constant::fromInts({1, 2}));
  EXPECT_EQ(arg(s, "g").defaultValue,
            Constant::fromList({Constant::fromBool(true), Constant::fromBool(false), Constant::fromBool(true)}));
  EXPECT_EQ(arg(s, "g").type.fixedLength, 3);
  EXPECT_EQ(arg(s, "h").defaultValue, Constant::fromList({}));
  EXPECT_EQ(arg(s, "i").defaultValue, Constant::fromList({Constant()}));
  EXPECT_EQ(arg(s, "j").defaultValue, Constant::fromInt(INT64_MIN));
}

TEST(SchemaTest, NamedDefaultsResolveByType) {
  FunctionSchema s = parseOk(
      "test::h(Tensor self, int reduction=Mean, int r2=Sum, ScalarType dtype=long, ScalarType d2=float, MemoryFormat "
      "memory_format=contiguous_format, MemoryFormat m2=2, Layout layout=strided, Layout l2=0) -> Tensor");
  EXPECT_EQ(arg(s, "reduction").defaultValue, Constant::fromInt(1));
  EXPECT_EQ(arg(s, "r2").defaultValue, Constant::fromInt(2));
  EXPECT_EQ(arg(s, "dtype").defaultValue, Constant::fromInt(4));
  EXPECT_EQ(arg(s, "d2").defaultValue, Constant::fromInt(6));
  EXPECT_EQ(arg(s, "memory_format").defaultValue, Constant::fromString("contiguous_format"));
  EXPECT_EQ(arg(s, "m2").defaultValue, Constant::fromString("channels_last"));
  EXPECT_EQ(arg(s, "layout").defaultValue, Constant::fromString("strided"));
  EXPECT_EQ(arg(s, "l2").defaultValue, Constant::fromString("strided"));
}

TEST(SchemaTest, MoreTorchSchemas) {
  // A sample of what torch prints, beyond the core set: each must parse.
  const char* const kSchemas[] = {
      "aten::native_layer_norm(Tensor input, SymInt[] normalized_shape, Tensor? weight, Tensor? bias, float eps) -> "
      "(Tensor, Tensor, Tensor)",
      "aten::cat(Tensor[] tensors, int dim=0) -> Tensor",
      "aten::contiguous(Tensor(a) self, *, MemoryFormat memory_format=contiguous_format) -> Tensor(a)",
      "aten::mse_loss(Tensor self, Tensor target, int reduction=1) -> Tensor",
      "aten::arange.start_step(Scalar start, Scalar end, Scalar step=1, *, ScalarType? dtype=None, Layout? "
      "layout=None, Device? device=None, bool? pin_memory=None) -> Tensor",
      "aten::max.dim_max(Tensor self, int dim, bool keepdim=False, *, Tensor(a!) max, Tensor(b!) max_values) -> "
      "(Tensor(a!) values, Tensor(b!) indices)",
      "aten::div.Tensor_mode(Tensor self, Tensor other, *, str? rounding_mode) -> Tensor",
      "aten::upsample_nearest2d.vec(Tensor input, SymInt[]? output_size, float[]? scale_factors) -> Tensor",
      "aten::bernoulli.p(Tensor self, float p=0.5, *, Generator? generator=None) -> Tensor",
      "aten::_foreach_add_.Scalar(Tensor(a!)[] self, Scalar scalar) -> ()",
      "aten::sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor",
      "aten::native_batch_norm_backward(Tensor grad_out, Tensor input, Tensor? weight, Tensor? running_mean, Tensor? "
      "running_var, Tensor? save_mean, Tensor? save_invstd, bool train, float eps, bool[3] output_mask) -> (Tensor, "
      "Tensor, Tensor)",
      "aten::empty.memory_format(SymInt[] size, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
      "bool? pin_memory=None, MemoryFormat? memory_format=None) -> Tensor",
      "aten::append.t(t[](a!) self, t(c -> *) el) -> t[](a!)",
      "aten::keys.str(Dict(str, t) self) -> str[](*)",
      "aten::format(str self, ...) -> str",
      "aten::unbind.int(Tensor(a -> *) self, int dim=0) -> Tensor(a)[]",
      "aten::_assert_async.msg(Tensor self, str assert_msg) -> ()",
      "aten::rename(Tensor(a) self, Dimname[]? names) -> Tensor(a)",
      "aten::item(Tensor self) -> Scalar",
      "aten::size(Tensor self) -> int[]",
      "aten::sym_numel(Tensor self) -> SymInt",
      "aten::lift_fresh(Tensor(a) self) -> Tensor(a)",
      "aten::_unsafe_view(Tensor self, SymInt[] size) -> Tensor",
      "aten::masked_fill.Scalar(Tensor self, Tensor mask, Scalar value) -> Tensor",
      "aten::scaled_dot_product_attention(Tensor query, Tensor key, Tensor value, Tensor? attn_mask=None, float "
      "dropout_p=0., bool is_causal=False, *, float? scale=None, bool enable_gqa=False) -> Tensor",
      "aten::linalg_vector_norm(Tensor self, Scalar ord=2, int[1]? dim=None, bool keepdim=False, *, ScalarType? "
      "dtype=None) -> Tensor",
      "aten::_local_scalar_dense(Tensor self) -> Scalar",
      "aten::set_.source_Storage(Tensor(a!) self, Storage source) -> Tensor(a!)",
      "aten::record_stream(Tensor(a!) self, Stream s) -> ()",
      "aten::quantize_per_tensor(Tensor self, float scale, int zero_point, ScalarType dtype) -> Tensor",
      "aten::_make_per_tensor_quantized_tensor(Tensor self, float scale, int zero_point) -> Tensor",
      "aten::real(Tensor(a) self) -> Tensor(a)",
      "aten::add.complex(complex a, complex b) -> complex",
      "aten::add.t(t[] a, t[] b) -> t[]",
      "aten::wait(Future(t) self) -> t",
      "aten::__and__.bool(bool a, bool b) -> bool",
      "aten::sym_constrain_range(Scalar size, *, int? min=None, int? max=None) -> ()",
      "aten::_assert_scalar(Scalar self, str assert_msg) -> ()",
      "quantized::conv2d.new(Tensor qx, __torch__.torch.classes.quantized.Conv2dPackedParamsBase packed_weight, "
      "float output_scale, int output_zero_point) -> Tensor",
      "prim::TupleUnpack(Any tup) -> ...",
      "aten::dict.Tensor((Tensor, t)[] inputs) -> Dict(Tensor, t)",
      "aten::_fused_dropout(Tensor self, float p, Generator? generator=None) -> (Tensor, Tensor)",
      "aten::copy_(Tensor(a!) self, Tensor src, bool non_blocking=False) -> Tensor(a!)",
      "aten::_to_copy(Tensor self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, bool? "
      "pin_memory=None, bool non_blocking=False, MemoryFormat? memory_format=None) -> Tensor",
      "aten::transpose.Dimname(Tensor(a) self, Dimname dim0, Dimname dim1) -> Tensor(a)",
      "aten::to.dtype_layout(Tensor(a) self, *, ScalarType? dtype=None, Layout? layout=None, Device? device=None, "
      "bool? pin_memory=None, bool non_blocking=False, bool copy=False, MemoryFormat? memory_format=None) -> "
      "Tensor(a)",
      "aten::_embedding_bag(Tensor weight, Tensor indices, Tensor offsets, bool scale_grad_by_freq=False, int mode=0, "
      "bool sparse=False, Tensor? per_sample_weights=None, bool include_last_offset=False, int padding_idx=-1) -> "
      "(Tensor, Tensor, Tensor, Tensor)",
      "aten::as_strided(Tensor(a) self, SymInt[] size, SymInt[] stride, SymInt? storage_offset=None) -> Tensor(a)",
      "aten::sym_stride.int(Tensor self, int dim) -> SymInt",
      "aten::var.correction(Tensor self, int[1]? dim=None, *, Scalar? correction=None, bool keepdim=False) -> Tensor",
      "  aten::relu( Tensor self )  ->  Tensor  ",
      "relu(Tensor self) -> Tensor",
  };
  for (const char* text : kSchemas) {
    StatusOr<FunctionSchema> s = parseSchema(text);
    EXPECT_TRUE(s.isOk()) << text << "\n" << s.status().message();
  }
}

TEST(SchemaTest, DetailsOfRareForms) {
  FunctionSchema foreach = parseOk("aten::_foreach_add_.Scalar(Tensor(a!)[] self, Scalar scalar) -> ()");
  EXPECT_TRUE(foreach.returns.empty());
  EXPECT_TRUE(foreach.arguments[0].mutates);
  EXPECT_TRUE(foreach.arguments[0].type.isList);
  EXPECT_TRUE(foreach.isInPlace());

  FunctionSchema append = parseOk("aten::append.t(t[](a!) self, t(c -> *) el) -> t[](a!)");
  EXPECT_EQ(append.arguments[0].type.kind, TypeKind::kANY);
  EXPECT_TRUE(append.arguments[0].mutates);
  EXPECT_TRUE(append.returns[0].mutates);

  FunctionSchema format = parseOk("aten::format(str self, ...) -> str");
  EXPECT_TRUE(format.isVararg);
  EXPECT_EQ(format.arguments.size(), 1u);

  FunctionSchema unpack = parseOk("prim::TupleUnpack(Any tup) -> ...");
  EXPECT_TRUE(unpack.isVarret);
  EXPECT_TRUE(unpack.returns.empty());

  FunctionSchema noNamespace = parseOk("relu(Tensor self) -> Tensor");
  EXPECT_EQ(noNamespace.name, "relu");
  EXPECT_EQ(noNamespace.key(), "relu.default");

  FunctionSchema rename = parseOk("aten::rename(Tensor(a) self, Dimname[]? names) -> Tensor(a)");
  EXPECT_EQ(rename.arguments[1].type.kind, TypeKind::kSTRING);
  EXPECT_TRUE(rename.arguments[1].type.optional);

  FunctionSchema gen = parseOk("aten::bernoulli.p(Tensor self, float p=0.5, *, Generator? generator=None) -> Tensor");
  EXPECT_EQ(gen.arguments[2].type.kind, TypeKind::kGENERATOR);

  FunctionSchema both = parseOk("test::o(Tensor?[]? a=None, Tensor(a! -> a|b) b) -> Tensor");
  EXPECT_TRUE(both.arguments[0].type.optional);
  EXPECT_TRUE(both.arguments[0].type.elementOptional);
  EXPECT_TRUE(both.arguments[1].mutates);
  EXPECT_EQ(both.arguments[1].aliasSet, "a");

  FunctionSchema alias = parseOk("test::p(Tensor(a|b) x) -> Tensor(a|b)");
  EXPECT_EQ(alias.arguments[0].aliasSet, "a|b");
}

// Expects a parse error whose message gives `column` and contains `what`.
void expectErrorAt(const std::string& text, size_t column, const std::string& what) {
  StatusOr<FunctionSchema> s = parseSchema(text);
  ASSERT_FALSE(s.isOk()) << text;
  const std::string m = s.status().message();
  EXPECT_EQ(s.status().code(), StatusCode::kINVALID_ARGUMENT);
  EXPECT_NE(m.find("column " + std::to_string(column) + ":"), std::string::npos) << text << "\n" << m;
  EXPECT_NE(m.find(what), std::string::npos) << text << "\n" << m;
  // The caret line points at the same column under the schema.
  EXPECT_NE(m.find("\n  " + text + "\n  " + std::string(column - 1, ' ') + "^"), std::string::npos) << m;
}

size_t columnOf(const std::string& text, const std::string& needle) { return text.find(needle) + 1; }

TEST(SchemaTest, ErrorsGiveTheColumn) {
  expectErrorAt("", 1, "expected the op name");
  std::string t = "aten::relu(Tensor self -> Tensor";
  expectErrorAt(t, columnOf(t, "->"), "expected ',' or ')' after an argument");
  t = "aten::relu(Tensr self) -> Tensor";
  expectErrorAt(t, columnOf(t, "Tensr"), "unknown type 'Tensr'");
  t = "aten::relu(Tensor self) Tensor";
  expectErrorAt(t, columnOf(t, ") Tensor") + 2, "expected '->'");
  t = "aten::relu(Tensor) -> Tensor";
  expectErrorAt(t, columnOf(t, ")"), "expected an argument name");
  t = "aten::gelu(Tensor self, *, str approximate=\"none) -> Tensor";
  expectErrorAt(t, columnOf(t, "\"none"), "unterminated string");
  t = "aten::x(bool a=3) -> Tensor";
  expectErrorAt(t, columnOf(t, "3"), "does not match");
  t = "aten::x(int a=None) -> Tensor";
  expectErrorAt(t, columnOf(t, "None"), "non-optional");
  t = "aten::relu(Tensor self) -> Tensor)";
  expectErrorAt(t, t.size(), "unexpected ')'");
  t = "aten::max_pool(int[2 x) -> Tensor";
  expectErrorAt(t, columnOf(t, " x") + 1, "expected ']'");
  t = "aten::relu(Tensor self) -> Tensor;";
  expectErrorAt(t, t.size(), "unexpected character ';'");
  t = "aten::x(Tensor a, Tensor a) -> Tensor";
  expectErrorAt(t, columnOf(t, "a)"), "duplicate argument name 'a'");
  t = "aten::view(Tensor(a self) -> Tensor";
  expectErrorAt(t, columnOf(t, "self"), "expected ')' to close the alias annotation");
  t = "aten::x(Tensor a, *, *, int b) -> Tensor";
  expectErrorAt(t, columnOf(t, "*, int"), "a second '*'");
  t = "aten::x(Tensor a=foo) -> Tensor";
  expectErrorAt(t, columnOf(t, "foo"), "unknown name foo");
  t = "aten::x(int a=-) -> Tensor";
  expectErrorAt(t, columnOf(t, ")"), "expected a number after '-'");
  t = "aten::x(int a=[1, 2) -> Tensor";
  expectErrorAt(t, columnOf(t, ")"), "',' or ']'");
  t = "aten::x(Tensor a) -> (Tensor b=1)";
  expectErrorAt(t, columnOf(t, "=1"), "returns cannot have default values");
  t = "aten::x.(Tensor a) -> Tensor";
  expectErrorAt(t, columnOf(t, "("), "overload name");
  t = "aten::relu(Tensor self) ->";
  expectErrorAt(t, t.size() + 1, "the schema ends here");
  t = "aten::x(str... a) -> Tensor";
  expectErrorAt(t, columnOf(t, "..."), "expected an argument name");
  t = "aten::x(int a=99999999999999999999) -> Tensor";
  expectErrorAt(t, columnOf(t, "9"), "int64 range");
}

// ---- normalizeArgs ----

class NormalizeArgsTest : public ::testing::Test {
 protected:
  Value* tensor(const std::string& name) {
    TensorMeta meta;
    meta.shape = {SymDim{2, "", 2, 2}};
    return graph.addPlaceholder(name, meta);
  }
  Graph graph;
};

TEST_F(NormalizeArgsTest, PositionalThenDefaults) {
  FunctionSchema s = parseOk("aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor");
  Value* x = tensor("x");
  Value* y = tensor("y");
  StatusOr<std::vector<Arg>> args = normalizeArgs(s, {Arg::of(x), Arg::of(y)}, {});
  ASSERT_TRUE(args.isOk()) << args.status().message();
  ASSERT_EQ(args->size(), 3u);
  EXPECT_EQ((*args)[0].value, x);
  EXPECT_EQ((*args)[1].value, y);
  EXPECT_EQ((*args)[2].constant, Constant::fromInt(1));
  EXPECT_EQ((*args)[2].repr(), "1");
}

TEST_F(NormalizeArgsTest, KeywordsByName) {
  FunctionSchema s = parseOk("aten::gelu(Tensor self, *, str approximate=\"none\") -> Tensor");
  Value* x = tensor("x");
  StatusOr<std::vector<Arg>> args =
      normalizeArgs(s, {}, {{"self", Arg::of(x)}, {"approximate", Arg::of(Constant::fromString("tanh"))}});
  ASSERT_TRUE(args.isOk()) << args.status().message();
  EXPECT_EQ((*args)[0].value, x);
  EXPECT_EQ((*args)[1].constant, Constant::fromString("tanh"));

  FunctionSchema mean =
      parseOk("aten::mean.dim(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor");
  args = normalizeArgs(mean, {Arg::of(x), Arg::of(Constant::fromInts({0}))},
                       {{"keepdim", Arg::of(Constant::fromBool(true))}});
  ASSERT_TRUE(args.isOk()) << args.status().message();
  ASSERT_EQ(args->size(), 4u);
  EXPECT_EQ((*args)[2].constant, Constant::fromBool(true));
  EXPECT_EQ((*args)[3].constant, Constant::none());
}

TEST_F(NormalizeArgsTest, KeywordOnlyCannotBePositional) {
  FunctionSchema s = parseOk("aten::gelu(Tensor self, *, str approximate=\"none\") -> Tensor");
  StatusOr<std::vector<Arg>> args = normalizeArgs(s, {Arg::of(tensor("x")), Arg::of(Constant::fromString("tanh"))}, {});
  ASSERT_FALSE(args.isOk());
  const std::string m = args.status().message();
  EXPECT_NE(m.find("aten::gelu.default"), std::string::npos) << m;
  EXPECT_NE(m.find("'approximate'"), std::string::npos) << m;
  EXPECT_NE(m.find("keyword-only"), std::string::npos) << m;
}

TEST_F(NormalizeArgsTest, TooManyPositional) {
  FunctionSchema s = parseOk("aten::relu(Tensor self) -> Tensor");
  StatusOr<std::vector<Arg>> args = normalizeArgs(s, {Arg::of(tensor("x")), Arg::of(Constant::fromInt(1))}, {});
  ASSERT_FALSE(args.isOk());
  EXPECT_NE(args.status().message().find("aten::relu.default takes 1 positional argument but 2 were given"),
            std::string::npos)
      << args.status().message();
}

TEST_F(NormalizeArgsTest, UnknownKeyword) {
  FunctionSchema s = parseOk("aten::relu(Tensor self) -> Tensor");
  StatusOr<std::vector<Arg>> args =
      normalizeArgs(s, {Arg::of(tensor("x"))}, {{"inplace", Arg::of(Constant::fromBool(true))}});
  ASSERT_FALSE(args.isOk());
  const std::string m = args.status().message();
  EXPECT_NE(m.find("aten::relu.default: unknown keyword argument 'inplace'"), std::string::npos) << m;
  EXPECT_NE(m.find("self"), std::string::npos) << m;
}

TEST_F(NormalizeArgsTest, MissingRequired) {
  FunctionSchema s = parseOk(
      "aten::convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, SymInt[] "
      "dilation, bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor");
  StatusOr<std::vector<Arg>> args = normalizeArgs(s, {Arg::of(tensor("x"))}, {});
  ASSERT_FALSE(args.isOk());
  const std::string m = args.status().message();
  EXPECT_NE(m.find("aten::convolution.default: missing required argument 'weight' (Tensor)"), std::string::npos) << m;
  // An optional type without a default is still required (torch: div.Tensor_mode's rounding_mode).
  FunctionSchema div = parseOk("aten::div.Tensor_mode(Tensor self, Tensor other, *, str? rounding_mode) -> Tensor");
  args = normalizeArgs(div, {Arg::of(tensor("a")), Arg::of(tensor("b"))}, {});
  ASSERT_FALSE(args.isOk());
  EXPECT_NE(args.status().message().find("'rounding_mode'"), std::string::npos);
  args = normalizeArgs(div, {Arg::of(tensor("c")), Arg::of(tensor("d"))}, {{"rounding_mode", Arg::of(Constant())}});
  EXPECT_TRUE(args.isOk()) << args.status().message();
}

TEST_F(NormalizeArgsTest, GivenTwice) {
  FunctionSchema s = parseOk(
      "aten::topk(Tensor self, SymInt k, int dim=-1, bool largest=True, bool sorted=True) -> (Tensor values, Tensor "
      "indices)");
  StatusOr<std::vector<Arg>> args =
      normalizeArgs(s, {Arg::of(tensor("x")), Arg::of(Constant::fromInt(3))}, {{"k", Arg::of(Constant::fromInt(2))}});
  ASSERT_FALSE(args.isOk());
  EXPECT_NE(args.status().message().find("'k' (SymInt) given both positionally and by keyword"), std::string::npos)
      << args.status().message();
}

TEST_F(NormalizeArgsTest, FixedLengthListsExpand) {
  FunctionSchema s = parseOk(
      "aten::max_pool2d_with_indices(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, int[2] "
      "dilation=1, bool ceil_mode=False) -> (Tensor, Tensor)");
  StatusOr<std::vector<Arg>> args = normalizeArgs(s, {Arg::of(tensor("x")), Arg::of(Constant::fromInt(3))},
                                                  {{"dilation", Arg::of(Constant::fromInts({2, 1}))}});
  ASSERT_TRUE(args.isOk()) << args.status().message();
  EXPECT_EQ((*args)[1].constant, Constant::fromInts({3, 3}));  // given one int
  EXPECT_EQ((*args)[2].constant, Constant::fromList({}));      // [] stays: "same as kernel_size"
  EXPECT_EQ((*args)[3].constant, Constant::fromInts({0, 0}));  // default padding=0
  EXPECT_EQ((*args)[4].constant, Constant::fromInts({2, 1}));  // a list stays as given
  EXPECT_EQ((*args)[5].constant, Constant::fromBool(false));

  FunctionSchema sum = parseOk(
      "aten::sum.dim_IntList(Tensor self, int[1]? dim, bool keepdim=False, *, ScalarType? dtype=None) -> Tensor");
  args = normalizeArgs(sum, {Arg::of(tensor("y")), Arg::of(Constant::fromInt(-1))}, {});
  ASSERT_TRUE(args.isOk());
  EXPECT_EQ((*args)[1].constant, Constant::fromInts({-1}));
  args = normalizeArgs(sum, {Arg::of(tensor("z")), Arg::of(Constant())}, {});
  ASSERT_TRUE(args.isOk());
  EXPECT_TRUE((*args)[1].constant.isNone());

  FunctionSchema mask = parseOk("test::m(bool[3] output_mask) -> Tensor");
  args = normalizeArgs(mask, {Arg::of(Constant::fromBool(true))}, {});
  ASSERT_TRUE(args.isOk());
  EXPECT_EQ((*args)[0].constant.items().size(), 3u);
}

TEST_F(NormalizeArgsTest, SymIntValueExpandsToAListOfValues) {
  Value* x = tensor("x");
  StatusOr<Node*> size = graph.addCall("aten::sym_size.int(Tensor self, int dim) -> SymInt", "",
                                       {Arg::of(x), Arg::of(Constant::fromInt(0))}, {}, {});
  ASSERT_TRUE(size.isOk()) << size.status().message();
  FunctionSchema s = parseOk("aten::avg_pool2d(Tensor self, int[2] kernel_size) -> Tensor");
  StatusOr<std::vector<Arg>> args = normalizeArgs(s, {Arg::of(x), Arg::of((*size)->output())}, {});
  ASSERT_TRUE(args.isOk()) << args.status().message();
  ASSERT_TRUE((*args)[1].isList());
  ASSERT_EQ((*args)[1].list.size(), 2u);
  EXPECT_EQ((*args)[1].list[1].value, (*size)->output());
  EXPECT_EQ((*args)[1].repr(), "[%sym_size, %sym_size]");
  // A tensor is never expanded.
  args = normalizeArgs(s, {Arg::of(x), Arg::of(x)}, {});
  ASSERT_TRUE(args.isOk());
  EXPECT_TRUE((*args)[1].isValue());
}

TEST_F(NormalizeArgsTest, NoneOnlyWhereOptional) {
  FunctionSchema conv = parseOk(
      "aten::convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, SymInt[] "
      "dilation, bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor");
  std::vector<Arg> positional = {Arg::of(tensor("x")),
                                 Arg::of(tensor("w")),
                                 Arg::of(Constant()),
                                 Arg::of(Constant::fromInts({1, 1})),
                                 Arg::of(Constant::fromInts({0, 0})),
                                 Arg::of(Constant::fromInts({1, 1})),
                                 Arg::of(Constant::fromBool(false)),
                                 Arg::of(Constant::fromInts({0, 0})),
                                 Arg::of(Constant::fromInt(1))};
  EXPECT_TRUE(normalizeArgs(conv, positional, {}).isOk());
  positional[1] = Arg::of(Constant());
  StatusOr<std::vector<Arg>> args = normalizeArgs(conv, positional, {});
  ASSERT_FALSE(args.isOk());
  EXPECT_NE(args.status().message().find("'weight' (Tensor) is None"), std::string::npos) << args.status().message();

  FunctionSchema index = parseOk("aten::index.Tensor(Tensor self, Tensor?[] indices) -> Tensor");
  Value* i = tensor("i");
  EXPECT_TRUE(normalizeArgs(index, {Arg::of(tensor("a")), Arg::listOf({Arg::of(Constant()), Arg::of(i)})}, {}).isOk());
  FunctionSchema cat = parseOk("aten::cat(Tensor[] tensors, int dim=0) -> Tensor");
  args = normalizeArgs(cat, {Arg::listOf({Arg::of(Constant()), Arg::of(i)})}, {});
  ASSERT_FALSE(args.isOk());
  EXPECT_NE(args.status().message().find("None item"), std::string::npos) << args.status().message();
}

TEST_F(NormalizeArgsTest, VarargKeepsExtraPositionals) {
  FunctionSchema s = parseOk("aten::format(str self, ...) -> str");
  StatusOr<std::vector<Arg>> args = normalizeArgs(
      s, {Arg::of(Constant::fromString("{} {}")), Arg::of(Constant::fromInt(1)), Arg::of(Constant::fromInt(2))}, {});
  ASSERT_TRUE(args.isOk()) << args.status().message();
  ASSERT_EQ(args->size(), 3u);
  EXPECT_EQ((*args)[2].constant, Constant::fromInt(2));
}

}  // namespace
}  // namespace ir
}  // namespace kiln
