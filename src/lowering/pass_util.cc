#include "lowering/pass_util.h"

#include <mutex>
#include <set>
#include <utility>

namespace kiln {
namespace lowering {

std::string opName(const ir::Node& node) {
  if (node.schema() != nullptr) return node.schema()->name;
  const std::string& target = node.target();
  size_t ns = target.find("::");
  size_t dot = target.find('.', ns == std::string::npos ? 0 : ns + 2);
  return dot == std::string::npos ? target : target.substr(0, dot);
}

StatusOr<std::shared_ptr<const ir::FunctionSchema>> passSchema(const std::string& text) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const ir::FunctionSchema>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(text);
  if (it != cache.end()) return it->second;
  StatusOr<ir::FunctionSchema> parsed = ir::parseSchema(text);
  if (!parsed.isOk()) return parsed.status().withContext("lowering: schema '" + text + "' of a pass does not parse");
  auto schema = std::make_shared<const ir::FunctionSchema>(std::move(parsed).value());
  cache.emplace(text, schema);
  return schema;
}

StatusOr<ir::Node*> addCallBefore(ir::Graph& graph, const std::string& schemaText, const std::string& nameHint,
                                  std::vector<ir::Arg> positional, std::optional<ir::TensorMeta> outputMeta,
                                  const ir::Node& origin, ir::Node* before) {
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<const ir::FunctionSchema> schema, passSchema(schemaText));
  KILN_ASSIGN_OR_RETURN(std::vector<ir::Arg> args, ir::normalizeArgs(*schema, std::move(positional), {}));
  KILN_ASSIGN_OR_RETURN(ir::Node * node, graph.addCall(schema, graph.uniqueName(nameHint), std::move(args),
                                                       {std::move(outputMeta)}, before));
  node->meta() = origin.meta();
  return node;
}

ir::Arg substituteValue(const ir::Arg& arg, const ir::Value* from, ir::Value* to, bool* changed) {
  switch (arg.kind) {
    case ir::Arg::Kind::kVALUE:
      if (arg.value == from) {
        *changed = true;
        return ir::Arg::of(to);
      }
      return arg;
    case ir::Arg::Kind::kCONSTANT:
      return arg;
    case ir::Arg::Kind::kLIST: {
      std::vector<ir::Arg> items;
      items.reserve(arg.list.size());
      for (const ir::Arg& item : arg.list) items.push_back(substituteValue(item, from, to, changed));
      return ir::Arg::listOf(std::move(items));
    }
  }
  return arg;
}

namespace {

// Ops whose result may be (or always is) a view of their first input. Frontends do not always keep torch's
// alias annotations in the schema strings, so the common ones are listed by name.
const std::set<std::string>& aliasingOps() {
  static const std::set<std::string> ops = {
      "aten::view",
      "aten::_unsafe_view",
      "aten::_reshape_alias",
      "aten::reshape",
      "aten::view_as",
      "aten::reshape_as",
      "aten::permute",
      "aten::t",
      "aten::transpose",
      "aten::swapaxes",
      "aten::swapdims",
      "aten::movedim",
      "aten::moveaxis",
      "aten::numpy_T",
      "aten::mT",
      "aten::mH",
      "aten::adjoint",
      "aten::expand",
      "aten::expand_as",
      "aten::broadcast_to",
      "aten::slice",
      "aten::select",
      "aten::narrow",
      "aten::squeeze",
      "aten::unsqueeze",
      "aten::flatten",
      "aten::unflatten",
      "aten::unfold",
      "aten::diagonal",
      "aten::as_strided",
      "aten::split",
      "aten::split_with_sizes",
      "aten::tensor_split",
      "aten::chunk",
      "aten::unbind",
      "aten::alias",
      "aten::detach",
      "aten::contiguous",
      "aten::dropout",
      "aten::feature_dropout",
      "aten::alpha_dropout",
      "aten::real",
      "aten::imag",
      "aten::view_as_real",
      "aten::view_as_complex",
  };
  return ops;
}

}  // namespace

bool mayAliasInput(const ir::Node& node) {
  if (node.op() != ir::NodeOp::kCALL_FUNCTION) return false;
  // Items of a split's list are views of the split input.
  if (node.target().find("getitem") != std::string::npos) return true;
  if (aliasingOps().count(opName(node)) != 0) return true;
  if (node.schema() == nullptr) return false;
  const std::string& text = node.schema()->text;
  size_t arrow = text.rfind("->");
  return arrow != std::string::npos && text.find("Tensor(", arrow) != std::string::npos;
}

AliasClasses::AliasClasses(const ir::Graph& graph) {
  std::vector<const ir::Value*> mutatedValues;
  for (const std::unique_ptr<ir::Node>& owned : graph.nodes()) {
    const ir::Node& node = *owned;
    if (node.op() != ir::NodeOp::kCALL_FUNCTION) continue;
    if (mayAliasInput(node) && !node.args().empty()) {
      const ir::Value* first = nullptr;
      forEachValue(node.args()[0], [&](const ir::Value* v) {
        if (first == nullptr) first = v;
      });
      if (first != nullptr) {
        for (const ir::Value* out : node.outputs()) unite(first, out);
      }
    }
    const ir::FunctionSchema* schema = node.schema();
    if (schema == nullptr) continue;
    for (size_t i = 0; i < schema->arguments.size() && i < node.args().size(); ++i) {
      if (!schema->arguments[i].mutates) continue;
      forEachValue(node.args()[i], [&](const ir::Value* v) {
        mutatedValues.push_back(v);
        // The result of an in-place op is its mutated argument.
        for (const ir::Value* out : node.outputs()) unite(v, out);
      });
    }
  }
  for (const ir::Value* v : mutatedValues) mutatedRoots_[find(v)] = true;
}

bool AliasClasses::isMutated(const ir::Value* value) const { return mutatedRoots_.count(find(value)) != 0; }

const ir::Value* AliasClasses::find(const ir::Value* value) const {
  auto it = parent_.find(value);
  if (it == parent_.end()) return value;
  const ir::Value* root = find(it->second);
  it->second = root;  // path compression
  return root;
}

void AliasClasses::unite(const ir::Value* a, const ir::Value* b) {
  const ir::Value* ra = find(a);
  const ir::Value* rb = find(b);
  if (ra != rb) parent_[rb] = ra;
}

}  // namespace lowering
}  // namespace kiln
