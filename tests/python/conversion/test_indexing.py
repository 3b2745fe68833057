"""Indexing converters (index_select, gather, scatter family, index.Tensor, index_put, masked_fill, one_hot)
against eager PyTorch, static and dynamic shapes, and the validators that keep unsupported forms in PyTorch."""

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
    def __init__(self, fn, *consts):
        super().__init__()
        self.fn = fn
        for i, c in enumerate(consts):
            self.register_buffer(f"c{i}", c)

    def forward(self, x):
        return self.fn(x, *self.buffers())


def dyn(opt, lo=1, hi=6, dtype=torch.float32):
    return torch_kiln.Input(min_shape=(lo,) + opt[1:], opt_shape=opt, max_shape=(hi,) + opt[1:], dtype=dtype)


# No row repeats an index within its first two columns: scatter with repeated targets has no defined result,
# and devices pick different writers.
IDX = torch.tensor([[0, 2, 1, 2], [1, 0, 0, 2], [2, 1, 2, 0]])
CASES = [
    ("index_select", lambda x, i: torch.index_select(x, 1, i[0, :3]), aten.index_select.default),
    ("gather", lambda x, i: torch.gather(x, 1, i[:, :3]), aten.gather.default),
    ("scatter_src", lambda x, i: x.scatter(1, i[:, :2], x * 10), aten.scatter.src),
    ("scatter_value", lambda x, i: x.scatter(1, i[:, :2], 7.0), aten.scatter.value),
    ("scatter_add", lambda x, i: x.scatter_add(1, i, x[:, :4] * 2), aten.scatter_add.default),
    ("scatter_reduce", lambda x, i: x.scatter(1, i, x[:, :4], reduce="multiply"), aten.scatter.reduce),
    ("masked_fill", lambda x, i: x.masked_fill(x > 0.5, -2.0), aten.masked_fill.Scalar),
    ("index_1", lambda x, i: x[:, i[0]], aten.index.Tensor),
    ("index_2", lambda x, i: x[i[0], i[1, :1]], aten.index.Tensor),
]


@pytest.mark.parametrize("name,fn,op", CASES, ids=[c[0] for c in CASES])
def test_indexing_static(name, fn, op):
    x = torch.randn(3, 5)
    run_test(Fn(fn, IDX), [x], expected_ops={op}, expect_engines=1)


@pytest.mark.parametrize("name,fn,op", [c for c in CASES if c[0] in ("index_select", "masked_fill", "index_1")])
def test_indexing_dynamic(name, fn, op):
    x = torch.randn(3, 5)
    run_test(Fn(fn, IDX), [x], dynamic_inputs=[dyn((3, 5), 2)], expect_engines=1)


@pytest.mark.parametrize("reduce", ["sum", "prod", "amax", "amin", "mean"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce(reduce, include_self):
    if reduce == "mean" and not include_self:
        pytest.skip("refused by the validator (tested below)")
    fn = Fn(lambda x, i: x.scatter_reduce(1, i, x[:, :4] * 3, reduce, include_self=include_self), IDX)
    run_test(fn, [torch.randn(3, 5)], expected_ops={aten.scatter_reduce.two}, expect_engines=1)


def test_scatter_mean_without_self_stays_in_pytorch():
    fn = Fn(lambda x, i: x.scatter_reduce(1, i, x[:, :4], "mean", include_self=False) + 1, IDX)
    info = torch_kiln.dynamo.explain(fn, [torch.randn(3, 5)])
    assert any(r["target"] == "aten::scatter_reduce.two" for r in info["ops_in_pytorch"].values()), info
    run_test(fn, [torch.randn(3, 5)])


@pytest.mark.parametrize("accumulate", [False, True])
def test_index_put(accumulate):
    rows = torch.tensor([0, 2])
    fn = Fn(lambda x, r: torch.index_put(x, (r,), torch.ones(5) * 3, accumulate=accumulate), rows)
    run_test(fn, [torch.randn(3, 5)], expected_ops={aten.index_put.default}, expect_engines=1)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.int32, torch.int64, torch.bool])
def test_indexing_dtypes(dtype):
    x = (torch.randn(3, 5) * 4).to(dtype)
    fn = Fn(lambda x, i: torch.gather(x, 1, i[:, :3]).masked_fill(i[:, :3] > 1, 1), IDX)
    run_test(fn, [x], expected_ops={aten.gather.default, aten.masked_fill.Scalar}, expect_engines=1)


def test_masked_fill_tensor_value():
    fn = Fn(lambda x, i: x.masked_fill(x < 0, x.sum()), IDX)
    run_test(fn, [torch.randn(3, 5)], expected_ops={aten.masked_fill.Tensor}, expect_engines=1)


@needs_kept(aten.one_hot.default)
def test_one_hot():
    onehot = Fn(lambda x, i: torch.nn.functional.one_hot(i, 4) * 2, IDX)
    run_test(onehot, [torch.randn(3, 5)], expected_ops={aten.one_hot.default}, expect_engines=1)


# Bool-mask indexing (a data-dependent extent) is tested in test_data_dependent.py.
