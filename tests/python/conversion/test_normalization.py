"""Normalization converters against eager PyTorch: batch norm forms (inference and batch statistics),
group norm, instance norm, RMS norm."""

import pytest
import torch

import torch_kiln
from aten_graph import run_aten_graph
from harness import DEVICE, run_test

aten = torch.ops.aten
F = torch.nn.functional
FLOATS = [torch.float32, torch.float16, torch.bfloat16]


class Norm(torch.nn.Module):
    def __init__(self, fn, channels=4, affine=True):
        super().__init__()
        self.fn = fn
        self.weight = torch.nn.Parameter(torch.rand(channels) + 0.5) if affine else None
        self.bias = torch.nn.Parameter(torch.randn(channels)) if affine else None
        self.register_buffer("mean", torch.randn(channels))
        self.register_buffer("var", torch.rand(channels) + 0.5)

    def forward(self, x):
        return self.fn(self, x)


@pytest.mark.parametrize(
    "fn,shape,op,dtypes",
    [
        (lambda m, x: F.group_norm(x, 2, m.weight, m.bias), (2, 4, 5, 6), aten.group_norm.default, FLOATS),
        (lambda m, x: F.group_norm(x, 1), (2, 4, 5), aten.group_norm.default, FLOATS[:1]),
        (lambda m, x: F.group_norm(x, 4, m.weight, None, eps=1e-3), (2, 4, 3, 3, 3), aten.group_norm.default,
         FLOATS[:1]),
        (lambda m, x: F.instance_norm(x, weight=m.weight, bias=m.bias), (2, 4, 5, 6), aten.instance_norm.default,
         FLOATS),
        (lambda m, x: F.instance_norm(x, m.mean, m.var, use_input_stats=False), (2, 4, 7),
         aten.instance_norm.default, FLOATS[:1]),
        (lambda m, x: F.batch_norm(x, None, None, m.weight, m.bias, training=True), (3, 4, 5, 5),
         aten._native_batch_norm_legit.no_stats, FLOATS),
        (lambda m, x: F.rms_norm(x, [6], m.weight[:1].expand(6)), (2, 3, 6), aten.rms_norm.default, FLOATS),
        (lambda m, x: F.rms_norm(x, [5, 6], eps=1e-3), (2, 5, 6), aten.rms_norm.default, FLOATS[:1]),
    ],
)
def test_normalization(fn, shape, op, dtypes):
    # the compiled modules stay alive: the runtime caches engines by plan address, which a freed plan of the
    # same size can hand to the next dtype's module
    compiled = []
    for dtype in dtypes:
        m = Norm(fn, channels=shape[1]).to(dtype)
        compiled.append(
            run_test(m, [torch.randn(shape).to(dtype)], expected_ops={op}, expect_engines=1))


@pytest.mark.parametrize(
    "fn,shape",
    [
        (lambda m, x: F.group_norm(x, 2, m.weight, m.bias), (2, 4, 5, 6)),
        (lambda m, x: F.instance_norm(x, weight=m.weight, bias=m.bias), (2, 4, 5, 6)),
        (lambda m, x: F.rms_norm(x, [6]), (2, 4, 6)),
    ],
)
def test_normalization_dynamic_batch(fn, shape):
    spec = torch_kiln.Input(min_shape=(1,) + shape[1:], opt_shape=shape, max_shape=(4,) + shape[1:])
    run_test(Norm(fn, channels=shape[1]), [torch.randn(shape)], dynamic_inputs=[spec], expect_engines=1)


class Aten(torch.nn.Module):
    def __init__(self, op, make_args, channels=4):
        super().__init__()
        self.op = op
        self.make_args = make_args
        self.weight = torch.nn.Parameter(torch.rand(channels) + 0.5)
        self.bias = torch.nn.Parameter(torch.randn(channels))
        self.register_buffer("mean", torch.randn(channels))
        self.register_buffer("var", torch.rand(channels) + 0.5)

    def forward(self, x):
        out = self.op(*self.make_args(self, x))
        return out[0] if len(self.op._schema.returns) > 1 else out


@pytest.mark.parametrize(
    "op,make_args",
    [
        (aten._native_batch_norm_legit.no_stats, lambda m, x: (x, m.weight, m.bias, True, 0.1, 1e-5)),
        (aten._native_batch_norm_legit.default, lambda m, x: (x, m.weight, m.bias, m.mean, m.var, False, 0.1, 1e-5)),
        (aten._batch_norm_no_update.default, lambda m, x: (x, m.weight, m.bias, m.mean, m.var, 0.1, 1e-3)),
        (aten.batch_norm.default, lambda m, x: (x, m.weight, m.bias, m.mean, m.var, False, 0.1, 1e-5, False)),
        (aten.batch_norm.default, lambda m, x: (x, None, m.bias, None, None, True, 0.1, 1e-5, False)),
        (aten.native_group_norm.default, lambda m, x: (x, m.weight, m.bias, 2, 4, 30, 2, 1e-5)),
        (aten._fused_rms_norm.default, lambda m, x: (x, [6], None, None)),
    ],
)
def test_normalization_aten_overloads(op, make_args):
    if op == aten._batch_norm_no_update.default and DEVICE == "cuda":
        pytest.skip("eager PyTorch runs _batch_norm_no_update on the CPU only: no CUDA reference")
    run_aten_graph(Aten(op, make_args), [torch.randn(2, 4, 5, 6)], op)


def test_training_batch_norm_with_running_stats_stays_in_pytorch():
    # it would update the running statistics
    m = Aten(aten._native_batch_norm_legit.default, lambda m, x: (x, m.weight, m.bias, m.mean, m.var, True, 0.1, 1e-5))
    run_aten_graph(m, [torch.randn(3, 4, 5)], aten._native_batch_norm_legit.default, expect_in_kiln=False)


class SafeSoftmax(torch.nn.Module):
    def forward(self, x):
        return aten._safe_softmax.default(x, -1)


@pytest.mark.parametrize("dtype", FLOATS)
def test_safe_softmax(dtype):
    # the softmax of attention: a fully masked row gives zeros, not NaN
    x = torch.randn(2, 3, 5)
    x[0, 1] = float("-inf")
    x[1, 2, :2] = float("-inf")
    run_aten_graph(SafeSoftmax(), [x.to(dtype)], aten._safe_softmax.default)
