// Kiln's IR: an FX-shaped graph. Nodes are placeholders (graph inputs), get_attr (weights), calls of ATen
// op overloads ("aten::gelu.default") and one output node. Values are node outputs; every value knows its
// producer and users. Call arguments are normalized to the op's schema order with defaults filled, so a
// converter reads args[i] for schema argument i.
//
// Rules the verifier enforces (and passes must keep): names are unique; every argument value is defined
// by an earlier node of this graph; users lists match the arguments; exactly one output node, last.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/host_tensor.h"
#include "ir/constant.h"
#include "ir/schema.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {
namespace ir {

class Node;
class Graph;

// One dim of a tensor's shape: a static extent, or a symbol (a dynamic dim, "s0") with its range.
struct SymDim {
  int64_t extent = -1;  // >= 0 static, -1 symbolic
  std::string symbol;   // for symbolic dims; equal symbols are equal extents
  int64_t min = 0;
  int64_t max = -1;     // -1: unbounded
  bool isStatic() const { return extent >= 0; }
};

struct TensorMeta {
  DataType dtype = DataType::kFLOAT;
  std::vector<SymDim> shape;
  bool isStatic() const;
  Dims toDims() const;  // -1 for symbolic dims; nbDims = -1 (invalid) when the rank exceeds Dims::kMAX_DIMS
  std::string str() const;  // "float32[s0,3,224,224]"
};

// Value names: the node's name for nodes with one output, "<node>.<i>" for each output of multi-output
// nodes (node names never contain '.', so these never collide).
class Value {
 public:
  const std::string& name() const { return name_; }
  Node* node() const { return node_; }
  int32_t outputIndex() const { return index_; }
  const std::vector<Node*>& users() const { return users_; }
  bool isTensor() const { return meta_.has_value(); }
  // The single output of an op returning a list (Tensor[]): no meta; consumers index it (getitem).
  bool isList() const { return isList_; }
  const std::optional<TensorMeta>& meta() const { return meta_; }
  void setMeta(TensorMeta meta) { meta_ = std::move(meta); }

 private:
  friend class Graph;
  friend class Node;
  friend struct GraphTestAccess;  // tests corrupt a graph on purpose to exercise the verifier
  void addUser(Node* user);        // no-op when already a user
  void removeUser(Node* user);
  std::string name_;
  Node* node_ = nullptr;
  int32_t index_ = 0;
  bool isList_ = false;
  std::vector<Node*> users_;  // distinct user nodes, in the order they started using the value
  std::optional<TensorMeta> meta_;  // absent for non-tensor outputs (an int from sym_size, a list)
};

// Reads item `index` of a list value (the output of an op returning Tensor[]: split, unbind, chunk). Frontends
// add one such node per item used, so every other node reads single tensors and only tensors cross engine
// boundaries. A negative index counts from the end, as in Python.
inline constexpr char kLIST_GET_SCHEMA[] = "prim::list_get(Tensor(a)[] list, int index) -> Tensor(a)";

// A call argument: a value, a constant, or a list (Tensor[] may mix values and None).
struct Arg {
  enum class Kind { kVALUE, kCONSTANT, kLIST };
  Kind kind = Kind::kCONSTANT;
  Value* value = nullptr;
  Constant constant;
  std::vector<Arg> list;

  static Arg of(Value* v) { Arg a; a.kind = Kind::kVALUE; a.value = v; return a; }
  static Arg of(Constant c) { Arg a; a.kind = Kind::kCONSTANT; a.constant = std::move(c); return a; }
  static Arg listOf(std::vector<Arg> items) { Arg a; a.kind = Kind::kLIST; a.list = std::move(items); return a; }
  bool isValue() const { return kind == Kind::kVALUE; }
  bool isConstant() const { return kind == Kind::kCONSTANT; }
  bool isList() const { return kind == Kind::kLIST; }
  std::string repr() const;
};

enum class NodeOp { kPLACEHOLDER, kGET_ATTR, kCALL_FUNCTION, kOUTPUT };
const char* nodeOpName(NodeOp op);

class Node {
 public:
  NodeOp op() const { return op_; }
  const std::string& name() const { return name_; }
  // "aten::gelu.default" for calls; the attribute or input name otherwise.
  const std::string& target() const { return target_; }
  const FunctionSchema* schema() const { return schema_.get(); }
  const std::vector<Arg>& args() const { return args_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  Value* output(size_t i = 0) const { return i < outputs_.size() ? outputs_[i] : nullptr; }
  // The weights of a get_attr node.
  const std::shared_ptr<const HostTensor>& tensorValue() const { return tensorValue_; }
  // Free-form notes that travel with the node: source location ("stack"), module path ("module").
  std::map<std::string, std::string>& meta() { return meta_; }
  const std::map<std::string, std::string>& meta() const { return meta_; }
  // Index in the graph's node order (kept up to date by the graph).
  int32_t index() const { return index_; }

  // Replaces argument i (updating users). An index past the end grows the list with None (the verifier
  // then reports the count mismatch against the schema).
  void setArg(size_t i, Arg arg);

 private:
  friend class Graph;
  friend struct GraphTestAccess;
  NodeOp op_ = NodeOp::kCALL_FUNCTION;
  std::string name_;
  std::string target_;
  std::shared_ptr<const FunctionSchema> schema_;
  std::vector<Arg> args_;
  std::vector<Value*> outputs_;
  std::shared_ptr<const HostTensor> tensorValue_;
  std::map<std::string, std::string> meta_;
  int32_t index_ = 0;
};

// Builds argument lists in schema order: positional args first, then keyword args by name, then defaults.
// Errors name the op and the argument (missing, unknown keyword, too many positional args, a keyword-only
// arg passed positionally, an arg given twice, None for a non-optional arg). A single int (or bool/float)
// for a fixed-length list (int[2]) becomes N copies; extra positional args of a vararg schema follow.
StatusOr<std::vector<Arg>> normalizeArgs(const FunctionSchema& schema, std::vector<Arg> positional,
                                         std::map<std::string, Arg> keywords);

class Graph {
 public:
  Graph() = default;
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Placeholders go after the existing placeholders; get_attr and calls before the output node. Node
  // names come from uniqueName(name); target() keeps the name as given ("conv1.weight").
  Value* addPlaceholder(const std::string& name, TensorMeta meta);
  // insertBefore: where the node goes (constant folding puts a folded weight before its first reader);
  // null keeps the default place. Returns null when insertBefore is not a node of this graph.
  Value* addGetAttr(const std::string& name, std::shared_ptr<const HostTensor> value, Node* insertBefore = nullptr);
  // Adds a call; `schema` parsed once per op (cached by text). Output values: one per schema return (a list
  // return is one value marked isList). Output metas: indexed by schema return, for tensor returns only
  // (missing metas leave outputs untyped). Fails for unknown keywords, missing args or undefined values.
  // `name` is used as is when no node has it yet (so a name from uniqueName() stays), else made unique;
  // empty: the op's name ("aten::add" -> "add").
  StatusOr<Node*> addCall(const std::string& schemaText, const std::string& name, std::vector<Arg> positional,
                          std::map<std::string, Arg> keywords, std::vector<std::optional<TensorMeta>> outputMetas);
  // Same with a parsed schema (lowering passes that create nodes); args must already be normalized and
  // defined before `insertBefore` (null: before the output node).
  StatusOr<Node*> addCall(std::shared_ptr<const FunctionSchema> schema, const std::string& name,
                          std::vector<Arg> normalizedArgs, std::vector<std::optional<TensorMeta>> outputMetas,
                          Node* insertBefore = nullptr);
  // The output node: its args are the graph outputs (values or constants). Replaces the args of an
  // existing output node.
  Node* setOutputs(std::vector<Arg> outputs);

  // Erasing a node whose outputs still have users is an error (the message names the users).
  Status erase(Node* node);
  // Every argument (in calls and the output node) that reads `from` reads `to` instead.
  void replaceAllUsesWith(Value* from, Value* to);

  const std::vector<std::unique_ptr<Node>>& nodes() const { return nodes_; }
  std::vector<Node*> placeholders() const;
  Node* outputNode() const;
  Node* findNode(const std::string& name) const;
  // A name not yet used in this graph, from a hint ("add" -> "add_3"); reserved from then on. Characters
  // other than [A-Za-z0-9_] become '_' so names stay identifiers.
  std::string uniqueName(const std::string& hint);

  // Stable text form, one node per line: "%relu : float32[s0,64,56,56] = aten::relu.default(%conv)".
  //   %x : float32[s0,3] = placeholder[target=x]
  //   %w : float32[8,3] = get_attr[target=fc.weight]
  //   %topk.0 : float32[s0,2], %topk.1 : int64[s0,2] = aten::topk.default(%x, 2, -1, True, True)
  //   %chunks : Tensor[] = aten::split.Tensor(%x, 1, 0)          (untyped outputs print no type)
  //   return (%topk.0, %chunks)
  std::string print() const;
  Status verify() const;

 private:
  friend struct GraphTestAccess;
  Node* insertNode(std::unique_ptr<Node> node, Node* before);
  Value* addValue(Node* node, const std::string& name, int32_t index);
  Node* firstNonPlaceholder() const;
  std::string nodeName(const std::string& hint);
  Status checkArgValues(const Arg& arg, const std::string& what, int32_t limit) const;
  void renumber();
  void addUses(Node* node);
  void removeUses(Node* node);

  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::unique_ptr<Value>> values_;
  std::map<std::string, int32_t> nameCounts_;  // every name handed out (live or erased), next suffix to try
  std::map<std::string, Node*> nodesByName_;   // live nodes
  std::map<std::string, std::shared_ptr<const FunctionSchema>> schemaCache_;
};

}  // namespace ir
}  // namespace kiln
