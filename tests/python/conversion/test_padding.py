"""Padding converters (constant_pad_nd, reflection/replication padding 1-3d, circular padding) against eager
PyTorch, static and dynamic shapes, several dtypes, and the validator refusing pads PyTorch would reject."""

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


def dyn(opt, lo=1, hi=6, dtype=torch.float32):
    return torch_kiln.Input(min_shape=(lo,) + opt[1:], opt_shape=opt, max_shape=(hi,) + opt[1:], dtype=dtype)


@needs_kept(aten.constant_pad_nd.default)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.int32, torch.bool])
def test_constant_pad(dtype):
    x = (torch.randn(2, 3, 4, 5) * 4).to(dtype)
    value = True if dtype == torch.bool else 3
    fn = Fn(lambda x: torch.constant_pad_nd(x, (1, 2, 0, 3), value))
    run_test(fn, [x], expected_ops={aten.constant_pad_nd.default}, expect_engines=1)
    crop = Fn(lambda x: torch.constant_pad_nd(x, (-1, 2, 1, -2)))  # negative pads crop
    run_test(crop, [x], expected_ops={aten.constant_pad_nd.default}, expect_engines=1)
    run_test(fn, [x], dynamic_inputs=[dyn((2, 3, 4, 5), dtype=dtype)], expect_engines=1)


# The mode-specific overloads, called directly (F.pad produces aten.pad, tested below).
MODES = [
    (aten.reflection_pad1d.default, 1),
    (aten.reflection_pad2d.default, 2),
    (aten.reflection_pad3d.default, 3),
    (aten.replication_pad1d.default, 1),
    (aten.replication_pad2d.default, 2),
    (aten.replication_pad3d.default, 3),
    (aten._pad_circular.default, 2),
]


@pytest.mark.parametrize("op,spatial", [pytest.param(*m, marks=needs_kept(m[0]), id=str(m[0])) for m in MODES])
def test_mode_pads(op, spatial):
    shape = (2, 3) + (4, 5, 6)[:spatial]
    pads = [2, 1, 0, 3, 1, 1][: 2 * spatial]
    fn = Fn(lambda x: op(x, pads))
    x = torch.randn(shape)
    run_test(fn, [x], expected_ops={op}, expect_engines=1)
    run_test(fn, [x], dynamic_inputs=[dyn(shape)], expect_engines=1)


@needs_kept(aten.pad.default)
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_functional_pad(mode):
    x = torch.randn(2, 2, 5, 5)
    fn = Fn(lambda x: F.pad(x, (2, 2, 1, 0), mode=mode))
    run_test(fn, [x], expected_ops={aten.pad.default}, expect_engines=1)
    run_test(fn, [x], dynamic_inputs=[dyn((2, 2, 5, 5))], expect_engines=1)


@needs_kept(aten.pad.default)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_functional_pad_half_types(dtype):
    x = torch.randn(1, 2, 5, 5).to(dtype)
    fn = Fn(lambda x: torch.cat([F.pad(x, (2, 2, 1, 0), mode="reflect"), F.pad(x, (2, 2, 1, 0), value=1.5)], 1))
    run_test(fn, [x], expected_ops={aten.pad.default}, expect_engines=1)


@needs_kept(aten.constant_pad_nd.default)
def test_pad_by_a_computed_amount_is_refused():
    # A pad computed from a dynamic extent is a SymInt the engine does not have: the node stays in PyTorch.
    fn = Fn(lambda x: torch.constant_pad_nd(x, (x.shape[0], 0)) * 2)
    spec = torch_kiln.Input(min_shape=(2, 3), opt_shape=(3, 3), max_shape=(6, 3))
    info = torch_kiln.dynamo.explain(fn, [spec])
    assert any(row["target"] == "aten::constant_pad_nd.default" for row in info["ops_in_pytorch"].values()), info
    x = torch.randn(4, 3)
    compiled = torch_kiln.compile(fn, inputs=[spec], min_block_size=1)
    torch.testing.assert_close(compiled(x), fn(x))
