// Tensors, layers and the enums that parameterize them. Each layer interface documents the semantics
// every backend implements; the CPU backend is the reference.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kiln/types.h"

namespace kiln {

class NetworkDefinition;
namespace detail {
struct TensorData;
struct LayerData;
}  // namespace detail

// Enum values are part of the plan format: never renumber, only append.
enum class LayerType : int32_t {
  kACTIVATION = 0, kELEMENTWISE = 1, kUNARY = 2, kCONVOLUTION = 3, kDECONVOLUTION = 4, kPOOLING = 5,
  kMATRIX_MULTIPLY = 6, kREDUCE = 7, kSOFTMAX = 8, kNORMALIZATION = 9, kSHUFFLE = 10, kSLICE = 11,
  kCONCATENATION = 12, kGATHER = 13, kSELECT = 14, kCONSTANT = 15, kCAST = 16, kIDENTITY = 17, kTOPK = 18,
  kSCATTER = 19, kPADDING = 20, kRESIZE = 21, kSHAPE = 22, kFILL = 23, kCUMULATIVE = 24, kNON_ZERO = 25,
  kONE_HOT = 26, kATTENTION = 27,
  // Builder-internal: a fused chain of pointwise layers (one generated kernel); not addable to a network.
  kPOINTWISE = 28,
};
constexpr int32_t kNB_LAYER_TYPES = 29;
const char* layerTypeName(LayerType type);

// y = f(x). alpha/beta as in TensorRT:
//   kLEAKY_RELU x>=0 ? x : alpha*x        kELU x>=0 ? x : alpha*(exp(x)-1)
//   kSELU beta*(x>0 ? x : alpha*(exp(x)-1)) kSOFTSIGN x/(1+|x|)   kSOFTPLUS alpha*log(exp(beta*x)+1)
//   kCLIP max(alpha, min(beta, x))         kHARD_SIGMOID max(0, min(1, alpha*x+beta))
//   kSCALED_TANH alpha*tanh(beta*x)        kTHRESHOLDED_RELU x>alpha ? x : 0
//   kGELU_ERF 0.5x(1+erf(x/sqrt2))         kGELU_TANH 0.5x(1+tanh(sqrt(2/pi)(x+0.044715x^3)))
enum class ActivationType : int32_t {
  kRELU = 0, kSIGMOID = 1, kTANH = 2, kLEAKY_RELU = 3, kELU = 4, kSELU = 5, kSOFTSIGN = 6, kSOFTPLUS = 7,
  kCLIP = 8, kHARD_SIGMOID = 9, kSCALED_TANH = 10, kTHRESHOLDED_RELU = 11, kGELU_ERF = 12, kGELU_TANH = 13,
};
// Binary ops with numpy broadcasting; both inputs share one type. Comparisons and logic yield bool.
// kFLOOR_DIV rounds toward -inf (like torch.floor_divide); kDIV on integers truncates toward zero.
enum class ElementWiseOperation : int32_t {
  kSUM = 0, kPROD = 1, kMAX = 2, kMIN = 3, kSUB = 4, kDIV = 5, kPOW = 6, kFLOOR_DIV = 7, kAND = 8, kOR = 9,
  kXOR = 10, kEQUAL = 11, kGREATER = 12, kLESS = 13,
};
// kROUND rounds half to even (like torch.round); kISINF/kISNAN yield bool; kNOT takes bool.
enum class UnaryOperation : int32_t {
  kEXP = 0, kLOG = 1, kSQRT = 2, kRECIP = 3, kABS = 4, kNEG = 5, kSIN = 6, kCOS = 7, kTAN = 8, kSINH = 9,
  kCOSH = 10, kASIN = 11, kACOS = 12, kATAN = 13, kASINH = 14, kACOSH = 15, kATANH = 16, kCEIL = 17,
  kFLOOR = 18, kERF = 19, kNOT = 20, kSIGN = 21, kROUND = 22, kISINF = 23, kISNAN = 24,
};
enum class PoolingType : int32_t { kMAX = 0, kAVERAGE = 1 };
// How pooling/convolution output extents round: floor (PyTorch's default) or ceil (ceil_mode=True).
// kSAME_UPPER/kSAME_LOWER pad so that out = ceil(in/stride), extra padding at the end / the start.
enum class PaddingMode : int32_t { kEXPLICIT_ROUND_DOWN = 0, kEXPLICIT_ROUND_UP = 1, kSAME_UPPER = 2, kSAME_LOWER = 3 };
// kVECTOR: the operand is a vector (its last dim is the contraction); kTRANSPOSE swaps its last two dims.
enum class MatrixOperation : int32_t { kNONE = 0, kTRANSPOSE = 1, kVECTOR = 2 };
enum class ReduceOperation : int32_t { kSUM = 0, kPROD = 1, kMAX = 2, kMIN = 3, kAVG = 4 };
enum class GatherMode : int32_t { kDEFAULT = 0, kELEMENT = 1, kND = 2 };
enum class ScatterMode : int32_t { kELEMENT = 0, kND = 1 };
// Kiln extension: how duplicate and existing values combine (TensorRT's scatter only replaces).
enum class ScatterReduction : int32_t { kNONE = 0, kSUM = 1, kPROD = 2, kMAX = 3, kMIN = 4, kMEAN = 5 };
enum class TopKOperation : int32_t { kMAX = 0, kMIN = 1 };
// Out-of-bounds handling for slices (used by padding converters: kFILL constant, kCLAMP replicate,
// kREFLECT reflect, kWRAP circular).
enum class SampleMode : int32_t { kSTRICT_BOUNDS = 0, kWRAP = 1, kCLAMP = 2, kFILL = 3, kREFLECT = 4 };
enum class InterpolationMode : int32_t { kNEAREST = 0, kLINEAR = 1, kCUBIC = 2 };
enum class ResizeCoordinateTransformation : int32_t { kALIGN_CORNERS = 0, kASYMMETRIC = 1, kHALF_PIXEL = 2 };
enum class ResizeRoundMode : int32_t { kHALF_UP = 0, kHALF_DOWN = 1, kFLOOR = 2, kCEIL = 3 };
// kCONSTANT fills with alpha; kLINSPACE yields alpha + sum_i(beta[i] * index_i).
enum class FillOperation : int32_t { kLINSPACE = 0, kCONSTANT = 1 };
enum class CumulativeOperation : int32_t { kSUM = 0, kPROD = 1 };

// A tensor of the network: a network input, or a layer output.
class ITensor {
 public:
  ~ITensor();
  ITensor(const ITensor&) = delete;
  ITensor& operator=(const ITensor&) = delete;

  const char* getName() const;
  void setName(const char* name);
  // Inferred (or, for inputs, declared) shape; -1 marks dynamic extents.
  Dims getDimensions() const;
  // Only network inputs may be reshaped.
  void setDimensions(const Dims& dims);
  DataType getType() const;
  // For inputs: the declared type. For layer outputs in weakly typed networks: a requested output type.
  void setType(DataType type);
  bool isNetworkInput() const;
  bool isNetworkOutput() const;
  // True when the tensor holds a shape (computed on the host from shapes and constants).
  bool isShapeTensor() const;

  detail::TensorData& data() { return *data_; }
  const detail::TensorData& data() const { return *data_; }
  explicit ITensor(std::unique_ptr<detail::TensorData> data);

 private:
  std::unique_ptr<detail::TensorData> data_;
};

class ILayer {
 public:
  virtual ~ILayer();
  ILayer(const ILayer&) = delete;
  ILayer& operator=(const ILayer&) = delete;

  LayerType getType() const;
  void setName(const char* name);
  const char* getName() const;
  int32_t getNbInputs() const;
  ITensor* getInput(int32_t index) const;
  // Replaces (or, for optional inputs, supplies) input `index`; see each layer for what its extra inputs mean.
  void setInput(int32_t index, ITensor& tensor);
  int32_t getNbOutputs() const;
  ITensor* getOutput(int32_t index) const;
  // Weakly typed networks: run this layer in `type` (the builder inserts casts around it).
  void setPrecision(DataType type);
  DataType getPrecision() const;
  bool precisionIsSet() const;
  void resetPrecision();
  void setOutputType(int32_t index, DataType type);

  detail::LayerData& data() { return *data_; }
  const detail::LayerData& data() const { return *data_; }
  explicit ILayer(std::unique_ptr<detail::LayerData> data);

 private:
  std::unique_ptr<detail::LayerData> data_;
};

class IActivationLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setActivationType(ActivationType type);
  ActivationType getActivationType() const;
  void setAlpha(float alpha);
  float getAlpha() const;
  void setBeta(float beta);
  float getBeta() const;
};

class IElementWiseLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setOperation(ElementWiseOperation op);
  ElementWiseOperation getOperation() const;
};

class IUnaryLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setOperation(UnaryOperation op);
  UnaryOperation getOperation() const;
};

// Input [N, C, spatial...] (1-3 spatial dims). Weights [K, C/groups, kernel...]; bias [K] or empty.
// Optional inputs: 1 = kernel weights tensor, 2 = bias tensor (instead of the Weights).
class IConvolutionLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setStrideNd(const Dims& stride);
  Dims getStrideNd() const;
  void setPaddingNd(const Dims& padding);  // symmetric
  Dims getPaddingNd() const;
  void setPrePadding(const Dims& padding);
  Dims getPrePadding() const;
  void setPostPadding(const Dims& padding);
  Dims getPostPadding() const;
  void setDilationNd(const Dims& dilation);
  Dims getDilationNd() const;
  void setPaddingMode(PaddingMode mode);
  PaddingMode getPaddingMode() const;
  void setNbGroups(int64_t groups);
  int64_t getNbGroups() const;
  void setNbOutputMaps(int64_t nbOutputMaps);
  int64_t getNbOutputMaps() const;
  Dims getKernelSizeNd() const;
  void setKernelWeights(Weights weights);
  void setBiasWeights(Weights weights);
};

// Transposed convolution. Weights [C, K/groups, kernel...]. Pre/post padding crop the full output
// (PyTorch's padding p is pre=post=p; output_padding adds to post padding negatively: post = p - output_padding).
class IDeconvolutionLayer : public IConvolutionLayer {
 public:
  using IConvolutionLayer::IConvolutionLayer;
};

class IPoolingLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setPoolingType(PoolingType type);
  PoolingType getPoolingType() const;
  Dims getWindowSizeNd() const;
  void setWindowSizeNd(const Dims& window);
  void setStrideNd(const Dims& stride);
  Dims getStrideNd() const;
  void setPaddingNd(const Dims& padding);
  Dims getPaddingNd() const;
  void setPrePadding(const Dims& padding);
  Dims getPrePadding() const;
  void setPostPadding(const Dims& padding);
  Dims getPostPadding() const;
  void setPaddingMode(PaddingMode mode);
  PaddingMode getPaddingMode() const;
  // Average pooling: divide by the count of non-padding elements (count_include_pad=False). Default true.
  void setAverageCountExcludesPadding(bool exclusive);
  bool getAverageCountExcludesPadding() const;
};

// Batched matrix product with numpy broadcasting of the leading dims.
class IMatrixMultiplyLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setOperation(int32_t index, MatrixOperation op);
  MatrixOperation getOperation(int32_t index) const;
};

// reduceAxes is a bit mask: bit i reduces dim i.
class IReduceLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setOperation(ReduceOperation op);
  ReduceOperation getOperation() const;
  void setReduceAxes(uint32_t axes);
  uint32_t getReduceAxes() const;
  void setKeepDimensions(bool keep);
  bool getKeepDimensions() const;
};

// Softmax over the single axis set in the mask (default: the last dim).
class ISoftMaxLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setAxes(uint32_t axes);
  uint32_t getAxes() const;
};

// y = (x - mean) / sqrt(var + eps) * scale + bias, mean and (biased) variance over the axes in the mask.
// With nbGroups > 1 the channel dim (1) is split into groups, each normalized over its channels and the axes
// (group norm). scale and bias broadcast against the input (e.g. [1,C,1,1] or [H] for layer norm).
class INormalizationLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setEpsilon(float eps);
  float getEpsilon() const;
  void setAxes(uint32_t axesMask);
  uint32_t getAxes() const;
  void setNbGroups(int64_t groups);
  int64_t getNbGroups() const;
};

// transpose(first) -> reshape -> transpose(second). In reshape dims, 0 copies the input extent (when
// zeroIsPlaceholder, the default) and -1 is inferred. Optional input 1: a 1-D int32/int64 shape tensor.
class IShuffleLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setFirstTranspose(const Permutation& permutation);
  Permutation getFirstTranspose() const;
  void setReshapeDimensions(const Dims& dimensions);
  Dims getReshapeDimensions() const;
  void setSecondTranspose(const Permutation& permutation);
  Permutation getSecondTranspose() const;
  void setZeroIsPlaceholder(bool zeroIsPlaceholder);
  bool getZeroIsPlaceholder() const;
};

// out[i] = in[start + i*stride] per dim. Optional inputs: 1 start, 2 size, 3 stride (1-D shape tensors),
// 4 the fill value (0-D) for kFILL.
class ISliceLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setStart(const Dims& start);
  Dims getStart() const;
  void setSize(const Dims& size);
  Dims getSize() const;
  void setStride(const Dims& stride);
  Dims getStride() const;
  void setMode(SampleMode mode);
  SampleMode getMode() const;
};

class IConcatenationLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setAxis(int32_t axis);
  int32_t getAxis() const;
};

// kDEFAULT: out = data indexed along axis by indices (numpy.take). kELEMENT: torch.gather along axis.
// kND: gather slices with the last dim of indices as coordinates (after nbElementWiseDims batch dims).
// Negative indices count from the end (PyTorch semantics); out-of-range indices are an execution error.
class IGatherLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setGatherAxis(int32_t axis);
  int32_t getGatherAxis() const;
  void setNbElementWiseDims(int32_t k);
  int32_t getNbElementWiseDims() const;
  void setMode(GatherMode mode);
  GatherMode getMode() const;
};

// out = condition ? then : else, with broadcasting; condition is bool.
class ISelectLayer : public ILayer {
 public:
  using ILayer::ILayer;
};

class IConstantLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setWeights(Weights weights);
  Dims getDimensions() const;
  void setDimensions(const Dims& dims);
};

// Conversion follows C++ casts; float to integer truncates; to bool is "!= 0".
class ICastLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setToType(DataType toType);
  DataType getToType() const;
};

class IIdentityLayer : public ILayer {
 public:
  using ILayer::ILayer;
};

// Outputs: 0 values, 1 indices (int32 unless setIndicesType). Ties keep the lower index first.
class ITopKLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setOperation(TopKOperation op);
  TopKOperation getOperation() const;
  void setK(int32_t k);
  int32_t getK() const;
  void setReduceAxes(uint32_t reduceAxes);
  uint32_t getReduceAxes() const;
  void setIndicesType(DataType type);
  DataType getIndicesType() const;
};

// kELEMENT: out = data; out[.., indices[i], ..] (axis) = updates[i] (torch.scatter). kND: as ONNX ScatterND.
class IScatterLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setMode(ScatterMode mode);
  ScatterMode getMode() const;
  void setAxis(int32_t axis);
  int32_t getAxis() const;
  void setReduction(ScatterReduction reduction);
  ScatterReduction getReduction() const;
};

// Zero-pads (or, with negative values, crops) the innermost prePadding.nbDims dims.
class IPaddingLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setPrePaddingNd(const Dims& padding);
  Dims getPrePaddingNd() const;
  void setPostPaddingNd(const Dims& padding);
  Dims getPostPaddingNd() const;
};

// Output size from setOutputDimensions, setScales (out = floor(in * scale)), or input 1 (a shape tensor);
// input 1 takes precedence over scales, which take precedence over setOutputDimensions. With scales,
// coordinates map through 1/scale (PyTorch's scale_factor); otherwise through in/out.
class IResizeLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setOutputDimensions(const Dims& dimensions);
  Dims getOutputDimensions() const;
  void setScales(const float* scales, int32_t nbScales);
  int32_t getScales(int32_t size, float* scales) const;
  void setResizeMode(InterpolationMode mode);
  InterpolationMode getResizeMode() const;
  void setCoordinateTransformation(ResizeCoordinateTransformation transform);
  ResizeCoordinateTransformation getCoordinateTransformation() const;
  void setNearestRounding(ResizeRoundMode mode);
  ResizeRoundMode getNearestRounding() const;
  void setCubicCoeff(float a);
  float getCubicCoeff() const;
  // Cubic only: weights of taps outside the input are zeroed and the rest renormalized.
  void setExcludeOutside(bool exclude);
  bool getExcludeOutside() const;
};

// Output: the input's shape as a 1-D int64 shape tensor.
class IShapeLayer : public ILayer {
 public:
  using ILayer::ILayer;
};

// Optional inputs: 0 a 1-D shape tensor for the dimensions, 1 alpha (0-D), 2 beta (1-D, one delta per dim).
class IFillLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setDimensions(const Dims& dimensions);
  Dims getDimensions() const;
  void setOperation(FillOperation op);
  FillOperation getOperation() const;
  void setAlpha(double alpha);
  double getAlpha() const;
  // Linspace: the step per dimension (one value per output dim). A single value applies to the last dim.
  void setBeta(double beta);
  void setBetaNd(const double* betas, int32_t nbBetas);
  double getBeta() const;
  void setToType(DataType type);
  DataType getToType() const;
};

class ICumulativeLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setOperation(CumulativeOperation op);
  CumulativeOperation getOperation() const;
  void setAxis(int32_t axis);
  int32_t getAxis() const;
  void setExclusive(bool exclusive);
  bool getExclusive() const;
  void setReverse(bool reverse);
  bool getReverse() const;
};

// Output: int64 [rank, count] coordinates of the non-zero elements in row-major order. Its second
// extent is data-dependent: bind it through an IOutputAllocator when it is a network output.
class INonZeroLayer : public ILayer {
 public:
  using ILayer::ILayer;
};

// values = [off, on] (2 elements); depth a 0-D int32/int64 shape tensor; a new axis of extent depth is
// inserted at `axis`. Indices outside [-depth, depth) give all-off rows (negative ones count from the end).
class IOneHotLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setAxis(int32_t axis);
  int32_t getAxis() const;
};

// Scaled dot-product attention on [batch..., heads, seq, dim] tensors:
//   out = softmax(scale * Q K^T + mask) V
// Q [.., Hq, Sq, E], K [.., Hk, Sk, E], V [.., Hk, Sk, Ev], Hq a multiple of Hk (grouped-query attention).
// Optional input 3: mask broadcastable to [.., Hq, Sq, Sk], bool (true = attend) or additive float.
// scale defaults to 1/sqrt(E). Causal masks key j > query i (aligned at the top-left, like PyTorch).
// Leading batch dims broadcast. A mask and the causal flag combine (both must allow a key). A row whose keys
// are all masked gives zeros, like PyTorch's math backend (2.5 and later).
class IAttentionLayer : public ILayer {
 public:
  using ILayer::ILayer;
  void setCausal(bool causal);
  bool getCausal() const;
  void setScale(float scale);
  float getScale() const;  // 0 = default
};

}  // namespace kiln
