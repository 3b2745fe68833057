"""Matrix-product converters (mv, dot, vdot, outer, addmv, baddbmm, addbmm, einsum) against eager PyTorch."""

import pytest
import torch

import torch_kiln
from aten_graph import run_aten_graph
from conftest import DEVICE
from harness import run_test

aten = torch.ops.aten


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


class Fn2(Fn):
    def forward(self, a, b):
        return self.fn(a, b)


class Fn3(Fn):
    def forward(self, a, b, c):
        return self.fn(a, b, c)


def sample(shape, dtype):
    if dtype in (torch.int32, torch.int64):
        return torch.randint(-4, 5, shape, dtype=dtype)
    return torch.randn(shape).to(dtype)


@pytest.mark.parametrize(
    "fn,shapes,op,dtypes",
    [
        (torch.mv, [(3, 5), (5,)], aten.mv.default, [torch.float32, torch.float16, torch.int32]),
        (torch.dot, [(6,), (6,)], aten.dot.default, [torch.float32, torch.bfloat16, torch.int64]),
        (torch.vdot, [(6,), (6,)], aten.vdot.default, [torch.float32]),
        (torch.outer, [(3,), (4,)], aten.outer.default, [torch.float32, torch.float16, torch.int32]),
        (lambda c, m, v: torch.addmv(c, m, v, beta=0.5, alpha=2.0), [(3,), (3, 5), (5,)], aten.addmv.default,
         [torch.float32, torch.float16]),
        (torch.addmv, [(1,), (3, 5), (5,)], aten.addmv.default, [torch.int32]),
        (lambda c, a, b: torch.baddbmm(c, a, b, beta=0.5, alpha=-1.5), [(2, 3, 5), (2, 3, 4), (2, 4, 5)],
         aten.baddbmm.default, [torch.float32, torch.bfloat16]),
        (lambda c, a, b: torch.baddbmm(c, a, b, beta=0), [(5,), (2, 3, 4), (2, 4, 5)], aten.baddbmm.default,
         [torch.float32]),
        (lambda c, a, b: torch.addbmm(c, a, b, alpha=0.5), [(3, 5), (2, 3, 4), (2, 4, 5)], aten.addbmm.default,
         [torch.float32, torch.float16]),
        (torch.addbmm, [(3, 5), (2, 3, 4), (2, 4, 5)], aten.addbmm.default, [torch.int32]),
    ],
)
def test_products(fn, shapes, op, dtypes):
    # the compiled modules stay alive: the runtime caches engines by plan address, which a freed plan of the
    # same size can hand to the next dtype's module
    compiled = []
    for dtype in dtypes:
        if DEVICE == "cuda" and not dtype.is_floating_point:
            continue  # eager PyTorch has no integer mv/dot/addmm kernels on CUDA to compare with
        compiled.append(
            run_test(Fn(fn), [sample(s, dtype) for s in shapes], expected_ops={op}, expect_engines=1))


def test_products_dynamic():
    # the rows of batch1 are dynamic; bias and batch2 broadcast against them
    rows = torch_kiln.Input(min_shape=(2, 1, 4), opt_shape=(2, 3, 4), max_shape=(2, 6, 4))
    xs = [torch.randn(5), torch.randn(2, 3, 4), torch.randn(2, 4, 5)]
    run_test(Fn3(lambda c, a, b: torch.baddbmm(c, a, b, alpha=2)), xs,
             dynamic_inputs=[torch_kiln.Input.from_tensor(xs[0]), rows, torch_kiln.Input.from_tensor(xs[2])],
             expect_engines=1)
    vec = torch_kiln.Input(min_shape=(2,), opt_shape=(5,), max_shape=(8,))
    run_test(Fn2(torch.outer), [torch.randn(5), torch.randn(5)], dynamic_inputs=[vec, vec], expect_engines=1)
    mat = torch_kiln.Input(min_shape=(1, 5), opt_shape=(3, 5), max_shape=(6, 5))
    vector = torch_kiln.Input.from_tensor(torch.randn(5))
    run_test(Fn2(torch.mv), [torch.randn(3, 5), torch.randn(5)], dynamic_inputs=[mat, vector],
             expect_engines=1)


@pytest.mark.skipif(DEVICE == "cuda", reason="eager PyTorch has no integer baddbmm on CUDA")
def test_scaled_integer_product_stays_in_pytorch():
    # alpha != 1 on integer operands would need integer scaling the converter does not do
    fn = Fn(lambda c, a, b: torch.baddbmm(c, a, b, alpha=2))
    xs = [sample(s, torch.int32) for s in [(2, 3, 5), (2, 3, 4), (2, 4, 5)]]
    info = torch_kiln.dynamo.explain(fn, xs)
    assert "aten::baddbmm.default" in {e["target"] for e in info["ops_in_pytorch"].values()}
    run_test(fn, xs)


class Einsum1(torch.nn.Module):
    def __init__(self, equation):
        super().__init__()
        self.equation = equation

    def forward(self, a):
        return aten.einsum.default(self.equation, [a])


class Einsum2(Einsum1):
    def forward(self, a, b):
        return aten.einsum.default(self.equation, [a, b])


class Einsum3(Einsum1):
    def forward(self, a, b, c):
        return aten.einsum.default(self.equation, [a, b, c])


def Einsum(equation):
    return [Einsum1, Einsum2, Einsum3][equation.split("->")[0].count(",")](equation)


@pytest.mark.parametrize(
    "equation,shapes",
    [
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
        ("ij,jk", [(3, 4), (4, 5)]),
        ("i,j->ij", [(3,), (4,)]),
        ("i,i->", [(5,), (5,)]),
        ("ij->ji", [(3, 4)]),
        ("ijk->j", [(2, 3, 4)]),
        ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]),
        ("...ij,...jk->...ik", [(2, 2, 3, 4), (4, 5)]),
        ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
        ("xBy,yz->Bxz", [(2, 3, 4), (4, 5)]),
        ("ij,kj->ik", [(1, 4), (3, 4)]),
    ],
)
def test_einsum(equation, shapes):
    run_aten_graph(Einsum(equation), [torch.randn(s) for s in shapes], aten.einsum.default)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_einsum_dtypes(dtype):
    run_aten_graph(Einsum("bij,bjk->bik"), [torch.randn(2, 3, 4).to(dtype), torch.randn(2, 4, 5).to(dtype)],
                   aten.einsum.default)


def test_einsum_diagonal_stays_in_pytorch():
    run_aten_graph(Einsum("ii->i"), [torch.randn(3, 3)], aten.einsum.default, expect_in_kiln=False)
