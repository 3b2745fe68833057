"""Creation converters (zeros, ones, empty, *_like, new_*, eye, linspace, arange, full) and casts (to.dtype,
_to_copy, type_as) against eager PyTorch, static and dynamic shapes."""

import pytest
import torch

import torch_kiln
from harness import run_test
from torch_kiln.dynamo.lowering import get_decompositions

aten = torch.ops.aten


def needs_kept(op):
    # Strict: the mark fails loudly once the lowering keeps the op (drops torch's decomposition of it).
    return pytest.mark.xfail(op in get_decompositions(), reason=f"the lowering still decomposes {op}", strict=True)


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def dyn(opt, lo=1, hi=6, dtype=torch.float32):
    return torch_kiln.Input(min_shape=(lo,) + opt[1:], opt_shape=opt, max_shape=(hi,) + opt[1:], dtype=dtype)


CASES = [
    (lambda x: x + torch.zeros(3, 4), aten.zeros.default),
    (lambda x: x + torch.ones(4, dtype=torch.int32), aten.ones.default),
    (lambda x: x @ torch.eye(4), aten.eye.default),
    (lambda x: x @ torch.eye(4, 2), aten.eye.m),
    (lambda x: x + torch.linspace(-1, 2, 4), aten.linspace.default),
    (lambda x: x + x.new_ones((3, 4)), aten.new_ones.default),
    (lambda x: x + x.new_full((1, 4), 2.5), aten.new_full.default),
    (lambda x: x + x.new_zeros((3, 1)), aten.new_zeros.default),
]


@pytest.mark.parametrize("fn,op", CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_factories(fn, op):
    if op in get_decompositions():
        pytest.xfail(f"the lowering still decomposes {op}")
    run_test(Fn(fn), [torch.randn(3, 4)], expected_ops={op}, expect_engines=1)


def test_zeros_of_a_dynamic_size():
    fn = Fn(lambda x: x + torch.zeros(x.shape[0], 4, dtype=torch.float16))
    run_test(fn, [torch.randn(3, 4)], dynamic_inputs=[dyn((3, 4), 2)], expect_engines=1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.int32, torch.bool])
def test_empty_like_is_zeros(dtype):
    if aten.empty_like.default in get_decompositions():
        pytest.xfail("the lowering still decomposes aten.empty_like")
    x = (torch.randn(3, 4) * 3).to(dtype)
    # empty_like's contents are unspecified (eager returns whatever memory held); Kiln's are zeros.
    fn = Fn(lambda x: torch.empty_like(x) + x if dtype != torch.bool else torch.empty_like(x).logical_or(x))
    compiled = torch_kiln.compile(fn, inputs=[x], min_block_size=1)
    torch.testing.assert_close(compiled(x), x)


def test_linspace_with_integer_dtype_is_refused():
    fn = Fn(lambda x: x + torch.linspace(0, 10, 4, dtype=torch.int64))
    info = torch_kiln.dynamo.explain(fn, [torch.randn(3, 4)])
    if aten.linspace.default in get_decompositions():
        pytest.xfail("the lowering still decomposes aten.linspace")
    assert any(r["target"] == "aten::linspace" + ".default" for r in info["ops_in_pytorch"].values()), info


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int32, torch.int64, torch.bool])
def test_casts(dtype):
    x = torch.randn(3, 4) * 4
    # aten._to_copy directly: x.to(dtype) also traces an _assert_tensor_metadata node the frontend refuses.
    fn = Fn(lambda x: aten._to_copy(x, dtype=dtype))
    run_test(fn, [x], expected_ops={aten._to_copy.default}, expect_engines=1)
    run_test(fn, [x], dynamic_inputs=[dyn((3, 4), 2)], expect_engines=1)
