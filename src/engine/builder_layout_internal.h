// Internals of the layout pass shared by its analysis (builder_layout.cc) and its graph edits
// (builder_layout_rewrite.cc).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/builder_layout.h"
#include "engine/graph.h"

namespace kiln {
namespace layout {

// NHWC dim i holds NCHW dim kToNhwc[i]; NCHW dim a sits at NHWC dim kToNchw[a]. As shuffle permutations
// (out.d[i] = in.d[perm[i]]) they are the entering and the leaving transposes.
constexpr int32_t kToNhwc[4] = {0, 2, 3, 1};
constexpr int32_t kToNchw[4] = {0, 3, 1, 2};
constexpr int32_t kIdentity[4] = {0, 1, 2, 3};

inline Dims permuted(const Dims& d, const int32_t (&perm)[4]) {
  Dims out = d;
  for (int32_t i = 0; i < 4; ++i) out.d[i] = d.d[perm[i]];
  return out;
}

inline uint32_t remapMask(uint32_t mask) {
  uint32_t out = 0;
  for (int32_t a = 0; a < 4; ++a) {
    if ((mask >> a) & 1u) out |= 1u << kToNchw[a];
  }
  return out;
}

// What the pass does with a layer.
enum class Role { kNONE, kMEMBER, kADAPTER };

struct LayerPlan {
  Role role = Role::kNONE;
  std::vector<size_t> ports;               // input slots carrying NHWC data once converted
  bool outputNhwc = false;                 // output 0 becomes NHWC (false: a reduce whose output order is layout-free)
  bool seed = false;                       // a convolution
  int32_t adapterOrder[4] = {0, 1, 2, 3};  // adapters: the shuffle's whole permutation
};

struct Analysis {
  const Graph& g;
  std::vector<int32_t> producer;
  std::vector<std::vector<int32_t>> readers;
  std::vector<bool> isOutput;

  explicit Analysis(const Graph& graph)
      : g(graph), producer(graph.producers()), readers(graph.tensors.size()), isOutput(graph.tensors.size(), false) {
    for (size_t l = 0; l < graph.layers.size(); ++l) {
      for (int32_t t : graph.layers[l].inputs) {
        if (t >= 0) readers[static_cast<size_t>(t)].push_back(static_cast<int32_t>(l));
      }
    }
    for (int32_t t : graph.outputs) isOutput[static_cast<size_t>(t)] = true;
  }
  const TensorInfo& tensor(int32_t t) const { return g.tensors[static_cast<size_t>(t)]; }
  bool isData4(int32_t t) const { return t >= 0 && tensor(t).dims.nbDims == 4 && !tensor(t).isShapeTensor; }
  // A constant layer's output whose bytes match its dims: it can be permuted at build time.
  const WeightsBlob* constantOf(int32_t t) const {
    const int32_t p = producer[static_cast<size_t>(t)];
    if (p < 0 || g.layers[static_cast<size_t>(p)].params.type != LayerType::kCONSTANT) return nullptr;
    const WeightsBlob* w = g.layers[static_cast<size_t>(p)].params.attrs.getWeights("weights");
    const Dims& d = tensor(t).dims;
    if (w == nullptr || d.nbDims > 4 || volume(d) != w->count || w->type != tensor(t).type ||
        w->byteSize() != w->count * dataTypeSize(w->type)) {
      return nullptr;
    }
    return w;
  }
};

// The layer reads t, and only in port slots: it takes the NHWC twin in place of t.
bool readsOnlyAsPort(const LayerPlan& plan, const LayerInfo& layer, int32_t t);

// Rewrites the graph: converted members get NHWC ports and outputs and remapped axes, adapters compose their
// permutation with the layout change (identities are dropped), edges get transposes, constants permuted copies.
LayoutChoice rewriteRegions(Graph& graph, const Analysis& analysis, const std::vector<LayerPlan>& plans,
                            const std::vector<bool>& converted, const std::vector<bool>& adapterOutNhwc);

}  // namespace layout
}  // namespace kiln
