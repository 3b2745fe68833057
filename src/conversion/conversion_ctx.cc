#include "conversion/conversion_ctx.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "util/half.h"

namespace kiln {
namespace conversion {

// ---------------------------------------------------------------------------------------------------
// ConverterArg

std::string ConverterArg::describe() const {
  const std::string pos = position >= 0 ? "#" + std::to_string(position) : "";
  if (name.empty()) return pos.empty() ? "argument" : "argument " + pos;
  return "argument '" + name + "'" + (pos.empty() ? "" : " (" + pos + ")");
}

namespace {

std::string argKind(const ConverterArg& arg) {
  if (arg.isTensor()) return "a tensor";
  if (arg.isList) return "a list of " + std::to_string(arg.list.size()) + " items";
  return arg.constant.repr();
}

}  // namespace

StatusOr<ITensor*> ConverterArg::asTensor() const {
  if (tensor != nullptr) return tensor;
  return invalidArgument(describe() + ": expected a tensor, got " + argKind(*this));
}

StatusOr<int64_t> ConverterArg::asInt() const {
  if (isTensor() || isList) return invalidArgument(describe() + ": expected an int, got " + argKind(*this));
  StatusOr<int64_t> v = constant.toInt();
  if (!v.isOk()) return v.status().withContext(describe());
  return v;
}

StatusOr<double> ConverterArg::asDouble() const {
  if (isTensor() || isList) return invalidArgument(describe() + ": expected a number, got " + argKind(*this));
  StatusOr<double> v = constant.toDouble();
  if (!v.isOk()) return v.status().withContext(describe());
  return v;
}

StatusOr<bool> ConverterArg::asBool() const {
  if (isTensor() || isList) return invalidArgument(describe() + ": expected a bool, got " + argKind(*this));
  StatusOr<bool> v = constant.toBool();
  if (!v.isOk()) return v.status().withContext(describe());
  return v;
}

StatusOr<std::vector<int64_t>> ConverterArg::asInts() const {
  if (isTensor()) return invalidArgument(describe() + ": expected a list of ints, got a tensor");
  if (!isList) {
    StatusOr<std::vector<int64_t>> v = constant.toInts();
    if (!v.isOk()) return v.status().withContext(describe());
    return v;
  }
  std::vector<int64_t> values;
  values.reserve(list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    const ConverterArg& item = list[i];
    // A tensor item (a dynamic extent computed in the engine) cannot become a static list.
    if (item.isTensor() || item.isList) {
      return invalidArgument(describe() + " item " + std::to_string(i) + ": expected an int, got " + argKind(item));
    }
    StatusOr<int64_t> v = item.constant.toInt();
    if (!v.isOk()) return v.status().withContext(describe() + " item " + std::to_string(i));
    values.push_back(v.value());
  }
  return values;
}

// ---------------------------------------------------------------------------------------------------
// ConversionCtx

ConversionCtx::ConversionCtx(NetworkDefinition* network, CompilationSettings settings)
    : net(network), settings(std::move(settings)) {}

ITensor* ConversionCtx::associateValueAndTensor(const ir::Value* value, ITensor* tensor) {
  if (value == nullptr) {
    recordError(internalError("associateValueAndTensor: the value is null"));
    return nullptr;
  }
  if (tensor == nullptr) {
    recordError(invalidArgument("no tensor for %" + value->name() +
                                ": the layer producing it could not be added (see the network's error)"));
    return nullptr;
  }
  valueConstants_.erase(value);
  valueTensorLists_.erase(value);
  valueTensors_[value] = tensor;
  // The first value a tensor stands for names it; network inputs keep the name they are bound by.
  if (!tensor->isNetworkInput() && namedTensors_.insert(tensor).second) tensor->setName(value->name().c_str());
  return tensor;
}

void ConversionCtx::associateValueAndConstant(const ir::Value* value, ir::Constant constant) {
  if (value == nullptr) {
    recordError(internalError("associateValueAndConstant: the value is null"));
    return;
  }
  valueTensors_.erase(value);
  valueTensorLists_.erase(value);
  valueConstants_[value] = std::move(constant);
}

void ConversionCtx::associateValueAndTensors(const ir::Value* value, std::vector<ITensor*> tensors) {
  if (value == nullptr) {
    recordError(internalError("associateValueAndTensors: the value is null"));
    return;
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i] == nullptr) {
      recordError(invalidArgument("no tensor for item " + std::to_string(i) + " of %" + value->name() +
                                  ": the layer producing it could not be added (see the network's error)"));
      return;
    }
    if (!tensors[i]->isNetworkInput() && namedTensors_.insert(tensors[i]).second) {
      tensors[i]->setName((value->name() + "[" + std::to_string(i) + "]").c_str());
    }
  }
  valueTensors_.erase(value);
  valueConstants_.erase(value);
  valueTensorLists_[value] = std::move(tensors);
}

const std::vector<ITensor*>* ConversionCtx::findTensors(const ir::Value* value) const {
  auto it = valueTensorLists_.find(value);
  return it == valueTensorLists_.end() ? nullptr : &it->second;
}

ITensor* ConversionCtx::findTensor(const ir::Value* value) const {
  auto it = valueTensors_.find(value);
  return it == valueTensors_.end() ? nullptr : it->second;
}

const ir::Constant* ConversionCtx::findConstant(const ir::Value* value) const {
  auto it = valueConstants_.find(value);
  return it == valueConstants_.end() ? nullptr : &it->second;
}

ITensor* ConversionCtx::addConstantTensor(const HostTensor& data, const std::string& name) {
  const int64_t count = volume(data.dims);
  if (count < 0 || static_cast<int64_t>(data.bytes.size()) != count * dataTypeSize(data.type)) {
    recordError(invalidArgument("constant '" + name + "': " + std::to_string(data.bytes.size()) +
                                " bytes do not hold " + dataTypeName(data.type) + dimsToString(data.dims)));
    return nullptr;
  }
  auto owned = std::make_shared<const HostTensor>(data);
  IConstantLayer* layer = net->addConstant(owned->dims, Weights{owned->type, owned->data(), count});
  if (layer == nullptr) {
    recordError(net->status().withContext("constant '" + name + "'"));
    return nullptr;
  }
  layer->setName(name.c_str());
  ITensor* out = layer->getOutput(0);
  weights_[out] = std::move(owned);
  return out;
}

namespace {

// Stores trunc(value) as T; false when it does not fit (a float-to-integer conversion out of range is
// undefined behaviour, and wrapping silently would hide a converter bug).
template <typename T>
bool storeInteger(double value, void* p) {
  const double t = std::trunc(value);
  // Both bounds are exact in double: min is -2^(bits-1) or 0, max + 1 is a power of two (for int64 the
  // conversion of max already rounds up to 2^63, and adding 1 keeps it there).
  const double lo = static_cast<double>(std::numeric_limits<T>::min());
  const double hi = static_cast<double>(std::numeric_limits<T>::max()) + 1.0;
  if (!(t >= lo && t < hi)) return false;
  const T v = static_cast<T>(t);
  std::memcpy(p, &v, sizeof(v));
  return true;
}

template <typename T>
void storeBits(T v, void* p) {
  std::memcpy(p, &v, sizeof(v));
}

}  // namespace

ITensor* ConversionCtx::addScalar(double value, DataType type, int32_t rank, const std::string& name) {
  if (rank < 0 || rank > Dims::kMAX_DIMS) {
    recordError(invalidArgument("scalar '" + name + "': rank " + std::to_string(rank) + " is outside 0.." +
                                std::to_string(Dims::kMAX_DIMS)));
    return nullptr;
  }
  Dims dims;
  dims.nbDims = rank;
  for (int32_t i = 0; i < rank; ++i) dims.d[i] = 1;
  HostTensor data(type, dims);
  void* p = data.data();
  bool fits = true;
  switch (type) {
    case DataType::kFLOAT:
      storeBits(static_cast<float>(value), p);
      break;
    case DataType::kHALF:
      storeBits(floatToHalf(static_cast<float>(value)), p);
      break;
    case DataType::kBF16:
      storeBits(floatToBf16(static_cast<float>(value)), p);
      break;
    case DataType::kINT8:
      fits = storeInteger<int8_t>(value, p);
      break;
    case DataType::kINT32:
      fits = storeInteger<int32_t>(value, p);
      break;
    case DataType::kINT64:
      fits = storeInteger<int64_t>(value, p);
      break;
    case DataType::kBOOL:
      storeBits(static_cast<uint8_t>(value != 0.0 ? 1 : 0), p);
      break;
    case DataType::kUINT8:
      fits = storeInteger<uint8_t>(value, p);
      break;
  }
  if (!fits) {
    recordError(
        invalidArgument("scalar '" + name + "': " + std::to_string(value) + " does not fit " + dataTypeName(type)));
    return nullptr;
  }
  return addConstantTensor(data, name);
}

std::shared_ptr<const HostTensor> ConversionCtx::constantData(const ITensor* tensor) const {
  auto it = weights_.find(tensor);
  return it == weights_.end() ? nullptr : it->second;
}

std::string ConversionCtx::layerName(const char* kind, const ir::Node& node, const std::string& suffix) {
  std::string name = std::string("[") + (kind ? kind : "") + "]-[" + node.target() + "]-[%" + node.name() + "]";
  if (!suffix.empty()) name += "-[" + suffix + "]";
  return name;
}

void ConversionCtx::recordError(Status status) {
  if (firstError_.isOk() && !status.isOk()) firstError_ = std::move(status);
}

Status ConversionCtx::status() const { return firstError_; }

}  // namespace conversion
}  // namespace kiln
