"""Runtime tools: the per-layer profiler (table and Chrome trace) and the CUDA graph switch."""

import json

import torch

import torch_kiln
from conftest import DEVICE


class Small(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def test_profile_reports_every_layer(tmp_path):
    model = Small().eval().to(DEVICE)
    x = torch.randn(2, 3, 8, 8, device=DEVICE)
    compiled = torch_kiln.compile(model, inputs=[x], min_block_size=1, device=DEVICE)
    with torch.no_grad():
        compiled(x)
        with torch_kiln.runtime.profile() as prof:
            for _ in range(3):
                out = compiled(x)
    torch.testing.assert_close(out, model(x), atol=1e-4, rtol=1e-4)
    types = {r.type for r in prof.records}
    assert "Convolution" in types and "MatrixMultiply" in types, types
    assert {r.run for r in prof.records} == {1, 2, 3}
    table = prof.table()
    assert "Convolution" in table and "total" in table
    trace = tmp_path / "trace.json"
    prof.save_chrome_trace(str(trace))
    events = json.loads(trace.read_text())["traceEvents"]
    assert len(events) == len(prof.records) and all(e["dur"] >= 0 for e in events)
    # Profiling is off again: later runs record nothing.
    with torch.no_grad():
        compiled(x)
    assert all(len(rows) == 0 for rows in torch_kiln.runtime._execute.take_profiles().values())


def test_cuda_graphs_switch_keeps_results():
    model = Small().eval().to(DEVICE)
    x = torch.randn(2, 3, 8, 8, device=DEVICE)
    compiled = torch_kiln.compile(model, inputs=[x], min_block_size=1, device=DEVICE)
    assert torch_kiln.runtime.get_cuda_graphs_mode()
    with torch.no_grad():
        with_graphs = [compiled(x).clone() for _ in range(3)]
        torch_kiln.runtime.set_cuda_graphs_mode(False)
        try:
            without = compiled(x)
        finally:
            torch_kiln.runtime.set_cuda_graphs_mode(True)
    for y in with_graphs:
        torch.testing.assert_close(y, without)


def test_engine_carries_its_build_report():
    model = Small().eval().to(DEVICE)
    x = torch.randn(2, 3, 8, 8, device=DEVICE)
    compiled = torch_kiln.compile(model, inputs=[x], min_block_size=1)
    engines = [m for m in compiled.modules() if isinstance(m, torch_kiln.runtime.KilnEngineModule)]
    assert engines
    for engine in engines:
        report = engine.build_report
        assert report["layers_after"] <= report["layers_before"]
        assert report["tactics_timed"] + report["timing_cache_hits"] > 0
        # The memory plan never needs more than every activation on its own.
        assert 0 < report["planned_activation_bytes"] <= report["total_activation_bytes"]


def test_memory_stats_count_what_engines_hold():
    import gc

    import pytest

    gc.collect()
    before = torch_kiln.runtime.memory_stats(DEVICE)["current_bytes"]
    model = Small().eval().to(DEVICE)
    x = torch.randn(2, 3, 8, 8, device=DEVICE)
    compiled = torch_kiln.compile(model, inputs=[x], min_block_size=1, device=DEVICE)
    with torch.no_grad():
        compiled(x)
    held = torch_kiln.runtime.memory_stats(DEVICE)
    assert held["current_bytes"] > before  # at least the activations (and on a GPU the weights)
    assert held["peak_bytes"] >= held["current_bytes"]
    torch_kiln.runtime.reset_peak_memory_stats(DEVICE)
    assert torch_kiln.runtime.memory_stats(DEVICE)["peak_bytes"] == held["current_bytes"]
    # A deleted module's engine gives its memory back.
    del compiled
    gc.collect()
    assert torch_kiln.runtime.memory_stats(DEVICE)["current_bytes"] == before
    with pytest.raises(ValueError, match="'cuda' or 'cpu'"):
        torch_kiln.runtime.memory_stats("meta")
