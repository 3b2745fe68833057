// CUDA non-zero kernel: int64 [rank, count] coordinates of the non-zero elements in row-major order, the
// CPU's layout. The input is cut into chunks: pass 1 counts each chunk's non-zeros, a single-block scan turns
// the counts into each chunk's first output column and the total, and pass 2 writes the coordinates, each
// chunk in order (block-wide ballot scans), so the result is stable.
//
// The output extent is data-dependent and io.allocateOutput needs it on the host: this is the one
// data-movement layer that waits for the device (the count goes to pinned memory owned by the kernel, then
// the stream is synchronized). A network containing it therefore cannot be captured into a CUDA graph.
//
// Non-zero tests the raw bits: the mask drops the sign bit of floats so -0.0 counts as zero while NaN counts
// as non-zero (torch.nonzero's behaviour, and the CPU kernel's).
#include <memory>
#include <mutex>
#include <string>

#include "engine/backends/cuda/data_movement_util.cuh"

namespace kiln {
namespace cuda {
namespace {

constexpr int kTHREADS = 256;
constexpr int kWARPS = kTHREADS / 32;
constexpr int64_t kROUNDS = 16;                   // block-wide rounds per chunk
constexpr int64_t kCHUNK = kTHREADS * kROUNDS;    // elements per chunk (one block)
constexpr int kSCAN_THREADS = 1024;

int64_t chunksFor(int64_t n) { return (n + kCHUNK - 1) / kCHUNK; }

// Pass 1: counts[c] = non-zeros in chunk c.
template <typename U>
__global__ void countKernel(const U* __restrict__ x, U mask, int64_t n, int64_t nbChunks, int64_t* __restrict__ counts) {
  __shared__ int64_t warpSums[kWARPS];
  for (int64_t c = blockIdx.x; c < nbChunks; c += gridDim.x) {
    const int64_t begin = c * kCHUNK;
    int64_t mine = 0;
    for (int64_t r = 0; r < kROUNDS; ++r) {
      const int64_t i = begin + r * kTHREADS + threadIdx.x;
      if (i < n && (x[i] & mask) != 0) ++mine;
    }
    for (int offset = 16; offset > 0; offset /= 2) mine += __shfl_down_sync(0xffffffffu, mine, offset);
    if (threadIdx.x % 32 == 0) warpSums[threadIdx.x / 32] = mine;
    __syncthreads();
    if (threadIdx.x == 0) {
      int64_t total = 0;
      for (int w = 0; w < kWARPS; ++w) total += warpSums[w];
      counts[c] = total;
    }
    __syncthreads();
  }
}

// Exclusive scan of counts[0, n) in place by one block; counts[n] receives the total.
__global__ void scanKernel(int64_t* __restrict__ counts, int64_t n) {
  __shared__ int64_t warpSums[kSCAN_THREADS / 32];
  __shared__ int64_t carry;
  if (threadIdx.x == 0) carry = 0;
  __syncthreads();
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (int64_t base = 0; base < n; base += kSCAN_THREADS) {
    const int64_t i = base + threadIdx.x;
    const int64_t v = i < n ? counts[i] : 0;
    int64_t inclusive = v;
    for (int offset = 1; offset < 32; offset *= 2) {
      const int64_t up = __shfl_up_sync(0xffffffffu, inclusive, offset);
      if (lane >= offset) inclusive += up;
    }
    if (lane == 31) warpSums[warp] = inclusive;
    __syncthreads();
    if (warp == 0) {
      const int64_t s = lane < kSCAN_THREADS / 32 ? warpSums[lane] : 0;
      int64_t scanned = s;
      for (int offset = 1; offset < 32; offset *= 2) {
        const int64_t up = __shfl_up_sync(0xffffffffu, scanned, offset);
        if (lane >= offset) scanned += up;
      }
      if (lane < kSCAN_THREADS / 32) warpSums[lane] = scanned - s;  // exclusive prefix of the warps
    }
    __syncthreads();
    if (i < n) counts[i] = carry + warpSums[warp] + inclusive - v;
    __syncthreads();
    if (threadIdx.x == kSCAN_THREADS - 1) carry += warpSums[warp] + inclusive;
    __syncthreads();
  }
  if (threadIdx.x == 0) counts[n] = carry;
}

// Pass 2: writes the coordinates of chunk c's non-zeros from column starts[c] on, in element order.
template <typename U>
__global__ void writeKernel(const U* __restrict__ x, U mask, int64_t n, int64_t nbChunks,
                            const int64_t* __restrict__ starts, Shape8 shape, int64_t* __restrict__ out, int64_t total) {
  __shared__ int warpCounts[kWARPS];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const unsigned int below = (1u << lane) - 1u;
  for (int64_t c = blockIdx.x; c < nbChunks; c += gridDim.x) {
    int64_t column = starts[c];
    for (int64_t r = 0; r < kROUNDS; ++r) {
      const int64_t i = c * kCHUNK + r * kTHREADS + threadIdx.x;
      const bool hit = i < n && (x[i] & mask) != 0;
      const unsigned int ballot = __ballot_sync(0xffffffffu, hit);
      if (lane == 0) warpCounts[warp] = __popc(ballot);
      __syncthreads();
      int before = 0, roundTotal = 0;
      for (int w = 0; w < kWARPS; ++w) {
        before += w < warp ? warpCounts[w] : 0;
        roundTotal += warpCounts[w];
      }
      if (hit) {
        const int64_t pos = column + before + __popc(ballot & below);
        int64_t rem = i;
        for (int32_t d = shape.rank - 1; d >= 0; --d) {
          out[d * total + pos] = rem % shape.d[d];
          rem /= shape.d[d];
        }
      }
      column += roundTotal;
      __syncthreads();  // warpCounts is rewritten by the next round
    }
  }
}

unsigned int blocksFor(int64_t chunks) {
  return static_cast<unsigned int>(chunks < 1 ? 1 : (chunks > 65535 * 8 ? 65535 * 8 : chunks));
}

class NonZeroKernel : public Kernel {
 public:
  explicit NonZeroKernel(int64_t* pinned) : pinned_(pinned) {}
  ~NonZeroKernel() override { cudaFreeHost(pinned_); }
  NonZeroKernel(const NonZeroKernel&) = delete;
  NonZeroKernel& operator=(const NonZeroKernel&) = delete;

  // The backend's wrapper names the layer in errors.
  Status execute(KernelIO& io) const override { return run(io); }

  // Per-chunk counts, then the total.
  int64_t workspaceSize(const KernelIO& io) const override { return (chunksFor(io.inputs[0].count()) + 1) * 8; }

 private:
  Status run(KernelIO& io) const {
    if (!io.allocateOutput) return internalError("no output allocator for the data-dependent output");
    switch (io.inputs[0].type) {
      case DataType::kFLOAT: return runTyped<uint32_t>(io, 0x7fffffffu);
      case DataType::kHALF:
      case DataType::kBF16: return runTyped<uint16_t>(io, 0x7fffu);
      case DataType::kINT8:
      case DataType::kBOOL:
      case DataType::kUINT8: return runTyped<uint8_t>(io, 0xffu);
      case DataType::kINT32: return runTyped<uint32_t>(io, 0xffffffffu);
      case DataType::kINT64: return runTyped<uint64_t>(io, ~uint64_t{0});
    }
    return internalError("unknown input type");
  }

  template <typename U>
  Status runTyped(KernelIO& io, U mask) const {
    const TensorView& in = io.inputs[0];
    const int64_t n = in.count();
    const int32_t rank = in.dims.nbDims;
    if (n == 0) return io.allocateOutput(0, Dims{rank, 0});
    const int64_t nbChunks = chunksFor(n);
    if (io.workspace == nullptr || io.workspaceSize < (nbChunks + 1) * 8) {
      return internalError("non-zero needs " + std::to_string((nbChunks + 1) * 8) + " bytes of workspace, got " +
                           std::to_string(io.workspaceSize));
    }
    const cudaStream_t stream = streamOf(io);
    auto* counts = static_cast<int64_t*>(io.workspace);
    const U* x = static_cast<const U*>(in.data);
    countKernel<U><<<blocksFor(nbChunks), kTHREADS, 0, stream>>>(x, mask, n, nbChunks, counts);
    KILN_CUDA_CHECK_LAUNCH();
    scanKernel<<<1, kSCAN_THREADS, 0, stream>>>(counts, nbChunks);
    KILN_CUDA_CHECK_LAUNCH();
    int64_t total = 0;
    {
      // The pinned word is shared by every execution context running this kernel.
      std::lock_guard<std::mutex> lock(mutex_);
      KILN_CUDA_CHECK(cudaMemcpyAsync(pinned_, counts + nbChunks, sizeof(int64_t), cudaMemcpyDeviceToHost, stream));
      // The one synchronization of this family: allocateOutput needs the count on the host.
      KILN_CUDA_CHECK(cudaStreamSynchronize(stream));
      total = *pinned_;
    }
    if (total < 0 || total > n) return internalError("non-zero count " + std::to_string(total) + " is impossible");
    KILN_RETURN_IF_ERROR(io.allocateOutput(0, Dims{rank, total}));
    if (total == 0 || rank == 0) return Status::ok();
    writeKernel<U><<<blocksFor(nbChunks), kTHREADS, 0, stream>>>(x, mask, n, nbChunks, counts, toShape8(in.dims),
                                                                 io.outputs[0].as<int64_t>(), total);
    KILN_CUDA_CHECK_LAUNCH();
    return Status::ok();
  }

  int64_t* pinned_;
  mutable std::mutex mutex_;
};

StatusOr<std::unique_ptr<Kernel>> makeNonZeroKernel(const LayerInfo& layer, const Graph& graph) {
  (void)layer;
  (void)graph;
  void* pinned = nullptr;
  KILN_CUDA_CHECK(cudaMallocHost(&pinned, sizeof(int64_t)));
  return std::unique_ptr<Kernel>(std::make_unique<NonZeroKernel>(static_cast<int64_t*>(pinned)));
}

}  // namespace

void registerNonZeroDataMovementCudaKernels(CudaKernelTable& table) {
  CudaTactic tactic;
  tactic.name = "cuda_non_zero";
  tactic.factory = makeNonZeroKernel;
  table.add(LayerType::kNON_ZERO, std::move(tactic));
}

}  // namespace cuda
}  // namespace kiln
