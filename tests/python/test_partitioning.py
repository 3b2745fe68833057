"""Partitioning seen from Python: segment counts, min_block_size, torch_executed_ops, fallback around an op
forced to PyTorch, require_full_compilation errors, the partition report."""

import pytest
import torch

import torch_kiln
from harness import run_test
from torch_kiln.runtime import KilnEngineModule


class Chain(torch.nn.Module):
    def forward(self, x):
        y = torch.relu(x) * 2.0 + 1.0
        y = torch.sigmoid(y)  # forced to PyTorch in some tests
        return torch.tanh(y) - 0.5


def engines(module):
    return [m for m in module.modules() if isinstance(m, KilnEngineModule)]


def test_whole_graph_is_one_engine():
    compiled = run_test(Chain(), [torch.randn(4, 8)], expect_engines=1)
    assert "sigmoid" not in str(compiled.graph)


def test_forced_op_splits_the_graph_and_runs_in_pytorch():
    compiled = run_test(Chain(), [torch.randn(4, 8)], torch_executed_ops={torch.ops.aten.sigmoid.default},
                        expect_engines=2)
    assert "torch.ops.aten.sigmoid.default" in compiled.code
    assert "sigmoid" in compiled.kiln_partition_report


def test_min_block_size_sends_small_segments_back_to_pytorch():
    compiled = run_test(Chain(), [torch.randn(4, 8)], torch_executed_ops={torch.ops.aten.sigmoid.default},
                        min_block_size=3, expect_engines=1)
    # relu/mul/add (3 ops) stay an engine; tanh/sub (2 ops) fall back
    assert "torch.ops.aten.tanh.default" in compiled.code


def test_require_full_compilation_lists_every_unsupported_op():
    with pytest.raises(Exception) as info:
        torch_kiln.compile(Chain(), inputs=[torch.randn(4, 8)], min_block_size=1, require_full_compilation=True,
                           torch_executed_ops={torch.ops.aten.sigmoid.default, torch.ops.aten.tanh.default})
    message = str(info.value)
    assert "sigmoid" in message and "tanh" in message


def test_explain_reports_what_runs_in_pytorch_and_why():
    report = torch_kiln.dynamo.explain(Chain(), [torch.randn(4, 8)], min_block_size=1,
                                       torch_executed_ops={torch.ops.aten.sigmoid.default})
    assert report["engine_segments"] == 2
    reasons = {v["target"]: v["reason"] for v in report["ops_in_pytorch"].values()}
    assert any("sigmoid" in t for t in reasons), reasons
