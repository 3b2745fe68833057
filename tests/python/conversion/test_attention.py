"""Scaled dot-product attention converters against eager PyTorch: bool and float masks, is_causal, scale,
grouped-query attention, float dtypes, dynamic sequence length, and dropout refused by the validator."""

import pytest
import torch
import torch.nn.functional as F

import torch_kiln
from harness import run_test
from torch_kiln.dynamo.lowering import get_decompositions

aten = torch.ops.aten
SDPA = aten.scaled_dot_product_attention.default
# Strict: the mark fails loudly once the lowering keeps the op (drops torch's decomposition of it).
kept = pytest.mark.xfail(SDPA in get_decompositions(), reason=f"the lowering still decomposes {SDPA}", strict=True)


class Attn(torch.nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.kw = kw

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, **self.kw)


class Masked(torch.nn.Module):
    def __init__(self, mask, **kw):
        super().__init__()
        self.register_buffer("mask", mask)
        self.kw = kw

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=self.mask, **self.kw)


def qkv(dtype=torch.float32, hq=4, hk=4, sq=5, sk=6):
    return [torch.randn(2, hq, sq, 8).to(dtype), torch.randn(2, hk, sk, 8).to(dtype), torch.randn(2, hk, sk, 8).to(dtype)]


@kept
@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.3}, {"is_causal": True, "scale": 1.0}])
def test_sdpa_options(kw):
    run_test(Attn(**kw), qkv(sq=6), expected_ops={aten.scaled_dot_product_attention.default}, expect_engines=1)


@kept
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_sdpa_half_types(dtype):
    run_test(Attn(), qkv(dtype), expected_ops={aten.scaled_dot_product_attention.default}, expect_engines=1)


@kept
def test_sdpa_masks():
    bool_mask = torch.rand(5, 6) > 0.3
    bool_mask[:, 0] = True
    run_test(Masked(bool_mask), qkv(), expected_ops={aten.scaled_dot_product_attention.default}, expect_engines=1)
    run_test(Masked(torch.randn(2, 1, 5, 6)), qkv(), expect_engines=1)


@kept
def test_sdpa_grouped_query():
    run_test(Attn(enable_gqa=True), qkv(hq=4, hk=2), expected_ops={aten.scaled_dot_product_attention.default})


def test_sdpa_dynamic_sequence():
    spec = lambda s: torch_kiln.Input(min_shape=(2, 4, 2, 8), opt_shape=(2, 4, s, 8), max_shape=(2, 4, 16, 8))
    run_test(Attn(), qkv(sq=6, sk=6), dynamic_inputs=[spec(6), spec(6), spec(6)], expect_engines=1)


@kept
def test_sdpa_with_dropout_in_training_stays_in_pytorch():
    class Drop(torch.nn.Module):
        def forward(self, q, k, v):
            return F.scaled_dot_product_attention(q, k, v, dropout_p=0.5) * 0 + q.sum()

    info = torch_kiln.dynamo.explain(Drop(), qkv(sq=6))
    assert any("attention" in r["target"] for r in info["ops_in_pytorch"].values()), info


class ArangeCausal(torch.nn.Module):
    """A causal mask built in forward from aranges, as transformers' models build theirs when exported."""

    def forward(self, q, k, v):
        rows = torch.arange(q.shape[-2], device=q.device)
        cols = torch.arange(k.shape[-2], device=k.device)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=cols[None, :] <= rows[:, None])


@kept
def test_sdpa_constant_causal_mask_becomes_the_causal_flag():
    compiled = run_test(ArangeCausal(), qkv(sq=6), expect_engines=1)
    engine = next(m for m in compiled.modules() if isinstance(m, torch_kiln.runtime.KilnEngineModule))
    assert engine.build_report["attention_masks_removed"] == 1, engine.build_report
