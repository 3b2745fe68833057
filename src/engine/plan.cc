#include "engine/plan.h"

#include <set>

#include "engine/layer_kinds.h"
#include "engine/plan_io.h"

namespace kiln {
namespace {

constexpr char kMAGIC[8] = {'K', 'I', 'L', 'N', 'P', 'L', 'A', 'N'};
constexpr size_t kFIXED_HEADER = 32;
constexpr int64_t kMAX_ARENA_BYTES = int64_t{1} << 40;

void writeDims(ByteWriter& w, const Dims& dims) {
  w.i32(dims.nbDims);
  for (int32_t i = 0; i < dims.nbDims; ++i) w.i64(dims.d[i]);
}

Dims readDims(ByteReader& r, const char* what) {
  Dims dims;
  const int32_t rank = r.i32();
  if (rank < 0 || rank > Dims::kMAX_DIMS) {
    r.fail(std::string(what) + ": rank " + std::to_string(rank) + " is out of range");
    return dims;
  }
  dims.nbDims = rank;
  for (int32_t i = 0; i < rank; ++i) {
    dims.d[i] = r.i64();
    if (dims.d[i] < -1) r.fail(std::string(what) + ": negative extent " + std::to_string(dims.d[i]));
  }
  return dims;
}

void writeAttributes(ByteWriter& w, const Attributes& attrs, ByteWriter& weights) {
  w.u64(attrs.all().size());
  for (const auto& [key, value] : attrs.all()) {
    w.str(key);
    w.u8(static_cast<uint8_t>(value.index()));
    if (const auto* i = std::get_if<int64_t>(&value)) w.i64(*i);
    if (const auto* f = std::get_if<double>(&value)) w.f64(*f);
    if (const auto* is = std::get_if<std::vector<int64_t>>(&value)) {
      w.u64(is->size());
      for (int64_t v : *is) w.i64(v);
    }
    if (const auto* fs = std::get_if<std::vector<double>>(&value)) {
      w.u64(fs->size());
      for (double v : *fs) w.f64(v);
    }
    if (const auto* s = std::get_if<std::string>(&value)) w.str(*s);
    if (const auto* blob = std::get_if<WeightsBlob>(&value)) {
      weights.alignTo(static_cast<size_t>(kPLAN_WEIGHT_ALIGNMENT));
      w.i32(static_cast<int32_t>(blob->type));
      w.i64(blob->count);
      w.u64(weights.size());
      w.u64(static_cast<uint64_t>(blob->byteSize()));
      if (blob->byteSize() > 0) weights.raw(blob->data(), static_cast<size_t>(blob->byteSize()));
    }
  }
}

Attributes readAttributes(ByteReader& r, const uint8_t* weights, uint64_t weightsSize) {
  Attributes attrs;
  const uint64_t n = r.count("attribute count", 10);
  for (uint64_t a = 0; a < n && r.ok(); ++a) {
    std::string key = r.str("attribute name", 256);
    const uint8_t kind = r.u8();
    switch (kind) {
      case static_cast<uint8_t>(AttrKind::kINT): attrs.setInt(key, r.i64()); break;
      case static_cast<uint8_t>(AttrKind::kFLOAT): attrs.setFloat(key, r.f64()); break;
      case static_cast<uint8_t>(AttrKind::kINTS): {
        std::vector<int64_t> v(static_cast<size_t>(r.count("attribute ints", 8)));
        for (auto& x : v) x = r.i64();
        attrs.setInts(key, std::move(v));
        break;
      }
      case static_cast<uint8_t>(AttrKind::kFLOATS): {
        std::vector<double> v(static_cast<size_t>(r.count("attribute floats", 8)));
        for (auto& x : v) x = r.f64();
        attrs.setFloats(key, std::move(v));
        break;
      }
      case static_cast<uint8_t>(AttrKind::kSTRING): attrs.setString(key, r.str("attribute string")); break;
      case static_cast<uint8_t>(AttrKind::kWEIGHTS): {
        const int32_t type = r.i32();
        const int64_t count = r.i64();
        const uint64_t offset = r.u64();
        const uint64_t bytes = r.u64();
        if (!r.ok()) break;
        if (!isValidDataType(type) || count < 0 || offset > weightsSize || bytes > weightsSize - offset ||
            static_cast<uint64_t>(count) != bytes / static_cast<uint64_t>(dataTypeSize(static_cast<DataType>(type))) ||
            bytes % static_cast<uint64_t>(dataTypeSize(static_cast<DataType>(type))) != 0) {
          r.fail("weights '" + key + "' lie outside the weights section or do not match their type and count");
          break;
        }
        WeightsBlob blob;
        blob.type = static_cast<DataType>(type);
        blob.count = count;
        blob.bytes = std::make_shared<const std::vector<uint8_t>>(weights + offset, weights + offset + bytes);
        attrs.setWeights(key, std::move(blob));
        break;
      }
      default: r.fail("attribute '" + key + "' has unknown kind " + std::to_string(kind));
    }
  }
  return attrs;
}

std::vector<int32_t> readIndices(ByteReader& r, const char* what) {
  std::vector<int32_t> v(static_cast<size_t>(r.count(what, 4)));
  for (auto& x : v) x = r.i32();
  return v;
}

void writeIndices(ByteWriter& w, const std::vector<int32_t>& v) {
  w.u64(v.size());
  for (int32_t x : v) w.i32(x);
}

std::vector<int64_t> readInt64s(ByteReader& r, const char* what) {
  std::vector<int64_t> v(static_cast<size_t>(r.count(what, 8)));
  for (auto& x : v) x = r.i64();
  return v;
}

}  // namespace

std::vector<uint8_t> serializePlan(const PlanContents& plan) {
  ByteWriter body, weights;
  const Graph& g = plan.graph;
  // Header: what a tool needs to describe the plan without decoding the graph.
  body.str(plan.kilnVersion);
  body.u32(static_cast<uint32_t>(plan.backend));
  body.str(plan.deviceName);
  body.u64(g.inputs.size() + g.outputs.size());
  for (int32_t t : g.inputs) {
    body.str(g.tensors[static_cast<size_t>(t)].name);
    body.u8(1);
    body.i32(static_cast<int32_t>(g.tensors[static_cast<size_t>(t)].type));
    writeDims(body, g.tensors[static_cast<size_t>(t)].dims);
  }
  for (int32_t t : g.outputs) {
    body.str(g.tensors[static_cast<size_t>(t)].name);
    body.u8(2);
    body.i32(static_cast<int32_t>(g.tensors[static_cast<size_t>(t)].type));
    writeDims(body, g.tensors[static_cast<size_t>(t)].dims);
  }
  body.u64(plan.profiles.size());
  for (const ProfileShapes& p : plan.profiles) {
    body.u64(p.min.size());
    for (size_t i = 0; i < p.min.size(); ++i) {
      writeDims(body, p.min[i]);
      writeDims(body, p.opt[i]);
      writeDims(body, p.max[i]);
    }
  }
  // Body: the graph and the memory plans.
  body.u64(g.tensors.size());
  for (const TensorInfo& t : g.tensors) {
    body.str(t.name);
    body.i32(static_cast<int32_t>(t.type));
    writeDims(body, t.dims);
    body.u8(t.isShapeTensor ? 1 : 0);
  }
  writeIndices(body, g.inputs);
  writeIndices(body, g.outputs);
  body.u64(g.layers.size());
  for (const LayerInfo& l : g.layers) {
    body.i32(static_cast<int32_t>(l.params.type));
    body.str(l.params.name);
    body.str(l.kernel);
    body.u8(l.hostEvaluated ? 1 : 0);
    body.u8(l.hasPrecision ? 1 : 0);
    body.i32(static_cast<int32_t>(l.precision));
    writeIndices(body, l.inputs);
    writeIndices(body, l.outputs);
    writeAttributes(body, l.params.attrs, weights);
  }
  body.u64(plan.memoryPlans.size());
  for (const MemoryPlan& m : plan.memoryPlans) {
    body.i64(m.arenaBytes);
    body.u64(m.offsets.size());
    for (int64_t v : m.offsets) body.i64(v);
    body.u64(m.capacities.size());
    for (int64_t v : m.capacities) body.i64(v);
  }

  ByteWriter out;
  out.raw(kMAGIC, sizeof(kMAGIC));
  out.u32(kPLAN_FORMAT_VERSION);
  out.u32(0);
  out.u64(0);  // total size, patched below
  out.u64(0);  // checksum, patched by resealPlan
  const uint64_t bodyEnd = kFIXED_HEADER + 16 + body.size();
  const uint64_t weightsOffset =
      (bodyEnd + kPLAN_WEIGHT_ALIGNMENT - 1) / kPLAN_WEIGHT_ALIGNMENT * kPLAN_WEIGHT_ALIGNMENT;
  out.u64(weightsOffset);
  out.u64(weights.size());
  out.raw(body.bytes().data(), body.size());
  out.alignTo(static_cast<size_t>(kPLAN_WEIGHT_ALIGNMENT));
  out.raw(weights.bytes().data(), weights.size());
  std::vector<uint8_t> bytes = std::move(out.bytes());
  const uint64_t total = bytes.size();
  std::memcpy(bytes.data() + 16, &total, 8);
  resealPlan(bytes);
  return bytes;
}

void resealPlan(std::vector<uint8_t>& bytes) {
  if (bytes.size() < kFIXED_HEADER) return;
  const uint64_t checksum = fnv1a64(bytes.data() + kFIXED_HEADER, bytes.size() - kFIXED_HEADER);
  std::memcpy(bytes.data() + 24, &checksum, 8);
}

StatusOr<PlanContents> deserializePlan(const void* data, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(data);
  if (bytes == nullptr || size < kFIXED_HEADER + 16) {
    return invalidPlan("the plan is " + std::to_string(size) + " bytes, too short to be a Kiln plan");
  }
  if (std::memcmp(bytes, kMAGIC, sizeof(kMAGIC)) != 0) return invalidPlan("not a Kiln plan (bad magic bytes)");
  ByteReader fixed(bytes + 8, 24);
  const uint32_t version = fixed.u32();
  fixed.u32();
  const uint64_t total = fixed.u64();
  const uint64_t checksum = fixed.u64();
  if (version != kPLAN_FORMAT_VERSION) {
    return invalidPlan("plan format version " + std::to_string(version) + " is not supported (this Kiln reads " +
                       std::to_string(kPLAN_FORMAT_VERSION) + "); rebuild the plan with this version of Kiln");
  }
  if (total != size) {
    return invalidPlan("the plan is truncated or padded: header says " + std::to_string(total) + " bytes, got " +
                       std::to_string(size));
  }
  if (fnv1a64(bytes + kFIXED_HEADER, size - kFIXED_HEADER) != checksum) {
    return invalidPlan("checksum mismatch: the plan file is corrupt");
  }
  ByteReader r(bytes + kFIXED_HEADER, size - kFIXED_HEADER);
  const uint64_t weightsOffset = r.u64();
  const uint64_t weightsSize = r.u64();
  if (weightsOffset > size || weightsSize > size - weightsOffset || weightsOffset % kPLAN_WEIGHT_ALIGNMENT != 0) {
    return invalidPlan("the weights section lies outside the plan");
  }
  const uint8_t* weights = bytes + weightsOffset;

  PlanContents plan;
  plan.kilnVersion = r.str("kiln version", 64);
  const uint32_t backend = r.u32();
  if (backend > static_cast<uint32_t>(BackendKind::kCUDA)) r.fail("unknown backend " + std::to_string(backend));
  plan.backend = static_cast<BackendKind>(backend);
  plan.deviceName = r.str("device name", 64);
  const uint64_t nbIO = r.count("I/O table", 14);
  std::vector<std::pair<std::string, int32_t>> ioTable;
  for (uint64_t i = 0; i < nbIO && r.ok(); ++i) {
    std::string name = r.str("I/O name");
    r.u8();
    const int32_t type = r.i32();
    readDims(r, "I/O dims");
    ioTable.emplace_back(std::move(name), type);
  }
  const uint64_t nbProfiles = r.count("profiles", 8);
  for (uint64_t p = 0; p < nbProfiles && r.ok(); ++p) {
    ProfileShapes shapes;
    const uint64_t n = r.count("profile inputs", 12);
    for (uint64_t i = 0; i < n && r.ok(); ++i) {
      shapes.min.push_back(readDims(r, "profile min"));
      shapes.opt.push_back(readDims(r, "profile opt"));
      shapes.max.push_back(readDims(r, "profile max"));
    }
    plan.profiles.push_back(std::move(shapes));
  }
  Graph& g = plan.graph;
  const uint64_t nbTensors = r.count("tensors", 17);
  for (uint64_t t = 0; t < nbTensors && r.ok(); ++t) {
    TensorInfo info;
    info.name = r.str("tensor name");
    const int32_t type = r.i32();
    if (!isValidDataType(type)) r.fail("tensor '" + info.name + "' has invalid dtype " + std::to_string(type));
    info.type = static_cast<DataType>(type);
    info.dims = readDims(r, "tensor dims");
    info.isShapeTensor = r.u8() != 0;
    g.tensors.push_back(std::move(info));
  }
  g.inputs = readIndices(r, "graph inputs");
  g.outputs = readIndices(r, "graph outputs");
  const uint64_t nbLayers = r.count("layers", 40);
  for (uint64_t l = 0; l < nbLayers && r.ok(); ++l) {
    LayerInfo layer;
    const int32_t type = r.i32();
    if (!isValidLayerType(type)) r.fail("layer " + std::to_string(l) + " has unknown type " + std::to_string(type));
    layer.params.type = static_cast<LayerType>(type);
    layer.params.name = r.str("layer name");
    layer.kernel = r.str("kernel name", 256);
    layer.hostEvaluated = r.u8() != 0;
    layer.hasPrecision = r.u8() != 0;
    const int32_t precision = r.i32();
    if (!isValidDataType(precision)) r.fail("layer '" + layer.params.name + "' has an invalid precision");
    layer.precision = static_cast<DataType>(precision);
    layer.inputs = readIndices(r, "layer inputs");
    layer.outputs = readIndices(r, "layer outputs");
    layer.params.attrs = readAttributes(r, weights, weightsSize);
    g.layers.push_back(std::move(layer));
  }
  const uint64_t nbPlans = r.count("memory plans", 24);
  for (uint64_t p = 0; p < nbPlans && r.ok(); ++p) {
    MemoryPlan m;
    m.arenaBytes = r.i64();
    m.offsets = readInt64s(r, "memory offsets");
    m.capacities = readInt64s(r, "memory capacities");
    plan.memoryPlans.push_back(std::move(m));
  }
  if (!r.ok()) return invalidPlan("corrupt plan: " + r.error());
  if (r.position() + kFIXED_HEADER > weightsOffset) return invalidPlan("the plan body overlaps its weights section");
  // The header's I/O table must describe the graph it precedes.
  if (ioTable.size() != g.inputs.size() + g.outputs.size()) return invalidPlan("the I/O table does not match the graph");
  KILN_RETURN_IF_ERROR(validatePlan(plan));
  for (size_t i = 0; i < ioTable.size(); ++i) {
    const int32_t t = i < g.inputs.size() ? g.inputs[i] : g.outputs[i - g.inputs.size()];
    if (ioTable[i].first != g.tensors[static_cast<size_t>(t)].name ||
        ioTable[i].second != static_cast<int32_t>(g.tensors[static_cast<size_t>(t)].type)) {
      return invalidPlan("the I/O table entry '" + ioTable[i].first + "' does not match the graph");
    }
  }
  return plan;
}

Status validatePlan(const PlanContents& plan) {
  const Graph& g = plan.graph;
  const auto nbTensors = static_cast<int64_t>(g.tensors.size());
  auto inRange = [&](int32_t t) { return t >= 0 && t < nbTensors; };
  std::vector<int> defined(static_cast<size_t>(nbTensors), 0);
  std::set<std::string> ioNames;
  for (int32_t t : g.inputs) {
    if (!inRange(t) || defined[static_cast<size_t>(t)]) return invalidPlan("invalid or repeated graph input index");
    defined[static_cast<size_t>(t)] = 1;
    if (!ioNames.insert(g.tensors[static_cast<size_t>(t)].name).second) return invalidPlan("duplicate I/O name");
  }
  for (size_t l = 0; l < g.layers.size(); ++l) {
    const LayerInfo& layer = g.layers[l];
    const std::string where = "layer " + std::to_string(l) + " ('" + layer.params.name + "')";
    const LayerKindInfo& info = layerKindInfo(layer.params.type);
    if (static_cast<int64_t>(layer.inputs.size()) > maxInputsOf(layer.params) ||
        static_cast<int32_t>(layer.outputs.size()) != info.nbOutputs) {
      return invalidPlan(where + " has the wrong number of inputs or outputs");
    }
    for (int32_t t : layer.inputs) {
      if (t == -1) continue;
      if (!inRange(t) || !defined[static_cast<size_t>(t)]) {
        return invalidPlan(where + " reads a tensor that is not defined before it");
      }
    }
    for (int32_t t : layer.outputs) {
      if (!inRange(t) || defined[static_cast<size_t>(t)]) return invalidPlan(where + " writes an invalid tensor");
      defined[static_cast<size_t>(t)] = 1;
    }
    if (layer.hostEvaluated && !info.hostEvaluable) return invalidPlan(where + " cannot be evaluated on the host");
  }
  for (int32_t t : g.outputs) {
    if (!inRange(t) || !defined[static_cast<size_t>(t)]) return invalidPlan("a graph output is never computed");
    for (int32_t in : g.inputs) {
      if (in == t) return invalidPlan("a graph output is also a graph input");
    }
    if (!ioNames.insert(g.tensors[static_cast<size_t>(t)].name).second) return invalidPlan("duplicate I/O name");
  }
  if (g.outputs.empty()) return invalidPlan("the plan has no outputs");
  if (plan.profiles.empty()) return invalidPlan("the plan has no optimization profile");
  for (const ProfileShapes& p : plan.profiles) {
    if (p.min.size() != g.inputs.size() || p.opt.size() != g.inputs.size() || p.max.size() != g.inputs.size()) {
      return invalidPlan("a profile does not cover every input");
    }
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      const Dims& declared = g.tensors[static_cast<size_t>(g.inputs[i])].dims;
      for (const Dims* d : {&p.min[i], &p.opt[i], &p.max[i]}) {
        if (d->nbDims != declared.nbDims) return invalidPlan("a profile shape has the wrong rank");
      }
      for (int32_t k = 0; k < declared.nbDims; ++k) {
        if (p.min[i].d[k] < 0 || p.min[i].d[k] > p.opt[i].d[k] || p.opt[i].d[k] > p.max[i].d[k] ||
            (declared.d[k] >= 0 && (p.min[i].d[k] != declared.d[k] || p.max[i].d[k] != declared.d[k]))) {
          return invalidPlan("profile shapes are not ordered min <= opt <= max");
        }
      }
    }
  }
  if (plan.memoryPlans.size() != plan.profiles.size()) return invalidPlan("one memory plan per profile is required");
  for (const MemoryPlan& m : plan.memoryPlans) {
    if (m.arenaBytes < 0 || m.arenaBytes > kMAX_ARENA_BYTES) return invalidPlan("the memory plan's arena size is invalid");
    if (m.offsets.size() != g.tensors.size() || m.capacities.size() != g.tensors.size()) {
      return invalidPlan("the memory plan does not cover every tensor");
    }
    for (size_t t = 0; t < m.offsets.size(); ++t) {
      if (m.offsets[t] == -1) continue;
      if (m.offsets[t] < 0 || m.capacities[t] < 0 || m.offsets[t] > m.arenaBytes ||
          m.capacities[t] > m.arenaBytes - m.offsets[t]) {
        return invalidPlan("the memory plan places a tensor outside the arena");
      }
    }
  }
  return Status::ok();
}

uint64_t fnv1a64(const uint8_t* data, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace kiln
