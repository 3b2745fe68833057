// Helpers shared by the lowering passes: schema parsing for the nodes passes create, argument rewriting,
// and a small alias analysis so that passes which drop copies or rewrite in-place ops keep mutation semantics.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kiln/status.h"

namespace kiln {
namespace lowering {

// "aten::add" for "aten::add.Tensor" (from the schema when the node has one).
std::string opName(const ir::Node& node);

// Parses a schema that a pass creates nodes with; parsed once per text (passes run per compile).
StatusOr<std::shared_ptr<const ir::FunctionSchema>> passSchema(const std::string& text);

// Adds a call built from positional args (defaults filled by the schema), placed before `before`, named from
// `nameHint`, carrying `origin`'s meta (source location, module path) so reports still point at the user's code.
StatusOr<ir::Node*> addCallBefore(ir::Graph& graph, const std::string& schemaText, const std::string& nameHint,
                                  std::vector<ir::Arg> positional, std::optional<ir::TensorMeta> outputMeta,
                                  const ir::Node& origin, ir::Node* before);

// `arg` with every use of `from` (at any list depth) replaced by `to`; `changed` tells whether there was one.
ir::Arg substituteValue(const ir::Arg& arg, const ir::Value* from, ir::Value* to, bool* changed);

// Calls `fn` for every value an argument reads, lists included.
template <typename Fn>
void forEachValue(const ir::Arg& arg, Fn&& fn) {
  switch (arg.kind) {
    case ir::Arg::Kind::kVALUE:
      if (arg.value != nullptr) fn(arg.value);
      return;
    case ir::Arg::Kind::kCONSTANT:
      return;
    case ir::Arg::Kind::kLIST:
      for (const ir::Arg& item : arg.list) forEachValue(item, fn);
      return;
  }
}

// Whether the op's output may share storage with its first input: views (view, permute, slice ...), alias and
// detach, and ops that return their input when nothing needs doing (contiguous, dropout in eval, reshape).
// Schemas with an alias annotation on a return ("-> Tensor(a)") count too.
bool mayAliasInput(const ir::Node& node);

// Storage classes of the graph's values: values joined by views and in-place ops share a class; a class is
// mutated when an in-place op writes to it. Built from a snapshot: rebuild after changing the graph.
class AliasClasses {
 public:
  explicit AliasClasses(const ir::Graph& graph);
  bool sameStorage(const ir::Value* a, const ir::Value* b) const { return find(a) == find(b); }
  bool isMutated(const ir::Value* value) const;

 private:
  const ir::Value* find(const ir::Value* value) const;
  void unite(const ir::Value* a, const ir::Value* b);

  mutable std::map<const ir::Value*, const ir::Value*> parent_;
  std::map<const ir::Value*, bool> mutatedRoots_;
};

}  // namespace lowering
}  // namespace kiln
