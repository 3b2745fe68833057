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


def test_timing_cache_file_is_written_and_reused(tmp_path):
    path = tmp_path / "timing.cache"
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU())
    run_test(model, [torch.randn(1, 3, 16, 16)], timing_cache_path=str(path))
    assert path.exists() and path.stat().st_size > 0
    first = path.read_bytes()
    run_test(model, [torch.randn(1, 3, 16, 16)], timing_cache_path=str(path))
    assert path.read_bytes() == first  # the second build found every timing in the cache
    path.write_bytes(b"not a cache")
    with pytest.raises(Exception, match="timing cache"):
        torch_kiln.compile(model, inputs=[torch.randn(1, 3, 16, 16)], min_block_size=1, timing_cache_path=str(path))


def test_enabled_half_precision_still_matches_on_the_cpu():
    # float16 is allowed, not forced: the CPU backend keeps float32 where it gains nothing from float16.
    run_test(Chain(), [torch.randn(4, 8)], enabled_precisions={torch.float32, torch.float16}, expect_engines=1)
