#include "engine/backends/cuda/pointwise_fused_codegen.h"

#include <cstdio>
#include <cstring>
#include <sstream>

namespace kiln {
namespace cuda {
namespace {

// Mirrors PointwiseKernelArgs. float16 goes through PTX cvt (round to nearest even, like the host's
// floatToHalf); bfloat16 through the same bit arithmetic as the host's floatToBf16.
constexpr const char* kPRELUDE = R"(typedef unsigned short kiln_u16;
typedef long long kiln_i64;
struct KilnPointwiseArgs {
  const void* inputs[KILN_MAX_INPUTS];
  void* output;
  kiln_i64 count;
  kiln_i64 outDims[KILN_MAX_DIMS];
  kiln_i64 strides[KILN_MAX_INPUTS][KILN_MAX_DIMS];
  int rank;
  unsigned singleElementMask;
};
static __device__ __forceinline__ float kiln_h2f(kiln_u16 h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}
static __device__ __forceinline__ kiln_u16 kiln_f2h(float f) {
  kiln_u16 h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}
static __device__ __forceinline__ float kiln_bf2f(kiln_u16 b) { return __uint_as_float(((unsigned)b) << 16); }
static __device__ __forceinline__ kiln_u16 kiln_f2bf(float f) {
  const unsigned u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (kiln_u16)((u >> 16) | 0x40u);
  return (kiln_u16)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
static __device__ __forceinline__ bool kiln_isnan(float x) { return x != x; }
static __device__ __forceinline__ float kiln_nan() { return __int_as_float(0x7fc00000); }
static __device__ __forceinline__ float kiln_max(float x, float y) {
  return kiln_isnan(x) || kiln_isnan(y) ? kiln_nan() : fmaxf(x, y);
}
static __device__ __forceinline__ float kiln_min(float x, float y) {
  return kiln_isnan(x) || kiln_isnan(y) ? kiln_nan() : fminf(x, y);
}
static __device__ __forceinline__ float kiln_sign(float x) { return x > 0.f ? 1.f : (x < 0.f ? -1.f : x); }
static __device__ __forceinline__ float kiln_softplus(float x, float alpha, float beta) {
  const float z = beta * x;
  return alpha * (z > 20.f ? z : log1pf(expf(z)));
}
)";

// Exact float literal, inf and nan included.
std::string literal(float value) {
  uint32_t bits = 0;
  std::memcpy(&bits, &value, sizeof(bits));
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "__int_as_float(0x%08x)", bits);
  return buffer;
}

const char* storageType(DataType type) { return type == DataType::kFLOAT ? "float" : "kiln_u16"; }

std::string loadExpression(DataType type, const std::string& element) {
  if (type == DataType::kHALF) return "kiln_h2f(" + element + ")";
  if (type == DataType::kBF16) return "kiln_bf2f(" + element + ")";
  return element;
}

std::string storeExpression(DataType type, const std::string& value) {
  if (type == DataType::kHALF) return "kiln_f2h(" + value + ")";
  if (type == DataType::kBF16) return "kiln_f2bf(" + value + ")";
  return value;
}

std::string activationExpression(ActivationType type, const std::string& x, const std::string& a,
                                 const std::string& b) {
  switch (type) {
    case ActivationType::kRELU:
      return "(" + x + " > 0.f ? " + x + " : 0.f)";
    case ActivationType::kSIGMOID:
      return "1.f / (1.f + expf(-" + x + "))";
    case ActivationType::kTANH:
      return "tanhf(" + x + ")";
    case ActivationType::kLEAKY_RELU:
      return "(" + x + " >= 0.f ? " + x + " : " + a + " * " + x + ")";
    case ActivationType::kELU:
      return "(" + x + " >= 0.f ? " + x + " : " + a + " * expm1f(" + x + "))";
    case ActivationType::kSELU:
      return b + " * (" + x + " > 0.f ? " + x + " : " + a + " * expm1f(" + x + "))";
    case ActivationType::kSOFTSIGN:
      return x + " / (1.f + fabsf(" + x + "))";
    case ActivationType::kSOFTPLUS:
      return "kiln_softplus(" + x + ", " + a + ", " + b + ")";
    case ActivationType::kCLIP:
      return "(kiln_isnan(" + x + ") ? " + x + " : fmaxf(" + a + ", fminf(" + b + ", " + x + ")))";
    case ActivationType::kHARD_SIGMOID:
      return "fmaxf(0.f, fminf(1.f, " + a + " * " + x + " + " + b + "))";
    case ActivationType::kSCALED_TANH:
      return a + " * tanhf(" + b + " * " + x + ")";
    case ActivationType::kTHRESHOLDED_RELU:
      return "(" + x + " > " + a + " ? " + x + " : 0.f)";
    case ActivationType::kGELU_ERF:
      return "0.5f * " + x + " * (1.f + erff(" + x + " * 0.7071067811865476f))";
    case ActivationType::kGELU_TANH:
      return "0.5f * " + x + " * (1.f + tanhf(0.7978845608028654f * (" + x + " + 0.044715f * " + x + " * " + x + " * " +
             x + ")))";
  }
  return "";
}

std::string binaryExpression(ElementWiseOperation op, const std::string& x, const std::string& y) {
  switch (op) {
    case ElementWiseOperation::kSUM:
      return x + " + " + y;
    case ElementWiseOperation::kPROD:
      return x + " * " + y;
    case ElementWiseOperation::kMAX:
      return "kiln_max(" + x + ", " + y + ")";
    case ElementWiseOperation::kMIN:
      return "kiln_min(" + x + ", " + y + ")";
    case ElementWiseOperation::kSUB:
      return x + " - " + y;
    case ElementWiseOperation::kDIV:
      return x + " / " + y;
    case ElementWiseOperation::kPOW:
      return "powf(" + x + ", " + y + ")";
    case ElementWiseOperation::kFLOOR_DIV:
    case ElementWiseOperation::kAND:
    case ElementWiseOperation::kOR:
    case ElementWiseOperation::kXOR:
    case ElementWiseOperation::kEQUAL:
    case ElementWiseOperation::kGREATER:
    case ElementWiseOperation::kLESS:
      break;
  }
  return "";
}

std::string unaryExpression(UnaryOperation op, const std::string& x) {
  const auto call = [&](const char* f) { return std::string(f) + "(" + x + ")"; };
  switch (op) {
    case UnaryOperation::kEXP:
      return call("expf");
    case UnaryOperation::kLOG:
      return call("logf");
    case UnaryOperation::kSQRT:
      return call("sqrtf");
    case UnaryOperation::kRECIP:
      return "1.f / " + x;
    case UnaryOperation::kABS:
      return call("fabsf");
    case UnaryOperation::kNEG:
      return "-" + x;
    case UnaryOperation::kSIN:
      return call("sinf");
    case UnaryOperation::kCOS:
      return call("cosf");
    case UnaryOperation::kTAN:
      return call("tanf");
    case UnaryOperation::kSINH:
      return call("sinhf");
    case UnaryOperation::kCOSH:
      return call("coshf");
    case UnaryOperation::kASIN:
      return call("asinf");
    case UnaryOperation::kACOS:
      return call("acosf");
    case UnaryOperation::kATAN:
      return call("atanf");
    case UnaryOperation::kASINH:
      return call("asinhf");
    case UnaryOperation::kACOSH:
      return call("acoshf");
    case UnaryOperation::kATANH:
      return call("atanhf");
    case UnaryOperation::kCEIL:
      return call("ceilf");
    case UnaryOperation::kFLOOR:
      return call("floorf");
    case UnaryOperation::kERF:
      return call("erff");
    case UnaryOperation::kSIGN:
      return call("kiln_sign");
    case UnaryOperation::kROUND:
      return call("rintf");  // half to even, like the CPU's nearbyint
    case UnaryOperation::kNOT:
    case UnaryOperation::kISINF:
    case UnaryOperation::kISNAN:
      break;
  }
  return "";
}

StatusOr<std::string> instructionExpression(const PointwiseInstruction& in) {
  const std::string a = in.a >= 0 ? "r" + std::to_string(in.a) : "";
  const std::string b = in.b >= 0 ? "r" + std::to_string(in.b) : "";
  std::string expr;
  switch (in.opcode) {
    case PointwiseOpcode::kLOAD:
      return "in" + std::to_string(in.code);
    case PointwiseOpcode::kCONSTANT:
      return literal(in.alpha);
    case PointwiseOpcode::kACTIVATION:
      expr = activationExpression(static_cast<ActivationType>(in.code), a, literal(in.alpha), literal(in.beta));
      break;
    case PointwiseOpcode::kBINARY:
      expr = binaryExpression(static_cast<ElementWiseOperation>(in.code), a, b);
      break;
    case PointwiseOpcode::kUNARY:
      expr = unaryExpression(static_cast<UnaryOperation>(in.code), a);
      break;
    case PointwiseOpcode::kCAST: {
      const auto type = static_cast<DataType>(in.code);
      expr = type == DataType::kFLOAT ? a : loadExpression(type, storeExpression(type, a));
      break;
    }
  }
  if (expr.empty())
    return invalidArgument("pointwise codegen: no CUDA expression for opcode " +
                           std::to_string(static_cast<int>(in.opcode)) + " code " + std::to_string(in.code));
  return expr;
}

// The loop both kernels share: each thread takes kPOINTWISE_ELEMENTS_PER_THREAD elements of its block's tile,
// one block width apart so that every load and store stays coalesced.
void emitKernel(std::ostringstream& s, const std::string& name, const std::vector<DataType>& inputTypes,
                DataType outputType, bool broadcast) {
  const size_t n = inputTypes.size();
  s << "extern \"C\" __global__ void __launch_bounds__(" << kPOINTWISE_BLOCK << ") " << name
    << "(const KilnPointwiseArgs a) {\n";
  for (size_t k = 0; k < n; ++k) {
    s << "  const " << storageType(inputTypes[k]) << "* __restrict__ p" << k << " = (const "
      << storageType(inputTypes[k]) << "*)a.inputs[" << k << "];\n";
  }
  s << "  " << storageType(outputType) << "* __restrict__ out = (" << storageType(outputType) << "*)a.output;\n"
    << "  const kiln_i64 tile = (kiln_i64)blockDim.x * " << kPOINTWISE_ELEMENTS_PER_THREAD << ";\n"
    << "  for (kiln_i64 start = (kiln_i64)blockIdx.x * tile; start < a.count; start += (kiln_i64)gridDim.x * tile) {\n"
    << "#pragma unroll\n"
    << "    for (int j = 0; j < " << kPOINTWISE_ELEMENTS_PER_THREAD << "; ++j) {\n"
    << "      const kiln_i64 i = start + (kiln_i64)j * blockDim.x + threadIdx.x;\n"
    << "      if (i >= a.count) break;\n";
  if (broadcast) {
    for (size_t k = 0; k < n; ++k) s << "      kiln_i64 o" << k << " = 0;\n";
    s << "      kiln_i64 rest = i;\n"
      << "      for (int d = a.rank - 1; d >= 0; --d) {\n"
      << "        const kiln_i64 extent = a.outDims[d];\n"
      << "        const kiln_i64 index = rest % extent;\n"
      << "        rest /= extent;\n";
    for (size_t k = 0; k < n; ++k) s << "        o" << k << " += index * a.strides[" << k << "][d];\n";
    s << "      }\n";
  } else {
    for (size_t k = 0; k < n; ++k) {
      s << "      const kiln_i64 o" << k << " = (a.singleElementMask & " << (1u << k) << "u) ? 0 : i;\n";
    }
  }
  std::string loads;
  for (size_t k = 0; k < n; ++k) {
    const std::string element = "p" + std::to_string(k) + "[o" + std::to_string(k) + "]";
    loads += (k ? ", " : "") + loadExpression(inputTypes[k], element);
  }
  s << "      out[i] = " << storeExpression(outputType, "kiln_eval(" + loads + ")") << ";\n"
    << "    }\n  }\n}\n";
}

}  // namespace

StatusOr<PointwiseKernelSource> generatePointwiseSource(const PointwiseProgram& program,
                                                        const std::vector<DataType>& inputTypes) {
  if (inputTypes.empty() || inputTypes.size() > static_cast<size_t>(kMAX_POINTWISE_INPUTS)) {
    return invalidArgument("pointwise codegen: " + std::to_string(inputTypes.size()) + " inputs (1 to " +
                           std::to_string(kMAX_POINTWISE_INPUTS) + " supported)");
  }
  for (DataType t : inputTypes) {
    if (!isPointwiseFloatType(t)) {
      return invalidArgument(std::string("pointwise codegen: input type ") + dataTypeName(t) + " is not a float type");
    }
  }
  if (program.code.empty() || !isPointwiseFloatType(program.outputType)) {
    return invalidArgument("pointwise codegen: the program is empty or its output is not a float type");
  }
  PointwiseKernelSource result;
  std::ostringstream s;
  s << "#define KILN_MAX_INPUTS " << kMAX_POINTWISE_INPUTS << "\n#define KILN_MAX_DIMS " << Dims::kMAX_DIMS << "\n"
    << kPRELUDE << "static __device__ __forceinline__ float kiln_eval(";
  for (size_t k = 0; k < inputTypes.size(); ++k) s << (k ? ", " : "") << "const float in" << k;
  s << ") {\n";
  for (size_t i = 0; i < program.code.size(); ++i) {
    const PointwiseInstruction& in = program.code[i];
    if (in.opcode == PointwiseOpcode::kLOAD && (in.code < 0 || in.code >= static_cast<int32_t>(inputTypes.size()))) {
      return invalidArgument("pointwise codegen: instruction " + std::to_string(i) + " loads input " +
                             std::to_string(in.code) + " of " + std::to_string(inputTypes.size()));
    }
    if ((in.a >= static_cast<int32_t>(i)) || (in.b >= static_cast<int32_t>(i))) {
      return invalidArgument("pointwise codegen: instruction " + std::to_string(i) + " reads a later register");
    }
    KILN_ASSIGN_OR_RETURN(std::string expr, instructionExpression(in));
    s << "  const float r" << i << " = " << expr << ";\n";
  }
  s << "  return r" << program.code.size() - 1 << ";\n}\n";
  emitKernel(s, result.flatKernel, inputTypes, program.outputType, false);
  emitKernel(s, result.broadcastKernel, inputTypes, program.outputType, true);
  result.source = s.str();
  return result;
}

}  // namespace cuda
}  // namespace kiln
