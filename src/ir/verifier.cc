// The verifier: checks the invariants graph.h promises, so a pass that breaks one is caught right after it
// runs (the pass manager verifies after every pass in tests) rather than as a wrong engine later.
#include <algorithm>
#include <set>

#include "ir/graph.h"

namespace kiln {
namespace ir {
namespace {

void collect(const Arg& arg, std::vector<const Value*>& out) {
  switch (arg.kind) {
    case Arg::Kind::kVALUE:
      out.push_back(arg.value);
      break;
    case Arg::Kind::kLIST:
      for (const Arg& item : arg.list) collect(item, out);
      break;
    case Arg::Kind::kCONSTANT:
      break;
  }
}

std::string label(const Node& node) { return "%" + node.name() + " (" + node.target() + ")"; }

// A list value (a Tensor[] output) stands for several tensors: it may be read whole only where the schema
// takes a list (cat's Tensor[] tensors, list_get) or anything (opaque calls), never as one tensor or as one
// item of a list. Returns the offending value, or null.
const Value* misreadList(const SchemaType& type, const Arg& arg) {
  if (type.kind == TypeKind::kANY) return nullptr;
  if (arg.isValue()) return arg.value != nullptr && arg.value->isList() && !type.isList ? arg.value : nullptr;
  for (const Arg& item : arg.list) {
    if (item.isValue() && item.value != nullptr && item.value->isList()) return item.value;
  }
  return nullptr;
}

Status fail(const std::string& message) { return internalError("graph verification failed: " + message); }

}  // namespace

Status Graph::verify() const {
  std::set<std::string> valueNames;
  std::set<const Value*> defined;  // values of the nodes seen so far
  std::map<const Value*, std::set<const Node*>> readers;
  size_t outputNodes = 0;

  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node* node = nodes_[i].get();
    if (node == nullptr) return fail("node " + std::to_string(i) + " is null");
    const std::string where = label(*node);
    if (node->index_ != static_cast<int32_t>(i)) {
      return fail(where + " has index " + std::to_string(node->index_) + " but is node " + std::to_string(i));
    }
    if (findNode(node->name_) != node) return fail(where + ": another node has the same name, or the name is stale");

    switch (node->op_) {
      case NodeOp::kPLACEHOLDER:
      case NodeOp::kGET_ATTR:
        if (!node->args_.empty() || node->outputs_.size() != 1) {
          return fail(where + ": a " + nodeOpName(node->op_) + " node takes no arguments and has one output");
        }
        break;
      case NodeOp::kCALL_FUNCTION: {
        const FunctionSchema* schema = node->schema_.get();
        if (schema == nullptr) return fail(where + " has no schema");
        if (node->target_ != schema->key())
          return fail(where + ": the target differs from the schema's " + schema->key());
        const size_t n = schema->arguments.size();
        if (node->args_.size() < n || (node->args_.size() > n && !schema->isVararg)) {
          return fail(where + " has " + std::to_string(node->args_.size()) + " arguments, its schema " +
                      std::to_string(n) + " (arguments must be normalized)");
        }
        for (size_t k = 0; k < n; ++k) {
          if (const Value* list = misreadList(schema->arguments[k].type, node->args_[k])) {
            return fail(where + ": argument '" + schema->arguments[k].name + "' (" + schema->arguments[k].type.text +
                        ") reads the list %" + list->name_ + " as a tensor; read its items with " + kLIST_GET_SCHEMA);
          }
        }
        const size_t returns = schema->isVarret ? 0 : schema->returns.size();
        if (node->outputs_.size() != returns) {
          return fail(where + " has " + std::to_string(node->outputs_.size()) + " outputs, its schema " +
                      std::to_string(returns) + " returns");
        }
        break;
      }
      case NodeOp::kOUTPUT:
        ++outputNodes;
        if (!node->outputs_.empty()) return fail(where + ": the output node has no outputs of its own");
        if (i + 1 != nodes_.size()) {
          return fail("the output node " + where + " must be last, but " + label(*nodes_[i + 1]) + " follows it");
        }
        break;
    }

    std::vector<const Value*> reads;
    for (const Arg& a : node->args_) collect(a, reads);
    for (const Value* v : reads) {
      if (v == nullptr) return fail(where + " has a null value argument");
      if (defined.count(v) == 0) {
        const bool later = v->node_ != nullptr && findNode(v->node_->name_) == v->node_;
        return fail(where + " reads %" + v->name_ +
                    (later ? ", which is defined after it (by " + label(*v->node_) + ")"
                           : ", which is not defined in this graph"));
      }
      readers[v].insert(node);
      if (std::find(v->users_.begin(), v->users_.end(), node) == v->users_.end()) {
        return fail(where + " reads %" + v->name_ + " but is not in its users list");
      }
    }

    for (size_t j = 0; j < node->outputs_.size(); ++j) {
      const Value* v = node->outputs_[j];
      if (v == nullptr) return fail(where + ": output " + std::to_string(j) + " is null");
      if (v->node_ != node || v->index_ != static_cast<int32_t>(j)) {
        return fail(where + ": output " + std::to_string(j) + " (%" + v->name_ + ") does not point back to it");
      }
      if (!valueNames.insert(v->name_).second) return fail(where + ": value name %" + v->name_ + " is used twice");
      defined.insert(v);
    }
  }

  if (outputNodes != 1) {
    return fail(outputNodes == 0 ? "the graph has no output node (call setOutputs)"
                                 : "the graph has " + std::to_string(outputNodes) + " output nodes");
  }

  for (const auto& owned : values_) {
    const Value* v = owned.get();
    if (defined.count(v) == 0) return fail("%" + v->name_ + " is owned by the graph but no node produces it");
    const std::set<const Node*>& expected = readers[v];
    std::set<const Node*> listed;
    for (const Node* user : v->users_) {
      if (!listed.insert(user).second) return fail("%" + v->name_ + " lists the user %" + user->name_ + " twice");
      if (expected.count(user) == 0) {
        return fail("%" + v->name_ + " lists %" + user->name_ + " as a user, but that node does not read it");
      }
    }
  }
  return Status::ok();
}

}  // namespace ir
}  // namespace kiln
