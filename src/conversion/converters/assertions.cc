// Runtime assertions torch.export leaves in graphs (aten::_assert_tensor_metadata, from `.to(...)` calls that
// turned out to be no-ops). In an engine every tensor's dtype, shape, layout and device are fixed when it is
// built, so the assertion is decided then: the validator accepts the node only when the IR metadata proves it
// holds, and the node then adds nothing. One that cannot be proved stays in PyTorch, which checks it as eager
// would.
#include <algorithm>
#include <string>
#include <vector>

#include "conversion/conversion_ctx.h"
#include "conversion/impl/impl.h"
#include "conversion/registry.h"
#include "ir/dtype.h"

namespace kiln {
namespace conversion {
namespace {

// Row-major strides of a static shape, as the engine lays tensors out.
std::vector<int64_t> contiguousStrides(const ir::TensorMeta& meta) {
  std::vector<int64_t> strides(meta.shape.size(), 1);
  for (size_t i = meta.shape.size(); i-- > 1;) {
    strides[i - 1] = strides[i] * std::max<int64_t>(meta.shape[i].extent, 1);
  }
  return strides;
}

// An int list argument (size, stride) equals `expected`; None always holds.
bool intsHold(const ir::Arg& arg, const std::vector<int64_t>& expected) {
  if (!arg.isConstant()) return false;  // computed sizes: not decided here
  if (arg.constant.isNone()) return true;
  StatusOr<std::vector<int64_t>> values = arg.constant.toInts();
  return values.isOk() && values.value() == expected;
}

bool deviceHolds(const ir::Constant& device, BackendKind backend) {
  if (device.isNone()) return true;
  StatusOr<std::string> text = device.toString();
  if (!text.isOk()) return false;
  const std::string& d = text.value();
  switch (backend) {
    case BackendKind::kCPU:
      return d == "cpu";
    case BackendKind::kCUDA:
      return d.rfind("cuda", 0) == 0;
  }
  return false;
}

// Why the assertion does not provably hold for this node, or "" when it does.
std::string metadataMismatch(const ir::Node& node, const CompilationSettings& settings) {
  if (node.args().size() < 6) return "the node has " + std::to_string(node.args().size()) + " arguments, expected 6";
  const ir::TensorMeta* meta = impl::tensorMetaArg(node, 0);
  if (meta == nullptr) return "the asserted value has no tensor metadata";
  const ir::Arg& size = node.args()[1];
  const ir::Arg& stride = node.args()[2];
  const ir::Arg& dtype = node.args()[3];
  const ir::Arg& device = node.args()[4];
  const ir::Arg& layout = node.args()[5];
  const bool noSize = size.isConstant() && size.constant.isNone();
  const bool noStride = stride.isConstant() && stride.constant.isNone();
  if ((!noSize || !noStride) && !meta->isStatic()) return "size or stride asserted on a tensor with dynamic dims";
  std::vector<int64_t> extents;
  for (const ir::SymDim& d : meta->shape) extents.push_back(d.extent);
  if (!noSize && !intsHold(size, extents)) return "size " + size.repr() + " differs from " + meta->str();
  if (!noStride && !intsHold(stride, contiguousStrides(*meta))) {
    return "stride " + stride.repr() + " is not the contiguous layout of " + meta->str();
  }
  if (!dtype.isConstant()) return "the dtype is not a constant";
  if (!dtype.constant.isNone()) {
    StatusOr<int64_t> code = dtype.constant.toInt();
    if (!code.isOk() || code.value() != ir::torchScalarTypeOf(meta->dtype)) {
      return "dtype " + dtype.repr() + " differs from " + meta->str();
    }
  }
  if (!device.isConstant() || !deviceHolds(device.constant, settings.backend)) {
    return "device " + device.repr() + " is not where the engine runs (" + backendKindName(settings.backend) + ")";
  }
  if (!layout.isConstant()) return "the layout is not a constant";
  if (!layout.constant.isNone()) {
    StatusOr<std::string> text = layout.constant.toString();
    if (!text.isOk() || (text.value() != "torch.strided" && text.value() != "strided")) {
      return "layout " + layout.repr() + " is not strided";
    }
  }
  return "";
}

Status assertTensorMetadata(ConversionCtx& ctx, const ir::Node& node, std::vector<ConverterArg>&) {
  const std::string mismatch = metadataMismatch(node, ctx.settings);
  if (!mismatch.empty()) return invalidArgument("the metadata assertion does not hold in the engine: " + mismatch);
  return Status::ok();
}

const auto registered = RegisterConverters().evaluator(
    {"aten::_assert_tensor_metadata(Tensor a, SymInt[]? size=None, SymInt[]? stride=None, ScalarType? dtype=None, "
     "*, Device? device=None, Layout? layout=None) -> ()",
     assertTensorMetadata},
    {.validator = [](const ir::Node& node, const CompilationSettings& settings) {
      return metadataMismatch(node, settings).empty();
    }});

}  // namespace
}  // namespace conversion
}  // namespace kiln
