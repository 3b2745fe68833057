"""Reduction converters (sum/prod/max/min/all, arg extrema, top-k and sort, var/std, norms, logsumexp,
cumulative ops) against eager PyTorch: static and dynamic shapes, the dtypes each op takes, and validators."""

import pytest
import torch

import torch_kiln
from aten_graph import run_aten_graph
from harness import run_test

aten = torch.ops.aten


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def dynamic_batch(shape, dtype=torch.float32):
    return torch_kiln.Input(
        min_shape=(1,) + tuple(shape[1:]), opt_shape=tuple(shape), max_shape=(4,) + tuple(shape[1:]), dtype=dtype
    )


def sample(dtype, shape=(3, 4, 5)):
    if dtype == torch.bool:
        return torch.rand(shape) > 0.5
    # distinct values (exact in bfloat16 too) so that arg extrema and sort orders are unambiguous
    n = torch.Size(shape).numel()
    values = torch.randperm(n).reshape(shape) - n // 2
    if dtype in (torch.int32, torch.int64):
        return values.to(dtype)
    return ((values + 0.5) / 8).to(dtype)


FLOATS = [torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize(
    "fn,op,dtypes",
    [
        (lambda x: x.prod(), aten.prod.default, FLOATS[:1] + [torch.int32]),
        (lambda x: x.max(), aten.max.default, FLOATS[:1] + [torch.bool]),
        (lambda x: x.min(), aten.min.default, [torch.int64]),
        (lambda x: x.all(), aten.all.default, [torch.float32, torch.bool]),
        (lambda x: x.all(dim=1), aten.all.dim, [torch.float32, torch.int32, torch.bool]),
        (lambda x: x.all(dim=(0, 2), keepdim=True), aten.all.dims, [torch.bool]),
        (lambda x: x.max(dim=1), aten.max.dim, FLOATS[:1] + [torch.float16, torch.int32]),
        (lambda x: x.min(dim=-1, keepdim=True), aten.min.dim, FLOATS[:1] + [torch.bfloat16, torch.int64]),
        (lambda x: x.argmax(dim=2), aten.argmax.default, FLOATS[:1] + [torch.int32]),
        (lambda x: x.argmin(), aten.argmin.default, FLOATS[:1] + [torch.float16, torch.int64]),
        (lambda x: x.topk(2, dim=1), aten.topk.default, FLOATS[:1] + [torch.bfloat16, torch.int32]),
        (lambda x: x.topk(3, largest=False), aten.topk.default, FLOATS[:1] + [torch.int64]),
        (lambda x: x.sort(dim=1), aten.sort.default, FLOATS[:1] + [torch.float16, torch.int32]),
        (lambda x: torch.sort(x, stable=True, dim=0), aten.sort.stable, FLOATS[:1] + [torch.int64]),
        (lambda x: x.var(dim=1), aten.var.dim, [torch.float32, torch.bfloat16]),
        (lambda x: x.var(unbiased=False), aten.var.default, FLOATS[:1]),
        (lambda x: x.var(dim=(0, 2), correction=0, keepdim=True), aten.var.correction, FLOATS[:1]),
        (lambda x: x.std(dim=-1, unbiased=False), aten.std.dim, FLOATS[1:]),
        (lambda x: x.std(dim=1, correction=2), aten.std.correction, FLOATS[:2]),
        (lambda x: torch.var_mean(x, dim=1), aten.var_mean.dim, [torch.float32, torch.float16]),
        (lambda x: torch.var_mean(x, dim=1, correction=0), aten.var_mean.correction, [torch.float32]),
        (lambda x: torch.std_mean(x, dim=(1, 2), correction=2), aten.std_mean.correction, FLOATS[:1]),
        (lambda x: torch.linalg.vector_norm(x, dim=-1), aten.linalg_vector_norm.default,
         [torch.float32, torch.bfloat16]),
        (lambda x: torch.linalg.vector_norm(x, ord=1, dim=(1, 2)), aten.linalg_vector_norm.default, FLOATS[:1]),
        (lambda x: torch.linalg.vector_norm(x, ord=float("inf")), aten.linalg_vector_norm.default, FLOATS[:1]),
        (lambda x: torch.linalg.vector_norm(x, ord=0, dim=1), aten.linalg_vector_norm.default, FLOATS[:1]),
        (lambda x: torch.linalg.vector_norm(x, ord=3, dim=1, keepdim=True), aten.linalg_vector_norm.default,
         FLOATS[:1]),
        (lambda x: x.logsumexp(dim=1), aten.logsumexp.default, [torch.float16, torch.bool]),
        (lambda x: x.logsumexp(dim=(0, 2), keepdim=True), aten.logsumexp.default, FLOATS[:1]),
        (lambda x: x.cumsum(dim=1), aten.cumsum.default, [torch.bfloat16, torch.bool]),
        (lambda x: x.cumsum(dim=0, dtype=torch.float32), aten.cumsum.default, [torch.float16, torch.int64]),
        (lambda x: (x / 4).cumprod(dim=-1) if x.is_floating_point() else x.cumprod(dim=-1), aten.cumprod.default,
         FLOATS[:1] + [torch.int64]),
    ],
)
def test_reduction(fn, op, dtypes):
    # the compiled modules stay alive: the runtime caches engines by plan address, which a freed plan of the
    # same size can hand to the next dtype's module
    compiled = []
    for dtype in dtypes:
        x = sample(dtype)
        compiled.append(
            run_test(Fn(fn), [x], expected_ops={op}, expect_engines=1))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.max(dim=1),
        lambda x: x.topk(2, dim=1),
        lambda x: x.var(dim=0),  # the reduced extent is dynamic: the count is computed in the engine
        lambda x: torch.linalg.vector_norm(x, dim=1),
        lambda x: x.logsumexp(dim=-1),
        lambda x: (x > 0).all(dim=1),
        lambda x: x.max(),
    ],
)
def test_reduction_dynamic(fn):
    x = sample(torch.float32)
    run_test(Fn(fn), [x], dynamic_inputs=[dynamic_batch(x.shape)], expect_engines=1)


def test_logsumexp_of_infinities():
    x = torch.tensor([[float("-inf"), float("-inf")], [1.0, float("inf")], [2.0, 3.0]])
    run_test(Fn(lambda x: x.logsumexp(dim=1)), [x], expected_ops={aten.logsumexp.default}, expect_engines=1)


def test_sort_ties_are_stable():
    x = torch.tensor([[3, 1, 3, 1, 2, 3], [0, 0, 0, 1, 1, 1]], dtype=torch.int32)
    run_test(Fn(lambda x: torch.sort(x, stable=True, dim=1, descending=True)), [x], expect_engines=1)
    run_test(Fn(lambda x: torch.sort(x, stable=True, dim=1)), [x], expect_engines=1)


@pytest.mark.parametrize(
    "fn,x,op",
    [
        # empty reductions: eager gives NaN or empty results the engine's reductions do not reproduce
        (lambda x: x.var(dim=1), torch.randn(0, 0), "aten::var.dim"),
        (lambda x: x.sort(dim=1), torch.randn(3, 0), "aten::sort.default"),
        (lambda x: torch.linalg.vector_norm(x, dim=1), torch.randn(3, 0), "aten::linalg_vector_norm.default"),
        (lambda x: x.logsumexp(dim=1), torch.randn(3, 0), "aten::logsumexp.default"),
    ],
)
def test_validator_refuses(fn, x, op):
    info = torch_kiln.dynamo.explain(Fn(fn), [x])
    assert op in {e["target"] for e in info["ops_in_pytorch"].values()}, info["ops_in_pytorch"]
    run_test(Fn(fn), [x])


class Aten(torch.nn.Module):
    def __init__(self, op, *args, **kwargs):
        super().__init__()
        self.op = op
        self.args = args
        self.kwargs = kwargs

    def forward(self, x):
        out = self.op(x, *self.args, **self.kwargs)
        return (out[0], out[1]) if len(self.op._schema.returns) > 1 else out


@pytest.mark.parametrize(
    "op,args,kwargs,dtype",
    [
        (aten.norm.Scalar, (3,), {}, torch.float32),
        (aten.norm.ScalarOpt_dim, (None, [1]), {}, torch.float32),
        (aten.norm.ScalarOpt_dim_dtype, (1, [0, 2], True), {"dtype": torch.float32}, torch.float16),
        (aten.norm.ScalarOpt_dtype, (2,), {"dtype": torch.float32}, torch.bfloat16),
        (aten.var_mean.dim, ([1],), {}, torch.float32),
        (aten.std_mean.dim, ([0, 2], False, True), {}, torch.float32),
        (aten.var_mean.default, (False,), {}, torch.float32),
        (aten.std_mean.default, (), {}, torch.float16),
        (aten.var.default, (), {}, torch.float32),
        (aten.std.default, (False,), {}, torch.float32),
        (aten.std.dim, ([1],), {}, torch.float32),
    ],
)
def test_reduction_aten_overloads(op, args, kwargs, dtype):
    # overloads torch.export turns into others (std() becomes sqrt(var.correction) ...): compiled from an ATen graph
    run_aten_graph(Aten(op, *args, **kwargs), [sample(dtype)], op)
