#include "engine/builder_gemm_merge.h"

#include <cstring>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "engine/builder_passes.h"

namespace kiln {
namespace {

constexpr int64_t kNONE = static_cast<int64_t>(MatrixOperation::kNONE);
constexpr int64_t kTRANSPOSE = static_cast<int64_t>(MatrixOperation::kTRANSPOSE);

struct Sibling {
  size_t layer;
  const WeightsBlob* weights;
  const WeightsBlob* bias;  // null without a fused bias
  int64_t n;                // output columns
};

// A constant layer's blob when it is well formed for `dims`.
const WeightsBlob* constantBlob(const LayerInfo& layer, const Dims& dims) {
  if (layer.params.type != LayerType::kCONSTANT) return nullptr;
  const WeightsBlob* w = layer.params.attrs.getWeights("weights");
  if (w == nullptr || w->count != volume(dims) || w->byteSize() != w->count * dataTypeSize(w->type)) return nullptr;
  return w;
}

// The sibling description of a mergeable matrix multiply, or false.
bool describe(const Graph& g, const std::vector<int32_t>& producer, size_t index, Sibling& s) {
  const LayerInfo& layer = g.layers[index];
  const Attributes& a = layer.params.attrs;
  if (layer.params.type != LayerType::kMATRIX_MULTIPLY || layer.hostEvaluated || layer.outputs.size() != 1 ||
      layer.inputs.size() < 2 || layer.inputs[0] < 0 || layer.inputs[1] < 0 || a.getInt("op0", -1) != kNONE ||
      (a.getInt("op1", -1) != kNONE && a.getInt("op1", -1) != kTRANSPOSE) || a.getInt("fused_residual", 0) != 0 ||
      (layer.inputs.size() > 3 && layer.inputs[3] >= 0)) {
    return false;
  }
  const TensorInfo& out = g.tensors[static_cast<size_t>(layer.outputs[0])];
  const TensorInfo& w = g.tensors[static_cast<size_t>(layer.inputs[1])];
  if (!isFloatType(out.type) || out.dims.nbDims < 1 || !isStaticShape(out.dims) || out.isShapeTensor ||
      w.dims.nbDims != 2 || !isStaticShape(w.dims)) {
    return false;
  }
  const int32_t wp = producer[static_cast<size_t>(layer.inputs[1])];
  if (wp < 0) return false;
  s.layer = index;
  s.weights = constantBlob(g.layers[static_cast<size_t>(wp)], w.dims);
  s.n = out.dims.d[out.dims.nbDims - 1];
  s.bias = nullptr;
  if (s.weights == nullptr || s.n != (a.getInt("op1", -1) == kTRANSPOSE ? w.dims.d[0] : w.dims.d[1])) return false;
  if (a.getInt("fused_bias", 0) != 0) {
    if (layer.inputs.size() < 3 || layer.inputs[2] < 0) return false;
    const TensorInfo& b = g.tensors[static_cast<size_t>(layer.inputs[2])];
    const int32_t bp = producer[static_cast<size_t>(layer.inputs[2])];
    if (bp < 0 || !isStaticShape(b.dims) || volume(b.dims) != s.n) return false;
    s.bias = constantBlob(g.layers[static_cast<size_t>(bp)], b.dims);
    if (s.bias == nullptr) return false;
  }
  return true;
}

// What must match for two siblings to share one GEMM.
using GroupKey = std::tuple<int32_t, int64_t, int64_t, int32_t, int32_t, bool, int64_t, int64_t, int32_t, int32_t>;
GroupKey keyOf(const Graph& g, const Sibling& s) {
  const LayerInfo& l = g.layers[s.layer];
  const Attributes& a = l.params.attrs;
  const Dims& w = g.tensors[static_cast<size_t>(l.inputs[1])].dims;
  const int64_t op1 = a.getInt("op1", -1);
  const int64_t k = op1 == kTRANSPOSE ? w.d[1] : w.d[0];
  return {l.inputs[0], op1, k, static_cast<int32_t>(g.tensors[static_cast<size_t>(l.outputs[0])].type),
          static_cast<int32_t>(s.weights->type), s.bias != nullptr, a.getInt("fused_activation", -1),
          a.getInt("allow_tf32", 0), l.hasPrecision ? static_cast<int32_t>(l.precision) : -1, static_cast<int32_t>(s.bias ? s.bias->type : DataType::kFLOAT)};
}

// The group's weights side by side along N: [K, sum N] rows interleaved, or [sum N, K] stacked.
WeightsBlob concatWeights(const std::vector<Sibling>& group, bool transposed, int64_t k) {
  const WeightsBlob& first = *group[0].weights;
  const size_t elem = static_cast<size_t>(dataTypeSize(first.type));
  auto bytes = std::make_shared<std::vector<uint8_t>>();
  int64_t total = 0;
  for (const Sibling& s : group) total += s.n;
  bytes->resize(static_cast<size_t>(total * k) * elem);
  uint8_t* dst = bytes->data();
  if (transposed) {
    for (const Sibling& s : group) {
      std::memcpy(dst, s.weights->data(), static_cast<size_t>(s.weights->byteSize()));
      dst += s.weights->byteSize();
    }
  } else {
    for (int64_t row = 0; row < k; ++row) {
      for (const Sibling& s : group) {
        const size_t rowBytes = static_cast<size_t>(s.n) * elem;
        std::memcpy(dst, static_cast<const uint8_t*>(s.weights->data()) + static_cast<size_t>(row) * rowBytes, rowBytes);
        dst += rowBytes;
      }
    }
  }
  return WeightsBlob{first.type, total * k, std::move(bytes)};
}

WeightsBlob concatBias(const std::vector<Sibling>& group) {
  auto bytes = std::make_shared<std::vector<uint8_t>>();
  int64_t count = 0;
  for (const Sibling& s : group) {
    bytes->insert(bytes->end(), s.bias->bytes->begin(), s.bias->bytes->end());
    count += s.n;
  }
  return WeightsBlob{group[0].bias->type, count, std::move(bytes)};
}

LayerInfo constantLayer(const std::string& name, const Dims& dims, WeightsBlob blob, int32_t output) {
  LayerInfo c;
  c.params.type = LayerType::kCONSTANT;
  c.params.name = name;
  c.params.attrs.setDims("dims", dims);
  c.params.attrs.setWeights("weights", std::move(blob));
  c.outputs = {output};
  return c;
}

// The layers replacing the group: merged weights (and bias), one GEMM, a slice per original output.
std::vector<LayerInfo> mergedLayers(Graph& g, const std::vector<Sibling>& group) {
  const LayerInfo& first = g.layers[group[0].layer];
  const bool transposed = first.params.attrs.getInt("op1", -1) == kTRANSPOSE;
  const Dims w0 = g.tensors[static_cast<size_t>(first.inputs[1])].dims;
  const int64_t k = transposed ? w0.d[1] : w0.d[0];
  int64_t total = 0;
  for (const Sibling& s : group) total += s.n;
  const std::string base = first.params.name + " (merged with " + std::to_string(group.size() - 1) + " siblings)";

  std::vector<LayerInfo> layers;
  const Dims wDims = transposed ? Dims{total, k} : Dims{k, total};
  const int32_t wTensor = g.addTensor(base + " weights", group[0].weights->type, wDims);
  layers.push_back(constantLayer(base + " weights", wDims, concatWeights(group, transposed, k), wTensor));
  LayerInfo gemm = first;
  gemm.params.name = base;
  gemm.kernel.clear();
  gemm.inputs[1] = wTensor;
  if (group[0].bias != nullptr) {
    const Dims bDims{total};
    const int32_t bTensor = g.addTensor(base + " bias", group[0].bias->type, bDims);
    layers.push_back(constantLayer(base + " bias", bDims, concatBias(group), bTensor));
    gemm.inputs[2] = bTensor;
  }
  const TensorInfo out0 = g.tensors[static_cast<size_t>(first.outputs[0])];
  Dims mergedDims = out0.dims;
  mergedDims.d[mergedDims.nbDims - 1] = total;
  const int32_t merged = g.addTensor(base + " output", out0.type, mergedDims);
  gemm.outputs = {merged};
  layers.push_back(std::move(gemm));

  int64_t offset = 0;
  for (const Sibling& s : group) {
    const LayerInfo& original = g.layers[s.layer];
    const Dims outDims = g.tensors[static_cast<size_t>(original.outputs[0])].dims;
    Dims start = outDims, stride = outDims;
    for (int32_t i = 0; i < outDims.nbDims; ++i) {
      start.d[i] = 0;
      stride.d[i] = 1;
    }
    start.d[outDims.nbDims - 1] = offset;
    offset += s.n;
    LayerInfo slice;
    slice.params.type = LayerType::kSLICE;
    slice.params.name = original.params.name + " (slice of the merged GEMM)";
    slice.params.attrs.setDims("start", start);
    slice.params.attrs.setDims("size", outDims);
    slice.params.attrs.setDims("stride", stride);
    slice.params.attrs.setInt("mode", static_cast<int64_t>(SampleMode::kSTRICT_BOUNDS));
    slice.inputs = {merged};
    slice.outputs = original.outputs;
    layers.push_back(std::move(slice));
  }
  return layers;
}

// Whether tensor t reaches an attention layer through layers that only view it (the chain the
// attention-view pass absorbs). Elsewhere the slices after a merged GEMM would be copies that cost more
// memory traffic than the launches they save.
bool feedsAttention(const Graph& g, const std::vector<std::vector<int32_t>>& readers, int32_t t) {
  for (int depth = 0; depth < 8; ++depth) {
    if (readers[static_cast<size_t>(t)].size() != 1) return false;
    const LayerInfo& r = g.layers[static_cast<size_t>(readers[static_cast<size_t>(t)][0])];
    if (r.params.type == LayerType::kATTENTION) return true;
    const bool view = (r.params.type == LayerType::kSHUFFLE || r.params.type == LayerType::kSLICE) &&
                      r.outputs.size() == 1 && r.inputs[0] == t;
    if (!view) return false;
    t = r.outputs[0];
  }
  return false;
}

}  // namespace

bool gemmMergeEnabled() { return !envSwitchedOff("KILN_MERGE_GEMMS"); }

int32_t mergeSiblingGemms(Graph& g) {
  const std::vector<int32_t> producer = g.producers();
  std::vector<std::vector<int32_t>> readers(g.tensors.size());
  for (size_t l = 0; l < g.layers.size(); ++l) {
    for (int32_t t : g.layers[l].inputs) {
      if (t >= 0) readers[static_cast<size_t>(t)].push_back(static_cast<int32_t>(l));
    }
  }
  std::vector<bool> isOutput(g.tensors.size(), false);
  for (int32_t t : g.outputs) isOutput[static_cast<size_t>(t)] = true;
  std::map<GroupKey, std::vector<Sibling>> groups;
  std::vector<GroupKey> order;  // first-seen order, so that builds are deterministic
  for (size_t l = 0; l < g.layers.size(); ++l) {
    Sibling s;
    if (!describe(g, producer, l, s) || isOutput[static_cast<size_t>(g.layers[l].outputs[0])] ||
        !feedsAttention(g, readers, g.layers[l].outputs[0])) {
      continue;
    }
    const GroupKey key = keyOf(g, s);
    auto& members = groups[key];
    if (members.empty()) order.push_back(key);
    members.push_back(s);
  }
  // Each group's layers are replaced at the first member's position (every reader of any member comes later;
  // the shared input and the constants come earlier).
  std::map<size_t, std::vector<LayerInfo>> replacements;
  std::vector<bool> removed(g.layers.size(), false);
  int32_t merged = 0;
  for (const GroupKey& key : order) {
    const std::vector<Sibling>& group = groups[key];
    if (group.size() < 2) continue;
    replacements[group[0].layer] = mergedLayers(g, group);
    for (const Sibling& s : group) removed[s.layer] = true;
    merged += static_cast<int32_t>(group.size()) - 1;
  }
  if (merged == 0) return 0;
  std::vector<LayerInfo> layers;
  layers.reserve(g.layers.size() + 4 * replacements.size());
  for (size_t l = 0; l < g.layers.size(); ++l) {
    auto it = replacements.find(l);
    if (it != replacements.end()) {
      for (LayerInfo& r : it->second) layers.push_back(std::move(r));
    }
    if (!removed[l]) layers.push_back(std::move(g.layers[l]));
  }
  g.layers = std::move(layers);
  eliminateDeadLayers(g);  // the separate weight and bias constants
  return merged;
}

}  // namespace kiln
