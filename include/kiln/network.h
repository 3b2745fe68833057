// NetworkDefinition: the graph of layers a converter builds, shaped like TensorRT's INetworkDefinition so
// that converter code ports by changing names (`net->addActivation(*x, ActivationType::kRELU)`).
//
// Ownership: the network owns every layer and tensor; the pointers it hands out live as long as it does.
// Errors: an add* call with invalid arguments returns nullptr and records an error; `status()` returns the
// first recorded error (shape-inference problems are found lazily and are recorded the same way).
// Shapes are inferred as the network is built: ITensor::getDimensions() is valid after every add* call,
// with -1 for extents that depend on dynamic input dimensions or on data.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/layers.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {

enum class NetworkDefinitionCreationFlag : uint32_t {
  // Every tensor has the type its producer declares; the builder never changes precisions.
  kSTRONGLY_TYPED = 0,
};

class NetworkDefinition {
 public:
  explicit NetworkDefinition(uint32_t flags = 0);
  ~NetworkDefinition();
  NetworkDefinition(const NetworkDefinition&) = delete;
  NetworkDefinition& operator=(const NetworkDefinition&) = delete;

  bool isStronglyTyped() const;

  // ---- inputs and outputs -------------------------------------------------------------------------
  ITensor* addInput(const char* name, DataType type, const Dims& dims);
  void markOutput(ITensor& tensor);
  void unmarkOutput(ITensor& tensor);
  int32_t getNbInputs() const;
  ITensor* getInput(int32_t index) const;
  int32_t getNbOutputs() const;
  ITensor* getOutput(int32_t index) const;

  // ---- layers (the parameters follow TensorRT's) ---------------------------------------------------
  IActivationLayer* addActivation(ITensor& input, ActivationType type);
  IElementWiseLayer* addElementWise(ITensor& input1, ITensor& input2, ElementWiseOperation op);
  IUnaryLayer* addUnary(ITensor& input, UnaryOperation operation);
  IConvolutionLayer* addConvolutionNd(ITensor& input, int64_t nbOutputMaps, const Dims& kernelSize,
                                      Weights kernelWeights, Weights biasWeights);
  IDeconvolutionLayer* addDeconvolutionNd(ITensor& input, int64_t nbOutputMaps, const Dims& kernelSize,
                                          Weights kernelWeights, Weights biasWeights);
  IPoolingLayer* addPoolingNd(ITensor& input, PoolingType type, const Dims& windowSize);
  IMatrixMultiplyLayer* addMatrixMultiply(ITensor& input0, MatrixOperation op0, ITensor& input1,
                                          MatrixOperation op1);
  IReduceLayer* addReduce(ITensor& input, ReduceOperation operation, uint32_t reduceAxes, bool keepDimensions);
  ISoftMaxLayer* addSoftMax(ITensor& input);
  INormalizationLayer* addNormalization(ITensor& input, ITensor& scale, ITensor& bias, uint32_t axesMask);
  IShuffleLayer* addShuffle(ITensor& input);
  ISliceLayer* addSlice(ITensor& input, const Dims& start, const Dims& size, const Dims& stride);
  IConcatenationLayer* addConcatenation(ITensor* const* inputs, int32_t nbInputs);
  IGatherLayer* addGatherV2(ITensor& data, ITensor& indices, GatherMode mode);
  IGatherLayer* addGather(ITensor& data, ITensor& indices, int32_t axis);
  ISelectLayer* addSelect(ITensor& condition, ITensor& thenInput, ITensor& elseInput);
  IConstantLayer* addConstant(const Dims& dimensions, Weights weights);
  ICastLayer* addCast(ITensor& input, DataType toType);
  IIdentityLayer* addIdentity(ITensor& input);
  ITopKLayer* addTopK(ITensor& input, TopKOperation op, int32_t k, uint32_t reduceAxes);
  IScatterLayer* addScatter(ITensor& data, ITensor& indices, ITensor& updates, ScatterMode mode);
  IPaddingLayer* addPaddingNd(ITensor& input, const Dims& prePadding, const Dims& postPadding);
  IResizeLayer* addResize(ITensor& input);
  IShapeLayer* addShape(ITensor& input);
  IFillLayer* addFill(const Dims& dimensions, FillOperation op, DataType outputType);
  ICumulativeLayer* addCumulative(ITensor& input, int32_t axis, CumulativeOperation operation, bool exclusive,
                                  bool reverse);
  INonZeroLayer* addNonZero(ITensor& input);
  IOneHotLayer* addOneHot(ITensor& indices, ITensor& values, ITensor& depth, int32_t axis);
  IAttentionLayer* addAttention(ITensor& query, ITensor& key, ITensor& value);

  int32_t getNbLayers() const;
  ILayer* getLayer(int32_t index) const;

  // First error recorded while building (invalid arguments, shape inference). OK when the network is sound.
  Status status();
  // Runs shape inference over the whole network now (it otherwise runs lazily) and returns status().
  Status validate();

  // ---- internals used by layers, the builder and tests ---------------------------------------------
  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiln
