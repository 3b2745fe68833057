"""Writes into views after functionalization (`y[a:b] = v` -> slice, copy, slice_scatter): aten::copy and
aten::slice_scatter against eager PyTorch, static and dynamic shapes, and the validator keeping strided
(step > 1) scatters in PyTorch."""

import pytest
import torch

import torch_kiln
from harness import DEVICE, run_test

aten = torch.ops.aten


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def region_mask(x):
    # The shifted-window mask of Swin: regions of a zero map numbered by slice assignment.
    mask = x.new_zeros((x.shape[-2], x.shape[-1]))
    count = 0
    for h in ((0, -3), (-3, -1), (-1, None)):
        for w in ((0, -2), (-2, None)):
            mask[h[0]:h[1], w[0]:w[1]] = count
            count += 1
    return x + mask


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.int32])
def test_slice_assignments(dtype):
    x = (torch.randn(2, 6, 5) * 4).to(dtype)
    run_test(Fn(region_mask), [x], expected_ops={aten.slice_scatter.default, aten.copy.default}, expect_engines=1)


def test_slice_assignment_of_a_tensor_dynamic_batch():
    def fn(x):
        y = x.clone()
        y[:, 1:3] = x[:, :1] * 2  # broadcast along dim 1, batch dynamic
        return y

    x = torch.randn(3, 4, 5)
    dyn = torch_kiln.Input(min_shape=(1, 4, 5), opt_shape=(3, 4, 5), max_shape=(6, 4, 5))
    run_test(Fn(fn), [x], expected_ops={aten.slice_scatter.default}, expect_engines=1)
    run_test(Fn(fn), [x], dynamic_inputs=[dyn], expect_engines=1)


def test_strided_slice_assignment_stays_in_pytorch():
    def fn(x):
        y = x.clone()
        y[:, ::2] = 0.5
        return y.relu()

    x = torch.randn(3, 6)
    run_test(Fn(fn), [x])
    explained = torch_kiln.dynamo.explain(Fn(fn).to(DEVICE), [x.to(DEVICE)], min_block_size=1,
                                          device=torch.device(DEVICE))
    targets = {v["target"] for v in explained["ops_in_pytorch"].values()}
    assert "aten::slice_scatter.default" in targets, explained["report"]
