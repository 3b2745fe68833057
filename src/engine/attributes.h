// Layer parameters as typed key/value data. One representation for every layer kind lets the plan
// serialize layers generically; the typed accessors of the public layer classes read and write it.
// Getters never fail: a missing key (or one of another type, as a corrupt plan could hold) yields the
// default, and each layer's shape inference validates the values its kernels rely on.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "kiln/types.h"

namespace kiln {

// Weights copied out of the caller's buffer; shared so graphs can be copied cheaply by the builder.
struct WeightsBlob {
  DataType type = DataType::kFLOAT;
  int64_t count = 0;
  std::shared_ptr<const std::vector<uint8_t>> bytes;

  const void* data() const { return bytes ? bytes->data() : nullptr; }
  int64_t byteSize() const { return bytes ? static_cast<int64_t>(bytes->size()) : 0; }
  static WeightsBlob copyOf(const Weights& weights);
};

using AttrValue = std::variant<int64_t, double, std::vector<int64_t>, std::vector<double>, std::string, WeightsBlob>;

// Index of each alternative: part of the plan format.
enum class AttrKind : uint8_t { kINT = 0, kFLOAT = 1, kINTS = 2, kFLOATS = 3, kSTRING = 4, kWEIGHTS = 5 };

class Attributes {
 public:
  void setInt(const std::string& key, int64_t value) { values_[key] = value; }
  void setFloat(const std::string& key, double value) { values_[key] = value; }
  void setInts(const std::string& key, std::vector<int64_t> value) { values_[key] = std::move(value); }
  void setFloats(const std::string& key, std::vector<double> value) { values_[key] = std::move(value); }
  void setString(const std::string& key, std::string value) { values_[key] = std::move(value); }
  void setWeights(const std::string& key, WeightsBlob value) { values_[key] = std::move(value); }
  void setDims(const std::string& key, const Dims& dims);
  void set(const std::string& key, AttrValue value) { values_[key] = std::move(value); }
  void erase(const std::string& key) { values_.erase(key); }

  bool has(const std::string& key) const { return values_.count(key) != 0; }
  int64_t getInt(const std::string& key, int64_t fallback = 0) const;
  double getFloat(const std::string& key, double fallback = 0.0) const;
  std::vector<int64_t> getInts(const std::string& key) const;
  std::vector<double> getFloats(const std::string& key) const;
  std::string getString(const std::string& key) const;
  // Null when absent.
  const WeightsBlob* getWeights(const std::string& key) const;
  // Dims stored as ints; more than kMAX_DIMS values (a corrupt plan) gives nbDims = -1.
  Dims getDims(const std::string& key) const;

  const std::map<std::string, AttrValue>& all() const { return values_; }
  // Stable text for timing-cache keys and inspection (weights by type, count and a content hash).
  std::string fingerprint() const;

 private:
  std::map<std::string, AttrValue> values_;
};

}  // namespace kiln
