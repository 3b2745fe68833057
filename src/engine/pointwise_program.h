// The program of a builder-fused pointwise chain (LayerType::kPOINTWISE): straight-line code over float32
// registers, evaluated once per output element. Instruction i writes register i and reads only earlier
// registers, so the code is in topological order by construction; the last register is the output.
//
// The program travels in the layer's attributes (so plans carry it) and is validated whenever it is decoded:
// a plan is untrusted input, and a corrupt program must give a clear error, never an out-of-range access.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/attributes.h"
#include "kiln/layers.h"
#include "kiln/status.h"
#include "kiln/types.h"

namespace kiln {

// Values are part of the plan format: never renumber, only append.
enum class PointwiseOpcode : int32_t {
  kLOAD = 0,        // code = input index; the input broadcasts (numpy rules) to the output shape
  kCONSTANT = 1,    // alpha = the value
  kACTIVATION = 2,  // code = ActivationType, a = operand, alpha/beta as the activation layer's
  kBINARY = 3,      // code = ElementWiseOperation (float arithmetic only), a and b operands
  kUNARY = 4,       // code = UnaryOperation (float-valued only), a operand
  kCAST = 5,        // code = DataType (float32/float16/bfloat16): rounds a through that type
};

struct PointwiseInstruction {
  PointwiseOpcode opcode = PointwiseOpcode::kCONSTANT;
  int32_t code = 0;
  int32_t a = -1;
  int32_t b = -1;
  float alpha = 0.f;
  float beta = 0.f;
};

struct PointwiseProgram {
  std::vector<PointwiseInstruction> code;
  DataType outputType = DataType::kFLOAT;
  // Output rank: a folded single-element constant may have raised the rank above every remaining input's.
  int32_t outputRank = 0;
};

// Keeps generated kernels small and register use bounded.
constexpr int32_t kMAX_POINTWISE_INSTRUCTIONS = 128;

bool isPointwiseFloatType(DataType type);
bool isFusableBinaryOperation(ElementWiseOperation op);
bool isFusableUnaryOperation(UnaryOperation op);

// Attribute keys: "program" (4 ints per instruction), "immediates" (alpha, beta per instruction),
// "output_type", "output_rank".
void storePointwiseProgram(const PointwiseProgram& program, Attributes& attrs);
// Decodes and validates against the layer's input count; errors name the bad instruction.
StatusOr<PointwiseProgram> loadPointwiseProgram(const Attributes& attrs, int32_t nbInputs);

// The scalar semantics, shared by the CPU kernel and tests; the same formulas as the unfused CPU kernels.
float pointwiseActivation(ActivationType type, float x, float alpha, float beta);
float pointwiseBinary(ElementWiseOperation op, float x, float y);
float pointwiseUnary(UnaryOperation op, float x);
float pointwiseRoundThrough(DataType type, float x);

// Evaluates one element; `inputs[i]` is input i's value at this element, `registers` holds code.size() floats.
float evaluatePointwise(const PointwiseProgram& program, const float* inputs, float* registers);

// One line per instruction ("r3 = binary.kPROD r1 r2"), for logs and failing tests.
std::string describePointwiseProgram(const PointwiseProgram& program);

}  // namespace kiln
