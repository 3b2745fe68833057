"""Unary math converters against eager PyTorch: float dtypes, integer inputs (promoted to float32 or kept),
special values (NaN, infinities, signed zeros) and dynamic shapes."""

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


SPECIAL = torch.tensor([float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 1e-7, -1e-7, 0.5, -0.5, 2.5, -3.5])

# (fn, op, input sampler): the sampler keeps values inside each op's domain.
CASES = [
    (torch.tan, aten.tan.default, lambda s: torch.rand(s) * 2 - 1),
    (torch.asin, aten.asin.default, lambda s: torch.rand(s) * 1.8 - 0.9),
    (torch.acos, aten.acos.default, lambda s: torch.rand(s) * 1.8 - 0.9),
    (torch.atan, aten.atan.default, lambda s: torch.randn(s) * 3),
    (torch.sinh, aten.sinh.default, lambda s: torch.randn(s)),
    (torch.cosh, aten.cosh.default, lambda s: torch.randn(s)),
    (torch.asinh, aten.asinh.default, lambda s: torch.randn(s) * 3),
    (torch.acosh, aten.acosh.default, lambda s: torch.rand(s) * 4 + 1),
    (torch.atanh, aten.atanh.default, lambda s: torch.rand(s) * 1.8 - 0.9),
    (torch.exp2, aten.exp2.default, lambda s: torch.randn(s) * 3),
    (torch.expm1, aten.expm1.default, lambda s: torch.randn(s) * 3),
    (torch.log1p, aten.log1p.default, lambda s: torch.rand(s) * 5 - 0.9),
    (torch.log2, aten.log2.default, lambda s: torch.rand(s) * 10 + 0.01),
    (torch.log10, aten.log10.default, lambda s: torch.rand(s) * 10 + 0.01),
    (torch.trunc, aten.trunc.default, lambda s: torch.randn(s) * 4),
    (torch.frac, aten.frac.default, lambda s: torch.randn(s) * 4),
    (torch.round, aten.round.default, lambda s: torch.randint(-8, 8, s) / 2),
    (lambda x: torch.round(x, decimals=2), aten.round.decimals, lambda s: torch.randn(s) * 4),
    (lambda x: torch.round(x, decimals=-1), aten.round.decimals, lambda s: torch.randn(s) * 40),
    (torch.sign, aten.sign.default, lambda s: torch.randn(s)),
    (torch.sgn, aten.sgn.default, lambda s: torch.randn(s)),
    (torch.deg2rad, aten.deg2rad.default, lambda s: torch.randn(s) * 180),
    (torch.rad2deg, aten.rad2deg.default, lambda s: torch.randn(s) * 3),
    (torch.nan_to_num, aten.nan_to_num.default, lambda s: torch.randn(s)),
]


@pytest.mark.parametrize("fn,op,sample", CASES, ids=[str(c[1]) + f"-{i}" for i, c in enumerate(CASES)])
def test_unary_float32_static_and_dynamic(fn, op, sample):
    x = sample((3, 4))
    run_test(Fn(fn), [x], expected_ops={op}, expect_engines=1)
    dynamic = torch_kiln.Input(min_shape=(1, 4), opt_shape=(3, 4), max_shape=(8, 4))
    run_test(Fn(fn), [x], dynamic_inputs=[dynamic], expect_engines=1)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "fn,op",
    [
        (torch.expm1, aten.expm1.default),
        (torch.log1p, aten.log1p.default),
        (torch.log2, aten.log2.default),
        (torch.trunc, aten.trunc.default),
        (lambda x: torch.round(x, decimals=1), aten.round.decimals),
        (torch.nan_to_num, aten.nan_to_num.default),
    ],
)
def test_unary_half_types(fn, op, dtype):
    # Fixed values away from rounding ties (x*10 ends in .2): eager half kernels on other devices may round
    # the product differently, and a tie would then flip round(x, 1) by a whole step.
    x = (torch.arange(10, dtype=torch.float32).reshape(2, 5) * 0.3 + 0.12).to(dtype)
    run_test(Fn(fn), [x], expected_ops={op}, expect_engines=1)


def check_with_nan(fn, inputs):
    """The whole graph in one engine, compared with NaN == NaN (the harness treats NaN as a mismatch)."""
    module = Fn(fn).eval()
    info = torch_kiln.dynamo.explain(module, inputs, min_block_size=1)
    assert not info["ops_in_pytorch"], info["ops_in_pytorch"]
    compiled = torch_kiln.compile(module, inputs=inputs, min_block_size=1)
    torch.testing.assert_close(compiled(*inputs), module(*inputs), equal_nan=True, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(
    "fn",
    [torch.expm1, torch.log1p, torch.trunc, torch.frac, torch.sign, torch.round, torch.exp2, torch.atan,
     torch.nan_to_num, lambda x: torch.nan_to_num(x, nan=1.5, posinf=7.0, neginf=-7.0)],
)
def test_unary_special_values(fn):
    check_with_nan(fn, [SPECIAL.clone()])


def test_expm1_log1p_keep_relative_accuracy_near_zero():
    x = torch.tensor([1e-6, -1e-6, 3e-5, -3e-5, 1e-9])
    for fn in (torch.expm1, torch.log1p):
        compiled = torch_kiln.compile(Fn(fn).eval(), inputs=[x], min_block_size=1)
        torch.testing.assert_close(compiled(x), fn(x), rtol=1e-5, atol=0)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool])
@pytest.mark.parametrize(
    "fn,op",
    [
        (torch.sign, aten.sign.default),
        (torch.trunc, aten.trunc.default),
        (torch.exp2, aten.exp2.default),
        (torch.log1p, aten.log1p.default),
        (torch.deg2rad, aten.deg2rad.default),
        (torch.nan_to_num, aten.nan_to_num.default),
        (torch.asinh, aten.asinh.default),
    ],
)
def test_unary_integer_and_bool_inputs(fn, op, dtype):
    x = torch.randint(0, 5, (2, 6)).to(dtype)
    try:
        fn(x)
    except RuntimeError:
        pytest.skip("PyTorch itself refuses this dtype")
    run_test(Fn(fn), [x], expected_ops={op}, expect_engines=1)
