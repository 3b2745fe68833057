// Attention operand views: which head split/merge chains the builder absorbs into the attention (checked on
// the graph the pass produces), that the absorbed networks compute what the copies computed (every backend,
// float32 and float16), and that malformed views are refused with an error.
#include <gtest/gtest.h>

#include <cstdlib>

#include "engine/builder_attention_views.h"
#include "engine/builder_shuffle.h"
#include "engine/layers/attention_view.h"
#include "engine/network_impl.h"
#include "test_helpers.h"

namespace kiln {
namespace testing {
namespace {

constexpr uint32_t kSTRONG = 1u << static_cast<uint32_t>(NetworkDefinitionCreationFlag::kSTRONGLY_TYPED);
constexpr int64_t B = 2, S = 5, H = 3, D = 8, E = H * D;

Permutation perm(std::initializer_list<int32_t> order) {
  Permutation p;
  int32_t i = 0;
  for (int32_t v : order) p.order[i++] = v;
  return p;
}

ITensor* shuffle(NetworkDefinition& net, ITensor& x, const Dims* reshape, const Permutation* first,
                 const Permutation* second = nullptr) {
  IShuffleLayer* s = net.addShuffle(x);
  if (first != nullptr) s->setFirstTranspose(*first);
  if (reshape != nullptr) s->setReshapeDimensions(*reshape);
  if (second != nullptr) s->setSecondTranspose(*second);
  return s->getOutput(0);
}

// [B, S, E] -> view [B, S, H, D] -> transpose(1, 2): BERT's head split.
ITensor* splitHeads(NetworkDefinition& net, ITensor& x) {
  const Dims heads{B, S, H, D};
  const Permutation swap = perm({0, 2, 1, 3});
  return shuffle(net, *shuffle(net, x, &heads, nullptr), nullptr, &swap);
}

// [B, H, S, D] -> transpose(1, 2) -> view [B, S, E]: the merge after the attention.
ITensor* mergeHeads(NetworkDefinition& net, ITensor& x) {
  const Dims merged{B, S, E};
  const Permutation swap = perm({0, 2, 1, 3});
  return shuffle(net, *shuffle(net, x, nullptr, &swap), &merged, nullptr);
}

ITensor* select(NetworkDefinition& net, ITensor& x, int32_t axis, int64_t index) {
  Weights w{DataType::kINT64, &index, 1};  // copied by addConstant
  Dims scalar;
  scalar.nbDims = 0;
  ITensor* i = net.addConstant(scalar, w)->getOutput(0);
  return net.addGather(x, *i, axis)->getOutput(0);
}

// Separate Q, K, V projections, split, attention, merge, and a consumer (relu) of the merged output.
void bertStyle(NetworkDefinition& net, const std::vector<ITensor*>& in) {
  ITensor* attention =
      net.addAttention(*splitHeads(net, *in[0]), *splitHeads(net, *in[1]), *splitHeads(net, *in[2]))->getOutput(0);
  net.markOutput(*net.addActivation(*mergeHeads(net, *attention), ActivationType::kRELU)->getOutput(0));
}

// GPT-2: one packed [B, S, 3E] projection split along its last dim with slices.
void gptStyle(NetworkDefinition& net, const std::vector<ITensor*>& in) {
  ITensor* parts[3];
  for (int32_t i = 0; i < 3; ++i) {
    ISliceLayer* slice = net.addSlice(*in[0], Dims{0, 0, i * E}, Dims{B, S, E}, Dims{1, 1, 1});
    parts[i] = splitHeads(net, *slice->getOutput(0));
  }
  IAttentionLayer* attention = net.addAttention(*parts[0], *parts[1], *parts[2]);
  attention->setCausal(true);
  net.markOutput(*net.addActivation(*mergeHeads(net, *attention->getOutput(0)), ActivationType::kRELU)->getOutput(0));
}

// torchvision's ViT (nn.MultiheadAttention, sequence first): the packed projection [S, B, 3E] is unflattened
// to [S, B, 3, E], moved to [3, S, B, E], and each of q, k, v is selected, viewed [S, B*H, D], transposed to
// [B*H, S, D] and viewed [B, H, S, D]. The output goes back as permute(2, 0, 1, 3) + view [S*B, E].
void vitStyle(NetworkDefinition& net, const std::vector<ITensor*>& in) {
  const Dims unflat{S, B, 3, E};
  const Permutation toFront = perm({2, 0, 1, 3});
  ITensor* packed = shuffle(net, *in[0], &unflat, nullptr, &toFront);
  ITensor* heads[3];
  for (int32_t i = 0; i < 3; ++i) {
    const Dims seqHeads{S, B * H, D};
    const Permutation swap01 = perm({1, 0, 2});
    const Dims split{B, H, S, D};
    ITensor* x = shuffle(net, *select(net, *packed, 0, i), &seqHeads, nullptr);
    x = shuffle(net, *x, nullptr, &swap01);
    heads[i] = shuffle(net, *x, &split, nullptr);
  }
  ITensor* attention = net.addAttention(*heads[0], *heads[1], *heads[2])->getOutput(0);
  const Permutation back = perm({2, 0, 1, 3});
  const Dims rows{S * B, E};
  net.markOutput(*net.addActivation(*shuffle(net, *attention, &rows, &back), ActivationType::kRELU)->getOutput(0));
}

// x W^T + b with weights of x's type (the networks are strongly typed).
ITensor* linear(NetworkDefinition& net, ITensor& x, int64_t in, int64_t out, uint64_t seed) {
  const DataType type = x.getType();
  const HostTensor w = randomTensor(type, Dims{out, in}, seed, -0.3, 0.3);
  const HostTensor b = randomTensor(type, Dims{out}, seed + 1);
  ITensor* wt = net.addConstant(Dims{out, in}, Weights{type, w.data(), out * in})->getOutput(0);
  ITensor* bt = net.addConstant(Dims{out}, Weights{type, b.data(), out})->getOutput(0);
  ITensor* y = net.addMatrixMultiply(x, MatrixOperation::kNONE, *wt, MatrixOperation::kTRANSPOSE)->getOutput(0);
  return net.addElementWise(*y, *bt, ElementWiseOperation::kSUM)->getOutput(0);
}

// A whole nn.MultiheadAttention block with batch_first=True (ViT): x [B, S, E] is transposed to [S, B, E] for
// the input projection, and the output projection's [S*B, E] result is viewed [S, B, E] and transposed back,
// then added to x.
void mhaBlock(NetworkDefinition& net, const std::vector<ITensor*>& in) {
  const Permutation swap01 = perm({1, 0, 2});
  ITensor* packed = linear(net, *shuffle(net, *in[0], nullptr, &swap01), E, 3 * E, 21);
  const Dims unflat{S, B, 3, E};
  const Permutation toFront = perm({2, 0, 1, 3});
  ITensor* heads[3];
  for (int32_t i = 0; i < 3; ++i) {
    const Dims seqHeads{S, B * H, D};
    const Dims split{B, H, S, D};
    ITensor* x = shuffle(net, *select(net, *shuffle(net, *packed, &unflat, nullptr, &toFront), 0, i), &seqHeads, nullptr);
    heads[i] = shuffle(net, *shuffle(net, *x, nullptr, &swap01), &split, nullptr);
  }
  ITensor* attention = net.addAttention(*heads[0], *heads[1], *heads[2])->getOutput(0);
  const Permutation back = perm({2, 0, 1, 3});
  const Dims rows{S * B, E};
  ITensor* projected = linear(net, *shuffle(net, *attention, &rows, &back), E, E, 23);
  const Dims seqFirst{S, B, E};
  ITensor* batchFirst = shuffle(net, *projected, &seqFirst, nullptr, &swap01);
  net.markOutput(*net.addElementWise(*in[0], *batchFirst, ElementWiseOperation::kSUM)->getOutput(0));
}

int32_t countType(const Graph& g, LayerType type) {
  int32_t n = 0;
  for (const LayerInfo& l : g.layers) n += l.params.type == type ? 1 : 0;
  return n;
}

const LayerInfo& attentionOf(const Graph& g) {
  for (const LayerInfo& l : g.layers) {
    if (l.params.type == LayerType::kATTENTION) return l;
  }
  ADD_FAILURE() << "no attention layer";
  return g.layers.front();
}

// The network's graph after the passes the builder runs before this one.
Graph passedGraph(const NetworkFn& define, const std::vector<std::pair<const char*, Dims>>& inputs,
                  DataType type = DataType::kFLOAT) {
  Builder builder;
  auto net = builder.createNetworkV2(kSTRONG);
  std::vector<ITensor*> tensors;
  for (const auto& [name, dims] : inputs) tensors.push_back(net->addInput(name, type, dims));
  define(*net, tensors);
  StatusOr<Graph> g = net->impl().toGraph();
  EXPECT_TRUE(g.isOk()) << g.status().toString();
  Graph graph = std::move(g).value();
  mergeShuffles(graph);
  return graph;
}

// Runs with and without the pass; both must succeed and agree.
class ViewsSwitch {
 public:
  explicit ViewsSwitch(bool on) { setenv("KILN_ATTENTION_VIEWS", on ? "1" : "0", 1); }
  ~ViewsSwitch() { unsetenv("KILN_ATTENTION_VIEWS"); }
};

void expectSameWithAndWithoutViews(const NetworkFn& define, const std::vector<TestInput>& inputs) {
  HostTensor copies;
  {
    ViewsSwitch off(false);
    copies = runSingleOutput(define, inputs, /*alsoDynamic=*/false);
  }
  // The dynamic build keeps the copies (views need static shapes): it must agree too.
  const HostTensor views = runSingleOutput(define, inputs, /*alsoDynamic=*/true);
  const DataType type = inputs[0].value.type;
  expectClose(views, copies, type == DataType::kFLOAT ? 1e-5 : defaultAtol(type), 1e-3);
}

TEST(AttentionViews, BertHeadSplitAndMergeDisappear) {
  Graph g = passedGraph(bertStyle, {{"q", Dims{B, S, E}}, {"k", Dims{B, S, E}}, {"v", Dims{B, S, E}}});
  EXPECT_EQ(countType(g, LayerType::kSHUFFLE), 4);  // one merged shuffle per split and one merge
  EXPECT_EQ(absorbAttentionViews(g), 4);
  EXPECT_EQ(countType(g, LayerType::kSHUFFLE), 0);
  const LayerInfo& attention = attentionOf(g);
  for (int32_t i = 0; i < 3; ++i) {
    EXPECT_EQ(attention.inputs[static_cast<size_t>(i)], g.inputs[static_cast<size_t>(i)]);
    StatusOr<AttentionOperand> q = attentionInputOperand(attention.params.attrs, i, Dims{B, S, E});
    ASSERT_TRUE(q.isOk()) << q.status().toString();
    EXPECT_EQ(q.value().dims, (Dims{B, H, S, D}));
    EXPECT_EQ(q.value().strides[0], S * E);
    EXPECT_EQ(q.value().strides[1], D);
    EXPECT_EQ(q.value().strides[2], E);
    EXPECT_EQ(q.value().strides[3], 1);
  }
  EXPECT_TRUE(hasAttentionOutputView(attention.params.attrs));
  EXPECT_EQ(g.tensors[static_cast<size_t>(attention.outputs[0])].dims, (Dims{B, S, E}));
}

TEST(AttentionViews, VitPackedProjectionSelectsDisappear) {
  Graph g = passedGraph(vitStyle, {{"qkv", Dims{S, B, 3 * E}}});
  ASSERT_GT(absorbAttentionViews(g), 0);
  // Q, K and V read the projection itself, through a view that no single-stride chain of torch views gives.
  EXPECT_EQ(countType(g, LayerType::kGATHER), 0);
  EXPECT_EQ(countType(g, LayerType::kSHUFFLE), 0);
  const LayerInfo& attention = attentionOf(g);
  StatusOr<AttentionOperand> k = attentionInputOperand(attention.params.attrs, 1, Dims{S, B, 3 * E});
  ASSERT_TRUE(k.isOk()) << k.status().toString();
  EXPECT_EQ(k.value().offset, E);
  EXPECT_EQ(k.value().strides[0], 3 * E);      // batch
  EXPECT_EQ(k.value().strides[1], D);          // head
  EXPECT_EQ(k.value().strides[2], B * 3 * E);  // sequence
}

TEST(AttentionViews, GptSlicesOfThePackedProjectionDisappear) {
  Graph g = passedGraph(gptStyle, {{"qkv", Dims{B, S, 3 * E}}});
  EXPECT_GT(absorbAttentionViews(g), 0);
  EXPECT_EQ(countType(g, LayerType::kSLICE), 0);
  EXPECT_EQ(countType(g, LayerType::kSHUFFLE), 0);
}

TEST(AttentionViews, AbsorbedNetworksComputeTheSameValues) {
  for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
    SCOPED_TRACE(dataTypeName(type));
    expectSameWithAndWithoutViews(bertStyle, {{"q", randomTensor(type, Dims{B, S, E}, 1)},
                                              {"k", randomTensor(type, Dims{B, S, E}, 2)},
                                              {"v", randomTensor(type, Dims{B, S, E}, 3)}});
    expectSameWithAndWithoutViews(gptStyle, {{"qkv", randomTensor(type, Dims{B, S, 3 * E}, 4)}});
    expectSameWithAndWithoutViews(vitStyle, {{"qkv", randomTensor(type, Dims{S, B, 3 * E}, 5)}});
  }
}

TEST(AttentionViews, TransformerSizedHeadsComputeTheSameValues) {
  // ViT-like sizes (197 tokens, heads of 64) so that CUDA's tensor-core kernel reads the views with vector
  // loads, and a packed projection whose offsets are not multiples of 8 elements, which it reads element-wise.
  for (const int64_t width : {int64_t{64}, int64_t{20}}) {
    SCOPED_TRACE(width);
    const int64_t b = 2, s = 197, h = 2, e = h * width;
    NetworkFn define = [=](NetworkDefinition& net, const std::vector<ITensor*>& in) {
      ITensor* parts[3];
      for (int32_t i = 0; i < 3; ++i) {
        ISliceLayer* slice = net.addSlice(*in[0], Dims{0, 0, i * e + 2}, Dims{b, s, e}, Dims{1, 1, 1});
        const Dims heads{b, s, h, width};
        const Permutation swap = perm({0, 2, 1, 3});
        parts[i] = shuffle(net, *shuffle(net, *slice->getOutput(0), &heads, nullptr), nullptr, &swap);
      }
      ITensor* attention = net.addAttention(*parts[0], *parts[1], *parts[2])->getOutput(0);
      const Dims merged{b, s, e};
      const Permutation swap = perm({0, 2, 1, 3});
      ITensor* out = shuffle(net, *shuffle(net, *attention, nullptr, &swap), &merged, nullptr);
      net.markOutput(*net.addActivation(*out, ActivationType::kRELU)->getOutput(0));
    };
    expectSameWithAndWithoutViews(define, {{"qkv", randomTensor(DataType::kHALF, Dims{b, s, 3 * e + 4}, 7)}});
  }
}

TEST(AttentionViews, MultiheadAttentionBlockKeepsNoCopies) {
  Graph g = passedGraph(mhaBlock, {{"x", Dims{B, S, E}}});
  EXPECT_GT(moveShufflesAcrossGemms(g), 0);
  mergeShuffles(g);
  EXPECT_GT(absorbAttentionViews(g), 0);
  // The transposes around the projections moved next to the attention, which absorbed them.
  EXPECT_EQ(countType(g, LayerType::kSHUFFLE), 0);
  EXPECT_EQ(countType(g, LayerType::kGATHER), 0);
  EXPECT_TRUE(hasAttentionOutputView(attentionOf(g).params.attrs));
  for (DataType type : {DataType::kFLOAT, DataType::kHALF}) {
    SCOPED_TRACE(dataTypeName(type));
    expectSameWithAndWithoutViews(mhaBlock, {{"x", randomTensor(type, Dims{B, S, E}, 8)}});
  }
}

TEST(AttentionViews, OutputThatLeavesTheGraphOrHasTwoReadersStaysContiguous) {
  NetworkFn twoReaders = [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    ITensor* q = splitHeads(net, *in[0]);
    ITensor* attention = net.addAttention(*q, *q, *q)->getOutput(0);
    net.markOutput(*mergeHeads(net, *attention));
    net.markOutput(*net.addActivation(*attention, ActivationType::kRELU)->getOutput(0));
  };
  Graph g = passedGraph(twoReaders, {{"x", Dims{B, S, E}}});
  absorbAttentionViews(g);
  EXPECT_FALSE(hasAttentionOutputView(attentionOf(g).params.attrs));
  EXPECT_EQ(countType(g, LayerType::kSHUFFLE), 1);  // the merge stays; the split is absorbed
  const HostTensor x = randomTensor(DataType::kFLOAT, Dims{B, S, E}, 9);
  ViewsSwitch on(true);
  RunResult run = buildAndRun(twoReaders, {{"x", x}});
  ASSERT_TRUE(run.status.isOk()) << run.status.toString();
  ViewsSwitch off(false);
  RunResult copies = buildAndRun(twoReaders, {{"x", x}});
  ASSERT_TRUE(copies.status.isOk()) << copies.status.toString();
  for (size_t i = 0; i < 2; ++i) expectClose(run.ordered[i], copies.ordered[i], 1e-5, 1e-5);
}

TEST(AttentionViews, TransposedInnermostDimIsNotAbsorbed) {
  // K arrives as [B, H, D, S] and is transposed to [B, H, S, D]: its rows are not contiguous, so the copy stays.
  NetworkFn define = [](NetworkDefinition& net, const std::vector<ITensor*>& in) {
    const Permutation swap = perm({0, 1, 3, 2});
    ITensor* k = shuffle(net, *in[1], nullptr, &swap);
    net.markOutput(*net.addAttention(*in[0], *k, *in[0])->getOutput(0));
  };
  Graph g = passedGraph(define, {{"q", Dims{B, H, S, D}}, {"kt", Dims{B, H, D, S}}});
  EXPECT_EQ(absorbAttentionViews(g), 0);
  EXPECT_FALSE(attentionOf(g).params.attrs.has(kAttentionInputViewKeys[1]));
}

TEST(AttentionViews, MalformedViewsAreRefused) {
  Attributes attrs;
  // [offset, dims, strides] reaching past a [2, 3, 4] tensor.
  attrs.setInts("view_q", {1, 2, 3, 4, 12, 4, 1});
  EXPECT_FALSE(attentionInputOperand(attrs, 0, Dims{2, 3, 4}).isOk());
  attrs.setInts("view_q", {0, 2, 3, 4, 12, 4, 1});
  EXPECT_TRUE(attentionInputOperand(attrs, 0, Dims{2, 3, 4}).isOk());
  attrs.setInts("view_q", {0, 2, 3, 4, 12, 4, 2});  // innermost not contiguous
  EXPECT_FALSE(attentionInputOperand(attrs, 0, Dims{2, 3, 4}).isOk());
  attrs.setInts("view_q", {0, 2, 3, 4, -12, 4, 1});
  EXPECT_FALSE(attentionInputOperand(attrs, 0, Dims{2, 3, 4}).isOk());
  attrs.setInts("view_q", {0, 2, 3});  // truncated
  EXPECT_FALSE(attentionInputOperand(attrs, 0, Dims{2, 3, 4}).isOk());
  // An output view whose elements overlap, or that does not cover the output.
  attrs.setInts("view_out", {4, 4, 1});
  attrs.setDims("view_out_dims", Dims{24});
  EXPECT_FALSE(attentionOutputOperand(attrs, Dims{2, 3, 4}).isOk());
  attrs.setInts("view_out", {4, 8, 1});
  EXPECT_TRUE(attentionOutputOperand(attrs, Dims{2, 3, 4}).isOk());
  attrs.setDims("view_out_dims", Dims{25});
  EXPECT_FALSE(attentionOutputOperand(attrs, Dims{2, 3, 4}).isOk());
}

}  // namespace
}  // namespace testing
}  // namespace kiln
