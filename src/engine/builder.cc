// Builder: network -> graph passes -> shape checks per profile -> tactic selection -> memory plan -> plan.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

#include "engine/backend.h"
#include "engine/builder_attention_mask.h"
#include "engine/builder_attention_views.h"
#include "engine/builder_fusion.h"
#include "engine/builder_gemm_merge.h"
#include "engine/builder_layout.h"
#include "engine/builder_passes.h"
#include "engine/builder_patch_conv.h"
#include "engine/builder_pointwise_fusion.h"
#include "engine/builder_shuffle.h"
#include "engine/builder_timing.h"
#include "engine/memory_planner.h"
#include "engine/network_impl.h"
#include "engine/plan.h"
#include "engine/shape_resolution.h"
#include "kiln/builder.h"
#include "kiln/runtime.h"

namespace kiln {
namespace {

constexpr int64_t kFOLD_MAX_ELEMENTS = int64_t{1} << 22;

const char* selectorName(int s) { return s == 0 ? "min" : (s == 1 ? "opt" : "max"); }

// Profile shapes per graph input; a network whose inputs are all static gets one implicit profile.
StatusOr<std::vector<ProfileShapes>> makeProfiles(const Graph& graph, const BuilderConfig& config) {
  std::vector<OptimizationProfile> profiles = config.profiles();
  if (profiles.empty()) profiles.emplace_back();
  std::vector<ProfileShapes> result;
  for (size_t p = 0; p < profiles.size(); ++p) {
    const OptimizationProfile& profile = profiles[p];
    ProfileShapes shapes;
    for (const auto& [name, range] : profile.ranges()) {
      bool known = false;
      for (int32_t t : graph.inputs) known = known || graph.tensors[static_cast<size_t>(t)].name == name;
      if (!known) return invalidArgument("optimization profile " + std::to_string(p) + " names '" + name +
                                         "', which is not a network input");
    }
    for (int32_t t : graph.inputs) {
      const TensorInfo& input = graph.tensors[static_cast<size_t>(t)];
      auto it = profile.ranges().find(input.name);
      const std::string where = "optimization profile " + std::to_string(p) + ", input '" + input.name + "'";
      if (it == profile.ranges().end()) {
        if (hasDynamicExtent(input.dims)) {
          return invalidArgument(where + ": the input has dynamic dims " + dimsToString(input.dims) +
                                 "; set its min/opt/max shapes in every profile");
        }
        shapes.min.push_back(input.dims);
        shapes.opt.push_back(input.dims);
        shapes.max.push_back(input.dims);
        continue;
      }
      const OptimizationProfile::Range& r = it->second;
      if (!r.hasMin || !r.hasOpt || !r.hasMax) return invalidArgument(where + ": min, opt and max must all be set");
      for (const Dims* d : {&r.min, &r.opt, &r.max}) {
        if (d->nbDims != input.dims.nbDims) {
          return invalidArgument(where + ": profile rank " + std::to_string(d->nbDims) + " differs from the input's " +
                                 std::to_string(input.dims.nbDims));
        }
      }
      for (int32_t k = 0; k < input.dims.nbDims; ++k) {
        if (r.min.d[k] > r.opt.d[k] || r.opt.d[k] > r.max.d[k]) {
          return invalidArgument(where + ": dim " + std::to_string(k) + " needs min <= opt <= max, got " +
                                 dimsToString(r.min) + " / " + dimsToString(r.opt) + " / " + dimsToString(r.max));
        }
        if (input.dims.d[k] >= 0 && (r.min.d[k] != input.dims.d[k] || r.max.d[k] != input.dims.d[k])) {
          return invalidArgument(where + ": dim " + std::to_string(k) + " is static (" +
                                 std::to_string(input.dims.d[k]) + ") but the profile gives another extent");
        }
      }
      shapes.min.push_back(r.min);
      shapes.opt.push_back(r.opt);
      shapes.max.push_back(r.max);
    }
    result.push_back(std::move(shapes));
  }
  return result;
}

const std::vector<Dims>& select(const ProfileShapes& p, int s) { return s == 0 ? p.min : (s == 1 ? p.opt : p.max); }

std::string timingKey(const Backend& backend, const LayerInfo& layer, const ShapeState& state) {
  std::string key = std::string(backendKindName(backend.kind())) + "|" + backend.deviceName() + "|" +
                    layerTypeName(layer.params.type) + "|" + layer.params.attrs.fingerprint();
  for (int32_t t : layer.inputs) {
    key += "|";
    if (t < 0) continue;
    key += std::string(dataTypeName(state.types[static_cast<size_t>(t)])) + dimsToString(state.dims[static_cast<size_t>(t)]);
  }
  return key;
}

// Buffers for timing one layer in isolation at the opt shapes of profile 0.
class TimingBuffers {
 public:
  TimingBuffers(Backend& backend) : backend_(backend) {}
  ~TimingBuffers() {
    for (void* p : owned_) backend_.deallocate(p);
  }
  StatusOr<void*> make(const Dims& dims, DataType type, const HostTensor* value, std::mt19937& rng) {
    const int64_t bytes = volume(dims) * dataTypeSize(type);
    KILN_ASSIGN_OR_RETURN(void* ptr, backend_.allocate(bytes));
    owned_.push_back(ptr);
    std::vector<uint8_t> host(static_cast<size_t>(bytes), 0);
    if (value != nullptr && static_cast<int64_t>(value->bytes.size()) == bytes) {
      host = value->bytes;
    } else if (type == DataType::kFLOAT) {
      std::uniform_real_distribution<float> dist(-1.f, 1.f);
      for (int64_t i = 0; i < bytes / 4; ++i) {
        const float v = dist(rng);
        std::memcpy(host.data() + i * 4, &v, 4);
      }
    }
    KILN_RETURN_IF_ERROR(backend_.copyToDevice(ptr, host.data(), bytes, nullptr));
    return ptr;
  }

 private:
  Backend& backend_;
  std::vector<void*> owned_;
};

struct TacticStats {
  int32_t timed = 0;
  int32_t cacheHits = 0;
};

Status chooseTactics(Graph& graph, Backend& backend, const BuilderConfig& config, const ShapeState& opt,
                     TacticStats& stats) {
  TimingCache* cache = config.getFlag(BuilderFlag::kDISABLE_TIMING_CACHE) ? nullptr : config.getTimingCache();
  std::mt19937 rng(1234);
  for (LayerInfo& layer : graph.layers) {
    if (layer.hostEvaluated) {
      layer.kernel = "host";
      continue;
    }
    if (layer.params.type == LayerType::kCONSTANT) {
      layer.kernel = "constant";  // the runtime places constants in device memory once; nothing runs
      continue;
    }
    std::vector<TacticCandidate> candidates = backend.tactics(layer, graph);
    if (candidates.empty()) {
      return unimplemented(std::string("the ") + backendKindName(backend.kind()) + " backend has no kernel for " +
                           layerTypeName(layer.params.type) + " layer '" + layer.params.name +
                           "'; build for another backend or replace the layer");
    }
    bool known = true;
    for (int32_t t : layer.inputs) known = known && (t < 0 || !hasDynamicExtent(opt.dims[static_cast<size_t>(t)]));
    for (int32_t t : layer.outputs) known = known && !hasDynamicExtent(opt.dims[static_cast<size_t>(t)]);
    if (candidates.size() == 1 || config.getBuilderOptimizationLevel() <= 0 || !known) {
      layer.kernel = candidates.front().name;
      continue;
    }
    const std::string key = timingKey(backend, layer, opt);
    if (cache != nullptr) {
      if (const TimingCache::Entry* hit = cache->find(key)) {
        auto it = std::find_if(candidates.begin(), candidates.end(),
                               [&](const TacticCandidate& c) { return c.name == hit->tactic; });
        if (it != candidates.end()) {
          layer.kernel = hit->tactic;
          ++stats.cacheHits;
          continue;
        }
      }
    }
    TimingBuffers buffers(backend);
    KernelIO io;
    for (int32_t t : layer.inputs) {
      TensorView view;
      if (t >= 0) {
        const auto ut = static_cast<size_t>(t);
        view.dims = opt.dims[ut];
        view.type = opt.types[ut];
        KILN_ASSIGN_OR_RETURN(view.data, buffers.make(view.dims, view.type, opt.values[ut].get(), rng));
      }
      io.inputs.push_back(view);
    }
    for (int32_t t : layer.outputs) {
      TensorView view;
      view.dims = opt.dims[static_cast<size_t>(t)];
      view.type = opt.types[static_cast<size_t>(t)];
      KILN_ASSIGN_OR_RETURN(view.data, buffers.make(view.dims, view.type, nullptr, rng));
      io.outputs.push_back(view);
    }
    double best = -1.0;
    std::string bestName = candidates.front().name;
    const int repeats = config.getBuilderOptimizationLevel() >= 4 ? 10 : 3;
    for (const TacticCandidate& candidate : candidates) {
      StatusOr<std::unique_ptr<Kernel>> kernel = candidate.create(layer, graph);
      if (!kernel.isOk()) continue;
      const int64_t wsBytes = kernel.value()->workspaceSize(io);
      if (wsBytes > static_cast<int64_t>(config.getMemoryPoolLimit(MemoryPoolType::kWORKSPACE))) continue;
      StatusOr<void*> ws = backend.allocate(wsBytes);
      if (!ws.isOk()) continue;
      io.workspace = ws.value();
      io.workspaceSize = wsBytes;
      StatusOr<double> ms = timeTacticMs(backend, *kernel.value(), io, repeats);
      backend.deallocate(ws.value());
      io.workspace = nullptr;
      if (!ms.isOk()) continue;
      if (best < 0 || ms.value() < best) {
        best = ms.value();
        bestName = candidate.name;
      }
    }
    layer.kernel = bestName;
    ++stats.timed;
    if (cache != nullptr && best >= 0) cache->put(key, {bestName, best});
  }
  return Status::ok();
}

}  // namespace

Builder::Builder() = default;
Builder::~Builder() = default;

std::unique_ptr<NetworkDefinition> Builder::createNetworkV2(uint32_t flags) {
  return std::make_unique<NetworkDefinition>(flags);
}
std::unique_ptr<BuilderConfig> Builder::createBuilderConfig() { return std::make_unique<BuilderConfig>(); }
std::unique_ptr<OptimizationProfile> Builder::createOptimizationProfile() {
  return std::make_unique<OptimizationProfile>();
}
std::unique_ptr<TimingCache> Builder::createTimingCache(const void* blob, size_t size) {
  if (blob == nullptr || size == 0) return std::make_unique<TimingCache>();
  StatusOr<std::unique_ptr<TimingCache>> cache = TimingCache::deserialize(blob, size);
  if (!cache.isOk()) return nullptr;
  return std::move(cache).value();
}

StatusOr<std::unique_ptr<HostMemory>> Builder::buildSerializedNetwork(NetworkDefinition& network,
                                                                       const BuilderConfig& config) {
  const auto start = std::chrono::steady_clock::now();
  report_ = BuildReport();
  StatusOr<Graph> exported = network.impl().toGraph();
  if (!exported.isOk()) return exported.status().withContext("building the network");
  Graph graph = std::move(exported).value();
  KILN_ASSIGN_OR_RETURN(std::shared_ptr<Backend> backend, getBackend(config.getBackend()));
  KILN_ASSIGN_OR_RETURN(std::vector<ProfileShapes> profiles, makeProfiles(graph, config));
  report_.layersBefore = static_cast<int32_t>(graph.layers.size());

  eliminateDeadLayers(graph);
  KILN_ASSIGN_OR_RETURN(report_.constantsFolded, foldConstants(graph, kFOLD_MAX_ELEMENTS));
  if (attentionMaskSimplificationEnabled()) report_.attentionMasksRemoved = simplifyConstantAttentionMasks(graph);
  if (!network.isStronglyTyped()) {
    KILN_RETURN_IF_ERROR(assignPrecisions(graph, config, backend->kind() == BackendKind::kCUDA));
  }
  removeRedundantCasts(graph);
  report_.layersFused = foldChannelAffineIntoConvolution(graph);
  // Before the layout pass, which would otherwise keep the patch embedding a (channels-last) convolution.
  if (patchConvolutionsEnabled()) convertPatchConvolutions(graph);
  chooseLayoutForBackend(graph, *backend, report_);
  if (sinkReshapes(graph) > 0) {
    // Sinking reshapes a constant operand now and then (a scalar of higher rank): make those constants again.
    KILN_ASSIGN_OR_RETURN(const int32_t refolded, foldConstants(graph, kFOLD_MAX_ELEMENTS));
    report_.constantsFolded += refolded;
  }
  report_.layersFused += mergeShuffles(graph);
  if (attentionViewsEnabled() && moveShufflesAcrossGemms(graph) > 0) report_.layersFused += mergeShuffles(graph);
  // After the layout pass, which turns ConvNeXt's permutes between its linears and layer scales into nothing.
  report_.layersFused += foldColumnScaleIntoGemm(graph);
  if (backend->kind() == BackendKind::kCUDA) {
    report_.layersFused += fuseEpilogues(graph);
    // A fused bias may come from a constant defined after its GEMM: order first, since dead-layer elimination
    // (here, for the scalar constants of fused-away chains, and in the passes below) walks the order backwards.
    sortLayersTopologically(graph);
    eliminateDeadLayers(graph);
  }
  if (gemmMergeEnabled()) report_.layersFused += mergeSiblingGemms(graph);
  if (attentionViewsEnabled()) report_.layersFused += absorbAttentionViews(graph);
  if (pointwiseFusionEnabled(backend->kind())) report_.layersFused += fusePointwiseChains(graph);
  if (config.getFlag(BuilderFlag::kTF32)) {
    // Kernels read this per layer: the timing cache and the plan then tell TF32 and exact float32 apart.
    for (LayerInfo& layer : graph.layers) {
      const LayerType t = layer.params.type;
      if (t == LayerType::kMATRIX_MULTIPLY || t == LayerType::kCONVOLUTION || t == LayerType::kDECONVOLUTION ||
          t == LayerType::kATTENTION) {
        layer.params.attrs.setInt("allow_tf32", 1);
      }
    }
  }
  sortLayersTopologically(graph);
  markHostEvaluatedLayers(graph);
  compactTensors(graph);
  report_.layersAfter = static_cast<int32_t>(graph.layers.size());

  // Every profile's corners must infer: a network that fails at max shapes is rejected now, not at run time.
  const auto constants = constantHostValues(graph);
  std::vector<std::vector<ShapeState>> states(profiles.size(), std::vector<ShapeState>(3));
  for (size_t p = 0; p < profiles.size(); ++p) {
    for (int s = 0; s < 3; ++s) {
      Status status = resolveShapes(graph, select(profiles[p], s), constants, states[p][static_cast<size_t>(s)]);
      if (!status.isOk()) {
        return status.withContext("shape check at optimization profile " + std::to_string(p) + " " + selectorName(s) +
                                  " shapes");
      }
    }
  }

  TacticStats stats;
  KILN_RETURN_IF_ERROR(chooseTactics(graph, *backend, config, states[0][1], stats));
  report_.tacticsTimed = stats.timed;
  report_.timingCacheHits = stats.cacheHits;

  PlanContents plan;
  plan.kilnVersion = kilnVersion();
  plan.backend = backend->kind();
  plan.deviceName = backend->deviceName();
  for (size_t p = 0; p < profiles.size(); ++p) {
    std::vector<int64_t> bytes(graph.tensors.size(), 0);
    int64_t total = 0;
    for (size_t t = 0; t < graph.tensors.size(); ++t) {
      for (const ShapeState& state : states[p]) {
        const int64_t count = volume(state.dims[t]);
        bytes[t] = count < 0 || bytes[t] < 0 ? -1 : std::max(bytes[t], count * dataTypeSize(state.types[t]));
      }
    }
    MemoryPlan memory = planMemory(graph, bytes);
    for (size_t t = 0; t < graph.tensors.size(); ++t) total += memory.offsets[t] >= 0 ? memory.capacities[t] : 0;
    report_.plannedActivationBytes = std::max(report_.plannedActivationBytes, memory.arenaBytes);
    report_.totalActivationBytes = std::max(report_.totalActivationBytes, total);
    plan.memoryPlans.push_back(std::move(memory));
  }
  plan.profiles = std::move(profiles);
  plan.graph = std::move(graph);
  auto blob = std::make_unique<HostMemory>(serializePlan(plan));
  report_.buildSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return blob;
}

}  // namespace kiln
