// The channels_last layer attribute (convolution and pooling of rank 4): input 0, output 0 and a fused
// residual (input 3) hold logical dims [N, H, W, C], stored contiguously in that order. Weights, bias and
// the stride/padding/window attributes keep their usual meaning.
#pragma once

#include "kiln/types.h"

namespace kiln {

// [N, H, W, C] -> [N, C, H, W]; other ranks are returned unchanged.
inline Dims channelsLastToFirst(const Dims& d) {
  if (d.nbDims != 4) return d;
  Dims out = d;
  out.d[1] = d.d[3];
  out.d[2] = d.d[1];
  out.d[3] = d.d[2];
  return out;
}

// [N, C, H, W] -> [N, H, W, C]; other ranks are returned unchanged.
inline Dims channelsFirstToLast(const Dims& d) {
  if (d.nbDims != 4) return d;
  Dims out = d;
  out.d[1] = d.d[2];
  out.d[2] = d.d[3];
  out.d[3] = d.d[1];
  return out;
}

}  // namespace kiln
