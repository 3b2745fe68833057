"""Shape converters (flip, roll, repeat/tile, pixel (un)shuffle, expand_as, unflatten, movedim, stack, narrow,
split_with_sizes, chunk, unbind, as_strided) against eager PyTorch: static and dynamic shapes, several dtypes,
and the validators that keep unsupported forms in PyTorch."""

import operator

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


def dyn(opt, lo=1, hi=8):
    return torch_kiln.Input(min_shape=(lo,) + opt[1:], opt_shape=opt, max_shape=(hi,) + opt[1:])


CASES = [
    (lambda x: torch.flip(x, [0, 2]), aten.flip.default),
    (lambda x: torch.flip(x, [-1]), aten.flip.default),
    (lambda x: x.repeat(2, 1, 3), aten.repeat.default),
    (lambda x: x.repeat(2, 1, 1, 2), aten.repeat.default),
    (lambda x: x[:, :1].expand_as(x), aten.expand.default),
]


@pytest.mark.parametrize("fn,op", CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_shape_ops_static_and_dynamic(fn, op):
    x = torch.randn(3, 4, 5)
    run_test(Fn(fn), [x], expected_ops={op}, expect_engines=1)
    run_test(Fn(fn), [x], dynamic_inputs=[dyn((3, 4, 5))], expect_engines=1)


@needs_kept(aten.tile.default)
def test_tile():
    x = torch.randn(3, 4, 5)
    run_test(Fn(lambda x: x.tile((2,))), [x], expected_ops={aten.tile.default}, expect_engines=1)
    run_test(Fn(lambda x: x.tile((2, 1, 1, 3))), [x], dynamic_inputs=[dyn((3, 4, 5))], expect_engines=1)


@needs_kept(aten.stack.default)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_stack(dim):
    x = torch.randn(3, 4, 5)
    fn = Fn(lambda x: torch.stack([x, x * 2, -x], dim))
    run_test(fn, [x], expected_ops={aten.stack.default}, expect_engines=1)
    run_test(fn, [x], dynamic_inputs=[dyn((3, 4, 5))], expect_engines=1)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int32, torch.int64, torch.bool])
def test_shape_ops_dtypes(dtype):
    x = (torch.randn(3, 4, 5) * 4).to(dtype)
    fn = lambda x: torch.cat([torch.flip(x, [1]), x.repeat(1, 1, 2)[..., ::2]], 2)
    run_test(Fn(fn), [x], expected_ops={aten.flip.default, aten.repeat.default}, expect_engines=1)


# Tensor[] returns are one list value in Kiln's IR; each getitem becomes a prim::list_get node.
@pytest.mark.parametrize(
    "fn,op",
    [
        (lambda x: torch.split(x, [1, 3], 1)[1], aten.split_with_sizes.default),
        (lambda x: x.chunk(3, 1)[1], aten.split.Tensor),
        (lambda x: x.unbind(2)[3], aten.unbind.int),
    ],
)
def test_list_returning_ops(fn, op):
    run_test(Fn(fn), [torch.randn(3, 4, 5)], expected_ops={op}, expect_engines=1)


def test_list_get_schema_matches_the_ir():
    from torch_kiln import _C
    from torch_kiln.dynamo._translate import LIST_GET_SCHEMA, LIST_GET_TARGET

    assert _C.LIST_GET_SCHEMA == LIST_GET_SCHEMA
    assert LIST_GET_TARGET in {row["target"] for row in _C.supported_ops()}


def test_list_items_several_readers_and_outputs():
    # Every item used, one twice, one returned as is; the batch dim dynamic (the split dim stays static).
    def fn(x):
        a, b, c = x.unbind(1)
        q, k = x.chunk(2, 2)
        return a * b + c, c, torch.cat([q, k * 2], 2)

    x = torch.randn(2, 3, 4)
    run_test(Fn(fn), [x], expected_ops={aten.unbind.int, aten.split.Tensor}, expect_engines=1)
    run_test(Fn(fn), [x], dynamic_inputs=[dyn((2, 3, 4))], expect_engines=1)


def test_list_producer_in_pytorch():
    # The split runs in PyTorch: its items reach the engine as tensors through getitem in the rebuilt graph.
    fn = Fn(lambda x: sum(t.relu() for t in torch.split(x, [1, 3], 1)))
    x = torch.randn(3, 4, 5)
    compiled = run_test(fn, [x], torch_executed_ops={aten.split_with_sizes.default})
    explained = torch_kiln.dynamo.explain(fn, [x], min_block_size=1, torch_executed_ops={aten.split_with_sizes.default})
    reasons = {v["target"]: v["reason"] for v in explained["ops_in_pytorch"].values()}
    assert set(reasons) == {"aten::split_with_sizes.default", "prim::list_get.default"}, reasons
    assert explained["engine_segments"] == 1, explained["report"]
    assert any(n.target is operator.getitem for n in compiled.graph.nodes)


@needs_kept(aten.roll.default)
@pytest.mark.parametrize("shifts,dims", [(2, 1), ((1, -2), (0, 2)), (3, None), (-7, 0)])
def test_roll(shifts, dims):
    fn = (lambda x: torch.roll(x, shifts)) if dims is None else (lambda x: torch.roll(x, shifts, dims))
    x = torch.randn(3, 4, 5)
    run_test(Fn(fn), [x], expected_ops={aten.roll.default}, expect_engines=1)
    run_test(Fn(fn), [x], dynamic_inputs=[dyn((3, 4, 5), 2)], expect_engines=1)


@needs_kept(aten.pixel_shuffle.default)
def test_pixel_shuffle_and_unshuffle():
    x = torch.randn(2, 8, 3, 5)
    fn = lambda x: torch.nn.functional.pixel_shuffle(x, 2)
    run_test(Fn(fn), [x], expected_ops={aten.pixel_shuffle.default}, expect_engines=1)
    run_test(Fn(fn), [x], dynamic_inputs=[dyn((2, 8, 3, 5))], expect_engines=1)
    y = torch.randn(2, 3, 4, 6)
    fn = lambda y: torch.nn.functional.pixel_unshuffle(y, 2)
    run_test(Fn(fn), [y], expected_ops={aten.pixel_unshuffle.default}, expect_engines=1)


def test_narrow_with_negative_start():
    x = torch.randn(3, 4, 5)
    run_test(Fn(lambda x: x.narrow(2, -3, 2)), [x], expected_ops={aten.slice.Tensor}, expect_engines=1)
    run_test(Fn(lambda x: x.narrow(0, 1, 2)), [x], dynamic_inputs=[dyn((3, 4, 5), 3)], expect_engines=1)


def test_repeat_by_a_computed_count_stays_in_pytorch():
    x = torch.randn(3, 4)
    fn = Fn(lambda x: x.repeat(x.shape[0], 1) * 2)
    info = torch_kiln.dynamo.explain(fn, [dyn((3, 4), 2, 8)])
    assert any("repeat" in str(op) for op in info["ops_in_pytorch"]), info
    compiled = torch_kiln.compile(fn, inputs=[dyn((3, 4), 2, 8)], min_block_size=1)
    torch.testing.assert_close(compiled(x), fn(x))
