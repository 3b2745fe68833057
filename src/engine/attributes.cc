#include "engine/attributes.h"

#include <cstring>
#include <sstream>

namespace kiln {

WeightsBlob WeightsBlob::copyOf(const Weights& weights) {
  WeightsBlob blob;
  blob.type = weights.type;
  blob.count = weights.count > 0 ? weights.count : 0;
  const auto bytes = static_cast<size_t>(blob.count * dataTypeSize(weights.type));
  auto storage = std::make_shared<std::vector<uint8_t>>(bytes);
  if (bytes > 0 && weights.values != nullptr) std::memcpy(storage->data(), weights.values, bytes);
  blob.bytes = std::move(storage);
  return blob;
}

void Attributes::setDims(const std::string& key, const Dims& dims) {
  std::vector<int64_t> values(dims.d, dims.d + (dims.nbDims > 0 ? dims.nbDims : 0));
  values_[key] = std::move(values);
}

int64_t Attributes::getInt(const std::string& key, int64_t fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (const auto* v = std::get_if<int64_t>(&it->second)) return *v;
  return fallback;
}

double Attributes::getFloat(const std::string& key, double fallback) const {
  auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  if (const auto* v = std::get_if<double>(&it->second)) return *v;
  return fallback;
}

std::vector<int64_t> Attributes::getInts(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return {};
  if (const auto* v = std::get_if<std::vector<int64_t>>(&it->second)) return *v;
  return {};
}

std::vector<double> Attributes::getFloats(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return {};
  if (const auto* v = std::get_if<std::vector<double>>(&it->second)) return *v;
  return {};
}

std::string Attributes::getString(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return {};
  if (const auto* v = std::get_if<std::string>(&it->second)) return *v;
  return {};
}

const WeightsBlob* Attributes::getWeights(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) return nullptr;
  return std::get_if<WeightsBlob>(&it->second);
}

Dims Attributes::getDims(const std::string& key) const {
  Dims dims;
  const std::vector<int64_t> values = getInts(key);
  if (values.size() > static_cast<size_t>(Dims::kMAX_DIMS)) {
    dims.nbDims = -1;
    return dims;
  }
  dims.nbDims = static_cast<int32_t>(values.size());
  for (size_t i = 0; i < values.size(); ++i) dims.d[i] = values[i];
  return dims;
}

namespace {
uint64_t fnv1a(const uint8_t* data, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  return h;
}
}  // namespace

std::string Attributes::fingerprint() const {
  std::ostringstream out;
  out.precision(17);
  for (const auto& [key, value] : values_) {
    out << key << "=";
    if (const auto* i = std::get_if<int64_t>(&value)) out << *i;
    if (const auto* f = std::get_if<double>(&value)) out << *f;
    if (const auto* is = std::get_if<std::vector<int64_t>>(&value)) {
      out << "[";
      for (int64_t v : *is) out << v << ",";
      out << "]";
    }
    if (const auto* fs = std::get_if<std::vector<double>>(&value)) {
      out << "[";
      for (double v : *fs) out << v << ",";
      out << "]";
    }
    if (const auto* s = std::get_if<std::string>(&value)) out << '"' << *s << '"';
    if (const auto* w = std::get_if<WeightsBlob>(&value)) {
      out << "weights(" << dataTypeName(w->type) << "," << w->count << ","
          << (w->bytes ? fnv1a(w->bytes->data(), w->bytes->size()) : 0) << ")";
    }
    out << ";";
  }
  return out.str();
}

}  // namespace kiln
