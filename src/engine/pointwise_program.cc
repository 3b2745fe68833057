#include "engine/pointwise_program.h"

#include <cmath>
#include <sstream>

#include "util/half.h"

namespace kiln {
namespace {

constexpr size_t kINTS_PER_INSTRUCTION = 4;
constexpr size_t kFLOATS_PER_INSTRUCTION = 2;

std::string at(size_t i) { return "pointwise program instruction " + std::to_string(i) + ": "; }

const char* opcodeName(PointwiseOpcode op) {
  switch (op) {
    case PointwiseOpcode::kLOAD:
      return "load";
    case PointwiseOpcode::kCONSTANT:
      return "constant";
    case PointwiseOpcode::kACTIVATION:
      return "activation";
    case PointwiseOpcode::kBINARY:
      return "binary";
    case PointwiseOpcode::kUNARY:
      return "unary";
    case PointwiseOpcode::kCAST:
      return "cast";
  }
  return "invalid";
}

}  // namespace

bool isPointwiseFloatType(DataType type) {
  return type == DataType::kFLOAT || type == DataType::kHALF || type == DataType::kBF16;
}

bool isFusableBinaryOperation(ElementWiseOperation op) {
  switch (op) {
    case ElementWiseOperation::kSUM:
    case ElementWiseOperation::kPROD:
    case ElementWiseOperation::kMAX:
    case ElementWiseOperation::kMIN:
    case ElementWiseOperation::kSUB:
    case ElementWiseOperation::kDIV:
    case ElementWiseOperation::kPOW:
      return true;
    case ElementWiseOperation::kFLOOR_DIV:
    case ElementWiseOperation::kAND:
    case ElementWiseOperation::kOR:
    case ElementWiseOperation::kXOR:
    case ElementWiseOperation::kEQUAL:
    case ElementWiseOperation::kGREATER:
    case ElementWiseOperation::kLESS:
      return false;
  }
  return false;
}

bool isFusableUnaryOperation(UnaryOperation op) {
  switch (op) {
    case UnaryOperation::kEXP:
    case UnaryOperation::kLOG:
    case UnaryOperation::kSQRT:
    case UnaryOperation::kRECIP:
    case UnaryOperation::kABS:
    case UnaryOperation::kNEG:
    case UnaryOperation::kSIN:
    case UnaryOperation::kCOS:
    case UnaryOperation::kTAN:
    case UnaryOperation::kSINH:
    case UnaryOperation::kCOSH:
    case UnaryOperation::kASIN:
    case UnaryOperation::kACOS:
    case UnaryOperation::kATAN:
    case UnaryOperation::kASINH:
    case UnaryOperation::kACOSH:
    case UnaryOperation::kATANH:
    case UnaryOperation::kCEIL:
    case UnaryOperation::kFLOOR:
    case UnaryOperation::kERF:
    case UnaryOperation::kSIGN:
    case UnaryOperation::kROUND:
      return true;
    case UnaryOperation::kNOT:
    case UnaryOperation::kISINF:
    case UnaryOperation::kISNAN:
      return false;  // bool in or out
  }
  return false;
}

void storePointwiseProgram(const PointwiseProgram& program, Attributes& attrs) {
  std::vector<int64_t> ints;
  std::vector<double> floats;
  ints.reserve(program.code.size() * kINTS_PER_INSTRUCTION);
  floats.reserve(program.code.size() * kFLOATS_PER_INSTRUCTION);
  for (const PointwiseInstruction& in : program.code) {
    ints.insert(ints.end(), {static_cast<int64_t>(in.opcode), in.code, in.a, in.b});
    floats.insert(floats.end(), {in.alpha, in.beta});
  }
  attrs.setInts("program", std::move(ints));
  attrs.setFloats("immediates", std::move(floats));
  attrs.setInt("output_type", static_cast<int64_t>(program.outputType));
  attrs.setInt("output_rank", program.outputRank);
}

StatusOr<PointwiseProgram> loadPointwiseProgram(const Attributes& attrs, int32_t nbInputs) {
  const std::vector<int64_t> ints = attrs.getInts("program");
  const std::vector<double> floats = attrs.getFloats("immediates");
  if (ints.empty() || ints.size() % kINTS_PER_INSTRUCTION != 0) {
    return invalidArgument("pointwise program: 'program' holds " + std::to_string(ints.size()) +
                           " values, expected a non-zero multiple of 4");
  }
  const size_t count = ints.size() / kINTS_PER_INSTRUCTION;
  if (count > static_cast<size_t>(kMAX_POINTWISE_INSTRUCTIONS)) {
    return invalidArgument("pointwise program: " + std::to_string(count) + " instructions exceed the limit of " +
                           std::to_string(kMAX_POINTWISE_INSTRUCTIONS));
  }
  if (floats.size() != count * kFLOATS_PER_INSTRUCTION) {
    return invalidArgument("pointwise program: 'immediates' holds " + std::to_string(floats.size()) +
                           " values, expected " + std::to_string(count * kFLOATS_PER_INSTRUCTION));
  }
  PointwiseProgram program;
  const int64_t outType = attrs.getInt("output_type", -1);
  if (outType < 0 || !isValidDataType(static_cast<int32_t>(outType)) ||
      !isPointwiseFloatType(static_cast<DataType>(outType))) {
    return invalidArgument("pointwise program: output type " + std::to_string(outType) +
                           " is not float32, float16 or bfloat16");
  }
  program.outputType = static_cast<DataType>(outType);
  const int64_t rank = attrs.getInt("output_rank", -1);
  if (rank < 0 || rank > Dims::kMAX_DIMS) {
    return invalidArgument("pointwise program: output rank " + std::to_string(rank) + " is out of range");
  }
  program.outputRank = static_cast<int32_t>(rank);
  program.code.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const int64_t* w = &ints[i * kINTS_PER_INSTRUCTION];
    PointwiseInstruction& in = program.code[i];
    const auto operand = [&](int64_t r, const char* which) -> Status {
      if (r < 0 || r >= static_cast<int64_t>(i)) {
        return invalidArgument(at(i) + "operand " + which + " reads register " + std::to_string(r) +
                               ", which is not computed before it");
      }
      return Status::ok();
    };
    if (w[1] < INT32_MIN || w[1] > INT32_MAX) return invalidArgument(at(i) + "code out of range");
    in.code = static_cast<int32_t>(w[1]);
    in.alpha = static_cast<float>(floats[i * kFLOATS_PER_INSTRUCTION]);
    in.beta = static_cast<float>(floats[i * kFLOATS_PER_INSTRUCTION + 1]);
    const int64_t op = w[0];
    if (op < 0 || op > static_cast<int64_t>(PointwiseOpcode::kCAST)) {
      return invalidArgument(at(i) + "unknown opcode " + std::to_string(op));
    }
    in.opcode = static_cast<PointwiseOpcode>(op);
    int nbOperands = 0;
    switch (in.opcode) {
      case PointwiseOpcode::kLOAD:
        if (in.code < 0 || in.code >= nbInputs) {
          return invalidArgument(at(i) + "loads input " + std::to_string(in.code) + " but the layer has " +
                                 std::to_string(nbInputs) + " inputs");
        }
        break;
      case PointwiseOpcode::kCONSTANT:
        break;
      case PointwiseOpcode::kACTIVATION:
        if (in.code < 0 || in.code > static_cast<int32_t>(ActivationType::kGELU_TANH)) {
          return invalidArgument(at(i) + "unknown activation " + std::to_string(in.code));
        }
        nbOperands = 1;
        break;
      case PointwiseOpcode::kBINARY:
        if (in.code < 0 || in.code > static_cast<int32_t>(ElementWiseOperation::kLESS) ||
            !isFusableBinaryOperation(static_cast<ElementWiseOperation>(in.code))) {
          return invalidArgument(at(i) + "elementwise operation " + std::to_string(in.code) +
                                 " is not a float arithmetic operation");
        }
        nbOperands = 2;
        break;
      case PointwiseOpcode::kUNARY:
        if (in.code < 0 || in.code > static_cast<int32_t>(UnaryOperation::kISNAN) ||
            !isFusableUnaryOperation(static_cast<UnaryOperation>(in.code))) {
          return invalidArgument(at(i) + "unary operation " + std::to_string(in.code) + " is not a float operation");
        }
        nbOperands = 1;
        break;
      case PointwiseOpcode::kCAST:
        if (!isValidDataType(in.code) || !isPointwiseFloatType(static_cast<DataType>(in.code))) {
          return invalidArgument(at(i) + "casts to type " + std::to_string(in.code) +
                                 ", not float32, float16 or bfloat16");
        }
        nbOperands = 1;
        break;
    }
    if (nbOperands >= 1) {
      KILN_RETURN_IF_ERROR(operand(w[2], "a"));
      in.a = static_cast<int32_t>(w[2]);
    } else if (w[2] != -1) {
      return invalidArgument(at(i) + "a " + opcodeName(in.opcode) + " takes no operand a");
    }
    if (nbOperands == 2) {
      KILN_RETURN_IF_ERROR(operand(w[3], "b"));
      in.b = static_cast<int32_t>(w[3]);
    } else if (w[3] != -1) {
      return invalidArgument(at(i) + "a " + opcodeName(in.opcode) + " takes no operand b");
    }
  }
  return program;
}

float pointwiseActivation(ActivationType type, float x, float alpha, float beta) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  constexpr float kInvSqrt2 = 0.7071067811865476f;
  switch (type) {
    case ActivationType::kRELU:
      return x > 0.f ? x : 0.f;
    case ActivationType::kSIGMOID:
      return 1.f / (1.f + std::exp(-x));
    case ActivationType::kTANH:
      return std::tanh(x);
    case ActivationType::kLEAKY_RELU:
      return x >= 0.f ? x : alpha * x;
    case ActivationType::kELU:
      return x >= 0.f ? x : alpha * std::expm1(x);
    case ActivationType::kSELU:
      return beta * (x > 0.f ? x : alpha * std::expm1(x));
    case ActivationType::kSOFTSIGN:
      return x / (1.f + std::fabs(x));
    case ActivationType::kSOFTPLUS: {
      const float z = beta * x;
      return alpha * (z > 20.f ? z : std::log1p(std::exp(z)));  // log1p(exp(z)) overflows where it equals z
    }
    case ActivationType::kCLIP:
      return std::isnan(x) ? x : std::fmax(alpha, std::fmin(beta, x));
    case ActivationType::kHARD_SIGMOID:
      return std::fmax(0.f, std::fmin(1.f, alpha * x + beta));
    case ActivationType::kSCALED_TANH:
      return alpha * std::tanh(beta * x);
    case ActivationType::kTHRESHOLDED_RELU:
      return x > alpha ? x : 0.f;
    case ActivationType::kGELU_ERF:
      return 0.5f * x * (1.f + std::erf(x * kInvSqrt2));
    case ActivationType::kGELU_TANH:
      return 0.5f * x * (1.f + std::tanh(kSqrt2OverPi * (x + 0.044715f * x * x * x)));
  }
  return x;
}

float pointwiseBinary(ElementWiseOperation op, float x, float y) {
  switch (op) {
    case ElementWiseOperation::kSUM:
      return x + y;
    case ElementWiseOperation::kPROD:
      return x * y;
    case ElementWiseOperation::kMAX:
      return std::isnan(x) || std::isnan(y) ? NAN : std::fmax(x, y);
    case ElementWiseOperation::kMIN:
      return std::isnan(x) || std::isnan(y) ? NAN : std::fmin(x, y);
    case ElementWiseOperation::kSUB:
      return x - y;
    case ElementWiseOperation::kDIV:
      return x / y;
    case ElementWiseOperation::kPOW:
      return std::pow(x, y);
    case ElementWiseOperation::kFLOOR_DIV:
    case ElementWiseOperation::kAND:
    case ElementWiseOperation::kOR:
    case ElementWiseOperation::kXOR:
    case ElementWiseOperation::kEQUAL:
    case ElementWiseOperation::kGREATER:
    case ElementWiseOperation::kLESS:
      break;  // never in a validated program
  }
  return NAN;
}

float pointwiseUnary(UnaryOperation op, float x) {
  switch (op) {
    case UnaryOperation::kEXP:
      return std::exp(x);
    case UnaryOperation::kLOG:
      return std::log(x);
    case UnaryOperation::kSQRT:
      return std::sqrt(x);
    case UnaryOperation::kRECIP:
      return 1.f / x;
    case UnaryOperation::kABS:
      return std::fabs(x);
    case UnaryOperation::kNEG:
      return -x;
    case UnaryOperation::kSIN:
      return std::sin(x);
    case UnaryOperation::kCOS:
      return std::cos(x);
    case UnaryOperation::kTAN:
      return std::tan(x);
    case UnaryOperation::kSINH:
      return std::sinh(x);
    case UnaryOperation::kCOSH:
      return std::cosh(x);
    case UnaryOperation::kASIN:
      return std::asin(x);
    case UnaryOperation::kACOS:
      return std::acos(x);
    case UnaryOperation::kATAN:
      return std::atan(x);
    case UnaryOperation::kASINH:
      return std::asinh(x);
    case UnaryOperation::kACOSH:
      return std::acosh(x);
    case UnaryOperation::kATANH:
      return std::atanh(x);
    case UnaryOperation::kCEIL:
      return std::ceil(x);
    case UnaryOperation::kFLOOR:
      return std::floor(x);
    case UnaryOperation::kERF:
      return std::erf(x);
    case UnaryOperation::kSIGN:
      return x > 0.f ? 1.f : (x < 0.f ? -1.f : x);
    case UnaryOperation::kROUND:
      return std::nearbyint(x);  // half to even in the default rounding mode
    case UnaryOperation::kNOT:
    case UnaryOperation::kISINF:
    case UnaryOperation::kISNAN:
      break;  // never in a validated program
  }
  return NAN;
}

float pointwiseRoundThrough(DataType type, float x) {
  if (type == DataType::kHALF) return halfToFloat(floatToHalf(x));
  if (type == DataType::kBF16) return bf16ToFloat(floatToBf16(x));
  return x;
}

float evaluatePointwise(const PointwiseProgram& program, const float* inputs, float* r) {
  const size_t n = program.code.size();
  for (size_t i = 0; i < n; ++i) {
    const PointwiseInstruction& in = program.code[i];
    switch (in.opcode) {
      case PointwiseOpcode::kLOAD:
        r[i] = inputs[in.code];
        break;
      case PointwiseOpcode::kCONSTANT:
        r[i] = in.alpha;
        break;
      case PointwiseOpcode::kACTIVATION:
        r[i] = pointwiseActivation(static_cast<ActivationType>(in.code), r[in.a], in.alpha, in.beta);
        break;
      case PointwiseOpcode::kBINARY:
        r[i] = pointwiseBinary(static_cast<ElementWiseOperation>(in.code), r[in.a], r[in.b]);
        break;
      case PointwiseOpcode::kUNARY:
        r[i] = pointwiseUnary(static_cast<UnaryOperation>(in.code), r[in.a]);
        break;
      case PointwiseOpcode::kCAST:
        r[i] = pointwiseRoundThrough(static_cast<DataType>(in.code), r[in.a]);
        break;
    }
  }
  return r[n - 1];
}

std::string describePointwiseProgram(const PointwiseProgram& program) {
  std::ostringstream out;
  for (size_t i = 0; i < program.code.size(); ++i) {
    const PointwiseInstruction& in = program.code[i];
    out << "r" << i << " = " << opcodeName(in.opcode) << " " << in.code;
    if (in.a >= 0) out << " r" << in.a;
    if (in.b >= 0) out << " r" << in.b;
    if (in.opcode == PointwiseOpcode::kCONSTANT || in.opcode == PointwiseOpcode::kACTIVATION) {
      out << " (" << in.alpha << ", " << in.beta << ")";
    }
    out << "\n";
  }
  out << "output " << dataTypeName(program.outputType) << " rank " << program.outputRank << "\n";
  return out.str();
}

}  // namespace kiln
