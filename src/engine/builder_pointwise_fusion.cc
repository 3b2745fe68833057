#include "engine/builder_pointwise_fusion.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/builder_passes.h"
#include "engine/layer_kinds.h"
#include "engine/pointwise_program.h"
#include "util/half.h"

namespace kiln {
namespace {

// Each member adds at most four instructions (two operands, its own, a rounding), so this bounds the program.
constexpr size_t kMAX_GROUP_LAYERS = kMAX_POINTWISE_INSTRUCTIONS / 4;

struct GraphUses {
  std::vector<std::vector<int32_t>> readers;
  std::vector<bool> isOutput;
  std::vector<int32_t> producer;

  explicit GraphUses(const Graph& g)
      : readers(g.tensors.size()), isOutput(g.tensors.size(), false), producer(g.producers()) {
    for (size_t l = 0; l < g.layers.size(); ++l) {
      for (int32_t t : g.layers[l].inputs) {
        if (t >= 0) readers[static_cast<size_t>(t)].push_back(static_cast<int32_t>(l));
      }
    }
    for (int32_t t : g.outputs) isOutput[static_cast<size_t>(t)] = true;
  }
};

const TensorInfo& tensorOf(const Graph& g, int32_t t) { return g.tensors[static_cast<size_t>(t)]; }

bool isFloatTensor(const Graph& g, int32_t t) {
  return t >= 0 && isPointwiseFloatType(tensorOf(g, t).type) && !tensorOf(g, t).isShapeTensor;
}

// A layer whose computation a program instruction can express.
bool isFusableLayer(const Graph& g, const LayerInfo& l) {
  if (l.hostEvaluated || l.outputs.size() != 1 || !isFloatTensor(g, l.outputs[0])) return false;
  for (int32_t t : l.inputs) {
    if (!isFloatTensor(g, t)) return false;
  }
  const int64_t op = l.params.attrs.getInt("operation", -1);
  const LayerType type = l.params.type;
  if (type == LayerType::kACTIVATION) {
    const int64_t a = l.params.attrs.getInt("activation", -1);
    return l.inputs.size() == 1 && a >= 0 && a <= static_cast<int64_t>(ActivationType::kGELU_TANH);
  }
  if (type == LayerType::kELEMENTWISE) {
    return l.inputs.size() == 2 && op >= 0 && op <= static_cast<int64_t>(ElementWiseOperation::kLESS) &&
           isFusableBinaryOperation(static_cast<ElementWiseOperation>(op));
  }
  if (type == LayerType::kUNARY) {
    return l.inputs.size() == 1 && op >= 0 && op <= static_cast<int64_t>(UnaryOperation::kISNAN) &&
           isFusableUnaryOperation(static_cast<UnaryOperation>(op));
  }
  return type == LayerType::kCAST && l.inputs.size() == 1;  // float to float: both tensors checked above
}

// Whether `in` reaches `out` by numpy broadcasting in a way known at build time. A dynamic operand extent
// against a known output extent could be 1 or the extent; such operands are left to the unfused kernels.
bool broadcastsTo(const Dims& in, const Dims& out) {
  if (in.nbDims > out.nbDims || out.nbDims < 0) return false;
  for (int32_t k = 0; k < in.nbDims; ++k) {
    const int64_t i = in.d[k];
    const int64_t o = out.d[out.nbDims - in.nbDims + k];
    if (i == o || i == 1) continue;
    return false;
  }
  return true;
}

bool layerFitsGroup(const Graph& g, const LayerInfo& l, const Dims& groupDims) {
  if (!isFusableLayer(g, l) || tensorOf(g, l.outputs[0]).dims != groupDims) return false;
  for (int32_t t : l.inputs) {
    if (!broadcastsTo(tensorOf(g, t).dims, groupDims)) return false;
  }
  return true;
}

// The value of a one-element float constant tensor.
bool singleConstant(const Graph& g, const GraphUses& uses, int32_t t, float& value) {
  const int32_t p = uses.producer[static_cast<size_t>(t)];
  if (p < 0 || g.layers[static_cast<size_t>(p)].params.type != LayerType::kCONSTANT) return false;
  const WeightsBlob* w = g.layers[static_cast<size_t>(p)].params.attrs.getWeights("weights");
  if (w == nullptr || w->count != 1 || w->byteSize() < dataTypeSize(w->type)) return false;
  if (w->type == DataType::kFLOAT) {
    std::memcpy(&value, w->data(), sizeof(float));
  } else if (w->type == DataType::kHALF) {
    value = halfToFloat(*static_cast<const uint16_t*>(w->data()));
  } else if (w->type == DataType::kBF16) {
    value = bf16ToFloat(*static_cast<const uint16_t*>(w->data()));
  } else {
    return false;
  }
  return true;
}

// Grows a group backwards from `root`: a producer joins when it fits and every reader of its output is
// already in the group. Repeats to a fixed point so diamonds (x * sigmoid(x)) close once both arms joined.
std::vector<int32_t> growGroup(const Graph& g, const GraphUses& uses, const std::vector<bool>& taken, int32_t root) {
  const Dims groupDims = tensorOf(g, g.layers[static_cast<size_t>(root)].outputs[0]).dims;
  std::vector<bool> inGroup(g.layers.size(), false);
  std::vector<int32_t> group{root};
  inGroup[static_cast<size_t>(root)] = true;
  for (bool changed = true; changed && group.size() < kMAX_GROUP_LAYERS;) {
    changed = false;
    for (size_t m = 0; m < group.size() && group.size() < kMAX_GROUP_LAYERS; ++m) {
      for (int32_t t : g.layers[static_cast<size_t>(group[m])].inputs) {
        const int32_t p = uses.producer[static_cast<size_t>(t)];
        if (p < 0 || inGroup[static_cast<size_t>(p)] || taken[static_cast<size_t>(p)]) continue;
        if (uses.isOutput[static_cast<size_t>(t)]) continue;
        if (!layerFitsGroup(g, g.layers[static_cast<size_t>(p)], groupDims)) continue;
        const auto& readers = uses.readers[static_cast<size_t>(t)];
        const bool internal =
            std::all_of(readers.begin(), readers.end(), [&](int32_t r) { return inGroup[static_cast<size_t>(r)]; });
        if (!internal) continue;
        inGroup[static_cast<size_t>(p)] = true;
        group.push_back(p);
        changed = true;
        if (group.size() >= kMAX_GROUP_LAYERS) break;
      }
    }
  }
  std::sort(group.begin(), group.end());  // layer order is topological
  return group;
}

// Translates the members into a program; false when the group needs more inputs than a fused layer takes.
bool buildProgram(const Graph& g, const GraphUses& uses, const std::vector<int32_t>& group, PointwiseProgram& program,
                  std::vector<int32_t>& externalInputs) {
  std::map<int32_t, int32_t> registerOf;  // tensor -> register
  auto emit = [&](PointwiseInstruction in) {
    program.code.push_back(in);
    return static_cast<int32_t>(program.code.size() - 1);
  };
  auto operand = [&](int32_t t) {
    auto it = registerOf.find(t);
    if (it != registerOf.end()) return it->second;
    PointwiseInstruction in;
    float value = 0.f;
    if (singleConstant(g, uses, t, value)) {
      in.opcode = PointwiseOpcode::kCONSTANT;
      in.alpha = value;
    } else {
      in.opcode = PointwiseOpcode::kLOAD;
      in.code = static_cast<int32_t>(externalInputs.size());
      externalInputs.push_back(t);
    }
    return registerOf[t] = emit(in);
  };
  for (int32_t li : group) {
    const LayerInfo& l = g.layers[static_cast<size_t>(li)];
    PointwiseInstruction in;
    in.a = operand(l.inputs[0]);
    const LayerType type = l.params.type;
    if (type == LayerType::kACTIVATION) {
      in.opcode = PointwiseOpcode::kACTIVATION;
      in.code = static_cast<int32_t>(l.params.attrs.getInt("activation"));
      in.alpha = static_cast<float>(l.params.attrs.getFloat("alpha"));
      in.beta = static_cast<float>(l.params.attrs.getFloat("beta"));
    } else if (type == LayerType::kELEMENTWISE) {
      in.opcode = PointwiseOpcode::kBINARY;
      in.code = static_cast<int32_t>(l.params.attrs.getInt("operation"));
      in.b = operand(l.inputs[1]);
    } else if (type == LayerType::kUNARY) {
      in.opcode = PointwiseOpcode::kUNARY;
      in.code = static_cast<int32_t>(l.params.attrs.getInt("operation"));
    } else if (type == LayerType::kCAST) {
      in.opcode = PointwiseOpcode::kCAST;
      in.code = static_cast<int32_t>(tensorOf(g, l.outputs[0]).type);
    } else {
      return false;
    }
    int32_t result = emit(in);
    // The unfused layer stores its result in its tensor's type: a float16/bfloat16 intermediate rounds there,
    // so the fused chain rounds at the same points and computes what the layers computed one by one.
    const DataType stored = tensorOf(g, l.outputs[0]).type;
    if (type != LayerType::kCAST && stored != DataType::kFLOAT) {
      PointwiseInstruction round;
      round.opcode = PointwiseOpcode::kCAST;
      round.code = static_cast<int32_t>(stored);
      round.a = result;
      result = emit(round);
    }
    registerOf[l.outputs[0]] = result;
  }
  const TensorInfo& out = tensorOf(g, g.layers[static_cast<size_t>(group.back())].outputs[0]);
  program.outputType = out.type;
  program.outputRank = out.dims.nbDims;
  return !externalInputs.empty() && externalInputs.size() <= static_cast<size_t>(kMAX_POINTWISE_INPUTS) &&
         program.code.size() <= static_cast<size_t>(kMAX_POINTWISE_INSTRUCTIONS);
}

}  // namespace

int32_t fusePointwiseChains(Graph& g) {
  const GraphUses uses(g);
  std::vector<bool> taken(g.layers.size(), false);
  std::vector<bool> dead(g.layers.size(), false);
  int32_t fused = 0;
  // From the end, so each group's root is the last layer of a chain and its producers join it.
  for (size_t r = g.layers.size(); r-- > 0;) {
    const auto root = static_cast<int32_t>(r);
    if (taken[r]) continue;
    const LayerInfo& rootLayer = g.layers[r];
    if (!isFusableLayer(g, rootLayer)) continue;
    if (!layerFitsGroup(g, rootLayer, tensorOf(g, rootLayer.outputs[0]).dims)) continue;
    const std::vector<int32_t> group = growGroup(g, uses, taken, root);
    if (group.size() < 2) continue;
    PointwiseProgram program;
    std::vector<int32_t> externalInputs;
    if (!buildProgram(g, uses, group, program, externalInputs)) continue;
    LayerInfo fusedLayer;
    fusedLayer.params.type = LayerType::kPOINTWISE;
    fusedLayer.params.name =
        "PointWise[" + g.layers[static_cast<size_t>(group.front())].params.name + " .. " + rootLayer.params.name + "]";
    storePointwiseProgram(program, fusedLayer.params.attrs);
    fusedLayer.inputs = externalInputs;
    fusedLayer.outputs = rootLayer.outputs;
    for (int32_t m : group) {
      taken[static_cast<size_t>(m)] = true;
      if (m != root) dead[static_cast<size_t>(m)] = true;
    }
    g.layers[r] = std::move(fusedLayer);
    fused += static_cast<int32_t>(group.size()) - 1;
  }
  if (fused == 0) return 0;
  std::vector<LayerInfo> kept;
  kept.reserve(g.layers.size());
  for (size_t l = 0; l < g.layers.size(); ++l) {
    if (!dead[l]) kept.push_back(std::move(g.layers[l]));
  }
  g.layers = std::move(kept);
  eliminateDeadLayers(g);  // constants folded into immediates lost their last reader
  return fused;
}

bool pointwiseFusionEnabled(BackendKind backend) {
  const char* env = std::getenv("KILN_FUSE_POINTWISE");
  if (env != nullptr && std::strcmp(env, "0") == 0) return false;
  if (env != nullptr && std::strcmp(env, "1") == 0) return true;
  return backend == BackendKind::kCUDA;
}

}  // namespace kiln
