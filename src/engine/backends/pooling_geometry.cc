#include "engine/backends/pooling_geometry.h"

#include <algorithm>
#include <string>

namespace kiln {

Status readPoolGeometry(const LayerParams& layer, const KernelIO& io, PoolGeometry& g) {
  if (io.inputs.empty() || io.outputs.empty()) return internalError("pooling '" + layer.name + "' has no I/O");
  const Dims& x = io.inputs[0].dims;
  const Dims& y = io.outputs[0].dims;
  const Dims window = layer.attrs.getDims("window_size");
  const Dims stride = layer.attrs.getDims("stride");
  const Dims pre = layer.attrs.getDims("pre_padding");
  const Dims post = layer.attrs.getDims("post_padding");
  const int32_t ns = window.nbDims;
  if (ns < 1 || ns > 3 || x.nbDims < ns + 1 || y.nbDims != x.nbDims || stride.nbDims != ns || pre.nbDims != ns ||
      post.nbDims != ns) {
    return invalidArgument("pooling '" + layer.name + "': inconsistent ranks");
  }
  const int32_t first = x.nbDims - ns;
  for (int32_t i = 0; i < first; ++i) {
    if (x.d[i] != y.d[i])
      return invalidArgument("pooling '" + layer.name + "': leading dims of input and output differ");
    g.planes *= x.d[i];
  }
  const auto mode = static_cast<PaddingMode>(layer.attrs.getInt("padding_mode", 0));
  const bool same = mode == PaddingMode::kSAME_UPPER || mode == PaddingMode::kSAME_LOWER;
  for (int32_t i = 0; i < ns; ++i) {
    const int j = 3 - ns + i;
    g.in[j] = x.d[first + i];
    g.out[j] = y.d[first + i];
    g.window[j] = window.d[i];
    g.stride[j] = stride.d[i];
    if (g.window[j] < 1 || g.stride[j] < 1) return invalidArgument("pooling '" + layer.name + "': bad window");
    if (same) {
      // The padding that makes out = ceil(in / stride); the odd unit goes last (upper) or first (lower).
      const int64_t total = std::max<int64_t>(0, (g.out[j] - 1) * g.stride[j] + g.window[j] - g.in[j]);
      g.pre[j] = mode == PaddingMode::kSAME_UPPER ? total / 2 : total - total / 2;
      g.post[j] = total - g.pre[j];
    } else {
      g.pre[j] = pre.d[i];
      g.post[j] = post.d[i];
    }
  }
  return Status::ok();
}

}  // namespace kiln
