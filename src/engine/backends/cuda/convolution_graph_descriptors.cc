// cuDNN graph API: operation graph, heuristics and execution plans of one convolution with its epilogue (see
// convolution_graph_descriptors.h). Every attribute is set with the type and element count cuDNN documents for
// it; every call is checked.
#include "engine/backends/cuda/convolution_graph_descriptors.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <utility>

#include "engine/backends/cuda/convolution_cudnn.h"

namespace kiln {
namespace cuda {

BackendDescriptor::~BackendDescriptor() {
  if (desc_ != nullptr) cudnnBackendDestroyDescriptor(desc_);
}

BackendDescriptor& BackendDescriptor::operator=(BackendDescriptor&& other) noexcept {
  if (this != &other) {
    if (desc_ != nullptr) cudnnBackendDestroyDescriptor(desc_);
    desc_ = other.desc_;
    other.desc_ = nullptr;
  }
  return *this;
}

Status BackendDescriptor::create(cudnnBackendDescriptorType_t type, const std::string& layer) {
  if (desc_ != nullptr) {
    cudnnBackendDestroyDescriptor(desc_);
    desc_ = nullptr;
  }
  KILN_CUDNN_CHECK(cudnnBackendCreateDescriptor(type, &desc_), layer);
  return Status::ok();
}

namespace {

Status setAttr(const BackendDescriptor& d, cudnnBackendAttributeName_t name, cudnnBackendAttributeType_t type,
               int64_t count, const void* values, const char* what, const std::string& layer) {
  const cudnnStatus_t status = cudnnBackendSetAttribute(d.get(), name, type, count, values);
  if (status != CUDNN_STATUS_SUCCESS) return cudnnError(status, what, layer);
  return Status::ok();
}

Status setDesc(const BackendDescriptor& d, cudnnBackendAttributeName_t name, const BackendDescriptor& value,
               const char* what, const std::string& layer) {
  cudnnBackendDescriptor_t raw = value.get();
  return setAttr(d, name, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &raw, what, layer);
}

Status finalize(const BackendDescriptor& d, const char* what, const std::string& layer) {
  const cudnnStatus_t status = cudnnBackendFinalize(d.get());
  if (status != CUDNN_STATUS_SUCCESS) return cudnnError(status, what, layer);
  return Status::ok();
}

void packedStrides(const int64_t dims[4], bool channelsLast, int64_t strides[4]) {
  if (channelsLast) {  // logical [a, b, c, d] stored as [a, c, d, b]
    strides[1] = 1;
    strides[3] = dims[1];
    strides[2] = dims[3] * dims[1];
    strides[0] = dims[2] * strides[2];
  } else {
    strides[3] = 1;
    strides[2] = dims[3];
    strides[1] = dims[2] * dims[3];
    strides[0] = dims[1] * strides[1];
  }
}

Status makeTensor(int64_t uid, DataType type, const int64_t dims[4], const int64_t strides[4], bool isVirtual,
                  int64_t alignment, const std::string& layer, BackendDescriptor& out) {
  KILN_RETURN_IF_ERROR(out.create(CUDNN_BACKEND_TENSOR_DESCRIPTOR, layer));
  const cudnnDataType_t dataType = cudnnTypeOf(type);
  const bool virtualFlag = isVirtual;
  alignment = std::max<int64_t>(alignment, dataTypeSize(type));  // an element's address is at least that aligned
  KILN_RETURN_IF_ERROR(setAttr(out, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dataType,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_TENSOR_DATA_TYPE)", layer));
  KILN_RETURN_IF_ERROR(setAttr(out, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dims,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_TENSOR_DIMENSIONS)", layer));
  KILN_RETURN_IF_ERROR(setAttr(out, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, strides,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_TENSOR_STRIDES)", layer));
  KILN_RETURN_IF_ERROR(setAttr(out, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_TENSOR_UNIQUE_ID)", layer));
  KILN_RETURN_IF_ERROR(setAttr(out, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &alignment,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT)", layer));
  KILN_RETURN_IF_ERROR(setAttr(out, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &virtualFlag,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_TENSOR_IS_VIRTUAL)", layer));
  return finalize(out, "cudnnBackendFinalize(tensor)", layer);
}

// A pointwise operation: y = mode(x) or y = mode(x, b), computed in float32.
Status makePointwise(cudnnPointwiseMode_t mode, const BackendDescriptor& x, const BackendDescriptor* b,
                     const BackendDescriptor& y, const std::string& layer, std::vector<BackendDescriptor>& keep,
                     BackendDescriptor& op) {
  BackendDescriptor pw;
  KILN_RETURN_IF_ERROR(pw.create(CUDNN_BACKEND_POINTWISE_DESCRIPTOR, layer));
  const cudnnDataType_t precision = CUDNN_DATA_FLOAT;
  KILN_RETURN_IF_ERROR(setAttr(pw, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_POINTWISE_MODE)", layer));
  KILN_RETURN_IF_ERROR(setAttr(pw, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &precision,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_POINTWISE_MATH_PREC)", layer));
  KILN_RETURN_IF_ERROR(finalize(pw, "cudnnBackendFinalize(pointwise)", layer));
  KILN_RETURN_IF_ERROR(op.create(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, layer));
  KILN_RETURN_IF_ERROR(setDesc(op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, pw,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR)", layer));
  KILN_RETURN_IF_ERROR(setDesc(op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, x,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATION_POINTWISE_XDESC)", layer));
  if (b != nullptr) {
    KILN_RETURN_IF_ERROR(setDesc(op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b,
                                 "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATION_POINTWISE_BDESC)", layer));
  }
  KILN_RETURN_IF_ERROR(setDesc(op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, y,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATION_POINTWISE_YDESC)", layer));
  KILN_RETURN_IF_ERROR(finalize(op, "cudnnBackendFinalize(pointwise operation)", layer));
  keep.push_back(std::move(pw));
  return Status::ok();
}

// The operation graph; `parts` receives every descriptor it refers to, the graph itself last.
Status makeOperationGraph(cudnnHandle_t handle, const ConvGraphSpec& spec, const std::string& layer,
                          std::vector<BackendDescriptor>& parts) {
  const int64_t cg = spec.c / spec.groups;
  const int64_t xDims[4] = {spec.n, spec.c, spec.h, spec.w};
  const int64_t wDims[4] = {spec.k, cg, spec.r, spec.s};
  const int64_t yDims[4] = {spec.n, spec.k, spec.p, spec.q};
  const int64_t bDims[4] = {1, spec.k, 1, 1};
  int64_t xStrides[4], wStrides[4], yStrides[4];
  packedStrides(xDims, spec.nhwc, xStrides);
  packedStrides(wDims, spec.nhwc, wStrides);
  packedStrides(yDims, spec.nhwc, yStrides);
  const int64_t bStrides[4] = {spec.k, 1, 1, 1};

  BackendDescriptor x, w, y;
  KILN_RETURN_IF_ERROR(makeTensor(kUID_X, spec.type, xDims, xStrides, false, spec.alignment, layer, x));
  KILN_RETURN_IF_ERROR(makeTensor(kUID_W, spec.type, wDims, wStrides, false, spec.alignment, layer, w));
  KILN_RETURN_IF_ERROR(makeTensor(kUID_Y, spec.type, yDims, yStrides, false, spec.alignment, layer, y));

  BackendDescriptor conv;
  KILN_RETURN_IF_ERROR(conv.create(CUDNN_BACKEND_CONVOLUTION_DESCRIPTOR, layer));
  const cudnnDataType_t compute = CUDNN_DATA_FLOAT;
  const cudnnConvolutionMode_t mode = CUDNN_CROSS_CORRELATION;
  const int64_t spatialDims = 2;
  KILN_RETURN_IF_ERROR(setAttr(conv, CUDNN_ATTR_CONVOLUTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &compute,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_CONVOLUTION_COMP_TYPE)", layer));
  KILN_RETURN_IF_ERROR(setAttr(conv, CUDNN_ATTR_CONVOLUTION_CONV_MODE, CUDNN_TYPE_CONVOLUTION_MODE, 1, &mode,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_CONVOLUTION_CONV_MODE)", layer));
  KILN_RETURN_IF_ERROR(setAttr(conv, CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS, CUDNN_TYPE_INT64, 1, &spatialDims,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_CONVOLUTION_SPATIAL_DIMS)", layer));
  KILN_RETURN_IF_ERROR(setAttr(conv, CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS, CUDNN_TYPE_INT64, 2, spec.pad,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_CONVOLUTION_PRE_PADDINGS)", layer));
  KILN_RETURN_IF_ERROR(setAttr(conv, CUDNN_ATTR_CONVOLUTION_POST_PADDINGS, CUDNN_TYPE_INT64, 2, spec.pad,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_CONVOLUTION_POST_PADDINGS)", layer));
  KILN_RETURN_IF_ERROR(setAttr(conv, CUDNN_ATTR_CONVOLUTION_DILATIONS, CUDNN_TYPE_INT64, 2, spec.dilation,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_CONVOLUTION_DILATIONS)", layer));
  KILN_RETURN_IF_ERROR(setAttr(conv, CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES, CUDNN_TYPE_INT64, 2, spec.stride,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_CONVOLUTION_FILTER_STRIDES)", layer));
  KILN_RETURN_IF_ERROR(finalize(conv, "cudnnBackendFinalize(convolution)", layer));

  // Each epilogue step writes a float32 virtual tensor except the last, which writes Y.
  const int steps = (spec.bias ? 1 : 0) + (spec.residual ? 1 : 0) + (spec.relu ? 1 : 0);
  int64_t nextVirtualUid = 100;
  std::vector<BackendDescriptor> tensors;
  auto stepOutput = [&](int remaining, const BackendDescriptor*& out) -> Status {
    if (remaining == 0) {
      out = &y;
      return Status::ok();
    }
    BackendDescriptor t;
    KILN_RETURN_IF_ERROR(
        makeTensor(nextVirtualUid++, DataType::kFLOAT, yDims, yStrides, true, spec.alignment, layer, t));
    tensors.push_back(std::move(t));
    out = &tensors.back();
    return Status::ok();
  };
  tensors.reserve(8);  // stepOutput hands out pointers into it
  int remaining = steps;
  std::vector<BackendDescriptor> ops;
  const BackendDescriptor* current = nullptr;

  BackendDescriptor convOp;
  KILN_RETURN_IF_ERROR(stepOutput(remaining, current));
  KILN_RETURN_IF_ERROR(convOp.create(CUDNN_BACKEND_OPERATION_CONVOLUTION_FORWARD_DESCRIPTOR, layer));
  const float alpha = 1.f, beta = 0.f;
  KILN_RETURN_IF_ERROR(setAttr(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA, CUDNN_TYPE_FLOAT, 1, &alpha,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_ALPHA)", layer));
  KILN_RETURN_IF_ERROR(setAttr(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA, CUDNN_TYPE_FLOAT, 1, &beta,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_BETA)", layer));
  KILN_RETURN_IF_ERROR(setDesc(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC, conv,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_CONV_DESC)", layer));
  KILN_RETURN_IF_ERROR(setDesc(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X, x,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_X)", layer));
  KILN_RETURN_IF_ERROR(setDesc(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W, w,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_W)", layer));
  KILN_RETURN_IF_ERROR(setDesc(convOp, CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y, *current,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATION_CONVOLUTION_FORWARD_Y)", layer));
  KILN_RETURN_IF_ERROR(finalize(convOp, "cudnnBackendFinalize(convolution forward operation)", layer));
  ops.push_back(std::move(convOp));

  BackendDescriptor biasTensor, residualTensor;
  if (spec.bias) {
    KILN_RETURN_IF_ERROR(
        makeTensor(kUID_BIAS, DataType::kFLOAT, bDims, bStrides, false, spec.alignment, layer, biasTensor));
    const BackendDescriptor* in = current;
    KILN_RETURN_IF_ERROR(stepOutput(--remaining, current));
    BackendDescriptor op;
    KILN_RETURN_IF_ERROR(makePointwise(CUDNN_POINTWISE_ADD, *in, &biasTensor, *current, layer, parts, op));
    ops.push_back(std::move(op));
  }
  if (spec.residual) {
    KILN_RETURN_IF_ERROR(
        makeTensor(kUID_RESIDUAL, spec.type, yDims, yStrides, false, spec.alignment, layer, residualTensor));
    const BackendDescriptor* in = current;
    KILN_RETURN_IF_ERROR(stepOutput(--remaining, current));
    BackendDescriptor op;
    KILN_RETURN_IF_ERROR(makePointwise(CUDNN_POINTWISE_ADD, *in, &residualTensor, *current, layer, parts, op));
    ops.push_back(std::move(op));
  }
  if (spec.relu) {
    const BackendDescriptor* in = current;
    KILN_RETURN_IF_ERROR(stepOutput(--remaining, current));
    BackendDescriptor op;
    KILN_RETURN_IF_ERROR(makePointwise(CUDNN_POINTWISE_RELU_FWD, *in, nullptr, *current, layer, parts, op));
    ops.push_back(std::move(op));
  }

  BackendDescriptor graph;
  KILN_RETURN_IF_ERROR(graph.create(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, layer));
  std::vector<cudnnBackendDescriptor_t> rawOps;
  for (const BackendDescriptor& op : ops) rawOps.push_back(op.get());
  KILN_RETURN_IF_ERROR(setAttr(graph, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR,
                               static_cast<int64_t>(rawOps.size()), rawOps.data(),
                               "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATIONGRAPH_OPS)", layer));
  KILN_RETURN_IF_ERROR(setAttr(graph, CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &handle,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_OPERATIONGRAPH_HANDLE)", layer));
  KILN_RETURN_IF_ERROR(finalize(graph, "cudnnBackendFinalize(operation graph)", layer));

  for (BackendDescriptor* d : {&x, &w, &y, &conv, &biasTensor, &residualTensor}) parts.push_back(std::move(*d));
  for (BackendDescriptor& t : tensors) parts.push_back(std::move(t));
  for (BackendDescriptor& op : ops) parts.push_back(std::move(op));
  parts.push_back(std::move(graph));
  return Status::ok();
}

// Whether an engine keeps the layer's precision: no TF32 (or other down-conversion) for strict float32 and no
// half-precision accumulation for float16/bfloat16.
bool keepsPrecision(const BackendDescriptor& engine, const ConvGraphSpec& spec) {
  cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
  int64_t count = 0;
  if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                               CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &count, notes) != CUDNN_STATUS_SUCCESS) {
    return false;  // unknown numerics: not taken
  }
  const bool strictFloat = spec.type == DataType::kFLOAT && !spec.allowTf32;
  for (int64_t i = 0; i < std::min<int64_t>(count, CUDNN_NUMERICAL_NOTE_TYPE_COUNT); ++i) {
    if (strictFloat &&
        (notes[i] == CUDNN_NUMERICAL_NOTE_TENSOR_CORE || notes[i] == CUDNN_NUMERICAL_NOTE_DOWN_CONVERT_INPUTS)) {
      return false;
    }
    if (notes[i] == CUDNN_NUMERICAL_NOTE_REDUCED_PRECISION_REDUCTION) return false;
  }
  return true;
}

// Engine configs of one heuristic mode, best first (none when the mode does not apply to the graph).
std::vector<BackendDescriptor> heuristicConfigs(const BackendDescriptor& graph, cudnnBackendHeurMode_t mode,
                                                const std::string& layer) {
  std::vector<BackendDescriptor> configs;
  BackendDescriptor heur;
  if (!heur.create(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, layer).isOk()) return configs;
  cudnnBackendDescriptor_t rawGraph = graph.get();
  if (cudnnBackendSetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1,
                               &rawGraph) != CUDNN_STATUS_SUCCESS ||
      cudnnBackendSetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode) !=
          CUDNN_STATUS_SUCCESS ||
      cudnnBackendFinalize(heur.get()) != CUDNN_STATUS_SUCCESS) {
    return configs;
  }
  int64_t available = 0;
  if (cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, 0,
                               &available, nullptr) != CUDNN_STATUS_SUCCESS ||
      available <= 0) {
    return configs;
  }
  available = std::min<int64_t>(available, 64);
  configs.resize(static_cast<size_t>(available));
  std::vector<cudnnBackendDescriptor_t> raw;
  for (BackendDescriptor& c : configs) {
    if (!c.create(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, layer).isOk()) return {};
    raw.push_back(c.get());
  }
  int64_t returned = 0;
  if (cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS, CUDNN_TYPE_BACKEND_DESCRIPTOR, available,
                               &returned, raw.data()) != CUDNN_STATUS_SUCCESS) {
    return {};
  }
  configs.resize(static_cast<size_t>(std::clamp<int64_t>(returned, 0, available)));
  return configs;
}

using PlanList = std::vector<std::shared_ptr<const ConvGraphPlan>>;

// The plans, or (empty) why there are none, the reason worded without a layer name so it can be shared.
PlanList buildPlans(cudnnHandle_t handle, const ConvGraphSpec& spec, std::string& reason) {
  const int maxPlans = kMAX_CONV_GRAPH_PLANS;
  const std::string layer = "(graph)";
  auto parts = std::make_shared<std::vector<BackendDescriptor>>();
  Status built = makeOperationGraph(handle, spec, layer, *parts);
  if (!built.isOk()) {
    reason = built.message();
    return {};
  }
  std::shared_ptr<const std::vector<BackendDescriptor>> graphParts = parts;
  const BackendDescriptor& graph = parts->back();

  std::vector<std::shared_ptr<const ConvGraphPlan>> plans;
  std::vector<int64_t> enginesTaken;
  std::string lastFailure = "no engine config was offered";
  for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
    if (static_cast<int>(plans.size()) >= maxPlans) break;
    for (BackendDescriptor& config : heuristicConfigs(graph, mode, layer)) {
      if (static_cast<int>(plans.size()) >= maxPlans) break;
      BackendDescriptor engine;
      if (!engine.create(CUDNN_BACKEND_ENGINE_DESCRIPTOR, layer).isOk()) continue;
      cudnnBackendDescriptor_t rawEngine = engine.get();
      int64_t got = 0;
      if (cudnnBackendGetAttribute(config.get(), CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &got,
                                   &rawEngine) != CUDNN_STATUS_SUCCESS ||
          got != 1) {
        continue;
      }
      if (!keepsPrecision(engine, spec)) {
        lastFailure = "the offered engines would lower the precision (TF32 or half accumulation)";
        continue;
      }
      int64_t engineIndex = -1;
      if (cudnnBackendGetAttribute(engine.get(), CUDNN_ATTR_ENGINE_GLOBAL_INDEX, CUDNN_TYPE_INT64, 1, &got,
                                   &engineIndex) != CUDNN_STATUS_SUCCESS) {
        engineIndex = -1;
      }
      // The fallback list repeats engines mode A already gave; a repeat would only duplicate a tactic.
      if (mode == CUDNN_HEUR_MODE_FALLBACK && engineIndex >= 0 &&
          std::find(enginesTaken.begin(), enginesTaken.end(), engineIndex) != enginesTaken.end()) {
        continue;
      }
      auto plan = std::make_shared<ConvGraphPlan>();
      plan->graph = graphParts;
      plan->engineIndex = engineIndex;
      if (!plan->plan.create(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, layer).isOk()) continue;
      cudnnBackendDescriptor_t rawConfig = config.get();
      if (cudnnBackendSetAttribute(plan->plan.get(), CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1,
                                   &handle) != CUDNN_STATUS_SUCCESS ||
          cudnnBackendSetAttribute(plan->plan.get(), CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                                   CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &rawConfig) != CUDNN_STATUS_SUCCESS) {
        continue;
      }
      const cudnnStatus_t finalized = cudnnBackendFinalize(plan->plan.get());
      if (finalized != CUDNN_STATUS_SUCCESS) {
        lastFailure = std::string("no execution plan finalized (last: ") + cudnnGetErrorString(finalized) + ")";
        continue;
      }
      int64_t workspace = 0;
      if (cudnnBackendGetAttribute(plan->plan.get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE, CUDNN_TYPE_INT64, 1,
                                   &got, &workspace) != CUDNN_STATUS_SUCCESS ||
          workspace < 0) {
        continue;
      }
      plan->workspaceBytes = workspace;
      plan->config = std::move(config);
      if (engineIndex >= 0) enginesTaken.push_back(engineIndex);
      plans.push_back(std::move(plan));
    }
  }
  if (plans.empty()) reason = lastFailure;
  return plans;
}

std::string specKey(cudnnHandle_t handle, const ConvGraphSpec& s) {
  std::string key = std::to_string(reinterpret_cast<uintptr_t>(handle));
  for (int64_t v : {static_cast<int64_t>(s.type), s.n, s.c, s.h, s.w, s.k, s.p, s.q, s.r, s.s, s.groups, s.pad[0],
                    s.pad[1], s.stride[0], s.stride[1], s.dilation[0], s.dilation[1], static_cast<int64_t>(s.nhwc),
                    static_cast<int64_t>(s.bias), static_cast<int64_t>(s.residual), static_cast<int64_t>(s.relu),
                    static_cast<int64_t>(s.allowTf32), s.alignment}) {
    key += "," + std::to_string(v);
  }
  return key;
}

}  // namespace

StatusOr<std::vector<std::shared_ptr<const ConvGraphPlan>>> convGraphPlans(cudnnHandle_t handle,
                                                                           const ConvGraphSpec& spec,
                                                                           const std::string& layer) {
  struct Entry {
    PlanList plans;
    std::string reason;
  };
  // Bounded: past the limit (many dynamic shapes) the oldest-keyed entries go; kernels hold their own plans.
  static std::mutex mutex;
  static std::map<std::string, Entry>* cache = new std::map<std::string, Entry>();
  const std::string key = specKey(handle, spec);
  Entry entry;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = cache->find(key);
    if (it != cache->end()) entry = it->second;
  }
  if (entry.plans.empty() && entry.reason.empty()) {
    entry.plans = buildPlans(handle, spec, entry.reason);
    std::lock_guard<std::mutex> lock(mutex);
    if (cache->size() >= 512) cache->erase(cache->begin());
    cache->emplace(key, entry);
  }
  if (entry.plans.empty()) {
    return unimplemented("convolution '" + layer + "': cuDNN's graph API has no execution plan for it: " +
                         entry.reason);
  }
  return entry.plans;
}

Status executeConvGraphPlan(cudnnHandle_t handle, const ConvGraphPlan& plan, const std::vector<int64_t>& uids,
                            const std::vector<void*>& pointers, void* workspace, const std::string& layer) {
  if (uids.size() != pointers.size()) return internalError("convolution '" + layer + "': variant pack mismatch");
  BackendDescriptor pack;
  KILN_RETURN_IF_ERROR(pack.create(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, layer));
  const auto count = static_cast<int64_t>(uids.size());
  KILN_RETURN_IF_ERROR(setAttr(pack, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, count, uids.data(),
                               "cudnnBackendSetAttribute(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS)", layer));
  KILN_RETURN_IF_ERROR(setAttr(pack, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, count,
                               pointers.data(), "cudnnBackendSetAttribute(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS)",
                               layer));
  KILN_RETURN_IF_ERROR(setAttr(pack, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace,
                               "cudnnBackendSetAttribute(CUDNN_ATTR_VARIANT_PACK_WORKSPACE)", layer));
  KILN_RETURN_IF_ERROR(finalize(pack, "cudnnBackendFinalize(variant pack)", layer));
  KILN_CUDNN_CHECK(cudnnBackendExecute(handle, plan.plan.get(), pack.get()), layer);
  return Status::ok();
}

}  // namespace cuda
}  // namespace kiln
