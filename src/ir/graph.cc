// The IR graph: node and value ownership, users bookkeeping, naming, insertion and erasure.
#include "ir/graph.h"

#include <algorithm>

namespace kiln {
namespace ir {
namespace {

void collectValues(const Arg& arg, std::vector<Value*>& out) {
  switch (arg.kind) {
    case Arg::Kind::kVALUE:
      if (arg.value != nullptr) out.push_back(arg.value);
      break;
    case Arg::Kind::kLIST:
      for (const Arg& item : arg.list) collectValues(item, out);
      break;
    case Arg::Kind::kCONSTANT:
      break;
  }
}

bool argUses(const Arg& arg, const Value* value) {
  switch (arg.kind) {
    case Arg::Kind::kVALUE:
      return arg.value == value;
    case Arg::Kind::kLIST:
      for (const Arg& item : arg.list) {
        if (argUses(item, value)) return true;
      }
      return false;
    case Arg::Kind::kCONSTANT:
      return false;
  }
  return false;
}

void replaceInArg(Arg& arg, const Value* from, Value* to) {
  switch (arg.kind) {
    case Arg::Kind::kVALUE:
      if (arg.value == from) arg.value = to;
      break;
    case Arg::Kind::kLIST:
      for (Arg& item : arg.list) replaceInArg(item, from, to);
      break;
    case Arg::Kind::kCONSTANT:
      break;
  }
}

bool isIdentifier(const std::string& name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string sanitize(const std::string& hint) {
  std::string name = hint;
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) c = '_';
  }
  if (name.empty()) return "v";
  if (name[0] >= '0' && name[0] <= '9') name = "_" + name;
  return name;
}

}  // namespace

bool TensorMeta::isStatic() const {
  for (const SymDim& d : shape) {
    if (!d.isStatic()) return false;
  }
  return true;
}

Dims TensorMeta::toDims() const {
  Dims dims;
  if (shape.size() > static_cast<size_t>(Dims::kMAX_DIMS)) {
    dims.nbDims = -1;
    return dims;
  }
  dims.nbDims = static_cast<int32_t>(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) dims.d[i] = shape[i].isStatic() ? shape[i].extent : -1;
  return dims;
}

void Value::addUser(Node* user) {
  if (std::find(users_.begin(), users_.end(), user) == users_.end()) users_.push_back(user);
}

void Value::removeUser(Node* user) { users_.erase(std::remove(users_.begin(), users_.end(), user), users_.end()); }

const char* nodeOpName(NodeOp op) {
  switch (op) {
    case NodeOp::kPLACEHOLDER:
      return "placeholder";
    case NodeOp::kGET_ATTR:
      return "get_attr";
    case NodeOp::kCALL_FUNCTION:
      return "call_function";
    case NodeOp::kOUTPUT:
      return "output";
  }
  return "unknown";
}

void Node::setArg(size_t i, Arg arg) {
  if (i >= args_.size()) args_.resize(i + 1);
  std::vector<Value*> before;
  collectValues(args_[i], before);
  args_[i] = std::move(arg);
  for (Value* v : before) {
    bool stillUsed = false;
    for (const Arg& a : args_) stillUsed = stillUsed || argUses(a, v);
    if (!stillUsed) v->removeUser(this);
  }
  std::vector<Value*> after;
  collectValues(args_[i], after);
  for (Value* v : after) v->addUser(this);
}

std::string Graph::uniqueName(const std::string& hint) {
  const std::string base = sanitize(hint);
  if (nameCounts_.find(base) == nameCounts_.end()) {
    nameCounts_[base] = 1;
    return base;
  }
  int32_t& counter = nameCounts_[base];  // std::map references survive the inserts below
  while (true) {
    std::string candidate = base + "_" + std::to_string(counter++);
    if (nameCounts_.find(candidate) == nameCounts_.end()) {
      nameCounts_[candidate] = 1;
      return candidate;
    }
  }
}

// A caller's name is kept when no live node has it (it may be one uniqueName() reserved for this node).
std::string Graph::nodeName(const std::string& hint) {
  if (isIdentifier(hint) && nodesByName_.find(hint) == nodesByName_.end()) {
    nameCounts_.emplace(hint, 1);
    return hint;
  }
  return uniqueName(hint);
}

Value* Graph::addValue(Node* node, const std::string& name, int32_t index) {
  auto value = std::make_unique<Value>();
  value->name_ = name;
  value->node_ = node;
  value->index_ = index;
  node->outputs_.push_back(value.get());
  values_.push_back(std::move(value));
  return values_.back().get();
}

Node* Graph::firstNonPlaceholder() const {
  for (const auto& node : nodes_) {
    if (node->op_ != NodeOp::kPLACEHOLDER) return node.get();
  }
  return nullptr;
}

Node* Graph::insertNode(std::unique_ptr<Node> node, Node* before) {
  Node* raw = node.get();
  nodesByName_[raw->name_] = raw;
  if (before == nullptr) {
    nodes_.push_back(std::move(node));
  } else {
    nodes_.insert(nodes_.begin() + before->index_, std::move(node));
  }
  renumber();
  return raw;
}

void Graph::renumber() {
  for (size_t i = 0; i < nodes_.size(); ++i) nodes_[i]->index_ = static_cast<int32_t>(i);
}

void Graph::addUses(Node* node) {
  std::vector<Value*> values;
  for (const Arg& a : node->args_) collectValues(a, values);
  for (Value* v : values) v->addUser(node);
}

void Graph::removeUses(Node* node) {
  std::vector<Value*> values;
  for (const Arg& a : node->args_) collectValues(a, values);
  for (Value* v : values) v->removeUser(node);
}

Value* Graph::addPlaceholder(const std::string& name, TensorMeta meta) {
  auto node = std::make_unique<Node>();
  node->op_ = NodeOp::kPLACEHOLDER;
  node->name_ = nodeName(name);
  node->target_ = name;
  Value* value = addValue(node.get(), node->name_, 0);
  value->meta_ = std::move(meta);
  insertNode(std::move(node), firstNonPlaceholder());
  return value;
}

Value* Graph::addGetAttr(const std::string& name, std::shared_ptr<const HostTensor> tensor, Node* insertBefore) {
  if (insertBefore != nullptr && findNode(insertBefore->name_) != insertBefore) return nullptr;
  auto node = std::make_unique<Node>();
  node->op_ = NodeOp::kGET_ATTR;
  node->name_ = nodeName(name);
  node->target_ = name;
  Value* value = addValue(node.get(), node->name_, 0);
  if (tensor != nullptr) {
    TensorMeta meta;
    meta.dtype = tensor->type;
    for (int32_t i = 0; i < tensor->dims.nbDims; ++i) {
      SymDim d;
      d.extent = tensor->dims.d[i];
      d.min = d.max = d.extent;
      meta.shape.push_back(d);
    }
    value->meta_ = std::move(meta);
  }
  node->tensorValue_ = std::move(tensor);
  insertNode(std::move(node), insertBefore != nullptr ? insertBefore : outputNode());
  return value;
}

StatusOr<Node*> Graph::addCall(const std::string& schemaText, const std::string& name, std::vector<Arg> positional,
                               std::map<std::string, Arg> keywords,
                               std::vector<std::optional<TensorMeta>> outputMetas) {
  const std::string context = name.empty() ? "adding a node" : "adding node '" + name + "'";
  auto cached = schemaCache_.find(schemaText);
  if (cached == schemaCache_.end()) {
    StatusOr<FunctionSchema> parsed = parseSchema(schemaText);
    if (!parsed.isOk()) return parsed.status().withContext(context);
    cached = schemaCache_.emplace(schemaText, std::make_shared<const FunctionSchema>(std::move(parsed).value())).first;
  }
  std::shared_ptr<const FunctionSchema> schema = cached->second;
  StatusOr<std::vector<Arg>> args = normalizeArgs(*schema, std::move(positional), std::move(keywords));
  if (!args.isOk()) return args.status().withContext(context);
  return addCall(std::move(schema), name, std::move(args).value(), std::move(outputMetas));
}

Status Graph::checkArgValues(const Arg& arg, const std::string& what, int32_t limit) const {
  switch (arg.kind) {
    case Arg::Kind::kCONSTANT:
      return Status::ok();
    case Arg::Kind::kLIST:
      for (const Arg& item : arg.list) KILN_RETURN_IF_ERROR(checkArgValues(item, what, limit));
      return Status::ok();
    case Arg::Kind::kVALUE:
      break;
  }
  const Value* v = arg.value;
  if (v == nullptr) return invalidArgument(what + " is a null value");
  const Node* producer = v->node_;
  const bool owned = producer != nullptr && findNode(producer->name_) == producer &&
                     static_cast<size_t>(v->index_) < producer->outputs_.size() &&
                     producer->outputs_[static_cast<size_t>(v->index_)] == v;
  if (!owned) return invalidArgument(what + " reads %" + v->name_ + ", which is not defined in this graph");
  if (producer->index_ >= limit) {
    return invalidArgument(what + " reads %" + v->name_ + ", which is defined after the insertion point");
  }
  return Status::ok();
}

StatusOr<Node*> Graph::addCall(std::shared_ptr<const FunctionSchema> schema, const std::string& name,
                               std::vector<Arg> normalizedArgs, std::vector<std::optional<TensorMeta>> outputMetas,
                               Node* insertBefore) {
  if (schema == nullptr) return invalidArgument("addCall '" + name + "': the schema is null");
  const std::string label = "node '" + name + "' (" + schema->key() + ")";
  const size_t n = schema->arguments.size();
  if (normalizedArgs.size() < n || (normalizedArgs.size() > n && !schema->isVararg)) {
    return invalidArgument(label + " takes " + std::to_string(n) + " arguments, got " +
                           std::to_string(normalizedArgs.size()) + "; build them with normalizeArgs");
  }
  if (insertBefore != nullptr && findNode(insertBefore->name_) != insertBefore) {
    return invalidArgument(label + ": the insertion point %" + insertBefore->name_ + " is not a node of this graph");
  }
  Node* before = insertBefore != nullptr ? insertBefore : outputNode();
  const int32_t limit = before != nullptr ? before->index_ : static_cast<int32_t>(nodes_.size());
  for (size_t i = 0; i < normalizedArgs.size(); ++i) {
    const std::string argName = i < n ? "'" + schema->arguments[i].name + "'" : "vararg " + std::to_string(i);
    KILN_RETURN_IF_ERROR(checkArgValues(normalizedArgs[i], label + ": argument " + argName, limit));
  }
  const size_t nbReturns = schema->isVarret ? 0 : schema->returns.size();
  if (outputMetas.size() > nbReturns) {
    return invalidArgument(label + ": " + std::to_string(outputMetas.size()) + " output metas for " +
                           std::to_string(nbReturns) + " returns");
  }
  for (size_t i = 0; i < outputMetas.size(); ++i) {
    const SchemaType& type = schema->returns[i].type;
    const bool tensorLike = !type.isList && (type.kind == TypeKind::kTENSOR || type.kind == TypeKind::kANY);
    if (outputMetas[i].has_value() && !tensorLike) {
      return invalidArgument(label + ": output " + std::to_string(i) + " is a '" + type.text +
                             "', not a tensor, and cannot have a tensor meta");
    }
  }

  auto node = std::make_unique<Node>();
  node->op_ = NodeOp::kCALL_FUNCTION;
  const size_t colons = schema->name.rfind("::");
  node->name_ = nodeName(name.empty() ? schema->name.substr(colons == std::string::npos ? 0 : colons + 2) : name);
  node->target_ = schema->key();
  node->args_ = std::move(normalizedArgs);
  for (size_t i = 0; i < nbReturns; ++i) {
    const std::string valueName = nbReturns == 1 ? node->name_ : node->name_ + "." + std::to_string(i);
    Value* value = addValue(node.get(), valueName, static_cast<int32_t>(i));
    value->isList_ = schema->returns[i].type.isList;
    if (i < outputMetas.size() && outputMetas[i].has_value()) value->meta_ = std::move(outputMetas[i]);
  }
  node->schema_ = std::move(schema);
  Node* raw = insertNode(std::move(node), before);
  addUses(raw);
  return raw;
}

Node* Graph::setOutputs(std::vector<Arg> outputs) {
  Node* node = outputNode();
  if (node != nullptr) {
    removeUses(node);
    node->args_ = std::move(outputs);
    addUses(node);
    return node;
  }
  auto created = std::make_unique<Node>();
  created->op_ = NodeOp::kOUTPUT;
  created->name_ = nodeName("output");
  created->target_ = "output";
  created->args_ = std::move(outputs);
  Node* raw = insertNode(std::move(created), nullptr);
  addUses(raw);
  return raw;
}

Status Graph::erase(Node* node) {
  if (node == nullptr || findNode(node->name_) != node) {
    return invalidArgument("erase: the node is not part of this graph");
  }
  for (const Value* out : node->outputs_) {
    if (out->users_.empty()) continue;
    std::string users;
    for (const Node* user : out->users_) users += (users.empty() ? "%" : ", %") + user->name_;
    return failedPrecondition("cannot erase %" + node->name_ + " (" + node->target_ + "): its output %" + out->name_ +
                              " is still used by " + users +
                              "; replace those uses first (replaceAllUsesWith) or erase the users");
  }
  removeUses(node);
  const std::vector<Value*> dead = node->outputs_;
  values_.erase(std::remove_if(values_.begin(), values_.end(),
                               [&](const std::unique_ptr<Value>& v) {
                                 return std::find(dead.begin(), dead.end(), v.get()) != dead.end();
                               }),
                values_.end());
  nodesByName_.erase(node->name_);
  nodes_.erase(nodes_.begin() + node->index_);
  renumber();
  return Status::ok();
}

void Graph::replaceAllUsesWith(Value* from, Value* to) {
  if (from == nullptr || to == nullptr || from == to) return;
  const std::vector<Node*> users = from->users_;
  for (Node* user : users) {
    for (Arg& a : user->args_) replaceInArg(a, from, to);
    to->addUser(user);
  }
  from->users_.clear();
}

std::vector<Node*> Graph::placeholders() const {
  std::vector<Node*> out;
  for (const auto& node : nodes_) {
    if (node->op_ == NodeOp::kPLACEHOLDER) out.push_back(node.get());
  }
  return out;
}

Node* Graph::outputNode() const {
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
    if ((*it)->op_ == NodeOp::kOUTPUT) return it->get();
  }
  return nullptr;
}

Node* Graph::findNode(const std::string& name) const {
  auto it = nodesByName_.find(name);
  return it == nodesByName_.end() ? nullptr : it->second;
}

}  // namespace ir
}  // namespace kiln
