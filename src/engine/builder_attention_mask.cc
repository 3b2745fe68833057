#include "engine/builder_attention_mask.h"

#include <cmath>
#include <limits>
#include <vector>

#include "engine/builder_passes.h"
#include "util/half.h"

namespace kiln {
namespace {

// What a constant mask allows, per element: bool true, or an additive 0. A disallowed element is bool false,
// or -inf or the type's lowest finite value (what PyTorch and transformers write for "masked"; softmax gives
// such a key exactly zero weight either way). Anything else (a real additive bias) keeps the mask.
enum class MaskValue { kALLOW, kBLOCK, kOTHER };

MaskValue classify(double value, DataType type) {
  if (value == 0.0) return MaskValue::kALLOW;
  if (std::isinf(value) && value < 0) return MaskValue::kBLOCK;
  double lowest = 0.0;
  switch (type) {
    case DataType::kFLOAT: lowest = std::numeric_limits<float>::lowest(); break;
    case DataType::kHALF: lowest = -65504.0; break;
    case DataType::kBF16: lowest = static_cast<double>(bf16ToFloat(0xff7f)); break;
    default: return MaskValue::kOTHER;
  }
  return value == lowest ? MaskValue::kBLOCK : MaskValue::kOTHER;
}

// The mask's values as allow/block flags, or false when it holds anything else.
bool maskFlags(const WeightsBlob& w, std::vector<bool>& allowed) {
  if (w.count <= 0 || w.byteSize() < w.count * dataTypeSize(w.type)) return false;
  allowed.resize(static_cast<size_t>(w.count));
  for (int64_t i = 0; i < w.count; ++i) {
    MaskValue v = MaskValue::kOTHER;
    switch (w.type) {
      case DataType::kBOOL: v = static_cast<const uint8_t*>(w.data())[i] != 0 ? MaskValue::kALLOW : MaskValue::kBLOCK; break;
      case DataType::kFLOAT: v = classify(static_cast<const float*>(w.data())[i], w.type); break;
      case DataType::kHALF: v = classify(halfToFloat(static_cast<const uint16_t*>(w.data())[i]), w.type); break;
      case DataType::kBF16: v = classify(bf16ToFloat(static_cast<const uint16_t*>(w.data())[i]), w.type); break;
      default: return false;
    }
    if (v == MaskValue::kOTHER) return false;
    allowed[static_cast<size_t>(i)] = v == MaskValue::kALLOW;
  }
  return true;
}

// Whether every [rows, cols] slice of the flags (row-major, the mask's last two dims) allows exactly the
// keys j <= i.
bool isCausal(const std::vector<bool>& allowed, int64_t rows, int64_t cols) {
  if (rows <= 0 || cols <= 0 || static_cast<int64_t>(allowed.size()) % (rows * cols) != 0) return false;
  for (size_t at = 0; at < allowed.size(); ++at) {
    const int64_t within = static_cast<int64_t>(at) % (rows * cols);
    if (allowed[at] != (within % cols <= within / cols)) return false;
  }
  return true;
}

}  // namespace

int32_t simplifyConstantAttentionMasks(Graph& graph) {
  const std::vector<int32_t> producer = graph.producers();
  int32_t removed = 0;
  for (LayerInfo& layer : graph.layers) {
    if (layer.params.type != LayerType::kATTENTION || layer.inputs.size() < 4 || layer.inputs[3] < 0) continue;
    const int32_t maskTensor = layer.inputs[3];
    const int32_t p = producer[static_cast<size_t>(maskTensor)];
    if (p < 0 || graph.layers[static_cast<size_t>(p)].params.type != LayerType::kCONSTANT) continue;
    const WeightsBlob* w = graph.layers[static_cast<size_t>(p)].params.attrs.getWeights("weights");
    std::vector<bool> allowed;
    if (w == nullptr || !maskFlags(*w, allowed)) continue;
    bool all = true;
    for (bool a : allowed) all = all && a;
    if (!all) {
      // Causal needs the mask's last two dims to be the scores' [Sq, Sk], known when the engine is built.
      const Dims& m = graph.tensors[static_cast<size_t>(maskTensor)].dims;
      const Dims& q = graph.tensors[static_cast<size_t>(layer.inputs[0])].dims;
      const Dims& k = graph.tensors[static_cast<size_t>(layer.inputs[1])].dims;
      if (q.nbDims < 3 || k.nbDims < 3) continue;  // invalid: the shape check reports it
      const int64_t sq = q.d[q.nbDims - 2], sk = k.d[k.nbDims - 2];
      if (m.nbDims < 2 || sq < 0 || sk < 0 || m.d[m.nbDims - 2] != sq || m.d[m.nbDims - 1] != sk ||
          !isCausal(allowed, sq, sk)) {
        continue;
      }
      layer.params.attrs.setInt("causal", 1);
    }
    layer.inputs.resize(3);
    ++removed;
  }
  if (removed > 0) eliminateDeadLayers(graph);  // the mask constants
  return removed;
}

bool attentionMaskSimplificationEnabled() { return !envSwitchedOff("KILN_SIMPLIFY_ATTENTION_MASKS"); }

}  // namespace kiln
