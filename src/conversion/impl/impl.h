// The impl library: layer builders shared by the ATen converters (torch_tensorrt.dynamo.conversion.impl).
// Each builder adds the layers for one operation with PyTorch's semantics (type promotion, negative dims,
// dynamic extents through shape tensors) and returns the result tensor. Builders take the conversion context
// and a Site (the node being converted plus a suffix that tells the layers of one converter apart); a node
// converts to a Site implicitly, so `impl::relu(ctx, node, x)` names its layer "[Activation]-[aten::relu...]".
// Errors name the node and what to do.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conversion/conversion_ctx.h"
#include "ir/graph.h"
#include "kiln/network.h"
#include "kiln/status.h"

namespace kiln {
namespace conversion {
namespace impl {

// ---- naming and errors (common.cc) --------------------------------------------------------------------

class Site {
 public:
  Site(const ir::Node& node) : node_(&node) {}  // NOLINT(google-explicit-constructor): converters pass nodes
  Site(const ir::Node& node, std::string suffix) : node_(&node), suffix_(std::move(suffix)) {}
  // The site of one step of a builder ("q" -> suffix "q", then "q.cast").
  Site sub(const std::string& part) const;
  std::string layerName(const char* kind) const;
  const ir::Node& node() const { return *node_; }
  // "%gelu_1 (aten::gelu.default)"
  std::string describe() const;
  Status error(const std::string& message) const;  // INVALID_ARGUMENT naming the node

 private:
  const ir::Node* node_;
  std::string suffix_;
};

// Names `layer` after the site (the kind from its layer type) and returns it, or the network's error when the
// add* call returned null.
StatusOr<ILayer*> checkLayer(ConversionCtx& ctx, const Site& site, ILayer* layer);
template <typename L>
StatusOr<L*> added(ConversionCtx& ctx, const Site& site, L* layer) {
  StatusOr<ILayer*> checked = checkLayer(ctx, site, layer);
  if (!checked.isOk()) return checked.status();
  return layer;
}
// The first output of a layer just added (the common case).
StatusOr<ITensor*> outputOf(ConversionCtx& ctx, const Site& site, ILayer* layer);

// Maps a possibly negative dim into [0, rank) (rank 0 accepts -1 and 0 like PyTorch's wrap_dim).
StatusOr<int32_t> normalizeDim(const Site& site, int64_t dim, int32_t rank, const char* what = "dim");
// A constant tensor holding `values` as `type` (float, int or bool types).
StatusOr<ITensor*> constantOf(ConversionCtx& ctx, const Site& site, DataType type, const Dims& dims,
                              const std::vector<double>& values);
// A 1-D int64 constant.
StatusOr<ITensor*> int64Vector(ConversionCtx& ctx, const Site& site, const std::vector<int64_t>& values);
// The same tensor through an identity layer (an op output must not alias one of the op's inputs).
StatusOr<ITensor*> identity(ConversionCtx& ctx, const Site& site, ITensor* x);
// The data input of a layer whose parameters are shape tensors (slice sizes, reshape dims). The engine takes a
// host-evaluable layer whose inputs are all constants or shape tensors for a shape computation and runs it on
// the host, which fails for weight-sized data; a constant therefore goes in through an identity layer.
StatusOr<ITensor*> dataInput(ConversionCtx& ctx, const Site& site, ITensor* x);
// Layers sized by shape tensors report every extent as unknown (-1) at build time. When `known` (same rank,
// -1 only where the extent really is dynamic) says more, a reshape whose placeholder zeros copy the dynamic
// extents gives later layers the static extents back; broadcasting decisions (expand) depend on them.
StatusOr<ITensor*> withKnownDims(ConversionCtx& ctx, const Site& site, ITensor* t, const Dims& known);

// The engine shape-checks a convolution or pooling layer as soon as it is added, with zero padding and unit
// strides, before a converter can set its padding: a 3x3 window over a 2x2 map padded by 1 would be refused.
// Such layers are added on this stand-in (zeros of [1, ..., channels, spatial...], x's rank and type, just
// large enough) and moved to x with setInput(0, x) once configured; the stand-in is dead and the builder
// drops it. Returns x itself when x's static extents already pass the check.
StatusOr<ITensor*> spatialProxy(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t channels,
                                const Dims& spatial);

// ---- helpers for converters (common.cc) ---------------------------------------------------------------

// Associates output `index` of the node; a tensor that is one of the node's inputs first goes through an
// identity layer (views and no-op casts would otherwise alias the input).
Status setOutput(ConversionCtx& ctx, const ir::Node& node, size_t index, ITensor* tensor,
                 const std::vector<ConverterArg>& args);
// Tensor argument `index`, with the static extents the IR knows for it restored (withKnownDims) when the engine
// lost them: shape converters decide broadcasting and squeezing from extents of 1.
StatusOr<ITensor*> tensorArg(ConversionCtx& ctx, const ir::Node& node, const std::vector<ConverterArg>& args,
                             size_t index);
// Outputs nobody reads (batch norm's saved statistics ...): an empty constant when the IR says the output has
// no elements, otherwise None (getitem never reads them: validators make sure of that).
void setUnusedOutputs(ConversionCtx& ctx, const ir::Node& node, size_t from);
// For validators: the argument's constant (None for values and lists), its tensor meta, output usage.
const ir::Constant* constantArg(const ir::Node& node, size_t index);
const ir::TensorMeta* tensorMetaArg(const ir::Node& node, size_t index);
bool outputUnused(const ir::Node& node, size_t index);
// Outputs from `from` on are unused or statically empty (PyTorch returns [0] tensors for them).
bool outputsUnusedOrEmpty(const ir::Node& node, size_t from);
// A ScalarType? argument: nullopt for None; float64 narrows to float32 (Kiln has no float64).
StatusOr<std::optional<DataType>> scalarTypeOf(const ConverterArg& arg);
// For validators: the ScalarType? argument is None or has a Kiln type.
bool scalarTypeArgSupported(const ir::Node& node, size_t index);

// ---- type promotion and casts (cast.cc) ---------------------------------------------------------------

// torch.promote_types for Kiln's types (uint8 with int8 gives int16 in torch, int32 here).
DataType promoteTypes(DataType a, DataType b);
enum class TypeCategory { kBOOL = 0, kINTEGER = 1, kFLOAT = 2 };
TypeCategory categoryOf(DataType type);

// A binary op's operand: a tensor, or a Python number (ints, floats and bools keep their kind).
struct Operand {
  ITensor* tensor = nullptr;
  ir::Constant scalar;
  static Operand of(ITensor* t) {
    Operand o;
    o.tensor = t;
    return o;
  }
  static Operand of(ir::Constant c) {
    Operand o;
    o.scalar = std::move(c);
    return o;
  }
  bool isTensor() const { return tensor != nullptr; }
};
// An operand from a converter argument (a tensor or a number); errors name the argument.
StatusOr<Operand> operandOf(const ConverterArg& arg);
// PyTorch's result type (torch.result_type): tensors with dims > 0 first, then 0-D tensors, then Python
// numbers, which only raise the category (a float with an int tensor gives float32, an int with a bool
// tensor gives int64).
StatusOr<DataType> resultType(const std::vector<Operand>& operands);
// A tensor cast to `type` (the tensor itself when it already has that type).
StatusOr<ITensor*> castTo(ConversionCtx& ctx, const Site& site, ITensor* x, DataType type);
// An operand as a tensor of `type`; numbers become constants of rank `rank` (all dims 1).
StatusOr<ITensor*> materialize(ConversionCtx& ctx, const Site& site, const Operand& operand, DataType type,
                               int32_t rank);
// int/bool tensors cast to float32 (what PyTorch's float-only ops such as sigmoid do with them).
StatusOr<ITensor*> toFloatIfIntegral(ConversionCtx& ctx, const Site& site, ITensor* x);

// ---- elementwise (elementwise.cc) ---------------------------------------------------------------------

// A binary op with PyTorch's promotion: arithmetic in the result type (true division of integers in float32,
// bool results of +,* computed in int32), comparisons in the promoted type giving bool, and/or/xor on bools.
StatusOr<ITensor*> elementwise(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b,
                               ElementWiseOperation op);
// Both inputs already share one type (internal arithmetic of other builders).
StatusOr<ITensor*> elementwiseSameType(ConversionCtx& ctx, const Site& site, ITensor* a, ITensor* b,
                                       ElementWiseOperation op);
// a + alpha * b (add.Tensor/sub.Tensor with op kSUM/kSUB); alpha = 1 adds no multiply.
StatusOr<ITensor*> addScaled(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b,
                             const ir::Constant& alpha, ElementWiseOperation op);
enum class RoundingMode { kNONE, kTRUNC, kFLOOR };
StatusOr<RoundingMode> roundingModeFrom(const ir::Constant& mode);
StatusOr<ITensor*> divide(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b, RoundingMode mode);
enum class Comparison { kEQ, kNE, kGT, kLT, kGE, kLE };
StatusOr<ITensor*> compare(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b, Comparison cmp);
StatusOr<ITensor*> power(ConversionCtx& ctx, const Site& site, const Operand& base, const Operand& exponent);
// Python's modulo (torch.remainder): a - floor(a / b) * b, the sign of the divisor.
StatusOr<ITensor*> remainder(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b);
// logical_and/or/xor: nonzero is true; the result is bool.
StatusOr<ITensor*> logical(ConversionCtx& ctx, const Site& site, ITensor* a, ITensor* b, ElementWiseOperation op);
// C's fmod (torch.fmod): the sign of the dividend. Floats: a - trunc(a / b) * b in float32, which can differ from
// the exactly rounded fmod when a / b rounds onto an integer (|a / b| near 2^24 or a hair below an integer).
StatusOr<ITensor*> fmod(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b);
// max/min that ignore a NaN operand (torch.fmax/fmin).
StatusOr<ITensor*> fmaxFmin(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b, bool max);
// clamp with tensor bounds (either may be null), promoted over all three; NaN propagates.
StatusOr<ITensor*> clampTensor(ConversionCtx& ctx, const Site& site, ITensor* x, ITensor* min, ITensor* max);
// torch.lerp: start + w * (end - start) for |w| < 0.5, else end - (end - start) * (1 - w); float tensors.
StatusOr<ITensor*> lerp(ConversionCtx& ctx, const Site& site, ITensor* start, ITensor* end, const Operand& weight);
// self + value * t1 * t2 (addcmul) or self + value * t1 / t2 (addcdiv, float only).
StatusOr<ITensor*> addcmulDiv(ConversionCtx& ctx, const Site& site, ITensor* self, ITensor* t1, ITensor* t2,
                              const ir::Constant& value, bool divide);
// atan2(a, b) with C's signed-zero and infinity cases; float result.
StatusOr<ITensor*> atan2(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b);
// a * log(b), 0 where a == 0 unless b is NaN; float result.
StatusOr<ITensor*> xlogy(ConversionCtx& ctx, const Site& site, const Operand& a, const Operand& b);

// ---- activations (activation.cc) ---------------------------------------------------------------------

StatusOr<ITensor*> activation(ConversionCtx& ctx, const Site& site, ITensor* x, ActivationType type, float alpha = 0.f,
                              float beta = 0.f);
StatusOr<ITensor*> relu(ConversionCtx& ctx, const Site& site, ITensor* x);
// clamp(min, max) with promotion (a float bound with an int tensor gives float32); None leaves a side open.
StatusOr<ITensor*> clamp(ConversionCtx& ctx, const Site& site, ITensor* x, const ir::Constant& min,
                         const ir::Constant& max);
StatusOr<ITensor*> gelu(ConversionCtx& ctx, const Site& site, ITensor* x, const std::string& approximate);
StatusOr<ITensor*> silu(ConversionCtx& ctx, const Site& site, ITensor* x);
StatusOr<ITensor*> hardsigmoid(ConversionCtx& ctx, const Site& site, ITensor* x);
StatusOr<ITensor*> hardswish(ConversionCtx& ctx, const Site& site, ITensor* x);
// x > 0 ? scale * x : scale * alpha * expm1(input_scale * x) (elu, celu); input_scale must be positive.
StatusOr<ITensor*> elu(ConversionCtx& ctx, const Site& site, ITensor* x, double alpha, double scale, double inputScale);
// beta * x > threshold ? x : log1p(exp(beta * x)) / beta
StatusOr<ITensor*> softplus(ConversionCtx& ctx, const Site& site, ITensor* x, double beta, double threshold);
StatusOr<ITensor*> mish(ConversionCtx& ctx, const Site& site, ITensor* x);
StatusOr<ITensor*> logSigmoid(ConversionCtx& ctx, const Site& site, ITensor* x);
// hardshrink (soft = false): |x| > lambda ? x : 0; softshrink moves the outside values lambda toward zero.
StatusOr<ITensor*> shrink(ConversionCtx& ctx, const Site& site, ITensor* x, double lambda, bool soft);
// x <= threshold ? value : x, both numbers converted to x's type first.
StatusOr<ITensor*> threshold(ConversionCtx& ctx, const Site& site, ITensor* x, double threshold, double value);
// x > 0 ? x : weight * x (weight already broadcastable to x).
StatusOr<ITensor*> prelu(ConversionCtx& ctx, const Site& site, ITensor* x, ITensor* weight);
// a * sigmoid(b) for the two halves of x along dim (a static, even extent).
StatusOr<ITensor*> glu(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim);
// log(z / (1 - z)), z = x clamped to [eps, 1 - eps] when eps is given.
StatusOr<ITensor*> logit(ConversionCtx& ctx, const Site& site, ITensor* x, std::optional<double> eps);

// ---- unary (unary.cc) ---------------------------------------------------------------------------------

// Float-only operations promote int/bool inputs to float32 like PyTorch; abs/neg/sign keep integers;
// floor/ceil/round of integers are the integers themselves.
StatusOr<ITensor*> unary(ConversionCtx& ctx, const Site& site, ITensor* x, UnaryOperation op);
StatusOr<ITensor*> rsqrt(ConversionCtx& ctx, const Site& site, ITensor* x);
StatusOr<ITensor*> logicalNot(ConversionCtx& ctx, const Site& site, ITensor* x);
// The type PyTorch's float-only math returns: x's float type, float32 for int/bool.
DataType floatResultType(DataType type);
// Math composed of several layers runs `body` on x cast to float32 and rounds once to floatResultType(x), as
// PyTorch computes half types in float (intermediate roundings to half would cost digits).
using FloatMath = std::function<StatusOr<ITensor*>(ITensor* xFloat32)>;
StatusOr<ITensor*> inFloat32(ConversionCtx& ctx, const Site& site, ITensor* x, const FloatMath& body);
// Integers: the tensor itself. Floats keep -0.0, infinities and NaN.
StatusOr<ITensor*> trunc(ConversionCtx& ctx, const Site& site, ITensor* x);
StatusOr<ITensor*> frac(ConversionCtx& ctx, const Site& site, ITensor* x);
// torch.round(x, decimals=d): half to even at 10^-d.
StatusOr<ITensor*> roundDecimals(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t decimals);
// expm1/log1p keep their relative accuracy near zero.
StatusOr<ITensor*> expm1(ConversionCtx& ctx, const Site& site, ITensor* x);
StatusOr<ITensor*> log1p(ConversionCtx& ctx, const Site& site, ITensor* x);
StatusOr<ITensor*> exp2(ConversionCtx& ctx, const Site& site, ITensor* x);
StatusOr<ITensor*> logBase(ConversionCtx& ctx, const Site& site, ITensor* x, double base);
// x * factor in floatResultType(x) (deg2rad, rad2deg).
StatusOr<ITensor*> scaleToFloat(ConversionCtx& ctx, const Site& site, ITensor* x, double factor);
StatusOr<ITensor*> isFinite(ConversionCtx& ctx, const Site& site, ITensor* x);
StatusOr<ITensor*> isInfinity(ConversionCtx& ctx, const Site& site, ITensor* x, bool positive);
// torch.nan_to_num: absent replacements are 0 and the type's largest finite values; integers pass through.
StatusOr<ITensor*> nanToNum(ConversionCtx& ctx, const Site& site, ITensor* x, std::optional<double> nan,
                            std::optional<double> posinf, std::optional<double> neginf);

// ---- shapes (shape.cc) --------------------------------------------------------------------------------

// One extent of a size list: a number, or an engine tensor holding one int (a SymInt computed in the engine:
// 0-D or [1], int32 or int64).
struct ShapeItem {
  int64_t value = 0;
  ITensor* tensor = nullptr;
  static ShapeItem number(int64_t v) {
    ShapeItem s;
    s.value = v;
    return s;
  }
  static ShapeItem fromTensor(ITensor* t) {
    ShapeItem s;
    s.tensor = t;
    return s;
  }
  bool isStatic() const { return tensor == nullptr; }
};
// A SymInt[] argument as shape items.
StatusOr<std::vector<ShapeItem>> shapeItemsOf(const ConverterArg& arg);
// A SymInt argument (int constant or one-int tensor).
StatusOr<ShapeItem> shapeItemOf(const ConverterArg& arg);
// The extent of dim `dim` of x: static when known at build time, else a [1] int64 shape tensor.
StatusOr<ShapeItem> dimOf(ConversionCtx& ctx, const Site& site, ITensor* x, int32_t dim);
// A 1-D int64 shape tensor from items (host-evaluated by the engine).
StatusOr<ITensor*> shapeTensor(ConversionCtx& ctx, const Site& site, const std::vector<ShapeItem>& items);
// A one-int tensor as [1] int64.
StatusOr<ITensor*> asShapeScalar(ConversionCtx& ctx, const Site& site, ITensor* t);

// Every dim of x as a shape item (static extents as numbers).
StatusOr<std::vector<ShapeItem>> dimsOf(ConversionCtx& ctx, const Site& site, ITensor* x);
// a op b (kSUM, kSUB, kPROD, kMIN, kMAX, kFLOOR_DIV) on items: a number when both are, else a shape tensor.
StatusOr<ShapeItem> shapeArith(ConversionCtx& ctx, const Site& site, const ShapeItem& a, const ShapeItem& b,
                               ElementWiseOperation op);
// A slice whose start and size items may be computed in the engine, with static strides (negative ones walk
// backwards) and an out-of-bounds sampling mode; `fill` (0-D, kFILL only) may be null for zeros.
StatusOr<ITensor*> sampledSlice(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<ShapeItem>& start,
                                const std::vector<ShapeItem>& size, const std::vector<int64_t>& stride,
                                SampleMode mode, ITensor* fill = nullptr);

// torch.reshape/view: at most one -1 (inferred), 0 is a real zero extent.
StatusOr<ITensor*> reshape(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<ShapeItem>& shape);
StatusOr<ITensor*> permute(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims);
StatusOr<ITensor*> transpose(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim0, int64_t dim1);
// torch.expand: -1 keeps a dim; new leading dims; only extent-1 dims broadcast (through stride-0 slices).
StatusOr<ITensor*> expand(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<ShapeItem>& size);
StatusOr<ITensor*> unsqueeze(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim);
// Squeezes the listed dims whose extent is 1 (a dynamic extent is never 1 for torch.export: it stays).
// An empty list squeezes every extent-1 dim.
StatusOr<ITensor*> squeeze(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims);
StatusOr<ITensor*> flatten(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t startDim, int64_t endDim);

// ---- slicing and joining (slice.cc) -------------------------------------------------------------------

// x[start:end:step] along dim, PyTorch's clamping; start/end absent mean the ends. Dynamic extents and
// SymInt bounds build the window in shape tensors.
StatusOr<ITensor*> slice(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim,
                         const std::optional<ShapeItem>& start, const std::optional<ShapeItem>& end, int64_t step);
// x.select(dim, index): the dim disappears; negative indices count from the end.
StatusOr<ITensor*> select(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim, const ShapeItem& index);
// torch.cat with type promotion; legacy empty 1-D [0] tensors are skipped like PyTorch does.
StatusOr<ITensor*> concat(ConversionCtx& ctx, const Site& site, const std::vector<ITensor*>& tensors, int64_t dim);
// torch.split(x, size, dim): pieces of `size` (the last may be shorter). The dim must be static.
StatusOr<std::vector<ITensor*>> split(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t size, int64_t dim);

// ---- where, embedding, fill (where.cc, embedding.cc, fill.cc) ------------------------------------------

StatusOr<ITensor*> where(ConversionCtx& ctx, const Site& site, ITensor* condition, const Operand& a, const Operand& b);
// weight[indices] (gather along dim 0); indices must be int32/int64.
StatusOr<ITensor*> embedding(ConversionCtx& ctx, const Site& site, ITensor* weight, ITensor* indices);
// A tensor of `like`'s shape (dynamic extents from its shape) filled with `value` as `type`.
StatusOr<ITensor*> fullLike(ConversionCtx& ctx, const Site& site, ITensor* like, double value, DataType type);
// A tensor of a size list (static or SymInt items) filled with `value` as `type`.
StatusOr<ITensor*> full(ConversionCtx& ctx, const Site& site, const std::vector<ShapeItem>& size, double value,
                        DataType type);
// torch.arange(start, end, step): ceil((end - start) / step) values start + i * step, computed when built.
StatusOr<ITensor*> arange(ConversionCtx& ctx, const Site& site, double start, double end, double step, DataType type);
// The dtype torch.full gives a fill value without dtype: bool, int64 or float32.
DataType defaultTypeOf(const ir::Constant& value);

// ---- linear algebra (matmul.cc) -----------------------------------------------------------------------

// torch.matmul semantics (vectors, broadcast batch dims); both operands share one type.
StatusOr<ITensor*> matmul(ConversionCtx& ctx, const Site& site, ITensor* a, ITensor* b,
                          MatrixOperation opA = MatrixOperation::kNONE, MatrixOperation opB = MatrixOperation::kNONE);
// beta * bias + alpha * (a @ b)
StatusOr<ITensor*> addmm(ConversionCtx& ctx, const Site& site, ITensor* bias, ITensor* a, ITensor* b, double beta,
                         double alpha);
// beta * bias + alpha * product (beta = 0 ignores the bias, NaNs included, like PyTorch).
StatusOr<ITensor*> scaledSum(ConversionCtx& ctx, const Site& site, ITensor* bias, ITensor* product, double beta,
                             double alpha);
// torch.einsum for equations without repeated subscripts in one operand; static operand shapes.
StatusOr<ITensor*> einsum(ConversionCtx& ctx, const Site& site, const std::string& equation,
                          const std::vector<ITensor*>& operands);
// Whether einsum() takes this equation for operands of these static shapes (for validators): subscripts
// summed away must have one extent in every operand; `why` says what is not taken.
bool einsumSupported(const std::string& equation, const std::vector<Dims>& shapes, std::string* why = nullptr);
// x @ weight^T + bias (bias may be null)
StatusOr<ITensor*> linear(ConversionCtx& ctx, const Site& site, ITensor* x, ITensor* weight, ITensor* bias);

// ---- convolution and pooling (convolution.cc, pooling.cc) ---------------------------------------------

struct ConvolutionParams {
  std::vector<int64_t> stride, padding, dilation, outputPadding;
  bool transposed = false;
  int64_t groups = 1;
};
// weight/bias: tensors; their data (weightData/biasData, may be null) lets the layer hold them as weights.
StatusOr<ITensor*> convolution(ConversionCtx& ctx, const Site& site, ITensor* x, ITensor* weight,
                               const std::shared_ptr<const HostTensor>& weightData, ITensor* bias,
                               const std::shared_ptr<const HostTensor>& biasData, const ConvolutionParams& params);

struct PoolingParams {
  std::vector<int64_t> kernel, stride, padding;
  bool ceilMode = false;
  bool countIncludePad = true;  // average pooling
};
StatusOr<ITensor*> pooling(ConversionCtx& ctx, const Site& site, ITensor* x, PoolingType type,
                           const PoolingParams& params);
// adaptive_avg_pool: a mean over the spatial dims for output 1x1 (any input size), else an average pool with
// window = stride = input / output, which needs static spatial extents divisible by the output.
StatusOr<ITensor*> adaptiveAvgPool(ConversionCtx& ctx, const Site& site, ITensor* x,
                                   const std::vector<int64_t>& outputSize);
// Whether adaptiveAvgPool can take this input shape (for validators; -1 extents are dynamic).
bool adaptivePoolSupported(const Dims& input, const std::vector<int64_t>& outputSize);
// Adaptive max or average pooling with PyTorch's windows [floor(i*in/out), ceil((i+1)*in/out)): a global
// reduction for a 1x1 output (any extents), one pooling layer for even windows, else per-dim window reductions
// (static spatial extents, at most kMAX_ADAPTIVE_WINDOWS output extents per dim).
constexpr int64_t kMAX_ADAPTIVE_WINDOWS = 64;
StatusOr<ITensor*> adaptivePool(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& outputSize,
                                PoolingType type);
bool adaptivePoolSeparableSupported(const Dims& input, const std::vector<int64_t>& outputSize);

// ---- normalization and softmax (normalization.cc) -----------------------------------------------------

// Inference batch norm over dim 1. Parameters are tensors (null weight/bias: 1/0); when their data is known
// the scale and shift are folded on the host into two constants.
struct BatchNormParams {
  ConverterArg weight, bias, mean, var;
  double eps = 1e-5;
};
StatusOr<ITensor*> batchNorm(ConversionCtx& ctx, const Site& site, ITensor* x, const BatchNormParams& params);
// Layer norm over the last `normalizedRank` dims; weight/bias may be null.
StatusOr<ITensor*> layerNorm(ConversionCtx& ctx, const Site& site, ITensor* x, int32_t normalizedRank, ITensor* weight,
                             ITensor* bias, double eps);
// Normalization with statistics of the input over `axes` (a bit mask), per group of channels when groups > 1
// (group norm), then per-channel weight/bias (None: 1/0): batch norm with batch statistics, instance norm.
// Needs a static channel count.
StatusOr<ITensor*> channelNorm(ConversionCtx& ctx, const Site& site, ITensor* x, uint32_t axes, int64_t groups,
                               const ConverterArg& weight, const ConverterArg& bias, double eps);
// x * rsqrt(mean(x^2 over the last normalizedRank dims) + eps) * weight; eps absent: the type's epsilon.
StatusOr<ITensor*> rmsNorm(ConversionCtx& ctx, const Site& site, ITensor* x, int32_t normalizedRank, ITensor* weight,
                           std::optional<double> eps);
StatusOr<ITensor*> softmax(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim);
StatusOr<ITensor*> logSoftmax(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim);

// ---- reductions (reduce.cc) ---------------------------------------------------------------------------

// dims empty (or None) reduces every dim. kSUM of bool/int gives int64 like torch.sum; kAVG needs floats.
StatusOr<ITensor*> reduce(ConversionCtx& ctx, const Site& site, ITensor* x, ReduceOperation op,
                          const std::vector<int64_t>& dims, bool keepDim);
// torch.any: bool result, nonzero is true.
StatusOr<ITensor*> any(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims,
                       bool keepDim);
// torch.all: bool result, every element nonzero.
StatusOr<ITensor*> all(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims,
                       bool keepDim);
// The k largest (or smallest) along dim, sorted, with int64 indices; ties keep the lower index first.
struct TopK {
  ITensor* values = nullptr;
  ITensor* indices = nullptr;
};
StatusOr<TopK> topk(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t k, int64_t dim, bool largest);
// max/min along dim with its index (max.dim, argmax); no dim: over the flattened tensor.
StatusOr<TopK> extremumAlong(ConversionCtx& ctx, const Site& site, ITensor* x, std::optional<int64_t> dim,
                             bool keepDim, bool largest);
// Variance with `correction` (divides by max(N - correction, 0)) and mean over dims (empty: all), float inputs.
struct Moments {
  ITensor* var = nullptr;
  ITensor* mean = nullptr;
};
StatusOr<Moments> moments(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims,
                          double correction, bool keepDim);
// torch.linalg.vector_norm: ord 0 (count of nonzeros), +-inf, or any p; float inputs.
StatusOr<ITensor*> vectorNorm(ConversionCtx& ctx, const Site& site, ITensor* x, double ord,
                              const std::vector<int64_t>& dims, bool keepDim);
// cumsum/cumprod along dim (bool and integers accumulate in int64).
StatusOr<ITensor*> cumulative(ConversionCtx& ctx, const Site& site, ITensor* x, int64_t dim, CumulativeOperation op);
// log(sum(exp(x))) over dims, shifted by the maximum for stability (integers promote to float32).
StatusOr<ITensor*> logSumExp(ConversionCtx& ctx, const Site& site, ITensor* x, const std::vector<int64_t>& dims,
                             bool keepDim);

// ---- attention (attention.cc) -------------------------------------------------------------------------

// softmax(scale * Q K^T + mask) V; mask bool (true attends) or additive float; scale absent: 1/sqrt(E).
StatusOr<ITensor*> scaledDotProductAttention(ConversionCtx& ctx, const Site& site, ITensor* q, ITensor* k, ITensor* v,
                                             ITensor* mask, bool causal, std::optional<double> scale);

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
