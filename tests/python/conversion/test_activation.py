"""Activation converters against eager PyTorch: float dtypes, argument variants, NaN, dynamic shapes, and the
validators that leave unsupported argument values to PyTorch."""

import pytest
import torch
import torch.nn.functional as F

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


CASES = [
    (F.elu, aten.elu.default),
    (lambda x: F.elu(x, alpha=0.5), aten.elu.default),
    (lambda x: aten.elu.default(x, 1.5, 2.0, 0.5), aten.elu.default),
    (F.selu, aten.selu.default),
    (F.celu, aten.celu.default),
    (lambda x: F.celu(x, alpha=2.0), aten.celu.default),
    (F.softplus, aten.softplus.default),
    (lambda x: F.softplus(x, beta=2.0, threshold=1.0), aten.softplus.default),
    (F.mish, aten.mish.default),
    (F.logsigmoid, aten.log_sigmoid.default),
    (lambda x: F.threshold(x, 0.1, -2.0), aten.threshold.default),
    (lambda x: torch.logit(torch.sigmoid(x)), aten.logit.default),
    (lambda x: torch.logit(torch.sigmoid(x * 4), eps=0.1), aten.logit.default),
    (lambda x: F.glu(x, dim=-1), aten.glu.default),
    (lambda x: torch.clamp_min(x, -0.2), aten.clamp_min.default),
    (lambda x: torch.clamp_max(x, 0.3), aten.clamp_max.default),
]


@pytest.mark.parametrize("fn,op", CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_activation_static_and_dynamic(fn, op):
    x = torch.randn(3, 4) * 3
    run_test(Fn(fn), [x], expected_ops={op}, expect_engines=1)
    dynamic = torch_kiln.Input(min_shape=(1, 4), opt_shape=(3, 4), max_shape=(8, 4))
    run_test(Fn(fn), [x], dynamic_inputs=[dynamic], expect_engines=1)
    # NaN propagates as in PyTorch (the harness counts NaN as a mismatch, so compare here).
    x[0, 0] = float("nan")
    module = Fn(fn).eval()
    compiled = torch_kiln.compile(module, inputs=[x], min_block_size=1)
    torch.testing.assert_close(compiled(x), module(x), equal_nan=True, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize(
    "fn,op",
    [
        (F.elu, aten.elu.default),
        (F.softplus, aten.softplus.default),
        (F.mish, aten.mish.default),
        (F.logsigmoid, aten.log_sigmoid.default),
        (lambda x: torch.logit(torch.sigmoid(x)), aten.logit.default),
        (lambda x: F.glu(x, dim=1), aten.glu.default),
    ],
)
def test_activation_half_types(fn, op, dtype):
    x = (torch.randn(2, 6) * 2).to(dtype)
    run_test(Fn(fn), [x], expected_ops={op}, expect_engines=1)


def test_prelu_per_channel_and_shared():
    for channels in (3, 1):
        module = torch.nn.PReLU(channels)
        with torch.no_grad():
            module.weight.copy_(torch.linspace(-0.5, 0.5, channels))
        x = torch.randn(2, 3, 4, 4)
        run_test(module, [x], expected_ops={aten.prelu.default}, expect_engines=1)
        dynamic = torch_kiln.Input(min_shape=(1, 3, 4, 4), opt_shape=(2, 3, 4, 4), max_shape=(4, 3, 4, 4))
        run_test(module, [x], dynamic_inputs=[dynamic], expect_engines=1)


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64])
def test_threshold_and_clamp_of_integers(dtype):
    x = torch.randint(-6, 6, (3, 5), dtype=dtype)
    run_test(Fn(lambda x: F.threshold(x, 1.5, 7.0)), [x], expected_ops={aten.threshold.default}, expect_engines=1)
    run_test(Fn(lambda x: torch.clamp_min(x, -2)), [x], expected_ops={aten.clamp_min.default}, expect_engines=1)
    run_test(Fn(lambda x: torch.clamp_max(x, 2.5)), [x], expected_ops={aten.clamp_max.default}, expect_engines=1)


def test_clamp_tensor_bounds():
    lo = torch.full((4,), -0.5)
    hi = torch.tensor([0.1, 0.2, -1.0, 1.0])
    x = torch.randn(3, 4)
    run_test(Fn(lambda x, lo, hi: torch.clamp(x, lo, hi)), [x, lo, hi], expected_ops={aten.clamp.Tensor},
             expect_engines=1)
    run_test(Fn(lambda x, lo: torch.clamp_min(x, lo)), [x, lo], expected_ops={aten.clamp_min.Tensor},
             expect_engines=1)
    run_test(Fn(lambda x, hi: torch.clamp_max(x, hi)), [x, hi], expected_ops={aten.clamp_max.Tensor},
             expect_engines=1)
    xi = torch.randint(-5, 5, (3, 4), dtype=torch.int32)
    run_test(Fn(lambda x, lo: torch.clamp_min(x, lo)), [xi, lo], expected_ops={aten.clamp_min.Tensor},
             expect_engines=1)


def _in_pytorch(module, inputs, name):
    info = torch_kiln.dynamo.explain(module, inputs, min_block_size=1)
    return [v for v in info["ops_in_pytorch"].values() if name in v["target"]]


def test_unsupported_arguments_stay_in_pytorch():
    x = torch.randn(2, 5)
    # elu with a negative input_scale is refused, and the compiled result still matches.
    assert _in_pytorch(Fn(lambda x: aten.elu.default(x, 1.0, 1.0, -1.0)), [x], "elu")
    module = Fn(lambda x: aten.elu.default(x, 1.0, 1.0, -1.0) + 1)
    compiled = torch_kiln.compile(module.eval(), inputs=[x], min_block_size=1)
    torch.testing.assert_close(compiled(x), module(x))
