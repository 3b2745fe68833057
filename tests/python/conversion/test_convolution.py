"""Convolution converters (convolution, _convolution, conv1d/2d/3d with int and "same"/"valid" padding,
conv_transpose1d/2d/3d) against eager PyTorch."""

import pytest
import torch

import torch_kiln
from aten_graph import run_aten_graph
from harness import run_test

aten = torch.ops.aten
F = torch.nn.functional


class Conv(torch.nn.Module):
    """fn(x, weight, bias) with the weights as parameters (they reach the converter as known data)."""

    def __init__(self, fn, weight_shape, bias=True):
        super().__init__()
        self.fn = fn
        self.weight = torch.nn.Parameter(torch.randn(weight_shape) * 0.3)
        self.bias = torch.nn.Parameter(torch.randn(weight_shape[0])) if bias else None

    def forward(self, x):
        return self.fn(x, self.weight, self.bias)


def conv_t(fn, shape, bias_channels):
    m = Conv(fn, shape, bias=False)
    m.bias = torch.nn.Parameter(torch.randn(bias_channels))
    return m


@pytest.mark.parametrize(
    "make,x_shape,op",
    [
        (lambda: Conv(lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), (4, 3, 3)), (2, 3, 10),
         aten.conv1d.default),
        (lambda: Conv(lambda x, w, b: F.conv2d(x, w, b, padding=(1, 2), dilation=(1, 2)), (4, 3, 3, 3)), (2, 3, 8, 9),
         aten.conv2d.default),
        (lambda: Conv(lambda x, w, b: F.conv2d(x, w, b, groups=3), (6, 1, 3, 3), bias=False), (1, 3, 6, 6),
         aten.conv2d.default),
        (lambda: Conv(lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 2)), (4, 2, 2, 3, 3)), (1, 2, 4, 6, 6),
         aten.conv3d.default),
        (lambda: Conv(lambda x, w, b: F.conv2d(x, w, b, padding="same"), (4, 3, 4, 3)), (2, 3, 7, 8),
         aten.conv2d.padding),
        (lambda: Conv(lambda x, w, b: F.conv1d(x, w, b, padding="same", dilation=2), (4, 3, 3)), (2, 3, 9),
         aten.conv1d.padding),
        (lambda: Conv(lambda x, w, b: F.conv3d(x, w, b, padding="valid"), (2, 2, 2, 2, 2)), (1, 2, 4, 4, 4),
         aten.conv3d.padding),
        (lambda: conv_t(lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
                        (3, 4, 3), 4), (2, 3, 6), aten.conv_transpose1d.default),
        (lambda: conv_t(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, groups=2), (4, 3, 3, 3), 6),
         (1, 4, 5, 5), aten.conv_transpose2d.input),
        (lambda: conv_t(lambda x, w, b: F.conv_transpose3d(x, w, b, stride=(1, 2, 2), padding=1), (2, 3, 3, 3, 3), 3),
         (1, 2, 3, 4, 4), aten.conv_transpose3d.input),
    ],
)
def test_convolution(make, x_shape, op):
    torch.manual_seed(0)
    run_test(make(), [torch.randn(x_shape)], expected_ops={op}, expect_engines=1)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_convolution_dtypes(dtype):
    m = Conv(lambda x, w, b: F.conv2d(x, w, b, padding="same"), (4, 3, 3, 3)).to(dtype)
    run_test(m, [torch.randn(2, 3, 6, 6).to(dtype)], expected_ops={aten.conv2d.padding}, expect_engines=1)
    m = conv_t(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2), (3, 4, 2, 2), 4).to(dtype)
    run_test(m, [torch.randn(1, 3, 4, 4).to(dtype)], expected_ops={aten.conv_transpose2d.input}, expect_engines=1)


def test_convolution_dynamic_batch():
    m = Conv(lambda x, w, b: F.conv2d(x, w, b, padding="same"), (4, 3, 2, 3))
    spec = torch_kiln.Input(min_shape=(1, 3, 6, 6), opt_shape=(2, 3, 6, 6), max_shape=(4, 3, 6, 6))
    run_test(m, [torch.randn(2, 3, 6, 6)], dynamic_inputs=[spec], expect_engines=1)
    m = conv_t(lambda x, w, b: F.conv_transpose1d(x, w, b, stride=2), (3, 4, 3), 4)
    spec = torch_kiln.Input(min_shape=(1, 3, 5), opt_shape=(2, 3, 5), max_shape=(4, 3, 5))
    run_test(m, [torch.randn(2, 3, 5)], dynamic_inputs=[spec], expect_engines=1)


class Underscore(torch.nn.Module):
    def __init__(self, deprecated):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(4, 3, 3, 3))
        self.bias = torch.nn.Parameter(torch.randn(4))
        self.deprecated = deprecated

    def forward(self, x):
        args = (x, self.weight, self.bias, [2, 1], [1, 0], [1, 1], False, [0, 0], 1, False, False, True)
        if self.deprecated:
            return aten._convolution.deprecated(*args)
        return aten._convolution.default(*args, True)


@pytest.mark.parametrize("deprecated", [False, True])
def test_underscore_convolution(deprecated):
    op = aten._convolution.deprecated if deprecated else aten._convolution.default
    run_aten_graph(Underscore(deprecated), [torch.randn(1, 3, 7, 6)], op)


def test_weight_of_dynamic_shape_stays_in_pytorch():
    class M(torch.nn.Module):
        def forward(self, x, w):
            return F.conv2d(x, w, padding=1)

    x = torch.randn(1, 3, 6, 6)
    w = torch_kiln.Input(min_shape=(1, 3, 3, 3), opt_shape=(4, 3, 3, 3), max_shape=(8, 3, 3, 3))
    info = torch_kiln.dynamo.explain(M(), [x, w])
    assert "aten::conv2d.default" in {e["target"] for e in info["ops_in_pytorch"].values()}, info
    run_test(M(), [x, torch.randn(4, 3, 3, 3)], dynamic_inputs=[torch_kiln.Input.from_tensor(x), w])
