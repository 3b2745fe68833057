// CPU reductions, top-k and cumulative sums/products.
//
// Float types accumulate sums and products in double (float16/bfloat16 are staged through float32);
// integers are exact, sums and products wrapping like two's complement (as torch does).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <type_traits>
#include <vector>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"
#include "engine/backends/cpu/reduce_layout.h"

namespace kiln {
namespace {

template <typename T, typename Acc>
T narrow(Acc v) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(static_cast<int64_t>(v));  // integers wrap to T's width
  } else {
    return static_cast<T>(v);
  }
}

// ---- reduce -------------------------------------------------------------------------------------------

// Sums and products accumulate in double for floats, in uint64 for integers (wrapping without UB).
template <typename T>
using WideAcc = std::conditional_t<std::is_integral_v<T>, uint64_t, double>;

template <typename T>
struct SumOp {
  using Acc = WideAcc<T>;
  Acc init() const { return Acc(0); }
  void add(Acc& a, T x) const { a += static_cast<Acc>(x); }
  void merge(Acc& a, Acc b) const { a += b; }
  T finish(Acc a, int64_t) const { return narrow<T>(a); }
};
template <typename T>
struct ProdOp {
  using Acc = WideAcc<T>;
  Acc init() const { return Acc(1); }
  void add(Acc& a, T x) const { a *= static_cast<Acc>(x); }
  void merge(Acc& a, Acc b) const { a *= b; }
  T finish(Acc a, int64_t) const { return narrow<T>(a); }
};
template <typename T>
struct AvgOp {  // float types only (inference rejects integer averages)
  using Acc = double;
  Acc init() const { return 0.0; }
  void add(Acc& a, T x) const { a += static_cast<double>(x); }
  void merge(Acc& a, Acc b) const { a += b; }
  T finish(Acc a, int64_t n) const { return static_cast<T>(a / static_cast<double>(n)); }
};
// Max and min propagate NaN like torch: once seen, it sticks.
template <typename T>
struct MaxOp {
  using Acc = T;
  Acc init() const {
    return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                : std::numeric_limits<T>::lowest();
  }
  void add(Acc& a, T x) const { a = (x > a || x != x) ? x : a; }
  void merge(Acc& a, Acc b) const { add(a, b); }
  T finish(Acc a, int64_t) const { return a; }
};
template <typename T>
struct MinOp {
  using Acc = T;
  Acc init() const {
    return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  }
  void add(Acc& a, T x) const { a = (x < a || x != x) ? x : a; }
  void merge(Acc& a, Acc b) const { add(a, b); }
  T finish(Acc a, int64_t) const { return a; }
};

using cpu::ReduceLayout;

ReduceLayout makeReduceLayout(const Dims& dims, uint32_t mask) {
  std::vector<int64_t> extents(dims.d, dims.d + dims.nbDims);
  std::vector<bool> reduced;
  for (int32_t d = 0; d < dims.nbDims; ++d) reduced.push_back(((mask >> d) & 1u) != 0);
  return cpu::buildReduceLayout(extents, cpu::contiguousStrides(dims), reduced);
}

// Few outputs from many inputs (a full reduction, or reducing the long leading dim of [N, 3]): the
// reduced range is cut into chunks whose partial results are merged, so every thread gets work.
template <typename T, typename Op>
void reduceSplit(const T* in, T* out, const ReduceLayout& L, Op op) {
  using Acc = typename Op::Acc;
  const auto nbOuter = static_cast<int64_t>(L.outer.size());
  const int64_t chunks = std::min<int64_t>(64, std::max<int64_t>(1, L.count * L.inner / (1 << 16)));
  const int64_t lanes = nbOuter * L.inner;
  std::vector<Acc> partial(static_cast<size_t>(chunks * lanes), op.init());
  cpu::parallelFor(chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      const int64_t r0 = c * L.count / chunks, r1 = (c + 1) * L.count / chunks;
      Acc* acc = partial.data() + c * lanes;
      for (int64_t o = 0; o < nbOuter; ++o) {
        int64_t run = r0 / L.runLength, l = r0 % L.runLength;
        for (int64_t r = r0; r < r1; ++r) {
          const T* p = in + L.outer[static_cast<size_t>(o)] + L.runs[static_cast<size_t>(run)] + l * L.runStride;
          for (int64_t i = 0; i < L.inner; ++i) op.add(acc[o * L.inner + i], p[i]);
          if (++l == L.runLength) {
            l = 0;
            ++run;
          }
        }
      }
    }
  });
  for (int64_t j = 0; j < lanes; ++j) {
    Acc acc = partial[static_cast<size_t>(j)];
    for (int64_t c = 1; c < chunks; ++c) op.merge(acc, partial[static_cast<size_t>(c * lanes + j)]);
    out[j] = op.finish(acc, L.count);
  }
}

template <typename T, typename Op>
void reduceLoops(const T* in, T* out, const ReduceLayout& L, Op op) {
  using Acc = typename Op::Acc;
  const auto nbOuter = static_cast<int64_t>(L.outer.size());
  const int64_t work = std::max<int64_t>(1, L.count);
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (L.inner + kBlock - 1) / kBlock;
  if (nbOuter * blocks < 4 && L.count * L.inner >= (1 << 17)) {
    reduceSplit(in, out, L, op);
    return;
  }
  if (L.inner == 1) {
    cpu::parallelFor(nbOuter, std::max<int64_t>(1, (1 << 15) / work), [&](int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) {
        Acc acc = op.init();
        for (int64_t run : L.runs) {
          const T* p = in + L.outer[static_cast<size_t>(o)] + run;
          for (int64_t l = 0; l < L.runLength; ++l) op.add(acc, p[l * L.runStride]);
        }
        out[o] = op.finish(acc, L.count);
      }
    });
    return;
  }
  // Trailing kept dims: accumulate a block of contiguous outputs at once (vectorizes over i).
  cpu::parallelFor(nbOuter * blocks, std::max<int64_t>(1, (1 << 15) / (work * kBlock)),
                   [&](int64_t begin, int64_t end) {
                     Acc acc[kBlock];
                     for (int64_t task = begin; task < end; ++task) {
                       const int64_t o = task / blocks;
                       const int64_t i0 = (task % blocks) * kBlock;
                       const int64_t width = std::min(kBlock, L.inner - i0);
                       std::fill(acc, acc + width, op.init());
                       for (int64_t run : L.runs) {
                         for (int64_t l = 0; l < L.runLength; ++l) {
                           const T* p = in + L.outer[static_cast<size_t>(o)] + run + l * L.runStride + i0;
                           for (int64_t i = 0; i < width; ++i) op.add(acc[i], p[i]);
                         }
                       }
                       T* q = out + o * L.inner + i0;
                       for (int64_t i = 0; i < width; ++i) q[i] = op.finish(acc[i], L.count);
                     }
                   });
}

template <typename T>
void reduceTyped(ReduceOperation op, const T* in, T* out, const ReduceLayout& layout) {
  switch (op) {
    case ReduceOperation::kSUM:
      reduceLoops(in, out, layout, SumOp<T>{});
      break;
    case ReduceOperation::kPROD:
      reduceLoops(in, out, layout, ProdOp<T>{});
      break;
    case ReduceOperation::kMAX:
      reduceLoops(in, out, layout, MaxOp<T>{});
      break;
    case ReduceOperation::kMIN:
      reduceLoops(in, out, layout, MinOp<T>{});
      break;
    case ReduceOperation::kAVG:
      if constexpr (std::is_floating_point_v<T>) reduceLoops(in, out, layout, AvgOp<T>{});
      break;
  }
}

Status runReduce(const LayerParams& layer, KernelIO& io) {
  const auto op = static_cast<ReduceOperation>(layer.attrs.getInt("operation"));
  const auto mask = static_cast<uint32_t>(layer.attrs.getInt("axes"));
  const TensorView& in = io.inputs[0];
  TensorView& out = io.outputs[0];
  if (out.count() == 0) return Status::ok();
  const ReduceLayout layout = makeReduceLayout(in.dims, mask);
  switch (in.type) {
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16: {
      cpu::FloatInput x(in);
      cpu::FloatOutput y(out);
      reduceTyped<float>(op, x.data(), y.data(), layout);
      y.commit();
      return Status::ok();
    }
    case DataType::kINT8:
      reduceTyped(op, in.as<const int8_t>(), out.as<int8_t>(), layout);
      return Status::ok();
    case DataType::kUINT8:
      reduceTyped(op, in.as<const uint8_t>(), out.as<uint8_t>(), layout);
      return Status::ok();
    case DataType::kINT32:
      reduceTyped(op, in.as<const int32_t>(), out.as<int32_t>(), layout);
      return Status::ok();
    case DataType::kINT64:
      reduceTyped(op, in.as<const int64_t>(), out.as<int64_t>(), layout);
      return Status::ok();
    case DataType::kBOOL:
      break;
  }
  return unimplemented(std::string("reduce has no kernel for ") + dataTypeName(in.type));
}

// ---- top-k --------------------------------------------------------------------------------------------

// outer x extent x inner around the single axis of a contiguous tensor.
struct AxisSplit {
  int64_t outer = 1, extent = 1, inner = 1;
};
AxisSplit splitAt(const Dims& dims, int32_t axis) {
  AxisSplit s;
  for (int32_t d = 0; d < dims.nbDims; ++d) {
    if (d < axis) s.outer *= dims.d[d];
    if (d == axis) s.extent = dims.d[d];
    if (d > axis) s.inner *= dims.d[d];
  }
  return s;
}

// Orders positions of one line: the k best first, ties (and NaN against NaN) by the lower index.
// NaN ranks above every number, like torch.topk: first for kMAX, last for kMIN.
template <typename T>
struct TopKOrder {
  const T* v;
  bool largest;
  bool operator()(int64_t a, int64_t b) const {
    const T va = v[a], vb = v[b];
    if constexpr (std::is_floating_point_v<T>) {
      const bool na = std::isnan(va), nb = std::isnan(vb);
      if (na || nb) return na == nb ? a < b : (largest ? na : nb);
    }
    if (va != vb) return largest ? va > vb : va < vb;
    return a < b;
  }
};

template <typename T>
void topKTyped(const T* in, T* values, const TensorView& indices, const AxisSplit& s, int64_t k, bool largest) {
  const bool int32Indices = indices.type == DataType::kINT32;
  const int64_t lines = s.outer * s.inner;
  cpu::parallelFor(lines, std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(1, s.extent)),
                   [&](int64_t begin, int64_t end) {
                     std::vector<T> line(static_cast<size_t>(s.extent));
                     std::vector<int64_t> order(static_cast<size_t>(s.extent));
                     for (int64_t li = begin; li < end; ++li) {
                       const int64_t o = li / s.inner, i = li % s.inner;
                       const T* src = in + o * s.extent * s.inner + i;
                       for (int64_t j = 0; j < s.extent; ++j) line[static_cast<size_t>(j)] = src[j * s.inner];
                       std::iota(order.begin(), order.end(), int64_t{0});
                       const TopKOrder<T> cmp{line.data(), largest};
                       // A heap selection costs n log k; a full sort wins once k approaches n.
                       if (k * 4 < s.extent) {
                         std::partial_sort(order.begin(), order.begin() + k, order.end(), cmp);
                       } else {
                         std::sort(order.begin(), order.end(), cmp);
                       }
                       const int64_t base = o * k * s.inner + i;
                       for (int64_t j = 0; j < k; ++j) {
                         const int64_t at = base + j * s.inner;
                         const int64_t index = order[static_cast<size_t>(j)];
                         values[at] = line[static_cast<size_t>(index)];
                         if (int32Indices) {
                           indices.as<int32_t>()[at] = static_cast<int32_t>(index);
                         } else {
                           indices.as<int64_t>()[at] = index;
                         }
                       }
                     }
                   });
}

Status runTopK(const LayerParams& layer, KernelIO& io) {
  const bool largest = static_cast<TopKOperation>(layer.attrs.getInt("operation")) == TopKOperation::kMAX;
  const int64_t k = layer.attrs.getInt("k");
  const TensorView& in = io.inputs[0];
  const auto mask = static_cast<uint32_t>(layer.attrs.getInt("axes"));
  int32_t axis = 0;
  while (axis < in.dims.nbDims && ((mask >> axis) & 1u) == 0) ++axis;
  const AxisSplit s = splitAt(in.dims, axis);
  if (io.outputs[0].count() == 0) return Status::ok();
  switch (in.type) {
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16: {
      cpu::FloatInput x(in);
      cpu::FloatOutput y(io.outputs[0]);
      topKTyped<float>(x.data(), y.data(), io.outputs[1], s, k, largest);
      y.commit();
      return Status::ok();
    }
    case DataType::kINT32:
      topKTyped(in.as<const int32_t>(), io.outputs[0].as<int32_t>(), io.outputs[1], s, k, largest);
      return Status::ok();
    case DataType::kINT64:
      topKTyped(in.as<const int64_t>(), io.outputs[0].as<int64_t>(), io.outputs[1], s, k, largest);
      return Status::ok();
    case DataType::kINT8:
    case DataType::kBOOL:
    case DataType::kUINT8:
      break;
  }
  return unimplemented(std::string("top-k has no kernel for ") + dataTypeName(in.type));
}

// ---- cumulative ---------------------------------------------------------------------------------------

template <typename T>
void cumulativeTyped(const T* in, T* out, const AxisSplit& s, bool product, bool exclusive, bool reverse) {
  using Acc = WideAcc<T>;
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (s.inner + kBlock - 1) / kBlock;
  cpu::parallelFor(s.outer * blocks, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, s.extent * kBlock)),
                   [&](int64_t begin, int64_t end) {
                     Acc acc[kBlock];
                     for (int64_t task = begin; task < end; ++task) {
                       const int64_t o = task / blocks;
                       const int64_t i0 = (task % blocks) * kBlock;
                       const int64_t width = std::min(kBlock, s.inner - i0);
                       std::fill(acc, acc + width, product ? Acc(1) : Acc(0));
                       for (int64_t step = 0; step < s.extent; ++step) {
                         const int64_t j = reverse ? s.extent - 1 - step : step;
                         const int64_t at = (o * s.extent + j) * s.inner + i0;
                         for (int64_t i = 0; i < width; ++i) {
                           const Acc x = static_cast<Acc>(in[at + i]);  // read before writing: may alias
                           const Acc next = product ? acc[i] * x : acc[i] + x;
                           out[at + i] = narrow<T>(exclusive ? acc[i] : next);
                           acc[i] = next;
                         }
                       }
                     }
                   });
}

Status runCumulative(const LayerParams& layer, KernelIO& io) {
  const bool product = static_cast<CumulativeOperation>(layer.attrs.getInt("operation")) == CumulativeOperation::kPROD;
  const bool exclusive = layer.attrs.getInt("exclusive") != 0;
  const bool reverse = layer.attrs.getInt("reverse") != 0;
  const TensorView& in = io.inputs[0];
  int64_t axis = layer.attrs.getInt("axis");
  if (axis < 0) axis += in.dims.nbDims;
  const AxisSplit s = splitAt(in.dims, static_cast<int32_t>(axis));
  if (in.count() == 0) return Status::ok();
  TensorView& out = io.outputs[0];
  switch (in.type) {
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16: {
      cpu::FloatInput x(in);
      cpu::FloatOutput y(out);
      cumulativeTyped<float>(x.data(), y.data(), s, product, exclusive, reverse);
      y.commit();
      return Status::ok();
    }
    case DataType::kINT8:
      cumulativeTyped(in.as<const int8_t>(), out.as<int8_t>(), s, product, exclusive, reverse);
      return Status::ok();
    case DataType::kUINT8:
      cumulativeTyped(in.as<const uint8_t>(), out.as<uint8_t>(), s, product, exclusive, reverse);
      return Status::ok();
    case DataType::kINT32:
      cumulativeTyped(in.as<const int32_t>(), out.as<int32_t>(), s, product, exclusive, reverse);
      return Status::ok();
    case DataType::kINT64:
      cumulativeTyped(in.as<const int64_t>(), out.as<int64_t>(), s, product, exclusive, reverse);
      return Status::ok();
    case DataType::kBOOL:
      break;
  }
  return unimplemented(std::string("cumulative has no kernel for ") + dataTypeName(in.type));
}

}  // namespace

void registerReduceCpuKernels(CpuKernelTable& table) {
  table.add(LayerType::kREDUCE, {"cpu_reduce", runReduce});
  table.add(LayerType::kTOPK, {"cpu_topk_select", runTopK});
  table.add(LayerType::kCUMULATIVE, {"cpu_cumulative", runCumulative});
}

}  // namespace kiln
