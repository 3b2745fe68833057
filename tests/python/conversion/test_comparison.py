"""Value tests (isinf/isnan/isfinite/isposinf/isneginf) and bitwise ops on bool tensors against eager PyTorch;
integer bitwise ops stay in PyTorch."""

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


SPECIAL = torch.tensor([[float("nan"), float("inf"), float("-inf"), 0.0], [-1.5, 2.0, -0.0, 3e38]])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.int32, torch.bool])
@pytest.mark.parametrize(
    "fn,op",
    [
        (torch.isinf, aten.isinf.default),
        (torch.isnan, aten.isnan.default),
        (torch.isfinite, aten.isfinite.default),
        (torch.isposinf, aten.isposinf.default),
        (torch.isneginf, aten.isneginf.default),
    ],
)
def test_value_tests(fn, op, dtype):
    x = SPECIAL.to(dtype) if dtype.is_floating_point else torch.randint(0, 3, (2, 4)).to(dtype)
    run_test(Fn(fn), [x], expected_ops={op}, expect_engines=1)


def test_value_tests_dynamic():
    x = SPECIAL.clone()
    dynamic = torch_kiln.Input(min_shape=(1, 4), opt_shape=(2, 4), max_shape=(5, 4))
    run_test(Fn(lambda x: torch.isfinite(x) & ~torch.isposinf(x)), [x], dynamic_inputs=[dynamic], expect_engines=1)


@pytest.mark.parametrize(
    "fn,op",
    [
        (lambda a, b: a & b, aten.bitwise_and.Tensor),
        (lambda a, b: a | b, aten.bitwise_or.Tensor),
        (lambda a, b: a ^ b, aten.bitwise_xor.Tensor),
        (lambda a, b: a & True, aten.bitwise_and.Scalar),
        (lambda a, b: b | False, aten.bitwise_or.Scalar),
        (lambda a, b: a ^ True, aten.bitwise_xor.Scalar),
        (lambda a, b: ~a | b, aten.bitwise_not.default),
    ],
)
def test_bitwise_bool(fn, op):
    a = torch.rand(3, 4) > 0.5
    b = torch.rand(1, 4) > 0.5
    run_test(Fn(fn), [a, b], expected_ops={op}, expect_engines=1)
    dynamic = [
        torch_kiln.Input(min_shape=(1, 4), opt_shape=(3, 4), max_shape=(6, 4), dtype=torch.bool),
        torch_kiln.Input(shape=(1, 4), dtype=torch.bool),
    ]
    run_test(Fn(fn), [a, b], dynamic_inputs=dynamic, expect_engines=1)


def test_bitwise_scalar_tensor_overloads():
    a = torch.rand(2, 3) > 0.5
    for op in (aten.bitwise_and.Scalar_Tensor, aten.bitwise_or.Scalar_Tensor, aten.bitwise_xor.Scalar_Tensor):
        run_test(Fn(lambda x, op=op: op(True, x)), [a], expected_ops={op}, expect_engines=1)


def test_integer_bitwise_stays_in_pytorch():
    x = torch.randint(-8, 8, (2, 3), dtype=torch.int32)
    module = Fn(lambda x: (x & 6) + 1)
    info = torch_kiln.dynamo.explain(module, [x])
    assert any("bitwise_and" in v["target"] for v in info["ops_in_pytorch"].values())
    compiled = torch_kiln.compile(module.eval(), inputs=[x], min_block_size=1)
    torch.testing.assert_close(compiled(x), module(x))
