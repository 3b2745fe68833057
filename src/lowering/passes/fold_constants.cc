// fold_constants: evaluates, at compile time, calls whose tensor inputs are all weights (get_attr) and whose op is
// in a small set that can be computed here exactly as torch computes it: layout ops (t, transpose, permute,
// view/reshape, unsqueeze) on any dtype, and float32/int64 mul/add/sub. The result becomes a new weight.
// Anything else (other dtypes, type promotion, alpha != 1 on floats, where torch's fused multiply-add would
// round differently) is left for the engine, whose builder folds constants too.
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lowering/pass_manager.h"
#include "lowering/pass_util.h"

namespace kiln {
namespace lowering {
namespace {

using Shape = std::vector<int64_t>;

Shape shapeOf(const HostTensor& t) { return Shape(t.dims.d, t.dims.d + t.dims.nbDims); }

std::optional<Dims> toDims(const Shape& shape) {
  if (shape.size() > static_cast<size_t>(Dims::kMAX_DIMS)) return std::nullopt;
  Dims dims;
  dims.nbDims = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) dims.d[i] = shape[i];
  return dims;
}

std::optional<int64_t> wrapDim(int64_t dim, int64_t rank) {
  if (dim < -rank || dim >= rank) return std::nullopt;
  return dim < 0 ? dim + rank : dim;
}

std::optional<std::vector<int64_t>> intsArg(const ir::Arg& arg) {
  if (!arg.isConstant()) return std::nullopt;
  StatusOr<std::vector<int64_t>> ints = arg.constant.toInts();
  if (!ints.isOk()) return std::nullopt;
  return ints.value();
}

std::optional<int64_t> intArg(const ir::Arg& arg) {
  if (!arg.isConstant()) return std::nullopt;
  StatusOr<int64_t> value = arg.constant.toInt();
  if (!value.isOk()) return std::nullopt;
  return value.value();
}

// out[i0..in] = in[i_perm[0]..]: element bytes are moved, so every dtype works.
std::optional<HostTensor> permute(const HostTensor& in, const std::vector<int64_t>& order) {
  const Shape shape = shapeOf(in);
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (static_cast<int64_t>(order.size()) != rank) return std::nullopt;
  std::vector<int64_t> perm(order.size());
  std::vector<bool> seen(order.size(), false);
  for (size_t i = 0; i < order.size(); ++i) {
    std::optional<int64_t> d = wrapDim(order[i], rank);
    if (!d || seen[*d]) return std::nullopt;
    seen[*d] = true;
    perm[i] = *d;
  }
  Shape outShape(shape.size());
  std::vector<int64_t> inStrides(shape.size(), 1);
  for (int64_t d = rank - 2; d >= 0; --d) inStrides[d] = inStrides[d + 1] * shape[d + 1];
  for (size_t i = 0; i < perm.size(); ++i) outShape[i] = shape[perm[i]];
  std::optional<Dims> dims = toDims(outShape);
  if (!dims) return std::nullopt;
  HostTensor out(in.type, *dims);
  const size_t elem = static_cast<size_t>(dataTypeSize(in.type));
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t linear = 0; linear < out.count(); ++linear) {
    int64_t offset = 0;
    for (size_t i = 0; i < perm.size(); ++i) offset += index[i] * inStrides[perm[i]];
    std::memcpy(out.bytes.data() + linear * elem, in.bytes.data() + offset * elem, elem);
    for (int64_t d = rank - 1; d >= 0; --d) {  // odometer over the output index
      if (++index[d] < outShape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

// view/reshape: the same bytes under a new shape (one -1 is inferred, as torch does).
std::optional<HostTensor> reshape(const HostTensor& in, Shape shape) {
  int64_t known = 1;
  int inferred = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && inferred < 0) {
      inferred = static_cast<int>(i);
    } else if (shape[i] < 0) {
      return std::nullopt;
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || in.count() % known != 0) return std::nullopt;
    shape[inferred] = in.count() / known;
  } else if (known != in.count()) {
    return std::nullopt;
  }
  std::optional<Dims> dims = toDims(shape);
  if (!dims) return std::nullopt;
  HostTensor out = in;
  out.dims = *dims;
  return out;
}

std::optional<HostTensor> unsqueeze(const HostTensor& in, int64_t dim) {
  Shape shape = shapeOf(in);
  std::optional<int64_t> d = wrapDim(dim, static_cast<int64_t>(shape.size()) + 1);
  if (!d) return std::nullopt;
  shape.insert(shape.begin() + *d, 1);
  return reshape(in, shape);
}

enum class Arith { kADD, kSUB, kMUL };

template <typename T>
T load(const HostTensor& t, int64_t i) {
  T v;
  std::memcpy(&v, t.bytes.data() + i * static_cast<int64_t>(sizeof(T)), sizeof(T));
  return v;
}

// int64 arithmetic wraps like torch's (two's complement), without signed-overflow UB.
int64_t wrapping(Arith op, int64_t a, int64_t b) {
  const uint64_t ua = static_cast<uint64_t>(a);
  const uint64_t ub = static_cast<uint64_t>(b);
  switch (op) {
    case Arith::kADD:
      return static_cast<int64_t>(ua + ub);
    case Arith::kSUB:
      return static_cast<int64_t>(ua - ub);
    case Arith::kMUL:
      return static_cast<int64_t>(ua * ub);
  }
  return 0;
}

float floating(Arith op, float a, float b) {
  switch (op) {
    case Arith::kADD:
      return a + b;
    case Arith::kSUB:
      return a - b;
    case Arith::kMUL:
      return a * b;
  }
  return 0.0f;
}

// Elementwise a (op) b with numpy broadcasting; both float32 or both int64.
std::optional<HostTensor> binary(Arith op, const HostTensor& a, const HostTensor& b) {
  if (a.type != b.type || (a.type != DataType::kFLOAT && a.type != DataType::kINT64)) return std::nullopt;
  const Shape sa = shapeOf(a);
  const Shape sb = shapeOf(b);
  const size_t rank = std::max(sa.size(), sb.size());
  Shape out(rank);
  std::vector<int64_t> strideA(rank, 0);
  std::vector<int64_t> strideB(rank, 0);
  int64_t runA = 1;
  int64_t runB = 1;
  for (size_t k = 0; k < rank; ++k) {  // k counts dims from the right
    const size_t d = rank - 1 - k;
    const int64_t ea = k < sa.size() ? sa[sa.size() - 1 - k] : 1;
    const int64_t eb = k < sb.size() ? sb[sb.size() - 1 - k] : 1;
    if (ea != eb && ea != 1 && eb != 1) return std::nullopt;
    out[d] = ea == 1 ? eb : ea;
    strideA[d] = ea == 1 ? 0 : runA;
    strideB[d] = eb == 1 ? 0 : runB;
    runA *= ea;
    runB *= eb;
  }
  std::optional<Dims> dims = toDims(out);
  if (!dims) return std::nullopt;
  HostTensor result(a.type, *dims);
  std::vector<int64_t> index(rank, 0);
  for (int64_t linear = 0; linear < result.count(); ++linear) {
    int64_t ia = 0;
    int64_t ib = 0;
    for (size_t d = 0; d < rank; ++d) {
      ia += index[d] * strideA[d];
      ib += index[d] * strideB[d];
    }
    if (a.type == DataType::kFLOAT) {
      const float v = floating(op, load<float>(a, ia), load<float>(b, ib));
      std::memcpy(result.bytes.data() + linear * 4, &v, 4);
    } else {
      const int64_t v = wrapping(op, load<int64_t>(a, ia), load<int64_t>(b, ib));
      std::memcpy(result.bytes.data() + linear * 8, &v, 8);
    }
    for (size_t k = rank; k-- > 0;) {
      if (++index[k] < out[k]) break;
      index[k] = 0;
    }
  }
  return result;
}

// A 0-dim tensor holding a Scalar argument the way torch promotes it against `like`: an int scalar keeps an
// int64 tensor int64, a float scalar makes the computation float32 (torch's default dtype).
std::optional<HostTensor> scalarTensor(const ir::Arg& arg, const HostTensor& like) {
  if (!arg.isConstant() || !arg.constant.isNumber()) return std::nullopt;
  const bool isFloatScalar = arg.constant.isDouble();
  if (like.type == DataType::kFLOAT || isFloatScalar) {
    StatusOr<double> v = arg.constant.toDouble();
    if (!v.isOk()) return std::nullopt;
    HostTensor t(DataType::kFLOAT, Dims{});
    const float f = static_cast<float>(v.value());
    std::memcpy(t.bytes.data(), &f, 4);
    return t;
  }
  StatusOr<int64_t> v = arg.constant.toInt();
  if (!v.isOk()) return std::nullopt;
  HostTensor t(DataType::kINT64, Dims{});
  std::memcpy(t.bytes.data(), &v.value(), 8);
  return t;
}

// An int64 tensor promoted to float32 (for an int tensor times a float scalar).
std::optional<HostTensor> promoteLike(const HostTensor& t, DataType type) {
  if (t.type == type) return t;
  if (t.type != DataType::kINT64 || type != DataType::kFLOAT) return std::nullopt;
  HostTensor out(DataType::kFLOAT, t.dims);
  for (int64_t i = 0; i < t.count(); ++i) {
    const float f = static_cast<float>(load<int64_t>(t, i));
    std::memcpy(out.bytes.data() + i * 4, &f, 4);
  }
  return out;
}

// alpha of add/sub.Tensor: exact only as 1 on floats (torch may fuse a + alpha * b into one rounding).
bool alphaIsOne(const ir::Arg& alpha) {
  if (!alpha.isConstant() || !alpha.constant.isNumber()) return false;
  StatusOr<double> v = alpha.constant.toDouble();
  return v.isOk() && v.value() == 1.0;
}

std::optional<HostTensor> evaluate(const ir::Node& node, const std::vector<const HostTensor*>& in) {
  const std::string& target = node.target();
  const std::vector<ir::Arg>& args = node.args();
  const HostTensor& self = *in[0];
  if (target == "aten::t.default") {
    if (self.dims.nbDims < 2) return self;
    if (self.dims.nbDims != 2) return std::nullopt;
    return permute(self, {1, 0});
  }
  if (target == "aten::transpose.int" && args.size() == 3) {
    std::optional<int64_t> d0 = intArg(args[1]);
    std::optional<int64_t> d1 = intArg(args[2]);
    const int64_t rank = self.dims.nbDims;
    if (!d0 || !d1 || !wrapDim(*d0, rank) || !wrapDim(*d1, rank)) return std::nullopt;
    std::vector<int64_t> order(static_cast<size_t>(rank));
    for (int64_t i = 0; i < rank; ++i) order[i] = i;
    std::swap(order[*wrapDim(*d0, rank)], order[*wrapDim(*d1, rank)]);
    return permute(self, order);
  }
  if (target == "aten::permute.default" && args.size() == 2) {
    std::optional<std::vector<int64_t>> order = intsArg(args[1]);
    return order ? permute(self, *order) : std::nullopt;
  }
  if ((target == "aten::view.default" || target == "aten::reshape.default" || target == "aten::_unsafe_view.default") &&
      args.size() == 2) {
    std::optional<std::vector<int64_t>> shape = intsArg(args[1]);
    return shape ? reshape(self, *shape) : std::nullopt;
  }
  if (target == "aten::unsqueeze.default" && args.size() == 2) {
    std::optional<int64_t> dim = intArg(args[1]);
    return dim ? unsqueeze(self, *dim) : std::nullopt;
  }
  if (target == "aten::mul.Scalar" && args.size() == 2) {
    std::optional<HostTensor> scalar = scalarTensor(args[1], self);
    if (!scalar) return std::nullopt;
    std::optional<HostTensor> promoted = promoteLike(self, scalar->type);
    return promoted ? binary(Arith::kMUL, *promoted, *scalar) : std::nullopt;
  }
  if (target == "aten::mul.Tensor" && in.size() == 2) return binary(Arith::kMUL, self, *in[1]);
  if ((target == "aten::add.Tensor" || target == "aten::sub.Tensor") && in.size() == 2 && args.size() == 3) {
    const Arith op = target == "aten::add.Tensor" ? Arith::kADD : Arith::kSUB;
    if (alphaIsOne(args[2])) return binary(op, self, *in[1]);
    std::optional<int64_t> alpha = intArg(args[2]);
    if (self.type != DataType::kINT64 || !alpha || !args[2].constant.isInt()) return std::nullopt;
    HostTensor alphaTensor(DataType::kINT64, Dims{});
    std::memcpy(alphaTensor.bytes.data(), &*alpha, 8);
    std::optional<HostTensor> scaled = binary(Arith::kMUL, *in[1], alphaTensor);
    return scaled ? binary(op, self, *scaled) : std::nullopt;
  }
  return std::nullopt;
}

// The weights a node reads, in argument order, or nothing when it reads any non-weight value.
std::optional<std::vector<const HostTensor*>> weightInputs(const ir::Node& node) {
  std::vector<const HostTensor*> weights;
  bool allWeights = true;
  for (const ir::Arg& arg : node.args()) {
    forEachValue(arg, [&](const ir::Value* v) {
      const ir::Node* producer = v->node();
      if (producer == nullptr || producer->op() != ir::NodeOp::kGET_ATTR || producer->tensorValue() == nullptr) {
        allWeights = false;
      } else {
        weights.push_back(producer->tensorValue().get());
      }
    });
  }
  if (!allWeights || weights.empty()) return std::nullopt;
  return weights;
}

// The result must agree with what the graph already says about the output; otherwise leave it to the engine.
bool matchesMeta(const HostTensor& result, const ir::Value& output) {
  if (!output.meta()) return true;
  const ir::TensorMeta& meta = *output.meta();
  if (meta.dtype != result.type || static_cast<int32_t>(meta.shape.size()) != result.dims.nbDims) return false;
  for (size_t i = 0; i < meta.shape.size(); ++i) {
    if (meta.shape[i].isStatic() && meta.shape[i].extent != result.dims.d[i]) return false;
  }
  return true;
}

}  // namespace

StatusOr<bool> foldConstants(ir::Graph& graph) {
  std::vector<ir::Node*> calls;
  for (const std::unique_ptr<ir::Node>& node : graph.nodes()) {
    if (node->op() == ir::NodeOp::kCALL_FUNCTION) calls.push_back(node.get());
  }
  bool changed = false;
  // In graph order: a folded result is a weight by the time its readers are visited, so chains fold.
  for (ir::Node* node : calls) {
    if (node->outputs().size() != 1) continue;
    std::optional<std::vector<const HostTensor*>> weights = weightInputs(*node);
    if (!weights) continue;
    std::optional<HostTensor> result = evaluate(*node, *weights);
    if (!result || !matchesMeta(*result, *node->output(0))) continue;
    const std::string name = node->name();
    ir::Value* folded = graph.addGetAttr(graph.uniqueName(name + "_folded"),
                                         std::make_shared<const HostTensor>(std::move(*result)), node);
    folded->node()->meta() = node->meta();
    graph.replaceAllUsesWith(node->output(0), folded);
    Status erased = graph.erase(node);
    if (!erased.isOk()) return erased.withContext("fold_constants: erasing %" + name);
    changed = true;
  }
  return changed;
}

}  // namespace lowering
}  // namespace kiln
