// Matrix multiply: batched matrix products with numpy broadcasting of the leading (batch) dims.
//
// Each operand is a matrix over its last two dims (kNONE), the same with those dims swapped (kTRANSPOSE),
// or a vector over its last dim (kVECTOR). Like numpy.matmul with 1-D operands, a vector operand adds no
// dim to the output: [B, M, K] x [K] (vector) gives [B, M]; two vectors give their dot product over the
// broadcast batch dims. A rank-1 operand is always a vector (numpy's rule), whatever its operation.
#include <string>
#include <utility>

#include "engine/layer_kinds.h"
#include "engine/layers/shape_utils.h"
#include "engine/network_impl.h"

namespace kiln {
namespace {

const char* operandKey(int32_t index) { return index == 0 ? "op0" : "op1"; }

bool isMatmulType(DataType type) {
  switch (type) {
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16:
    case DataType::kINT32:
    case DataType::kINT64:
      return true;
    case DataType::kINT8:
    case DataType::kBOOL:
    case DataType::kUINT8:
      return false;
  }
  return false;
}

// One operand as the product sees it: batch dims, then rows x cols after the operation.
struct Operand {
  Dims batch;
  bool vector = false;
  int64_t rows = 1;  // 1 for a vector
  int64_t cols = 0;  // the vector's length for a vector
};

StatusOr<Operand> describeOperand(const Dims& dims, int64_t op, int32_t index) {
  if (op < 0 || op > static_cast<int64_t>(MatrixOperation::kVECTOR)) {
    return invalidArgument("unknown matrix operation " + std::to_string(op) + " for input " + std::to_string(index));
  }
  if (dims.nbDims < 1) return invalidArgument("input " + std::to_string(index) + " must have rank >= 1, got rank 0");
  Operand operand;
  const auto operation = static_cast<MatrixOperation>(op);
  if (operation == MatrixOperation::kVECTOR || dims.nbDims == 1) {
    operand.vector = true;
    operand.cols = dims.d[dims.nbDims - 1];
    operand.batch = makeDims(dims.nbDims - 1, 1);
  } else {
    operand.rows = dims.d[dims.nbDims - 2];
    operand.cols = dims.d[dims.nbDims - 1];
    if (operation == MatrixOperation::kTRANSPOSE) std::swap(operand.rows, operand.cols);
    operand.batch = makeDims(dims.nbDims - 2, 1);
  }
  for (int32_t i = 0; i < operand.batch.nbDims; ++i) operand.batch.d[i] = dims.d[i];
  return operand;
}

}  // namespace

Status inferMatrixMultiplyShapes(const LayerParams& layer, const std::vector<ShapeInput>& inputs,
                                 std::vector<ShapeOutput>& outputs) {
  const DataType type = inputs[0].type;
  if (type != inputs[1].type) {
    return invalidArgument(std::string("both inputs must have one type (got ") + dataTypeName(type) + " and " +
                           dataTypeName(inputs[1].type) + "); add a cast layer");
  }
  if (!isMatmulType(type)) {
    return invalidArgument(std::string("matrix multiply takes float32/float16/bfloat16/int32/int64 inputs, got ") +
                           dataTypeName(type));
  }
  KILN_ASSIGN_OR_RETURN(Operand a, describeOperand(inputs[0].dims, layer.attrs.getInt("op0", -1), 0));
  KILN_ASSIGN_OR_RETURN(Operand b, describeOperand(inputs[1].dims, layer.attrs.getInt("op1", -1), 1));
  // a is [M, K] (or [K]); b is [K, N] (or [K]): b's "rows" are the contraction.
  const int64_t kA = a.cols;
  const int64_t kB = b.vector ? b.cols : b.rows;
  if (!extentsCompatible(kA, kB)) {
    return invalidArgument("contraction extents differ: input 0 " + dimsToString(inputs[0].dims) + " gives " +
                           std::to_string(kA) + ", input 1 " + dimsToString(inputs[1].dims) + " gives " +
                           std::to_string(kB));
  }
  KILN_ASSIGN_OR_RETURN(Dims batch, broadcastShapes(a.batch, b.batch));
  const int32_t rank = batch.nbDims + (a.vector ? 0 : 1) + (b.vector ? 0 : 1);
  if (rank > Dims::kMAX_DIMS) return invalidArgument("output rank exceeds " + std::to_string(Dims::kMAX_DIMS));
  Dims out = batch;
  out.nbDims = rank;
  int32_t next = batch.nbDims;
  if (!a.vector) out.d[next++] = a.rows;
  if (!b.vector) out.d[next++] = b.cols;
  KILN_RETURN_IF_ERROR(checkedVolume(out).status());
  outputs[0] = {out, type};
  return Status::ok();
}

IMatrixMultiplyLayer* NetworkDefinition::addMatrixMultiply(ITensor& input0, MatrixOperation op0, ITensor& input1,
                                                           MatrixOperation op1) {
  if (!impl_->ownsTensor(&input0, "addMatrixMultiply input0") ||
      !impl_->ownsTensor(&input1, "addMatrixMultiply input1")) {
    return nullptr;
  }
  Attributes attrs;
  attrs.setInt("op0", static_cast<int64_t>(op0));
  attrs.setInt("op1", static_cast<int64_t>(op1));
  return impl_->addLayer<IMatrixMultiplyLayer>(LayerType::kMATRIX_MULTIPLY, {&input0, &input1}, std::move(attrs));
}

void IMatrixMultiplyLayer::setOperation(int32_t index, MatrixOperation op) {
  if (index != 0 && index != 1) {
    data().network->impl().recordError(invalidArgument("setOperation on matrix multiply layer '" + data().params.name +
                                                       "': index " + std::to_string(index) + " is not 0 or 1"));
    return;
  }
  attrsOf(this).setInt(operandKey(index), static_cast<int64_t>(op));
  touch(this);
}

MatrixOperation IMatrixMultiplyLayer::getOperation(int32_t index) const {
  if (index != 0 && index != 1) return MatrixOperation::kNONE;
  return static_cast<MatrixOperation>(attrsOf(this).getInt(operandKey(index)));
}

}  // namespace kiln
