// torch_kiln.engine: the network API with TensorRT's Python names (add_activation, layer.name,
// layer.get_output(0), ActivationType.SIGMOID ...). Objects are owned by their network: Python holds
// references that stay valid while the network lives.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "kiln/kiln.h"
#include "python/bindings.h"

namespace kiln {
namespace python {
namespace {

constexpr auto kREF = py::return_value_policy::reference;

DataType dtypeOfNumpy(const py::array& a) {
  const char kind = a.dtype().kind();
  const auto size = a.dtype().itemsize();
  if (kind == 'f' && size == 4) return DataType::kFLOAT;
  if (kind == 'f' && size == 2) return DataType::kHALF;
  if (kind == 'i' && size == 4) return DataType::kINT32;
  if (kind == 'i' && size == 8) return DataType::kINT64;
  if (kind == 'i' && size == 1) return DataType::kINT8;
  if (kind == 'u' && size == 1) return DataType::kUINT8;
  if (kind == 'b') return DataType::kBOOL;
  if (kind == 'u' && size == 2) return DataType::kBF16;  // bfloat16 bits carried as uint16
  throw py::value_error("unsupported numpy dtype for Kiln weights: " + std::string(py::str(a.dtype())) +
                        " (use float32, float16, int32, int64, int8, uint8 or bool; float64 must be cast)");
}

// Weights from a numpy array (copied by the network when the layer is created).
struct ArrayWeights {
  py::array array;
  Weights weights;
  explicit ArrayWeights(py::array a) : array(py::array::ensure(a, py::array::c_style)) {
    if (!array) throw py::value_error("weights must be convertible to a contiguous numpy array");
    weights.type = dtypeOfNumpy(array);
    weights.values = array.data();
    weights.count = static_cast<int64_t>(array.size());
  }
};

template <typename T>
T* checked(T* layer, NetworkDefinition& net) {
  if (layer == nullptr) raise(net.status());
  return layer;
}

Permutation toPermutation(const std::vector<int32_t>& order) {
  Permutation p;
  for (size_t i = 0; i < order.size() && i < static_cast<size_t>(Dims::kMAX_DIMS); ++i) p.order[i] = order[i];
  return p;
}

void bindEnums(py::module_& m) {
  py::enum_<DataType>(m, "DataType")
      .value("FLOAT", DataType::kFLOAT).value("HALF", DataType::kHALF).value("BF16", DataType::kBF16)
      .value("INT8", DataType::kINT8).value("INT32", DataType::kINT32).value("INT64", DataType::kINT64)
      .value("BOOL", DataType::kBOOL).value("UINT8", DataType::kUINT8);
  py::enum_<BackendKind>(m, "BackendKind").value("CPU", BackendKind::kCPU).value("CUDA", BackendKind::kCUDA);
  py::enum_<LayerType>(m, "LayerType")
      .value("ACTIVATION", LayerType::kACTIVATION).value("ELEMENTWISE", LayerType::kELEMENTWISE)
      .value("UNARY", LayerType::kUNARY).value("CONVOLUTION", LayerType::kCONVOLUTION)
      .value("DECONVOLUTION", LayerType::kDECONVOLUTION).value("POOLING", LayerType::kPOOLING)
      .value("MATRIX_MULTIPLY", LayerType::kMATRIX_MULTIPLY).value("REDUCE", LayerType::kREDUCE)
      .value("SOFTMAX", LayerType::kSOFTMAX).value("NORMALIZATION", LayerType::kNORMALIZATION)
      .value("SHUFFLE", LayerType::kSHUFFLE).value("SLICE", LayerType::kSLICE)
      .value("CONCATENATION", LayerType::kCONCATENATION).value("GATHER", LayerType::kGATHER)
      .value("SELECT", LayerType::kSELECT).value("CONSTANT", LayerType::kCONSTANT).value("CAST", LayerType::kCAST)
      .value("IDENTITY", LayerType::kIDENTITY).value("TOPK", LayerType::kTOPK).value("SCATTER", LayerType::kSCATTER)
      .value("PADDING", LayerType::kPADDING).value("RESIZE", LayerType::kRESIZE).value("SHAPE", LayerType::kSHAPE)
      .value("FILL", LayerType::kFILL).value("CUMULATIVE", LayerType::kCUMULATIVE)
      .value("NON_ZERO", LayerType::kNON_ZERO).value("ONE_HOT", LayerType::kONE_HOT)
      .value("ATTENTION", LayerType::kATTENTION).value("POINTWISE", LayerType::kPOINTWISE);
  py::enum_<ActivationType>(m, "ActivationType")
      .value("RELU", ActivationType::kRELU).value("SIGMOID", ActivationType::kSIGMOID)
      .value("TANH", ActivationType::kTANH).value("LEAKY_RELU", ActivationType::kLEAKY_RELU)
      .value("ELU", ActivationType::kELU).value("SELU", ActivationType::kSELU)
      .value("SOFTSIGN", ActivationType::kSOFTSIGN).value("SOFTPLUS", ActivationType::kSOFTPLUS)
      .value("CLIP", ActivationType::kCLIP).value("HARD_SIGMOID", ActivationType::kHARD_SIGMOID)
      .value("SCALED_TANH", ActivationType::kSCALED_TANH).value("THRESHOLDED_RELU", ActivationType::kTHRESHOLDED_RELU)
      .value("GELU_ERF", ActivationType::kGELU_ERF).value("GELU_TANH", ActivationType::kGELU_TANH);
  py::enum_<ElementWiseOperation>(m, "ElementWiseOperation")
      .value("SUM", ElementWiseOperation::kSUM).value("PROD", ElementWiseOperation::kPROD)
      .value("MAX", ElementWiseOperation::kMAX).value("MIN", ElementWiseOperation::kMIN)
      .value("SUB", ElementWiseOperation::kSUB).value("DIV", ElementWiseOperation::kDIV)
      .value("POW", ElementWiseOperation::kPOW).value("FLOOR_DIV", ElementWiseOperation::kFLOOR_DIV)
      .value("AND", ElementWiseOperation::kAND).value("OR", ElementWiseOperation::kOR)
      .value("XOR", ElementWiseOperation::kXOR).value("EQUAL", ElementWiseOperation::kEQUAL)
      .value("GREATER", ElementWiseOperation::kGREATER).value("LESS", ElementWiseOperation::kLESS);
  py::enum_<UnaryOperation>(m, "UnaryOperation")
      .value("EXP", UnaryOperation::kEXP).value("LOG", UnaryOperation::kLOG).value("SQRT", UnaryOperation::kSQRT)
      .value("RECIP", UnaryOperation::kRECIP).value("ABS", UnaryOperation::kABS).value("NEG", UnaryOperation::kNEG)
      .value("SIN", UnaryOperation::kSIN).value("COS", UnaryOperation::kCOS).value("TAN", UnaryOperation::kTAN)
      .value("SINH", UnaryOperation::kSINH).value("COSH", UnaryOperation::kCOSH).value("ASIN", UnaryOperation::kASIN)
      .value("ACOS", UnaryOperation::kACOS).value("ATAN", UnaryOperation::kATAN)
      .value("ASINH", UnaryOperation::kASINH).value("ACOSH", UnaryOperation::kACOSH)
      .value("ATANH", UnaryOperation::kATANH).value("CEIL", UnaryOperation::kCEIL)
      .value("FLOOR", UnaryOperation::kFLOOR).value("ERF", UnaryOperation::kERF).value("NOT", UnaryOperation::kNOT)
      .value("SIGN", UnaryOperation::kSIGN).value("ROUND", UnaryOperation::kROUND)
      .value("ISINF", UnaryOperation::kISINF).value("ISNAN", UnaryOperation::kISNAN);
  py::enum_<PoolingType>(m, "PoolingType").value("MAX", PoolingType::kMAX).value("AVERAGE", PoolingType::kAVERAGE);
  py::enum_<PaddingMode>(m, "PaddingMode")
      .value("EXPLICIT_ROUND_DOWN", PaddingMode::kEXPLICIT_ROUND_DOWN)
      .value("EXPLICIT_ROUND_UP", PaddingMode::kEXPLICIT_ROUND_UP)
      .value("SAME_UPPER", PaddingMode::kSAME_UPPER).value("SAME_LOWER", PaddingMode::kSAME_LOWER);
  py::enum_<MatrixOperation>(m, "MatrixOperation")
      .value("NONE", MatrixOperation::kNONE).value("TRANSPOSE", MatrixOperation::kTRANSPOSE)
      .value("VECTOR", MatrixOperation::kVECTOR);
  py::enum_<ReduceOperation>(m, "ReduceOperation")
      .value("SUM", ReduceOperation::kSUM).value("PROD", ReduceOperation::kPROD).value("MAX", ReduceOperation::kMAX)
      .value("MIN", ReduceOperation::kMIN).value("AVG", ReduceOperation::kAVG);
  py::enum_<GatherMode>(m, "GatherMode")
      .value("DEFAULT", GatherMode::kDEFAULT).value("ELEMENT", GatherMode::kELEMENT).value("ND", GatherMode::kND);
  py::enum_<TopKOperation>(m, "TopKOperation").value("MAX", TopKOperation::kMAX).value("MIN", TopKOperation::kMIN);
  py::enum_<SampleMode>(m, "SampleMode")
      .value("STRICT_BOUNDS", SampleMode::kSTRICT_BOUNDS).value("WRAP", SampleMode::kWRAP)
      .value("CLAMP", SampleMode::kCLAMP).value("FILL", SampleMode::kFILL).value("REFLECT", SampleMode::kREFLECT);
  py::enum_<InterpolationMode>(m, "InterpolationMode")
      .value("NEAREST", InterpolationMode::kNEAREST).value("LINEAR", InterpolationMode::kLINEAR)
      .value("CUBIC", InterpolationMode::kCUBIC);
  py::enum_<FillOperation>(m, "FillOperation")
      .value("LINSPACE", FillOperation::kLINSPACE).value("CONSTANT", FillOperation::kCONSTANT);
}

void bindTensorAndLayers(py::module_& m) {
  py::class_<ITensor, std::unique_ptr<ITensor, py::nodelete>>(m, "ITensor")
      .def_property("name", &ITensor::getName, [](ITensor& t, const std::string& n) { t.setName(n.c_str()); })
      .def_property_readonly("shape", [](const ITensor& t) { return py::tuple(py::cast(fromDims(t.getDimensions()))); })
      .def_property("dtype", &ITensor::getType, &ITensor::setType)
      .def_property_readonly("is_network_input", &ITensor::isNetworkInput)
      .def_property_readonly("is_network_output", &ITensor::isNetworkOutput)
      .def_property_readonly("is_shape_tensor", &ITensor::isShapeTensor)
      .def("__repr__", [](const ITensor& t) {
        return "<ITensor " + std::string(t.getName()) + ": " + dataTypeName(t.getType()) +
               dimsToString(t.getDimensions()) + ">";
      });

  py::class_<ILayer, std::unique_ptr<ILayer, py::nodelete>>(m, "ILayer")
      .def_property("name", &ILayer::getName, [](ILayer& l, const std::string& n) { l.setName(n.c_str()); })
      .def_property_readonly("type", &ILayer::getType)
      .def_property_readonly("num_inputs", &ILayer::getNbInputs)
      .def_property_readonly("num_outputs", &ILayer::getNbOutputs)
      .def("get_input", &ILayer::getInput, kREF)
      .def("get_output", &ILayer::getOutput, kREF)
      .def("set_input", &ILayer::setInput)
      .def_property("precision", &ILayer::getPrecision, &ILayer::setPrecision)
      .def("set_output_type", &ILayer::setOutputType);

  py::class_<IActivationLayer, ILayer, std::unique_ptr<IActivationLayer, py::nodelete>>(m, "IActivationLayer")
      .def_property("type", &IActivationLayer::getActivationType, &IActivationLayer::setActivationType)
      .def_property("alpha", &IActivationLayer::getAlpha, &IActivationLayer::setAlpha)
      .def_property("beta", &IActivationLayer::getBeta, &IActivationLayer::setBeta);
  py::class_<IElementWiseLayer, ILayer, std::unique_ptr<IElementWiseLayer, py::nodelete>>(m, "IElementWiseLayer")
      .def_property("op", &IElementWiseLayer::getOperation, &IElementWiseLayer::setOperation);
  py::class_<IUnaryLayer, ILayer, std::unique_ptr<IUnaryLayer, py::nodelete>>(m, "IUnaryLayer")
      .def_property("op", &IUnaryLayer::getOperation, &IUnaryLayer::setOperation);
  py::class_<IConvolutionLayer, ILayer, std::unique_ptr<IConvolutionLayer, py::nodelete>>(m, "IConvolutionLayer")
      .def_property("stride_nd", [](IConvolutionLayer& l) { return fromDims(l.getStrideNd()); },
                    [](IConvolutionLayer& l, const std::vector<int64_t>& v) { l.setStrideNd(toDims(v)); })
      .def_property("padding_nd", [](IConvolutionLayer& l) { return fromDims(l.getPaddingNd()); },
                    [](IConvolutionLayer& l, const std::vector<int64_t>& v) { l.setPaddingNd(toDims(v)); })
      .def_property("pre_padding", [](IConvolutionLayer& l) { return fromDims(l.getPrePadding()); },
                    [](IConvolutionLayer& l, const std::vector<int64_t>& v) { l.setPrePadding(toDims(v)); })
      .def_property("post_padding", [](IConvolutionLayer& l) { return fromDims(l.getPostPadding()); },
                    [](IConvolutionLayer& l, const std::vector<int64_t>& v) { l.setPostPadding(toDims(v)); })
      .def_property("dilation_nd", [](IConvolutionLayer& l) { return fromDims(l.getDilationNd()); },
                    [](IConvolutionLayer& l, const std::vector<int64_t>& v) { l.setDilationNd(toDims(v)); })
      .def_property("num_groups", &IConvolutionLayer::getNbGroups, &IConvolutionLayer::setNbGroups);
  py::class_<IDeconvolutionLayer, IConvolutionLayer, std::unique_ptr<IDeconvolutionLayer, py::nodelete>>(
      m, "IDeconvolutionLayer");
  py::class_<IPoolingLayer, ILayer, std::unique_ptr<IPoolingLayer, py::nodelete>>(m, "IPoolingLayer")
      .def_property("stride_nd", [](IPoolingLayer& l) { return fromDims(l.getStrideNd()); },
                    [](IPoolingLayer& l, const std::vector<int64_t>& v) { l.setStrideNd(toDims(v)); })
      .def_property("padding_nd", [](IPoolingLayer& l) { return fromDims(l.getPaddingNd()); },
                    [](IPoolingLayer& l, const std::vector<int64_t>& v) { l.setPaddingNd(toDims(v)); })
      .def_property("padding_mode", &IPoolingLayer::getPaddingMode, &IPoolingLayer::setPaddingMode)
      .def_property("average_count_excludes_padding", &IPoolingLayer::getAverageCountExcludesPadding,
                    &IPoolingLayer::setAverageCountExcludesPadding);
  py::class_<IMatrixMultiplyLayer, ILayer, std::unique_ptr<IMatrixMultiplyLayer, py::nodelete>>(m, "IMatrixMultiplyLayer");
  py::class_<IReduceLayer, ILayer, std::unique_ptr<IReduceLayer, py::nodelete>>(m, "IReduceLayer")
      .def_property("axes", &IReduceLayer::getReduceAxes, &IReduceLayer::setReduceAxes)
      .def_property("keep_dims", &IReduceLayer::getKeepDimensions, &IReduceLayer::setKeepDimensions);
  py::class_<ISoftMaxLayer, ILayer, std::unique_ptr<ISoftMaxLayer, py::nodelete>>(m, "ISoftMaxLayer")
      .def_property("axes", &ISoftMaxLayer::getAxes, &ISoftMaxLayer::setAxes);
  py::class_<INormalizationLayer, ILayer, std::unique_ptr<INormalizationLayer, py::nodelete>>(m, "INormalizationLayer")
      .def_property("epsilon", &INormalizationLayer::getEpsilon, &INormalizationLayer::setEpsilon)
      .def_property("num_groups", &INormalizationLayer::getNbGroups, &INormalizationLayer::setNbGroups);
  py::class_<IShuffleLayer, ILayer, std::unique_ptr<IShuffleLayer, py::nodelete>>(m, "IShuffleLayer")
      .def_property("reshape_dims", [](IShuffleLayer& l) { return fromDims(l.getReshapeDimensions()); },
                    [](IShuffleLayer& l, const std::vector<int64_t>& v) { l.setReshapeDimensions(toDims(v)); })
      .def_property("first_transpose",
                    [](IShuffleLayer& l) {
                      const Permutation p = l.getFirstTranspose();
                      return std::vector<int32_t>(p.order, p.order + Dims::kMAX_DIMS);
                    },
                    [](IShuffleLayer& l, const std::vector<int32_t>& v) { l.setFirstTranspose(toPermutation(v)); })
      .def_property("second_transpose",
                    [](IShuffleLayer& l) {
                      const Permutation p = l.getSecondTranspose();
                      return std::vector<int32_t>(p.order, p.order + Dims::kMAX_DIMS);
                    },
                    [](IShuffleLayer& l, const std::vector<int32_t>& v) { l.setSecondTranspose(toPermutation(v)); })
      .def_property("zero_is_placeholder", &IShuffleLayer::getZeroIsPlaceholder, &IShuffleLayer::setZeroIsPlaceholder);
  py::class_<ISliceLayer, ILayer, std::unique_ptr<ISliceLayer, py::nodelete>>(m, "ISliceLayer")
      .def_property("mode", &ISliceLayer::getMode, &ISliceLayer::setMode);
  py::class_<IConcatenationLayer, ILayer, std::unique_ptr<IConcatenationLayer, py::nodelete>>(m, "IConcatenationLayer")
      .def_property("axis", &IConcatenationLayer::getAxis, &IConcatenationLayer::setAxis);
  py::class_<IGatherLayer, ILayer, std::unique_ptr<IGatherLayer, py::nodelete>>(m, "IGatherLayer")
      .def_property("axis", &IGatherLayer::getGatherAxis, &IGatherLayer::setGatherAxis)
      .def_property("num_elementwise_dims", &IGatherLayer::getNbElementWiseDims, &IGatherLayer::setNbElementWiseDims)
      .def_property("mode", &IGatherLayer::getMode, &IGatherLayer::setMode);
  py::class_<ISelectLayer, ILayer, std::unique_ptr<ISelectLayer, py::nodelete>>(m, "ISelectLayer");
  py::class_<IConstantLayer, ILayer, std::unique_ptr<IConstantLayer, py::nodelete>>(m, "IConstantLayer");
  py::class_<ICastLayer, ILayer, std::unique_ptr<ICastLayer, py::nodelete>>(m, "ICastLayer")
      .def_property("to_type", &ICastLayer::getToType, &ICastLayer::setToType);
  py::class_<IIdentityLayer, ILayer, std::unique_ptr<IIdentityLayer, py::nodelete>>(m, "IIdentityLayer");
  py::class_<ITopKLayer, ILayer, std::unique_ptr<ITopKLayer, py::nodelete>>(m, "ITopKLayer")
      .def_property("k", &ITopKLayer::getK, &ITopKLayer::setK);
  py::class_<IShapeLayer, ILayer, std::unique_ptr<IShapeLayer, py::nodelete>>(m, "IShapeLayer");
  py::class_<IAttentionLayer, ILayer, std::unique_ptr<IAttentionLayer, py::nodelete>>(m, "IAttentionLayer")
      .def_property("causal", &IAttentionLayer::getCausal, &IAttentionLayer::setCausal)
      .def_property("scale", &IAttentionLayer::getScale, &IAttentionLayer::setScale);
}

void bindNetwork(py::module_& m) {
  py::class_<NetworkDefinition>(m, "INetworkDefinition")
      .def(
          "add_input",
          [](NetworkDefinition& n, const std::string& name, DataType type, const std::vector<int64_t>& shape) {
            return checked(n.addInput(name.c_str(), type, toDims(shape)), n);
          },
          kREF, py::arg("name"), py::arg("dtype"), py::arg("shape"))
      .def("mark_output", &NetworkDefinition::markOutput)
      .def_property_readonly("num_layers", &NetworkDefinition::getNbLayers)
      .def_property_readonly("num_inputs", &NetworkDefinition::getNbInputs)
      .def_property_readonly("num_outputs", &NetworkDefinition::getNbOutputs)
      .def("get_layer", &NetworkDefinition::getLayer, kREF)
      .def("get_input", &NetworkDefinition::getInput, kREF)
      .def("get_output", &NetworkDefinition::getOutput, kREF)
      .def(
          "add_activation",
          [](NetworkDefinition& n, ITensor& x, ActivationType t) { return checked(n.addActivation(x, t), n); }, kREF,
          py::arg("input"), py::arg("type"))
      .def(
          "add_elementwise",
          [](NetworkDefinition& n, ITensor& a, ITensor& b, ElementWiseOperation op) {
            return checked(n.addElementWise(a, b, op), n);
          },
          kREF, py::arg("input1"), py::arg("input2"), py::arg("op"))
      .def(
          "add_unary", [](NetworkDefinition& n, ITensor& x, UnaryOperation op) { return checked(n.addUnary(x, op), n); },
          kREF, py::arg("input"), py::arg("op"))
      .def(
          "add_constant",
          [](NetworkDefinition& n, const std::vector<int64_t>& shape, py::array weights) {
            ArrayWeights w(std::move(weights));
            return checked(n.addConstant(toDims(shape), w.weights), n);
          },
          kREF, py::arg("shape"), py::arg("weights"))
      .def(
          "add_cast", [](NetworkDefinition& n, ITensor& x, DataType t) { return checked(n.addCast(x, t), n); }, kREF)
      .def("add_identity", [](NetworkDefinition& n, ITensor& x) { return checked(n.addIdentity(x), n); }, kREF)
      .def("add_shape", [](NetworkDefinition& n, ITensor& x) { return checked(n.addShape(x), n); }, kREF)
      .def("add_shuffle", [](NetworkDefinition& n, ITensor& x) { return checked(n.addShuffle(x), n); }, kREF)
      .def(
          "add_matrix_multiply",
          [](NetworkDefinition& n, ITensor& a, MatrixOperation opA, ITensor& b, MatrixOperation opB) {
            return checked(n.addMatrixMultiply(a, opA, b, opB), n);
          },
          kREF)
      .def(
          "add_reduce",
          [](NetworkDefinition& n, ITensor& x, ReduceOperation op, uint32_t axes, bool keep) {
            return checked(n.addReduce(x, op, axes, keep), n);
          },
          kREF, py::arg("input"), py::arg("op"), py::arg("axes"), py::arg("keep_dims"))
      .def("add_softmax", [](NetworkDefinition& n, ITensor& x) { return checked(n.addSoftMax(x), n); }, kREF)
      .def(
          "add_concatenation",
          [](NetworkDefinition& n, std::vector<ITensor*> inputs) {
            return checked(n.addConcatenation(inputs.data(), static_cast<int32_t>(inputs.size())), n);
          },
          kREF)
      .def(
          "add_slice",
          [](NetworkDefinition& n, ITensor& x, const std::vector<int64_t>& start, const std::vector<int64_t>& shape,
             const std::vector<int64_t>& stride) {
            return checked(n.addSlice(x, toDims(start), toDims(shape), toDims(stride)), n);
          },
          kREF)
      .def(
          "add_gather",
          [](NetworkDefinition& n, ITensor& x, ITensor& idx, int32_t axis) { return checked(n.addGather(x, idx, axis), n); },
          kREF)
      .def(
          "add_select",
          [](NetworkDefinition& n, ITensor& c, ITensor& a, ITensor& b) { return checked(n.addSelect(c, a, b), n); }, kREF)
      .def(
          "add_convolution_nd",
          [](NetworkDefinition& n, ITensor& x, int64_t maps, const std::vector<int64_t>& kernel, py::array w,
             py::object bias) {
            ArrayWeights kw(std::move(w));
            Weights bw{DataType::kFLOAT, nullptr, 0};
            std::unique_ptr<ArrayWeights> keep;
            if (!bias.is_none()) {
              keep = std::make_unique<ArrayWeights>(py::array(bias));
              bw = keep->weights;
            }
            return checked(n.addConvolutionNd(x, maps, toDims(kernel), kw.weights, bw), n);
          },
          kREF, py::arg("input"), py::arg("num_output_maps"), py::arg("kernel_shape"), py::arg("kernel"),
          py::arg("bias") = py::none())
      .def(
          "add_pooling_nd",
          [](NetworkDefinition& n, ITensor& x, PoolingType t, const std::vector<int64_t>& window) {
            return checked(n.addPoolingNd(x, t, toDims(window)), n);
          },
          kREF)
      .def(
          "add_normalization",
          [](NetworkDefinition& n, ITensor& x, ITensor& scale, ITensor& bias, uint32_t axes) {
            return checked(n.addNormalization(x, scale, bias, axes), n);
          },
          kREF)
      .def(
          "add_topk",
          [](NetworkDefinition& n, ITensor& x, TopKOperation op, int32_t k, uint32_t axes) {
            return checked(n.addTopK(x, op, k, axes), n);
          },
          kREF)
      .def(
          "add_attention",
          [](NetworkDefinition& n, ITensor& q, ITensor& k, ITensor& v) { return checked(n.addAttention(q, k, v), n); },
          kREF)
      .def("validate", [](NetworkDefinition& n) { check(n.validate()); });
}

}  // namespace

void bindEngine(py::module_& m) {
  bindEnums(m);
  bindTensorAndLayers(m);
  bindNetwork(m);
}

}  // namespace python
}  // namespace kiln
