// CPU scaled dot-product attention, fused per (batch, query head, block of queries). For each block of keys
// the scores S = scale * Q K^T come from one cblas_sgemm into a per-thread scratch tile, the softmax runs
// online over the rows (running max and sum, so it is stable and needs no Sq x Sk buffer), and a second sgemm
// accumulates P V into the output block, rescaled whenever a row's max grows. Computed in float32
// (float16/bfloat16 are staged).
//
// Tiles are sized so that every sgemm stays under OpenBLAS's single-thread threshold: the blocks then run
// in parallel on the OpenMP threads without OpenBLAS starting its own threads inside them (nesting the two
// thread pools is an order of magnitude slower). Only when even the smallest tile exceeds it (embedding
// sizes above 16K) do the blocks run one after another and OpenBLAS thread each sgemm.
//
// Fully masked rows (every score -inf, from the mask or the scores themselves) give zeros, like PyTorch's
// math backend since 2.5 (at::_safe_softmax); a NaN score makes its row NaN, as in PyTorch.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "engine/backends/cpu/cpu_kernels.h"
#include "engine/backends/cpu/cpu_util.h"
#include "engine/layers/attention_view.h"

namespace kiln {
namespace {

// OpenBLAS runs an sgemm on one thread when m*n*k is at most this (SMP_THRESHOLD_MIN * 4 in its interface).
constexpr int64_t kSINGLE_THREADED_GEMM = int64_t{1} << 18;
// Below this many flops a layer runs on one thread: waking the team costs more.
constexpr int64_t kPARALLEL_FLOPS = int64_t{1} << 20;
constexpr float kNEG_INF = -std::numeric_limits<float>::infinity();

struct AttentionShape {
  int32_t rank = 0;
  Dims batch;  // broadcast batch dims of the output
  int64_t batchCount = 1;
  int64_t hq = 0, hk = 0, sq = 0, sk = 0, e = 0, ev = 0;
  int64_t queryBlock = 1, keyBlock = 1;
  int64_t blocks = 0;  // query blocks per (batch, head)
  int64_t tasks = 0;
  int64_t slots = 1;  // threads, each with a scratch tile
  // Q, K, V and the output as the layer computes with them (strided views of the tensors).
  AttentionOperand operands[3];
  AttentionOperand out;
  Dims outDims;  // logical [batch..., Hq, Sq, Ev]
};

StatusOr<AttentionShape> shapeOf(const LayerParams& layer, const KernelIO& io) {
  AttentionShape s;
  for (int32_t i = 0; i < 3; ++i) {
    KILN_ASSIGN_OR_RETURN(s.operands[i],
                          attentionInputOperand(layer.attrs, i, io.inputs[static_cast<size_t>(i)].dims));
  }
  const Dims& q = s.operands[0].dims;
  const Dims& k = s.operands[1].dims;
  const Dims& v = s.operands[2].dims;
  s.rank = q.nbDims;
  if (s.rank < 3 || k.nbDims != s.rank || v.nbDims != s.rank) {
    return invalidArgument("attention layer '" + layer.name + "': query, key and value ranks differ");
  }
  s.batch.nbDims = s.rank - 3;
  for (int32_t i = 0; i < s.rank - 3; ++i) {
    s.batch.d[i] = std::max({q.d[i], k.d[i], v.d[i]});  // shape inference checked that they broadcast
    s.batchCount *= s.batch.d[i];
  }
  s.hq = q.d[s.rank - 3];
  s.sq = q.d[s.rank - 2];
  s.e = q.d[s.rank - 1];
  s.hk = k.d[s.rank - 3];
  s.sk = k.d[s.rank - 2];
  s.ev = v.d[s.rank - 1];
  s.outDims = s.batch;
  s.outDims.nbDims = s.rank;
  s.outDims.d[s.rank - 3] = s.hq;
  s.outDims.d[s.rank - 2] = s.sq;
  s.outDims.d[s.rank - 1] = s.ev;
  KILN_ASSIGN_OR_RETURN(s.out, attentionOutputOperand(layer.attrs, s.outDims));
  if (volume(s.outDims) != io.outputs[0].count()) {
    return internalError("attention layer '" + layer.name + "': the output tensor does not hold the output");
  }
  // Tiles: 64 queries by as many keys as keep both sgemms single-threaded (at least 16, at most 512).
  const int64_t width = std::max<int64_t>({s.e, s.ev, 1});
  s.keyBlock = std::min(std::clamp<int64_t>(kSINGLE_THREADED_GEMM / (64 * width), 16, 512), std::max<int64_t>(s.sk, 1));
  s.queryBlock =
      std::min(std::clamp<int64_t>(kSINGLE_THREADED_GEMM / (s.keyBlock * width), 1, 64), std::max<int64_t>(s.sq, 1));
  s.blocks = (s.sq + s.queryBlock - 1) / s.queryBlock;
  s.tasks = s.batchCount * s.hq * s.blocks;
  const bool singleThreadedGemms = s.queryBlock * s.keyBlock * width <= kSINGLE_THREADED_GEMM;
  const double flops = 2.0 * static_cast<double>(s.batchCount * s.hq) * static_cast<double>(s.sq) *
                       static_cast<double>(s.sk) * static_cast<double>(s.e + s.ev);
  if (singleThreadedGemms && s.tasks > 1 && flops >= static_cast<double>(kPARALLEL_FLOPS)) {
    s.slots = std::min<int64_t>(s.tasks, omp_get_max_threads());
  }
  return s;
}

// Scratch of one thread: the score tile and each query row's running max and sum.
int64_t scratchFloats(const AttentionShape& s) { return s.queryBlock * s.keyBlock + 2 * s.queryBlock; }

int64_t attentionWorkspace(const LayerParams& layer, const KernelIO& io) {
  if (io.inputs.size() < 3 || io.outputs.empty()) return 0;
  const StatusOr<AttentionShape> s = shapeOf(layer, io);
  if (!s.isOk()) return 0;  // the run reports the error
  return s.value().slots * scratchFloats(s.value()) * static_cast<int64_t>(sizeof(float));
}

// Strides of an operand for walking [batch..., heads, rows, cols]: 0 on the batch dims it broadcasts over.
std::vector<int64_t> stridesFor(const AttentionOperand& operand, const Dims& batch) {
  std::vector<int64_t> strides(operand.strides, operand.strides + operand.dims.nbDims);
  for (int32_t i = 0; i < batch.nbDims; ++i) {
    if (operand.dims.d[i] == 1) strides[static_cast<size_t>(i)] = 0;
  }
  return strides;
}

struct AttentionArgs {
  AttentionShape s;
  float scale = 1.f;
  bool causal = false;
  const float* q = nullptr;
  const float* k = nullptr;
  const float* v = nullptr;
  float* out = nullptr;
  std::vector<int64_t> qStrides, kStrides, vStrides, outStrides;
  int64_t qRow = 0, kRow = 0, vRow = 0, outRow = 0;  // row strides (leading dimensions of the sgemms)
  // The mask: additive floats or bool keep flags, read at broadcast strides over [batch..., Hq, Sq, Sk].
  const float* additive = nullptr;
  const uint8_t* keep = nullptr;
  Dims scores;
  std::vector<int64_t> maskStrides;
};

// One task: query rows [i0, i0 + rows) of one (batch, head), all key blocks, into the output block.
void attendBlock(const AttentionArgs& a, int64_t task, float* scratch) {
  const AttentionShape& s = a.s;
  const int64_t block = task % s.blocks;
  const int64_t head = (task / s.blocks) % s.hq;
  const int64_t b = task / (s.blocks * s.hq);
  const int64_t i0 = block * s.queryBlock;
  const int64_t rows = std::min(s.queryBlock, s.sq - i0);
  const int64_t kvHead = head / (s.hq / s.hk);  // grouped-query attention: consecutive query heads share one
  const float* q = a.q + cpu::offsetOf(b, s.batch, a.qStrides) + head * a.qStrides[s.rank - 3] + i0 * a.qRow;
  const float* kHead = a.k + cpu::offsetOf(b, s.batch, a.kStrides) + kvHead * a.kStrides[s.rank - 3];
  const float* vHead = a.v + cpu::offsetOf(b, s.batch, a.vStrides) + kvHead * a.vStrides[s.rank - 3];
  float* out = a.out + cpu::offsetOf(b, s.batch, a.outStrides) + head * a.outStrides[s.rank - 3] + i0 * a.outRow;
  float* tile = scratch;
  float* rowMax = scratch + s.queryBlock * s.keyBlock;
  float* rowSum = rowMax + s.queryBlock;
  for (int64_t r = 0; r < rows; ++r) std::fill(out + r * a.outRow, out + r * a.outRow + s.ev, 0.f);
  std::fill(rowMax, rowMax + rows, kNEG_INF);
  std::fill(rowSum, rowSum + rows, 0.f);
  const bool hasMask = a.keep != nullptr || a.additive != nullptr;
  const int64_t maskColStride = hasMask ? a.maskStrides[static_cast<size_t>(s.rank - 1)] : 0;
  // Causal rows i attend keys j <= i: the block needs no key past its last row.
  const int64_t keys = a.causal ? std::min(s.sk, i0 + rows) : s.sk;
  for (int64_t j0 = 0; j0 < keys; j0 += s.keyBlock) {
    const int64_t cols = std::min(s.keyBlock, keys - j0);
    if (s.e > 0) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows), static_cast<int>(cols),
                  static_cast<int>(s.e), a.scale, q, static_cast<int>(a.qRow), kHead + j0 * a.kRow,
                  static_cast<int>(a.kRow),
                  0.f, tile, static_cast<int>(cols));
    } else {
      std::fill(tile, tile + rows * cols, 0.f);
    }
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = i0 + r;
      float* row = tile + r * cols;
      const int64_t valid = a.causal ? std::clamp<int64_t>(i - j0 + 1, 0, cols) : cols;
      if (hasMask) {
        const int64_t base = cpu::offsetOf(((b * s.hq + head) * s.sq + i) * s.sk + j0, a.scores, a.maskStrides);
        if (a.keep != nullptr) {
          for (int64_t j = 0; j < valid; ++j) {
            if (a.keep[base + j * maskColStride] == 0) row[j] = kNEG_INF;
          }
        } else {
          for (int64_t j = 0; j < valid; ++j) row[j] += a.additive[base + j * maskColStride];
        }
      }
      // The block's max; a NaN sticks so that it poisons the row as it does in PyTorch.
      float blockMax = kNEG_INF;
      for (int64_t j = 0; j < valid && !std::isnan(blockMax); ++j) {
        if (row[j] > blockMax || std::isnan(row[j])) blockMax = row[j];
      }
      const float oldMax = rowMax[r];
      const float newMax = std::isnan(oldMax) || std::isnan(blockMax) ? std::numeric_limits<float>::quiet_NaN()
                                                                      : std::max(oldMax, blockMax);
      if (newMax == kNEG_INF) {  // nothing attended in this row yet: contributes no weight
        std::fill(row, row + cols, 0.f);
        continue;
      }
      float sum = 0.f;
      for (int64_t j = 0; j < valid; ++j) {
        row[j] = std::exp(row[j] - newMax);
        sum += row[j];
      }
      std::fill(row + valid, row + cols, 0.f);
      const float alpha = std::exp(oldMax - newMax);  // 0 on the row's first attended block
      if (!(alpha == 1.f)) {
        float* o = out + r * a.outRow;
        for (int64_t x = 0; x < s.ev; ++x) o[x] *= alpha;
      }
      rowSum[r] = rowSum[r] * alpha + sum;
      rowMax[r] = newMax;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(s.ev),
                static_cast<int>(cols), 1.f, tile, static_cast<int>(cols), vHead + j0 * a.vRow, static_cast<int>(a.vRow),
                1.f, out, static_cast<int>(a.outRow));
  }
  for (int64_t r = 0; r < rows; ++r) {
    float* o = out + r * a.outRow;
    if (rowSum[r] == 0.f) {  // fully masked (or no keys at all)
      std::fill(o, o + s.ev, 0.f);
      continue;
    }
    const float inv = 1.f / rowSum[r];
    for (int64_t x = 0; x < s.ev; ++x) o[x] *= inv;
  }
}

Status runAttention(const LayerParams& layer, KernelIO& io) {
  TensorView& outView = io.outputs[0];
  if (outView.count() == 0) return Status::ok();
  AttentionArgs a;
  KILN_ASSIGN_OR_RETURN(a.s, shapeOf(layer, io));
  const AttentionShape& s = a.s;
  if (s.hk <= 0 || s.hq % s.hk != 0) {
    return internalError("attention layer '" + layer.name + "': query heads are not a multiple of key heads");
  }
  constexpr int64_t kBLAS_MAX = std::numeric_limits<int>::max();
  // Row strides are sgemm's leading dimensions, which must cover a row; a single row may have any stride.
  const auto rowStride = [&](const AttentionOperand& o, int64_t width) -> int64_t {
    const int64_t stride = o.strides[s.rank - 2];
    return o.dims.d[s.rank - 2] <= 1 ? std::max<int64_t>(width, 1) : stride;
  };
  a.qRow = rowStride(s.operands[0], s.e);
  a.kRow = rowStride(s.operands[1], s.e);
  a.vRow = rowStride(s.operands[2], s.ev);
  a.outRow = rowStride(s.out, s.ev);
  if (a.qRow < s.e || a.kRow < s.e || a.vRow < s.ev || a.outRow < s.ev) {
    return unimplemented("attention layer '" + layer.name + "': operand rows overlap in their views");
  }
  if (s.sk > kBLAS_MAX || s.e > kBLAS_MAX || s.ev > kBLAS_MAX || a.qRow > kBLAS_MAX || a.kRow > kBLAS_MAX ||
      a.vRow > kBLAS_MAX || a.outRow > kBLAS_MAX) {
    return unimplemented("attention layer '" + layer.name + "': sequence or embedding size exceeds the BLAS int range");
  }
  a.causal = layer.attrs.getInt("causal") != 0;
  const double scale = layer.attrs.getFloat("scale", 0.0);
  a.scale = scale != 0.0 ? static_cast<float>(scale)
                         : (s.e > 0 ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.e))) : 1.f);

  cpu::FloatInput q(io.inputs[0]);
  cpu::FloatInput k(io.inputs[1]);
  cpu::FloatInput v(io.inputs[2]);
  cpu::FloatOutput out(outView);
  a.q = q.data() + s.operands[0].offset;
  a.k = k.data() + s.operands[1].offset;
  a.v = v.data() + s.operands[2].offset;
  a.out = out.data();
  a.qStrides = stridesFor(s.operands[0], s.batch);
  a.kStrides = stridesFor(s.operands[1], s.batch);
  a.vStrides = stridesFor(s.operands[2], s.batch);
  a.outStrides = stridesFor(s.out, s.batch);
  std::unique_ptr<cpu::FloatInput> maskFloat;
  if (io.inputs.size() > 3 && io.inputs[3].data != nullptr) {
    const TensorView& m = io.inputs[3];
    a.scores = s.outDims;
    a.scores.d[s.rank - 1] = s.sk;
    a.maskStrides = cpu::broadcastStrides(m.dims, a.scores);
    if (m.type == DataType::kBOOL) {
      a.keep = m.as<const uint8_t>();
    } else {
      maskFloat = std::make_unique<cpu::FloatInput>(m);
      a.additive = maskFloat->data();
    }
  }

  // Each thread's scratch tile lives in the workspace (sized by attentionWorkspace for the same shapes).
  const int64_t perSlot = scratchFloats(s);
  std::vector<float> ownScratch;
  float* scratch = static_cast<float*>(io.workspace);
  if (scratch == nullptr || io.workspaceSize < s.slots * perSlot * static_cast<int64_t>(sizeof(float))) {
    ownScratch.resize(static_cast<size_t>(s.slots * perSlot));
    scratch = ownScratch.data();
  }
  const int slots = static_cast<int>(s.slots);
#pragma omp parallel for num_threads(slots) schedule(dynamic, 1) if (slots > 1)
  for (int64_t task = 0; task < s.tasks; ++task) {
    attendBlock(a, task, scratch + omp_get_thread_num() * perSlot);
  }
  out.commit();
  return Status::ok();
}

}  // namespace

void registerAttentionCpuKernels(CpuKernelTable& table) {
  table.add(LayerType::kATTENTION, {"cpu_attention_blocked_sgemm", runAttention, attentionWorkspace});
}

}  // namespace kiln
