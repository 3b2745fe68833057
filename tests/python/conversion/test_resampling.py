"""Resampling converters (nearest, nearest-exact, linear, bilinear, bicubic, trilinear; .default and .vec; with
and without align_corners; sizes and scale factors) against eager PyTorch, static and dynamic batch."""

import pytest
import torch
import torch.nn.functional as F

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


def dyn(opt, dtype=torch.float32):
    return torch_kiln.Input(min_shape=(1,) + opt[1:], opt_shape=opt, max_shape=(4,) + opt[1:], dtype=dtype)


SHAPES = {1: (2, 3, 7), 2: (2, 3, 5, 7), 3: (2, 2, 3, 4, 5)}
# (mode, spatial dims, align_corners, the overload a size gives, the overload a scale factor gives)
CASES = [
    ("nearest", 1, None, aten.upsample_nearest1d.default, aten.upsample_nearest1d.vec),
    ("nearest", 2, None, aten.upsample_nearest2d.default, aten.upsample_nearest2d.vec),
    ("nearest", 3, None, aten.upsample_nearest3d.default, aten.upsample_nearest3d.vec),
    ("nearest-exact", 1, None, aten._upsample_nearest_exact1d.default, aten._upsample_nearest_exact1d.vec),
    ("nearest-exact", 2, None, aten._upsample_nearest_exact2d.default, aten._upsample_nearest_exact2d.vec),
    ("nearest-exact", 3, None, aten._upsample_nearest_exact3d.default, aten._upsample_nearest_exact3d.vec),
    ("linear", 1, False, aten.upsample_linear1d.default, aten.upsample_linear1d.vec),
    ("linear", 1, True, aten.upsample_linear1d.default, aten.upsample_linear1d.vec),
    ("bilinear", 2, False, aten.upsample_bilinear2d.default, aten.upsample_bilinear2d.vec),
    ("bilinear", 2, True, aten.upsample_bilinear2d.default, aten.upsample_bilinear2d.vec),
    ("bicubic", 2, False, aten.upsample_bicubic2d.default, aten.upsample_bicubic2d.vec),
    ("bicubic", 2, True, aten.upsample_bicubic2d.default, aten.upsample_bicubic2d.vec),
    ("trilinear", 3, False, aten.upsample_trilinear3d.default, aten.upsample_trilinear3d.vec),
]


def _call(mode, align, **kw):
    extra = {} if align is None else {"align_corners": align}
    return lambda x: F.interpolate(x, mode=mode, **kw, **extra)


@pytest.mark.parametrize("mode,spatial,align,size_op,scale_op", CASES, ids=[f"{c[0]}{c[1]}d-{c[2]}" for c in CASES])
def test_interpolate_by_size_and_by_scale(mode, spatial, align, size_op, scale_op):
    shape = SHAPES[spatial]
    x = torch.randn(shape)
    by_size = _call(mode, align, size=(9, 4, 6)[:spatial])
    by_scale = _call(mode, align, scale_factor=(2.0, 1.5, 0.5)[:spatial])
    ops = {o for o in (size_op, scale_op) if o not in get_decompositions()}
    both = Fn(lambda x: by_size(x).sum() + by_scale(x).sum())
    lowered = {n.target for n in torch_kiln.dynamo.lower_module(both.eval(), [x]).graph.nodes}
    assert ops & lowered, f"expected one of {ops} in the lowered graph, got {lowered}"
    for fn in (by_size, by_scale):
        run_test(Fn(fn), [x], expect_engines=1)
        run_test(Fn(fn), [x], dynamic_inputs=[dyn(shape)], expect_engines=1)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_types(dtype):
    x = torch.randn(1, 2, 4, 5).to(dtype)
    run_test(Fn(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear")), [x], expect_engines=1)
    run_test(Fn(lambda x: F.interpolate(x, size=(7, 3), mode="nearest")), [x], expect_engines=1)


@needs_kept(aten.upsample_nearest2d.vec)
def test_nearest_of_integers():
    x = torch.randint(0, 9, (1, 2, 3, 4), dtype=torch.uint8)
    run_test(Fn(lambda x: torch.ops.aten.upsample_nearest2d.vec(x, [5, 6], None)), [x],
             expected_ops={aten.upsample_nearest2d.vec}, expect_engines=1)


@needs_kept(aten.upsample_bilinear2d.vec)
def test_bilinear_of_integers_is_refused():
    x = torch.randint(0, 9, (1, 2, 3, 4), dtype=torch.uint8)
    fn = Fn(lambda x: torch.ops.aten.upsample_bilinear2d.vec(x, [5, 6], False, None))
    info = torch_kiln.dynamo.explain(fn, [x])
    assert any(r["target"] == "aten::upsample_bilinear2d.vec" for r in info["ops_in_pytorch"].values()), info
