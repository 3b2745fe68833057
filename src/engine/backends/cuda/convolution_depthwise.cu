// Depthwise convolution of channels_last layers ("cuda_conv_depthwise"): x [N, H, W, C] -> y [N, P, Q, C], one
// filter per channel (groups == input channels == output maps), 2-D kernels up to 9x9, any stride, dilation and
// padding the geometry helper accepts, float32/float16/bfloat16 computed in float32 and rounded once. The
// epilogue matches the other convolution tactics: y = relu(conv + bias + residual).
//
// cuDNN runs these layers as grouped convolutions far from memory speed (ConvNeXt's 7x7 and MobileNet's 3x3/5x5
// depthwise layers); the builder times this tactic against the cuDNN ones and keeps it where it wins.
//
// Two kernels:
//  - Tiled (C a multiple of the 16-byte vector, 16-byte aligned tensors, kernel width 3/5/7, column stride 1/2,
//    column dilation 1): a block takes an output tile of `rows` x `strips` * kSTRIP pixels x `vecs` channel
//    vectors of one image, stages the input patch the tile reads and the tile's weights in shared memory, and
//    each thread slides along a row: kSTRIP outputs of one channel vector in registers, every staged input vector
//    loaded and converted once per kernel row and used by every output that reads it.
//  - Direct (everything else: odd channel counts, unaligned views, other kernel widths, column dilation): one
//    thread per output channel vector (16 bytes when C and the pointers allow it, else one element), taps read
//    straight from global memory.
#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/backends/cuda/convolution_cudnn.h"
#include "engine/backends/cuda/convolution_geometry.h"
#include "engine/backends/cuda/convolution_graph.h"
#include "engine/backends/cuda/convolution_graph_support.h"
#include "engine/backends/cuda/cuda_common.cuh"
#include "engine/channels_last.h"
#include "util/half.h"

namespace kiln {
namespace cuda {
namespace {

constexpr int kMAX_KERNEL = 9;  // largest kernel extent this tactic takes (per spatial dim)
constexpr int kSTRIP = 4;       // output columns one thread of the tiled kernel computes
constexpr int kMAX_STRIPS = 8;  // strips along a tile row
constexpr int kTILE_THREADS = 256;
// Within the default dynamic shared-memory limit, so no per-kernel opt-in is needed.
constexpr int64_t kTILE_SHARED_BYTES = 48 * 1024;

// Output (i, j) reads input (i * sh - padH + r * dh, j * sw - padW + s * dw) for taps r < kh, s < kw; zero
// outside the input.
struct DwShape {
  int n = 0, h = 0, w = 0, c = 0, p = 0, q = 0;
  int kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1, padH = 0, padW = 0;
};

template <typename T>
struct DwOperands {
  const T* x = nullptr;
  T* y = nullptr;
  const float* weights = nullptr;  // [kh * kw, c]: tap-major, so a channel vector's weights are contiguous
  const float* bias = nullptr;     // [c] or null
  const T* residual = nullptr;     // y-shaped or null
  bool relu = false;
};

// One block of the tiled kernel: `rows` output rows x `strips` * kSTRIP output columns x `vecs` channel vectors.
// Threads: channel vector fastest, then strip, then row.
//
// Patch layout, in 16-byte units: patch columns come in groups of kSTRIP * sw (the columns between the starts of
// neighbouring strips), each group `groupUnits` long (its columns' vectors, then padding), each patch row
// `rowUnits` long (its groups, then padding). The paddings are chosen so that the 16-byte loads of neighbouring
// threads fall in different banks.
struct DwTile {
  int vecs = 1, strips = 1, rows = 1;
  int tilesW = 1, tilesH = 1, groups = 1;  // blocks along Q, P and the channel vectors
  int inRows = 1, inCols = 1;              // the staged input patch
  int groupUnits = 0, rowUnits = 0;
  int sharedBytes = 0;
  int threads() const { return vecs * strips * rows; }
};

// V elements of T moved as one access: 16 bytes or a single element. The 16-byte chunks are converted through
// their 32-bit words, so the compiler keeps one vector load or store (it splits an aligned struct of __half
// into 2-byte accesses).
template <typename T, int V>
using Chunk = std::conditional_t<sizeof(T) * V == 16, uint4, T>;

template <typename T>
__device__ __forceinline__ T fromBits(uint32_t bits);
template <>
__device__ __forceinline__ float fromBits<float>(uint32_t bits) {
  return __uint_as_float(bits);
}
template <>
__device__ __forceinline__ __half fromBits<__half>(uint32_t bits) {
  return __ushort_as_half(static_cast<unsigned short>(bits));
}
template <>
__device__ __forceinline__ __nv_bfloat16 fromBits<__nv_bfloat16>(uint32_t bits) {
  return __ushort_as_bfloat16(static_cast<unsigned short>(bits));
}

template <typename T>
__device__ __forceinline__ uint32_t toBits(T value);
template <>
__device__ __forceinline__ uint32_t toBits<float>(float value) {
  return __float_as_uint(value);
}
template <>
__device__ __forceinline__ uint32_t toBits<__half>(__half value) {
  return __half_as_ushort(value);
}
template <>
__device__ __forceinline__ uint32_t toBits<__nv_bfloat16>(__nv_bfloat16 value) {
  return __bfloat16_as_ushort(value);
}

template <typename T>
__device__ __forceinline__ void unpack(uint4 chunk, float (&out)[16 / sizeof(T)]) {
  constexpr int kPER_WORD = 4 / sizeof(T);
  constexpr int kBITS = 8 * sizeof(T);
  const uint32_t words[4] = {chunk.x, chunk.y, chunk.z, chunk.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
#pragma unroll
    for (int k = 0; k < kPER_WORD; ++k) out[i * kPER_WORD + k] = toFloat(fromBits<T>(words[i] >> (k * kBITS)));
  }
}
template <typename T>
__device__ __forceinline__ void unpack(T value, float (&out)[1]) {
  out[0] = toFloat(value);
}

template <typename T>
__device__ __forceinline__ uint4 pack(const float (&in)[16 / sizeof(T)]) {
  constexpr int kPER_WORD = 4 / sizeof(T);
  constexpr int kBITS = 8 * sizeof(T);
  uint32_t words[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    words[i] = 0;
#pragma unroll
    for (int k = 0; k < kPER_WORD; ++k) words[i] |= toBits(fromFloat<T>(in[i * kPER_WORD + k])) << (k * kBITS);
  }
  return make_uint4(words[0], words[1], words[2], words[3]);
}
template <typename T>
__device__ __forceinline__ T pack(const float (&in)[1]) {
  return fromFloat<T>(in[0]);
}

// V floats from a 16-byte aligned address when V allows it.
template <int V>
__device__ __forceinline__ void loadFloats(const float* p, float (&out)[V]) {
  if constexpr (V % 4 == 0) {
#pragma unroll
    for (int e = 0; e < V; e += 4) {
      const float4 f = *reinterpret_cast<const float4*>(p + e);
      out[e] = f.x;
      out[e + 1] = f.y;
      out[e + 2] = f.z;
      out[e + 3] = f.w;
    }
  } else {
#pragma unroll
    for (int e = 0; e < V; ++e) out[e] = p[e];
  }
}

// y[at .. at + V) = relu(acc + bias + residual), rounded once.
template <typename T, int V>
__device__ __forceinline__ void storeOutput(const DwOperands<T>& o, int64_t at, const float (&acc)[V],
                                            const float (&bias)[V]) {
  using C = Chunk<T, V>;
  float v[V];
#pragma unroll
  for (int e = 0; e < V; ++e) v[e] = acc[e] + bias[e];
  if (o.residual != nullptr) {
    float r[V];
    unpack<T>(*reinterpret_cast<const C*>(o.residual + at), r);
#pragma unroll
    for (int e = 0; e < V; ++e) v[e] += r[e];
  }
  if (o.relu) {
#pragma unroll
    for (int e = 0; e < V; ++e) v[e] = v[e] > 0.f ? v[e] : 0.f;  // NaN becomes 0, like the CPU's ReLU
  }
  *reinterpret_cast<C*>(o.y + at) = pack<T>(v);
}

template <typename T, int KW, int SW>
__global__ void __launch_bounds__(kTILE_THREADS, 2) depthwiseTiledKernel(DwShape s, DwOperands<T> o, DwTile t) {
  constexpr int V = 16 / sizeof(T);
  constexpr int G = kSTRIP * SW;               // patch columns per column group
  constexpr int SEG = (kSTRIP - 1) * SW + KW;  // patch columns one strip reads per kernel row
  extern __shared__ uint4 patch[];
  float* weights = reinterpret_cast<float*>(patch + t.inRows * t.rowUnits);  // [kh * KW, lanes]

  int block = blockIdx.x;
  const int tileW = block % t.tilesW;
  block /= t.tilesW;
  const int tileH = block % t.tilesH;
  block /= t.tilesH;
  const int group = block % t.groups;
  const int n = block / t.groups;
  const int oh0 = tileH * t.rows, ow0 = tileW * t.strips * kSTRIP;
  const int lanes = t.vecs * V;  // channels of the block
  const int c0 = group * lanes;

  // Stage the patch, zeros outside the image. Channel vectors fastest: a pixel's vectors are one contiguous read.
  // Each thread keeps its channel vector (the block size is a multiple of t.vecs) and steps its patch position
  // without divisions.
  const int v = threadIdx.x % t.vecs;
  const int ih0 = oh0 * s.sh - s.padH, iw0 = ow0 * SW - s.padW;
  const int pixelStep = blockDim.x / t.vecs;
  int inRow = 0, inCol = threadIdx.x / t.vecs;
  while (inCol >= t.inCols) {
    inCol -= t.inCols;
    ++inRow;
  }
  while (inRow < t.inRows) {
    const int ih = ih0 + inRow, iw = iw0 + inCol;
    uint4 value = make_uint4(0, 0, 0, 0);  // zero bits are 0.0 in every float type
    if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w) {
      value =
          *reinterpret_cast<const uint4*>(o.x + ((static_cast<int64_t>(n) * s.h + ih) * s.w + iw) * s.c + c0 + v * V);
    }
    patch[inRow * t.rowUnits + (inCol / G) * t.groupUnits + (inCol % G) * t.vecs + v] = value;
    inCol += pixelStep;
    while (inCol >= t.inCols) {
      inCol -= t.inCols;
      ++inRow;
    }
  }
  const int weightQuads = s.kh * KW * lanes / 4;  // lanes is a multiple of 4: V is 4 or 8
  for (int i = threadIdx.x; i < weightQuads; i += blockDim.x) {
    const int tap = i * 4 / lanes, lane = i * 4 % lanes;
    reinterpret_cast<float4*>(weights)[i] =
        *reinterpret_cast<const float4*>(o.weights + static_cast<int64_t>(tap) * s.c + c0 + lane);
  }
  __syncthreads();

  const int strip = threadIdx.x / t.vecs % t.strips;
  const int row = threadIdx.x / (t.vecs * t.strips);
  const int oh = oh0 + row, ow = ow0 + strip * kSTRIP;
  if (oh >= s.p || ow >= s.q) return;

  float acc[kSTRIP][V] = {};
  const uint4* base = patch + row * s.sh * t.rowUnits + strip * t.groupUnits + v;
  const float* channelWeights = weights + v * V;
  for (int r = 0; r < s.kh; ++r) {
    float w[KW][V];
#pragma unroll
    for (int k = 0; k < KW; ++k) loadFloats<V>(channelWeights + (r * KW + k) * lanes, w[k]);
    const uint4* src = base + r * s.dh * t.rowUnits;
#pragma unroll
    for (int i = 0; i < SEG; ++i) {
      float x[V];
      unpack<T>(src[(i / G) * t.groupUnits + (i % G) * t.vecs], x);
#pragma unroll
      for (int j = 0; j < kSTRIP; ++j) {
        const int k = i - j * SW;  // the tap that brings patch column i to output j
        if (k < 0 || k >= KW) continue;
#pragma unroll
        for (int e = 0; e < V; ++e) acc[j][e] = fmaf(w[k][e], x[e], acc[j][e]);
      }
    }
  }

  float bias[V] = {};
  if (o.bias != nullptr) loadFloats<V>(o.bias + c0 + v * V, bias);
#pragma unroll
  for (int j = 0; j < kSTRIP; ++j) {
    if (ow + j >= s.q) break;
    const int64_t at = ((static_cast<int64_t>(n) * s.p + oh) * s.q + ow + j) * s.c + c0 + v * V;
    storeOutput<T, V>(o, at, acc[j], bias);
  }
}

template <typename T, int V>
__global__ void depthwiseDirectKernel(DwShape s, DwOperands<T> o) {
  using C = Chunk<T, V>;
  const int vecs = s.c / V;
  const int64_t total = static_cast<int64_t>(s.n) * s.p * s.q * vecs;
  KILN_GRID_STRIDE_LOOP(i, total) {
    const int c = static_cast<int>(i % vecs) * V;
    int64_t pixel = i / vecs;
    const int ow = static_cast<int>(pixel % s.q);
    pixel /= s.q;
    const int oh = static_cast<int>(pixel % s.p);
    const int64_t n = pixel / s.p;
    float acc[V] = {};
    for (int r = 0; r < s.kh; ++r) {
      const int ih = oh * s.sh - s.padH + r * s.dh;
      if (ih < 0 || ih >= s.h) continue;
      const T* line = o.x + (n * s.h + ih) * s.w * s.c + c;
      for (int k = 0; k < s.kw; ++k) {
        const int iw = ow * s.sw - s.padW + k * s.dw;
        if (iw < 0 || iw >= s.w) continue;
        float x[V], w[V];
        unpack<T>(*reinterpret_cast<const C*>(line + static_cast<int64_t>(iw) * s.c), x);
        loadFloats<V>(o.weights + static_cast<int64_t>(r * s.kw + k) * s.c + c, w);
#pragma unroll
        for (int e = 0; e < V; ++e) acc[e] = fmaf(w[e], x[e], acc[e]);
      }
    }
    float bias[V] = {};
    if (o.bias != nullptr) loadFloats<V>(o.bias + c, bias);
    storeOutput<T, V>(o, i * V, acc, bias);  // i * V is the output offset: channel vectors are innermost
  }
}

// ---- Host side ----

int ceilDiv(int a, int b) { return (a + b - 1) / b; }

int largestDivisorUpTo(int value, int limit) {
  for (int d = limit; d > 1; --d) {
    if (value % d == 0) return d;
  }
  return 1;
}

// Shared-memory wavefronts of one compute-loop load over the whole block: a quarter warp's 16-byte loads take
// one wavefront per distinct unit in the most used bank quad (unit % 8); equal units are broadcast.
int patchWavefronts(const DwTile& t, int sh) {
  const int threads = t.threads();
  int total = 0;
  for (int first = 0; first < threads; first += 8) {
    int units[8];
    int distinct = 0;
    for (int thread = first; thread < std::min(first + 8, threads); ++thread) {
      const int v = thread % t.vecs, strip = thread / t.vecs % t.strips, row = thread / (t.vecs * t.strips);
      const int unit = row * sh * t.rowUnits + strip * t.groupUnits + v;
      if (std::find(units, units + distinct, unit) == units + distinct) units[distinct++] = unit;
    }
    int perQuad[8] = {};
    for (int a = 0; a < distinct; ++a) ++perQuad[units[a] % 8];
    total += *std::max_element(perQuad, perQuad + 8);
  }
  return total;
}

// Patch extents and layout for t's rows and strips: the paddings with the fewest wavefronts, then the fewest
// bytes. Returns the shared bytes (may exceed the limit; the caller then shrinks the tile).
int64_t layoutPatch(const DwShape& s, int lanesPerVec, DwTile& t) {
  const int64_t inRows = static_cast<int64_t>(t.rows - 1) * s.sh + static_cast<int64_t>(s.kh - 1) * s.dh + 1;
  const int64_t inCols = static_cast<int64_t>(t.strips * kSTRIP - 1) * s.sw + s.kw;
  const int64_t weightBytes = static_cast<int64_t>(s.kh) * s.kw * t.vecs * lanesPerVec * 4;
  const int g = kSTRIP * s.sw;
  const int64_t colGroups = (inCols + g - 1) / g;
  const int64_t minimal = inRows * colGroups * g * t.vecs * 16 + weightBytes;
  if (minimal > kTILE_SHARED_BYTES) return minimal;
  t.inRows = static_cast<int>(inRows);
  t.inCols = static_cast<int>(inCols);
  int bestCost = INT_MAX;
  int64_t bestBytes = 0;
  int bestGroup = 0, bestRow = 0;
  for (int groupPad = 0; groupPad < 8; ++groupPad) {
    for (int rowPad = 0; rowPad < 8; ++rowPad) {
      t.groupUnits = g * t.vecs + groupPad;
      t.rowUnits = static_cast<int>(colGroups) * t.groupUnits + rowPad;
      const int64_t bytes = inRows * t.rowUnits * 16 + weightBytes;
      const int cost = patchWavefronts(t, s.sh);
      if (cost < bestCost || (cost == bestCost && bytes < bestBytes)) {
        bestCost = cost;
        bestBytes = bytes;
        bestGroup = t.groupUnits;
        bestRow = t.rowUnits;
      }
    }
  }
  t.groupUnits = bestGroup;
  t.rowUnits = bestRow;
  return bestBytes;
}

bool tiledKernelRuns(const DwShape& s) {
  return s.dw == 1 && (s.sw == 1 || s.sw == 2) && (s.kw == 3 || s.kw == 5 || s.kw == 7);
}

// Tile for the shape (lanesPerVec channels per 16 bytes): whole strips covering Q in at most kMAX_STRIPS per
// block row, rows up to kTILE_THREADS threads, both split evenly; fewer rows, then fewer strips, while the patch
// does not fit.
std::optional<DwTile> chooseTile(const DwShape& s, int lanesPerVec) {
  DwTile t;
  const int vecsTotal = s.c / lanesPerVec;
  t.vecs = largestDivisorUpTo(vecsTotal, 4);
  t.groups = vecsTotal / t.vecs;
  const int stripsNeeded = ceilDiv(s.q, kSTRIP);
  for (int maxStrips = kMAX_STRIPS; maxStrips >= 1; maxStrips /= 2) {
    t.tilesW = ceilDiv(stripsNeeded, maxStrips);
    t.strips = ceilDiv(stripsNeeded, t.tilesW);
    int rows = std::max(1, kTILE_THREADS / (t.vecs * t.strips));
    for (;;) {
      t.tilesH = ceilDiv(s.p, rows);
      t.rows = ceilDiv(s.p, t.tilesH);
      const int64_t bytes = layoutPatch(s, lanesPerVec, t);
      if (bytes <= kTILE_SHARED_BYTES) {
        t.sharedBytes = static_cast<int>(bytes);
        const int64_t blocks = static_cast<int64_t>(s.n) * t.tilesH * t.tilesW * t.groups;
        if (blocks > INT_MAX) return std::nullopt;
        return t;
      }
      if (t.rows == 1) break;
      rows = std::max(1, t.rows / 2);
    }
  }
  return std::nullopt;
}

template <typename T, int KW, int SW>
Status launchTiledAs(const DwShape& s, const DwOperands<T>& o, const DwTile& t, cudaStream_t stream) {
  const int64_t blocks = static_cast<int64_t>(s.n) * t.tilesH * t.tilesW * t.groups;
  depthwiseTiledKernel<T, KW, SW>
      <<<static_cast<unsigned int>(blocks), t.threads(), static_cast<size_t>(t.sharedBytes), stream>>>(s, o, t);
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

template <typename T>
Status launchTiled(const DwShape& s, const DwOperands<T>& o, const DwTile& t, cudaStream_t stream) {
  if (s.sw == 1) {
    switch (s.kw) {
      case 3:
        return launchTiledAs<T, 3, 1>(s, o, t, stream);
      case 5:
        return launchTiledAs<T, 5, 1>(s, o, t, stream);
      case 7:
        return launchTiledAs<T, 7, 1>(s, o, t, stream);
    }
  } else {
    switch (s.kw) {
      case 3:
        return launchTiledAs<T, 3, 2>(s, o, t, stream);
      case 5:
        return launchTiledAs<T, 5, 2>(s, o, t, stream);
      case 7:
        return launchTiledAs<T, 7, 2>(s, o, t, stream);
    }
  }
  return internalError("depthwise convolution: no tiled kernel for this kernel width and stride");
}

template <typename T, int V>
Status launchDirect(const DwShape& s, const DwOperands<T>& o, cudaStream_t stream) {
  const int64_t total = static_cast<int64_t>(s.n) * s.p * s.q * (s.c / V);
  depthwiseDirectKernel<T, V><<<gridFor(total), kBLOCK, 0, stream>>>(s, o);
  KILN_CUDA_CHECK_LAUNCH();
  return Status::ok();
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// The layer's geometry against concrete [N, H, W, C] dims, as the kernels' ints. Fails for what this tactic does
// not run: not depthwise, not 2-D, or extents whose index arithmetic could leave int.
Status readDepthwiseShape(const LayerParams& layer, const Dims& x, const Dims& y, ConvGeometry& g, DwShape& s) {
  const std::string name = "convolution '" + layer.name + "'";
  if (x.nbDims != 4 || y.nbDims != 4) return unimplemented(name + ": the depthwise tactic runs 2-D convolutions only");
  KILN_RETURN_IF_ERROR(readConvGeometry(layer, channelsLastToFirst(x), channelsLastToFirst(y), false, g));
  if (g.nbSpatial != 2 || g.groups != g.inChannels || g.outMaps != g.inChannels) {
    return unimplemented(name + " is not a depthwise convolution (one filter per channel)");
  }
  if (g.kernel.d[1] > kMAX_KERNEL || g.kernel.d[2] > kMAX_KERNEL) {
    return unimplemented(name + ": the depthwise tactic takes kernels up to 9x9");
  }
  // Every coordinate a kernel forms (tile origins included) stays well inside int.
  constexpr int64_t kLIMIT = int64_t{1} << 30;
  const int64_t values[] = {g.batch,     g.inChannels, g.in.d[1],     g.in.d[2],     g.out.d[1], g.out.d[2],
                            g.stride[1], g.stride[2],  g.dilation[1], g.dilation[2], g.pre[1],   g.pre[2]};
  for (int64_t v : values) {
    if (v < 0 || v > kLIMIT) return unimplemented(name + ": extents too large for the depthwise tactic");
  }
  for (int j = 1; j < 3; ++j) {
    const int64_t reach =
        (g.out.d[j] + kMAX_STRIPS * kSTRIP) * g.stride[j] + g.kernel.d[j] * g.dilation[j] + g.in.d[j] + g.pre[j];
    if (reach > kLIMIT) return unimplemented(name + ": extents too large for the depthwise tactic");
  }
  s.n = static_cast<int>(g.batch);
  s.c = static_cast<int>(g.inChannels);
  s.h = static_cast<int>(g.in.d[1]);
  s.w = static_cast<int>(g.in.d[2]);
  s.p = static_cast<int>(g.out.d[1]);
  s.q = static_cast<int>(g.out.d[2]);
  s.kh = static_cast<int>(g.kernel.d[1]);
  s.kw = static_cast<int>(g.kernel.d[2]);
  s.sh = static_cast<int>(g.stride[1]);
  s.sw = static_cast<int>(g.stride[2]);
  s.dh = static_cast<int>(g.dilation[1]);
  s.dw = static_cast<int>(g.dilation[2]);
  s.padH = static_cast<int>(g.pre[1]);
  s.padW = static_cast<int>(g.pre[2]);
  return Status::ok();
}

// Host conversion of a float weights blob.
float blobValue(const WeightsBlob& blob, int64_t i) {
  const auto* bytes = static_cast<const uint8_t*>(blob.data());
  if (blob.type == DataType::kFLOAT) {
    float f = 0.f;
    std::memcpy(&f, bytes + 4 * i, 4);
    return f;
  }
  uint16_t h = 0;
  std::memcpy(&h, bytes + 2 * i, 2);
  return blob.type == DataType::kHALF ? halfToFloat(h) : bf16ToFloat(h);
}

class DepthwiseConvolution final : public Kernel {
 public:
  DepthwiseConvolution(const LayerInfo& layer, const Graph& graph) : params_(layer.params) {
    type_ = graph.tensors[static_cast<size_t>(layer.inputs[0])].type;
    relu_ = params_.attrs.getInt("fused_activation", -1) == static_cast<int64_t>(ActivationType::kRELU);
    residual_ = params_.attrs.getInt("fused_residual", 0) == 1;
  }

  Status init(const LayerInfo& layer, const Graph& graph);
  Status execute(KernelIO& io) const override;

 private:
  const std::string& where() const { return params_.name; }
  int vectorLanes() const { return 16 / static_cast<int>(dataTypeSize(type_)); }  // elements per 16 bytes
  std::optional<DwTile> tileFor(const DwShape& s) const;
  template <typename T>
  Status run(KernelIO& io, const DwShape& s) const;

  LayerParams params_;
  DataType type_ = DataType::kFLOAT;
  bool relu_ = false, residual_ = false;
  DeviceBuffer weights_;  // float32 [kh * kw, c]
  int64_t weightCount_ = 0;
  DeviceBuffer bias_;  // float32 [c]
  int64_t biasCount_ = 0;
  mutable std::mutex mutex_;
  mutable std::map<std::array<int, 6>, std::optional<DwTile>> tiles_;  // by (n, h, w, c, p, q)
};

// The kernel weights [C, 1, KH, KW] as float32 [KH * KW, C], once; with static shapes also the tile.
Status DepthwiseConvolution::init(const LayerInfo& layer, const Graph& graph) {
  const WeightsBlob* kernel = params_.attrs.getWeights("kernel");
  const Dims ks = params_.attrs.getDims("kernel_size");
  const int64_t channels = params_.attrs.getInt("nb_output_maps", 0);
  if (kernel == nullptr || ks.nbDims != 2 || channels < 1) {
    return invalidArgument("convolution '" + where() + "': the depthwise tactic needs kernel weights");
  }
  const int64_t taps = ks.d[0] * ks.d[1];
  if (!isFloatType(kernel->type) || kernel->count != channels * taps ||
      kernel->byteSize() < kernel->count * dataTypeSize(kernel->type)) {
    return invalidArgument("convolution '" + where() + "': kernel weights do not fit a depthwise " +
                           std::to_string(ks.d[0]) + "x" + std::to_string(ks.d[1]) + " kernel over " +
                           std::to_string(channels) + " channels");
  }
  std::vector<float> tapMajor(static_cast<size_t>(kernel->count));
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t t = 0; t < taps; ++t) {
      tapMajor[static_cast<size_t>(t * channels + c)] = blobValue(*kernel, c * taps + t);
    }
  }
  KILN_RETURN_IF_ERROR(
      weights_.upload(tapMajor.data(), static_cast<int64_t>(tapMajor.size() * sizeof(float)), where()));
  weightCount_ = kernel->count;
  KILN_RETURN_IF_ERROR(uploadGraphConvBias(params_, false, bias_, biasCount_));
  const Dims& x = graph.tensors[static_cast<size_t>(layer.inputs[0])].dims;
  const Dims& y = graph.tensors[static_cast<size_t>(layer.outputs[0])].dims;
  if (!isStaticDims(x) || !isStaticDims(y)) return Status::ok();
  ConvGeometry g;
  DwShape s;
  KILN_RETURN_IF_ERROR(readDepthwiseShape(params_, x, y, g, s));
  if (tiledKernelRuns(s) && s.c % vectorLanes() == 0) tileFor(s);
  return Status::ok();
}

std::optional<DwTile> DepthwiseConvolution::tileFor(const DwShape& s) const {
  const std::array<int, 6> key = {s.n, s.h, s.w, s.c, s.p, s.q};
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = tiles_.find(key);
  if (it != tiles_.end()) return it->second;
  const std::optional<DwTile> tile = chooseTile(s, vectorLanes());
  tiles_.emplace(key, tile);
  return tile;
}

template <typename T>
Status DepthwiseConvolution::run(KernelIO& io, const DwShape& s) const {
  constexpr int V = 16 / sizeof(T);
  DwOperands<T> o;
  o.x = static_cast<const T*>(io.inputs[0].data);
  o.y = static_cast<T*>(io.outputs[0].data);
  o.weights = static_cast<const float*>(weights_.get());
  o.bias = static_cast<const float*>(bias_.get());
  if (residual_) o.residual = static_cast<const T*>(io.inputs[3].data);
  o.relu = relu_;
  const cudaStream_t stream = streamOf(io);
  const bool vectorized = s.c % V == 0 && aligned16(o.x) && aligned16(o.y) && aligned16(o.residual);
  if (!vectorized) return launchDirect<T, 1>(s, o, stream);
  if (tiledKernelRuns(s)) {
    const std::optional<DwTile> tile = tileFor(s);
    if (tile.has_value()) return launchTiled<T>(s, o, *tile, stream);
  }
  return launchDirect<T, V>(s, o, stream);
}

Status DepthwiseConvolution::execute(KernelIO& io) const {
  if (io.inputs.empty() || io.outputs.empty()) return internalError("convolution '" + where() + "' has no I/O");
  const TensorView& x = io.inputs[0];
  const TensorView& y = io.outputs[0];
  if (x.type != type_ || y.type != type_) {
    return invalidArgument("convolution '" + where() + "': tensor types differ from the ones it was built for");
  }
  for (size_t i = 1; i < 3 && i < io.inputs.size(); ++i) {
    if (io.inputs[i].data != nullptr) {
      return unimplemented("convolution '" + where() + "': the depthwise tactic takes kernel and bias as weights only");
    }
  }
  ConvGeometry g;
  DwShape s;
  KILN_RETURN_IF_ERROR(readDepthwiseShape(params_, x.dims, y.dims, g, s));
  KILN_RETURN_IF_ERROR(checkGraphConvOperands(params_, io, g, weights_.get() != nullptr, weightCount_,
                                              bias_.get() != nullptr, biasCount_, residual_));
  if (y.count() == 0) return Status::ok();
  return dispatchFloatType(type_, [&](auto tag) {
    using T = decltype(tag);
    return run<T>(io, s);
  });
}

bool depthwiseSupports(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.empty() || layer.inputs[0] < 0 || layer.outputs.empty()) return false;
  for (size_t i = 1; i < 3 && i < layer.inputs.size(); ++i) {
    if (layer.inputs[i] >= 0) return false;  // kernel or bias from a tensor
  }
  const Attributes& attrs = layer.params.attrs;
  if (attrs.getInt("channels_last", 0) != 1) return false;
  const TensorInfo& x = graph.tensors[static_cast<size_t>(layer.inputs[0])];
  const TensorInfo& y = graph.tensors[static_cast<size_t>(layer.outputs[0])];
  if (!isFloatType(x.type) || y.type != x.type || x.dims.nbDims != 4 || y.dims.nbDims != 4) return false;
  const int64_t act = attrs.getInt("fused_activation", -1);
  if (act != -1 && act != static_cast<int64_t>(ActivationType::kRELU)) return false;
  const Dims ks = attrs.getDims("kernel_size");
  if (ks.nbDims != 2 || ks.d[0] < 1 || ks.d[0] > kMAX_KERNEL || ks.d[1] < 1 || ks.d[1] > kMAX_KERNEL) return false;
  const int64_t channels = x.dims.d[3];
  if (channels < 1 || attrs.getInt("groups", 1) != channels || attrs.getInt("nb_output_maps", 0) != channels ||
      y.dims.d[3] != channels) {
    return false;
  }
  const WeightsBlob* kernel = attrs.getWeights("kernel");
  if (kernel == nullptr || kernel->count != channels * ks.d[0] * ks.d[1]) return false;
  if (!isStaticDims(x.dims) || !isStaticDims(y.dims)) return true;  // execute checks each concrete shape
  ConvGeometry g;
  DwShape s;
  return readDepthwiseShape(layer.params, x.dims, y.dims, g, s).isOk();
}

StatusOr<std::unique_ptr<Kernel>> makeDepthwise(const LayerInfo& layer, const Graph& graph) {
  if (layer.inputs.empty() || layer.inputs[0] < 0 || layer.outputs.empty()) {
    return internalError("convolution '" + layer.params.name + "' has no I/O");
  }
  auto kernel = std::make_unique<DepthwiseConvolution>(layer, graph);
  KILN_RETURN_IF_ERROR(kernel->init(layer, graph));
  return std::unique_ptr<Kernel>(std::move(kernel));
}

}  // namespace
}  // namespace cuda

void registerConvolutionDepthwiseCudaKernels(CudaKernelTable& table) {
  CudaTactic tactic;
  tactic.name = "cuda_conv_depthwise";
  tactic.supports = cuda::depthwiseSupports;
  tactic.factory = cuda::makeDepthwise;
  table.add(LayerType::kCONVOLUTION, std::move(tactic));
}

}  // namespace kiln
