"""Pooling converters in 1-3 spatial dims against eager PyTorch: max and average pooling (ceil_mode,
count_include_pad, divisor_override), adaptive average and max pooling with even and uneven windows."""

import pytest
import torch

import torch_kiln
from aten_graph import run_aten_graph
from harness import run_test

aten = torch.ops.aten
F = torch.nn.functional


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


FLOATS = [torch.float32, torch.float16, torch.bfloat16]


@pytest.mark.parametrize(
    "fn,shape,op,dtypes",
    [
        (lambda x: F.max_pool3d(x, 2), (2, 3, 4, 6, 6), aten.max_pool3d.default, FLOATS),
        (lambda x: F.max_pool3d(x, 3, stride=2, padding=1, ceil_mode=True), (1, 2, 5, 6, 7),
         aten.max_pool3d.default, FLOATS[:1]),
        (lambda x: F.max_pool3d(x, 2, return_indices=True)[0], (1, 2, 4, 4, 4), aten.max_pool3d_with_indices.default,
         FLOATS[:1]),
        # eager avg_pool3d has no half-precision CPU kernel
        (lambda x: F.avg_pool3d(x, 2), (2, 3, 4, 6, 6), aten.avg_pool3d.default, FLOATS[:1]),
        (lambda x: F.avg_pool3d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (1, 2, 5, 6, 7),
         aten.avg_pool3d.default, FLOATS[:1]),
        (lambda x: F.avg_pool3d(x, 2, divisor_override=3), (1, 2, 4, 4, 4), aten.avg_pool3d.default, FLOATS[:1]),
        (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, divisor_override=5), (2, 3, 7, 8),
         aten.avg_pool2d.default, FLOATS),
        (lambda x: F.adaptive_avg_pool2d(x, (3, 5)), (2, 3, 7, 11), aten.adaptive_avg_pool2d.default, FLOATS),
        (lambda x: F.adaptive_avg_pool3d(x, (2, 3, 1)), (1, 2, 5, 6, 4), aten.adaptive_avg_pool3d.default,
         FLOATS[:1]),
        (lambda x: F.adaptive_avg_pool3d(x, 1), (1, 2, 5, 6, 4), aten.adaptive_avg_pool3d.default, FLOATS[1:2]),
        (lambda x: F.adaptive_max_pool2d(x, (3, 4)), (2, 3, 7, 8), aten.adaptive_max_pool2d.default, FLOATS),
        (lambda x: F.adaptive_max_pool2d(x, 1), (2, 3, 7, 8), aten.adaptive_max_pool2d.default, FLOATS[:1]),
        (lambda x: F.adaptive_max_pool3d(x, (2, 2, 3)), (1, 2, 4, 6, 6), aten.adaptive_max_pool3d.default,
         FLOATS[:2]),
    ],
)
def test_pooling(fn, shape, op, dtypes):
    # the compiled modules stay alive: the runtime caches engines by plan address, which a freed plan of the
    # same size can hand to the next dtype's module
    compiled = []
    for dtype in dtypes:
        compiled.append(
            run_test(Fn(fn), [torch.randn(shape).to(dtype)], expected_ops={op}, expect_engines=1))


@pytest.mark.parametrize(
    "fn,shape",
    [
        (lambda x: F.max_pool3d(x, 2), (2, 3, 4, 6, 6)),
        (lambda x: F.avg_pool3d(x, 2, stride=1), (2, 3, 4, 6, 6)),
        (lambda x: F.adaptive_max_pool2d(x, (2, 3)), (2, 3, 6, 6)),
        (lambda x: F.adaptive_avg_pool2d(x, (3, 5)), (2, 3, 7, 11)),
    ],
)
def test_pooling_dynamic_batch(fn, shape):
    spec = torch_kiln.Input(min_shape=(1,) + shape[1:], opt_shape=shape, max_shape=(4,) + shape[1:])
    run_test(Fn(fn), [torch.randn(shape)], dynamic_inputs=[spec], expect_engines=1)


class Aten(torch.nn.Module):
    def __init__(self, op, *args):
        super().__init__()
        self.op = op
        self.args = args

    def forward(self, x):
        out = self.op(x, *self.args)
        return out[0] if len(self.op._schema.returns) > 1 else out


@pytest.mark.parametrize(
    "op,args,shape",
    [
        (aten._adaptive_avg_pool2d.default, ([3, 4],), (2, 3, 7, 9)),
        (aten._adaptive_avg_pool3d.default, ([2, 3, 2],), (1, 2, 4, 7, 5)),
        (aten.max_pool1d.default, ([3], [2], [1], [1], True), (2, 3, 9)),
        (aten.max_pool1d_with_indices.default, ([2],), (2, 3, 8)),
        (aten.max_pool3d.default, ([2, 2, 2], [1, 2, 2]), (1, 2, 4, 6, 6)),
        (aten.avg_pool1d.default, ([3], [2], [1], False, False), (2, 3, 9)),
        (aten.adaptive_avg_pool1d.default, ([4],), (2, 3, 10)),
        (aten.adaptive_avg_pool3d.default, ([2, 2, 2],), (1, 2, 4, 6, 5)),
        (aten.adaptive_max_pool1d.default, ([3],), (2, 3, 10)),
    ],
)
def test_pooling_aten_overloads(op, args, shape):
    # overloads torch.export decomposes or never produces (F.max_pool1d becomes max_pool2d ...): compiled from an
    # ATen graph
    run_aten_graph(Aten(op, *args), [torch.randn(shape)], op)


def test_validator_refuses():
    # dilated max pooling and a divisor with ceil_mode stay in PyTorch
    x = torch.randn(1, 2, 9, 9)
    for fn, target in [
        (lambda x: F.max_pool2d(x, 3, dilation=2), "aten::max_pool2d.default"),
        (lambda x: F.avg_pool2d(x, 2, ceil_mode=True, divisor_override=3), "aten::avg_pool2d.default"),
    ]:
        info = torch_kiln.dynamo.explain(Fn(fn), [x])
        assert target in {e["target"] for e in info["ops_in_pytorch"].values()}, info
        run_test(Fn(fn), [x])
    # the indices of adaptive max pooling are not computed: a node whose indices are read stays in PyTorch
    fn = Fn(lambda x: F.adaptive_max_pool2d(x, 3, return_indices=True)[1])
    info = torch_kiln.dynamo.explain(fn, [x])
    assert "aten::adaptive_max_pool2d.default" in {e["target"] for e in info["ops_in_pytorch"].values()}, info
    run_test(fn, [x])
