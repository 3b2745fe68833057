// Matrix products: matmul/mm/bmm, addmm and linear, einsum.
#include <algorithm>
#include <map>
#include <set>

#include "conversion/impl/impl.h"

namespace kiln {
namespace conversion {
namespace impl {

StatusOr<ITensor*> matmul(ConversionCtx& ctx, const Site& site, ITensor* a, ITensor* b, MatrixOperation opA,
                          MatrixOperation opB) {
  if (a->getDimensions().nbDims == 0 || b->getDimensions().nbDims == 0) {
    return site.error("both operands of a matrix product must have at least one dim");
  }
  KILN_ASSIGN_OR_RETURN(DataType type, resultType({Operand::of(a), Operand::of(b)}));
  if (type == DataType::kBOOL || type == DataType::kINT8 || type == DataType::kUINT8) {
    return site.error(std::string("matrix products of ") + dataTypeName(type) +
                      " tensors are not supported; cast "
                      "to float32 or int32 first");
  }
  KILN_ASSIGN_OR_RETURN(ITensor * ta, castTo(ctx, site.sub("self"), a, type));
  KILN_ASSIGN_OR_RETURN(ITensor * tb, castTo(ctx, site.sub("other"), b, type));
  return outputOf(ctx, site, ctx.net->addMatrixMultiply(*ta, opA, *tb, opB));
}

StatusOr<ITensor*> addmm(ConversionCtx& ctx, const Site& site, ITensor* bias, ITensor* a, ITensor* b, double beta,
                         double alpha) {
  KILN_ASSIGN_OR_RETURN(ITensor * product, matmul(ctx, site.sub("mm"), a, b));
  return scaledSum(ctx, site, bias, product, beta, alpha);
}

StatusOr<ITensor*> scaledSum(ConversionCtx& ctx, const Site& site, ITensor* bias, ITensor* product, double beta,
                             double alpha) {
  if (alpha != 1.0) {
    KILN_ASSIGN_OR_RETURN(
        product, elementwise(ctx, site.sub("alpha"), Operand::of(product), Operand::of(ir::Constant::fromDouble(alpha)),
                             ElementWiseOperation::kPROD));
  }
  // beta = 0 ignores the bias entirely (PyTorch does not propagate its NaNs or infs).
  if (beta == 0.0) return product;
  ITensor* scaledBias = bias;
  if (beta != 1.0) {
    KILN_ASSIGN_OR_RETURN(
        scaledBias, elementwise(ctx, site.sub("beta"), Operand::of(bias), Operand::of(ir::Constant::fromDouble(beta)),
                                ElementWiseOperation::kPROD));
  }
  return elementwise(ctx, site, Operand::of(scaledBias), Operand::of(product), ElementWiseOperation::kSUM);
}

StatusOr<ITensor*> linear(ConversionCtx& ctx, const Site& site, ITensor* x, ITensor* weight, ITensor* bias) {
  const int32_t wRank = weight->getDimensions().nbDims;
  if (wRank != 1 && wRank != 2)
    return site.error("the linear weight must be 1-D or 2-D, got rank " + std::to_string(wRank));
  // weight [out, in]: x @ weight^T; a 1-D weight is a vector (the output loses the feature dim).
  const MatrixOperation op = wRank == 2 ? MatrixOperation::kTRANSPOSE : MatrixOperation::kVECTOR;
  KILN_ASSIGN_OR_RETURN(ITensor * product,
                        matmul(ctx, bias ? site.sub("mm") : site, x, weight, MatrixOperation::kNONE, op));
  if (bias == nullptr) return product;
  return elementwise(ctx, site, Operand::of(product), Operand::of(bias), ElementWiseOperation::kSUM);
}

namespace {

// An einsum equation with labels as ints: letters are 0..51 (upper case first, as torch orders the implicit
// output), the dims an ellipsis covers are kELLIPSIS + i, right-aligned across operands (they broadcast).
constexpr int kELLIPSIS = 100;

struct Equation {
  std::vector<std::vector<int>> inputs;
  std::vector<int> output;
};

int letterLabel(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -1;
}

bool parseEquation(const std::string& text, const std::vector<int32_t>& ranks, Equation* eq, std::string* why) {
  std::string compact;
  for (char c : text) {
    if (c != ' ') compact += c;
  }
  const size_t arrow = compact.find("->");
  const std::string lhs = compact.substr(0, arrow);
  std::vector<std::string> terms(1);
  for (char c : lhs) {
    if (c == ',') {
      terms.emplace_back();
    } else {
      terms.back() += c;
    }
  }
  if (terms.size() != ranks.size()) {
    *why = "the equation has " + std::to_string(terms.size()) + " operands, got " + std::to_string(ranks.size());
    return false;
  }
  // Pass 1: letters per operand and how many dims each ellipsis covers.
  std::vector<std::vector<int>> letters(terms.size());
  std::vector<int> ellipsisAt(terms.size(), -1);
  int maxEllipsis = 0;
  for (size_t t = 0; t < terms.size(); ++t) {
    const std::string& term = terms[t];
    for (size_t i = 0; i < term.size(); ++i) {
      if (term.compare(i, 3, "...") == 0) {
        if (ellipsisAt[t] >= 0) {
          *why = "operand " + std::to_string(t) + " has two ellipses";
          return false;
        }
        ellipsisAt[t] = static_cast<int>(letters[t].size());
        i += 2;
        continue;
      }
      const int label = letterLabel(term[i]);
      if (label < 0) {
        *why = std::string("unexpected character '") + term[i] + "' in operand " + std::to_string(t);
        return false;
      }
      if (std::find(letters[t].begin(), letters[t].end(), label) != letters[t].end()) {
        *why = std::string("subscript '") + term[i] + "' repeats in operand " + std::to_string(t) +
               " (diagonals are not supported)";
        return false;
      }
      letters[t].push_back(label);
    }
    const int covered = ranks[t] - static_cast<int>(letters[t].size());
    if (covered < 0 || (ellipsisAt[t] < 0 && covered != 0)) {
      *why = "operand " + std::to_string(t) + " has rank " + std::to_string(ranks[t]) + " but " +
             std::to_string(letters[t].size()) + " subscripts";
      return false;
    }
    if (ellipsisAt[t] >= 0) maxEllipsis = std::max(maxEllipsis, covered);
  }
  eq->inputs.assign(terms.size(), {});
  std::map<int, int> counts;
  for (size_t t = 0; t < terms.size(); ++t) {
    const int covered = ranks[t] - static_cast<int>(letters[t].size());
    for (size_t i = 0; i <= letters[t].size(); ++i) {
      if (static_cast<int>(i) == ellipsisAt[t]) {
        for (int j = 0; j < covered; ++j) eq->inputs[t].push_back(kELLIPSIS + maxEllipsis - covered + j);
      }
      if (i < letters[t].size()) {
        eq->inputs[t].push_back(letters[t][i]);
        ++counts[letters[t][i]];
      }
    }
  }
  eq->output.clear();
  if (arrow == std::string::npos) {
    for (int j = 0; j < maxEllipsis; ++j) eq->output.push_back(kELLIPSIS + j);
    for (const auto& [label, count] : counts) {
      if (count == 1) eq->output.push_back(label);
    }
    return true;
  }
  const std::string rhs = compact.substr(arrow + 2);
  bool sawEllipsis = false;
  for (size_t i = 0; i < rhs.size(); ++i) {
    if (rhs.compare(i, 3, "...") == 0 && !sawEllipsis) {
      sawEllipsis = true;
      for (int j = 0; j < maxEllipsis; ++j) eq->output.push_back(kELLIPSIS + j);
      i += 2;
      continue;
    }
    const int label = letterLabel(rhs[i]);
    if (label < 0 || counts.count(label) == 0 ||
        std::find(eq->output.begin(), eq->output.end(), label) != eq->output.end()) {
      *why = "output subscript '" + std::string(1, rhs[i]) + "' is invalid, repeated or not among the inputs";
      return false;
    }
    eq->output.push_back(label);
  }
  if (!sawEllipsis && maxEllipsis > 0) {
    *why = "the output must keep the dims an ellipsis covers";
    return false;
  }
  return true;
}

struct Term {
  ITensor* tensor = nullptr;
  std::vector<int> labels;
};

int64_t extentOf(const Term& t, int label) {
  const auto it = std::find(t.labels.begin(), t.labels.end(), label);
  return t.tensor->getDimensions().d[it - t.labels.begin()];
}

bool contains(const std::vector<int>& labels, int label) {
  return std::find(labels.begin(), labels.end(), label) != labels.end();
}

// The term with its dims ordered as `order` (which holds exactly its labels).
StatusOr<ITensor*> ordered(ConversionCtx& ctx, const Site& site, const Term& t, const std::vector<int>& order) {
  std::vector<int64_t> perm;
  bool identityOrder = true;
  for (size_t i = 0; i < order.size(); ++i) {
    const auto at = std::find(t.labels.begin(), t.labels.end(), order[i]) - t.labels.begin();
    perm.push_back(at);
    identityOrder = identityOrder && at == static_cast<int64_t>(i);
  }
  if (identityOrder) return t.tensor;
  return permute(ctx, site, t.tensor, perm);
}

int64_t product(const Term& t, const std::vector<int>& labels) {
  int64_t n = 1;
  for (int label : labels) n *= extentOf(t, label);
  return n;
}

// Sums over the labels of `t` that nothing after it needs.
StatusOr<Term> sumUnneeded(ConversionCtx& ctx, const Site& site, Term t, const std::set<int>& needed) {
  std::vector<int64_t> dims;
  std::vector<int> kept;
  for (size_t i = 0; i < t.labels.size(); ++i) {
    if (needed.count(t.labels[i]) == 0) {
      dims.push_back(static_cast<int64_t>(i));
    } else {
      kept.push_back(t.labels[i]);
    }
  }
  if (dims.empty()) return t;
  KILN_ASSIGN_OR_RETURN(t.tensor, reduce(ctx, site, t.tensor, ReduceOperation::kSUM, dims, false));
  t.labels = kept;
  return t;
}

// One pairwise contraction as a batched matrix product: [batch, left, k] @ [batch, k, right].
StatusOr<Term> contract(ConversionCtx& ctx, const Site& site, const Term& a, const Term& b,
                        const std::set<int>& needed) {
  std::vector<int> batch, left, summed, right;
  for (int label : a.labels) {
    if (!contains(b.labels, label)) {
      left.push_back(label);
    } else if (needed.count(label) != 0) {
      batch.push_back(label);
    } else {
      summed.push_back(label);
    }
  }
  for (int label : b.labels) {
    if (!contains(a.labels, label)) right.push_back(label);
  }
  std::vector<int> orderA = batch, orderB = batch;
  orderA.insert(orderA.end(), left.begin(), left.end());
  orderA.insert(orderA.end(), summed.begin(), summed.end());
  orderB.insert(orderB.end(), summed.begin(), summed.end());
  orderB.insert(orderB.end(), right.begin(), right.end());
  KILN_ASSIGN_OR_RETURN(ITensor * pa, ordered(ctx, site.sub("a.permute"), a, orderA));
  KILN_ASSIGN_OR_RETURN(ITensor * pb, ordered(ctx, site.sub("b.permute"), b, orderB));
  std::vector<ShapeItem> shapeA, shapeB, shapeOut;
  for (int label : batch) {
    shapeA.push_back(ShapeItem::number(extentOf(a, label)));
    shapeB.push_back(ShapeItem::number(extentOf(b, label)));
    shapeOut.push_back(ShapeItem::number(std::max(extentOf(a, label), extentOf(b, label))));
  }
  shapeA.push_back(ShapeItem::number(product(a, left)));
  shapeA.push_back(ShapeItem::number(product(a, summed)));
  shapeB.push_back(ShapeItem::number(product(b, summed)));
  shapeB.push_back(ShapeItem::number(product(b, right)));
  for (int label : left) shapeOut.push_back(ShapeItem::number(extentOf(a, label)));
  for (int label : right) shapeOut.push_back(ShapeItem::number(extentOf(b, label)));
  KILN_ASSIGN_OR_RETURN(ITensor * ma, reshape(ctx, site.sub("a.matrix"), pa, shapeA));
  KILN_ASSIGN_OR_RETURN(ITensor * mb, reshape(ctx, site.sub("b.matrix"), pb, shapeB));
  KILN_ASSIGN_OR_RETURN(ITensor * mm, matmul(ctx, site.sub("mm"), ma, mb));
  Term out;
  KILN_ASSIGN_OR_RETURN(out.tensor, reshape(ctx, site.sub("unflatten"), mm, shapeOut));
  out.labels = batch;
  out.labels.insert(out.labels.end(), left.begin(), left.end());
  out.labels.insert(out.labels.end(), right.begin(), right.end());
  return out;
}

}  // namespace

bool einsumSupported(const std::string& equation, const std::vector<Dims>& shapes, std::string* why) {
  std::string reason = "einsum needs at least one operand";
  std::vector<int32_t> ranks;
  for (const Dims& d : shapes) ranks.push_back(d.nbDims);
  Equation eq;
  bool ok = !shapes.empty() && parseEquation(equation, ranks, &eq, &reason);
  std::map<int, int64_t> summedExtent;
  for (size_t t = 0; ok && t < shapes.size(); ++t) {
    for (size_t i = 0; ok && i < eq.inputs[t].size(); ++i) {
      const int label = eq.inputs[t][i];
      const int64_t extent = shapes[t].d[i];
      if (extent < 0) {
        ok = false;
        reason = "einsum needs static operand shapes";
      } else if (!contains(eq.output, label)) {
        auto [it, fresh] = summedExtent.emplace(label, extent);
        if (!fresh && it->second != extent) {
          ok = false;
          reason = "a summed subscript has extents " + std::to_string(it->second) + " and " + std::to_string(extent);
        }
      }
    }
  }
  if (why != nullptr) *why = reason;
  return ok;
}

StatusOr<ITensor*> einsum(ConversionCtx& ctx, const Site& site, const std::string& equation,
                          const std::vector<ITensor*>& operands) {
  std::vector<int32_t> ranks;
  for (ITensor* t : operands) ranks.push_back(t->getDimensions().nbDims);
  Equation eq;
  std::string why;
  if (operands.empty() || !parseEquation(equation, ranks, &eq, &why)) {
    return site.error("einsum '" + equation + "': " + (operands.empty() ? "no operands" : why));
  }
  std::vector<Operand> typed;
  for (ITensor* t : operands) {
    const Dims d = t->getDimensions();
    for (int32_t i = 0; i < d.nbDims; ++i) {
      if (d.d[i] < 0) return site.error("einsum needs static operand shapes, got " + dimsToString(d));
    }
    typed.push_back(Operand::of(t));
  }
  KILN_ASSIGN_OR_RETURN(DataType type, resultType(typed));
  if (categoryOf(type) != TypeCategory::kFLOAT) {
    return site.error(std::string("einsum of ") + dataTypeName(type) + " tensors is not supported; cast to float");
  }
  std::vector<Term> terms;
  for (size_t i = 0; i < operands.size(); ++i) {
    Term t;
    KILN_ASSIGN_OR_RETURN(t.tensor, castTo(ctx, site.sub("in" + std::to_string(i)), operands[i], type));
    t.labels = eq.inputs[i];
    terms.push_back(t);
  }
  // Labels needed after operand i: the output's and those of operands after i.
  auto neededAfter = [&](size_t i) {
    std::set<int> needed(eq.output.begin(), eq.output.end());
    for (size_t j = i + 1; j < terms.size(); ++j) needed.insert(eq.inputs[j].begin(), eq.inputs[j].end());
    return needed;
  };
  // A label one operand alone carries (and the output lacks) is summed before any product.
  for (size_t i = 0; i < terms.size(); ++i) {
    std::set<int> needed(eq.output.begin(), eq.output.end());
    for (size_t j = 0; j < terms.size(); ++j) {
      if (j != i) needed.insert(eq.inputs[j].begin(), eq.inputs[j].end());
    }
    KILN_ASSIGN_OR_RETURN(terms[i], sumUnneeded(ctx, site.sub("sum" + std::to_string(i)), terms[i], needed));
  }
  for (size_t i = 1; i < terms.size(); ++i) {
    const Term& a = terms[0];
    const Term& b = terms[i];
    for (int label : a.labels) {
      if (contains(b.labels, label) && neededAfter(i).count(label) == 0 && extentOf(a, label) != extentOf(b, label)) {
        return site.error("einsum: a summed subscript has extents " + std::to_string(extentOf(a, label)) + " and " +
                          std::to_string(extentOf(b, label)));
      }
    }
    KILN_ASSIGN_OR_RETURN(terms[0], contract(ctx, site.sub("contract" + std::to_string(i)), a, b, neededAfter(i)));
  }
  const Term& result = terms[0];
  std::vector<int> order;
  for (int label : eq.output) {
    if (contains(result.labels, label)) order.push_back(label);
  }
  KILN_ASSIGN_OR_RETURN(ITensor * out, ordered(ctx, site.sub("output"), result, order));
  return out == operands[0] ? identity(ctx, site, out) : out;
}

}  // namespace impl
}  // namespace conversion
}  // namespace kiln
