"""Binary elementwise converters against eager PyTorch: type promotion of tensors and Python numbers, integer
semantics, NaN and infinities, dynamic shapes, and validators that leave unsupported cases to PyTorch."""

import pytest
import torch

import torch_kiln
from harness import run_test

aten = torch.ops.aten


class Fn(torch.nn.Module):
    """fn as a module; forward names its inputs (torch.export's dynamic shapes need names, not *args)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x, y=None, z=None):
        return self.fn(*[t for t in (x, y, z) if t is not None])


def _nonzero(shape, dtype):
    x = torch.randint(1, 7, shape) * (torch.randint(0, 2, shape) * 2 - 1)
    return x.to(dtype) if not dtype.is_floating_point else (x.to(torch.float32) * 0.75).to(dtype)


BINARY = [
    (torch.fmod, aten.fmod.Tensor),
    (lambda a, b: torch.fmod(a, 2.5), aten.fmod.Scalar),
    (lambda a, b: torch.remainder(3, b), aten.remainder.Scalar_Tensor),
    (torch.floor_divide, aten.floor_divide.default),
    (lambda a, b: torch.floor_divide(a, 2), aten.floor_divide.default),
    (torch.fmax, aten.fmax.default),
    (torch.fmin, aten.fmin.default),
    (lambda a, b: torch.pow(2, b), aten.pow.Scalar),
    (torch.atan2, aten.atan2.default),
    (torch.xlogy, aten.xlogy.Tensor),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int32, torch.int64])
@pytest.mark.parametrize("fn,op", BINARY, ids=[f"{c[1]}-{i}" for i, c in enumerate(BINARY)])
def test_binary(fn, op, dtype):
    a = _nonzero((3, 4), dtype)
    b = _nonzero((1, 4), dtype)
    if op is aten.pow.Scalar and not dtype.is_floating_point:
        b = b.abs()  # integer powers with negative exponents are an error in PyTorch
    if op is aten.xlogy.Tensor:
        b = b.abs()  # log of a negative number is NaN, which the harness counts as a mismatch
    run_test(Fn(fn), [a, b], expected_ops={op}, expect_engines=1)


@pytest.mark.parametrize("fn,op", BINARY, ids=[f"{c[1]}-{i}" for i, c in enumerate(BINARY)])
def test_binary_dynamic(fn, op):
    a = _nonzero((3, 4), torch.float32)
    b = _nonzero((1, 4), torch.float32).abs()
    dynamic = [
        torch_kiln.Input(min_shape=(1, 4), opt_shape=(3, 4), max_shape=(6, 4)),
        torch_kiln.Input(shape=(1, 4)),
    ]
    run_test(Fn(fn), [a, b], dynamic_inputs=dynamic, expect_engines=1)


def test_special_values():
    nan, inf = float("nan"), float("inf")
    a = torch.tensor([1.0, -1.0, inf, nan, 5.0, -0.0, 0.0, 2.0, -3.0, inf, -inf, 0.0])
    b = torch.tensor([inf, inf, 2.0, 1.0, nan, -1.0, -1.0, 0.0, 0.0, inf, inf, 0.0])
    for fn, op in BINARY[:1] + [(torch.fmax, aten.fmax.default), (torch.fmin, aten.fmin.default),
                                (torch.atan2, aten.atan2.default), (torch.xlogy, aten.xlogy.Tensor)]:
        module = Fn(fn).eval()
        assert not torch_kiln.dynamo.explain(module, [a, b], min_block_size=1)["ops_in_pytorch"]
        compiled = torch_kiln.compile(module, inputs=[a, b], min_block_size=1)
        torch.testing.assert_close(compiled(a, b), module(a, b), equal_nan=True)
    # atan2 of signed zeros picks the quadrant from the zero's sign, as C's atan2 does.
    y = torch.tensor([0.0, -0.0, 0.0, -0.0, -0.0])
    x = torch.tensor([-0.0, -0.0, 0.0, 0.0, -1.0])
    compiled = torch_kiln.compile(Fn(torch.atan2).eval(), inputs=[y, x], min_block_size=1)
    torch.testing.assert_close(compiled(y, x), torch.atan2(y, x))


def test_mixed_promotion():
    ai = torch.randint(-5, 5, (2, 3), dtype=torch.int32)
    bf = torch.randn(2, 3, dtype=torch.float16)
    run_test(Fn(torch.fmod), [ai, bf], expected_ops={aten.fmod.Tensor}, expect_engines=1)
    run_test(Fn(lambda a: torch.fmod(a, 1.5)), [ai], expected_ops={aten.fmod.Scalar}, expect_engines=1)
    run_test(Fn(torch.atan2), [ai, ai], expected_ops={aten.atan2.default}, expect_engines=1)
    run_test(Fn(lambda a: torch.pow(1.5, a)), [ai], expected_ops={aten.pow.Scalar}, expect_engines=1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_lerp(dtype):
    a = torch.randn(3, 4).to(dtype)
    b = torch.randn(3, 4).to(dtype)
    w = torch.rand(1, 4).to(dtype) * 1.5 - 0.25
    run_test(Fn(lambda a, b: torch.lerp(a, b, 0.3)), [a, b], expected_ops={aten.lerp.Scalar}, expect_engines=1)
    run_test(Fn(lambda a, b: torch.lerp(a, b, 0.8)), [a, b], expected_ops={aten.lerp.Scalar}, expect_engines=1)
    run_test(Fn(torch.lerp), [a, b, w], expected_ops={aten.lerp.Tensor}, expect_engines=1)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int32])
def test_addcmul_addcdiv(dtype):
    s = _nonzero((3, 4), dtype)
    t1 = _nonzero((3, 1), dtype)
    t2 = _nonzero((1, 4), dtype)
    run_test(Fn(lambda s, a, b: torch.addcmul(s, a, b, value=2)), [s, t1, t2], expected_ops={aten.addcmul.default},
             expect_engines=1)
    run_test(Fn(torch.addcmul), [s, t1, t2], expected_ops={aten.addcmul.default}, expect_engines=1)
    if dtype.is_floating_point:
        run_test(Fn(lambda s, a, b: torch.addcdiv(s, a, b, value=0.5)), [s, t1, t2],
                 expected_ops={aten.addcdiv.default}, expect_engines=1)
    dynamic = [torch_kiln.Input(min_shape=(1, 4), opt_shape=(3, 4), max_shape=(6, 4), dtype=dtype),
               torch_kiln.Input(shape=(1, 1), dtype=dtype), torch_kiln.Input(shape=(1, 4), dtype=dtype)]
    run_test(Fn(torch.addcmul), [s, t1[:1], t2], dynamic_inputs=dynamic, expect_engines=1)


def test_where_scalar_branches():
    c = torch.rand(3, 4) > 0.5
    run_test(Fn(lambda c: aten.where.Scalar(c, 1.5, -2)), [c], expected_ops={aten.where.Scalar}, expect_engines=1)
    run_test(Fn(lambda c: aten.where.Scalar(c, 3, 4)), [c], expected_ops={aten.where.Scalar}, expect_engines=1)
