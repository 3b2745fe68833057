"""Per-layer profiling of compiled modules, and the CUDA graph switch.

    with torch_kiln.runtime.profile() as prof:
        compiled(x)
    print(prof.table())
    prof.save_chrome_trace("trace.json")   # open in chrome://tracing or Perfetto

Profiled runs go layer by layer (no CUDA graph) and wait for the GPU after each engine, so their total is
a little above an unprofiled run; the split between layers is what they are for.
"""

import json
from collections import defaultdict
from typing import Dict, List, NamedTuple

from . import _execute


class LayerTime(NamedTuple):
    engine: int
    run: int
    layer: str
    type: str
    start_ms: float
    ms: float


class Profile:
    def __init__(self):
        self.records: List[LayerTime] = []

    def __enter__(self) -> "Profile":
        _execute.set_profiling(True)
        return self

    def __exit__(self, *exc) -> None:
        for engine, rows in _execute.take_profiles().items():
            for name, kind, start, ms, run in rows:
                self.records.append(LayerTime(engine, run, name, kind, start, ms))
        _execute.set_profiling(False)

    def per_layer(self) -> Dict[str, Dict[str, float]]:
        """Mean ms per layer over the profiled runs, with its share of the total."""
        totals: Dict[tuple, List[float]] = defaultdict(list)
        for r in self.records:
            totals[(r.engine, r.layer, r.type)].append(r.ms)
        overall = sum(sum(v) / len(v) for v in totals.values()) or 1.0
        return {
            f"{layer}": {"engine": engine, "type": kind, "ms": sum(v) / len(v), "share": sum(v) / len(v) / overall}
            for (engine, layer, kind), v in totals.items()
        }

    def table(self, top: int = 30) -> str:
        rows = sorted(self.per_layer().items(), key=lambda kv: -kv[1]["ms"])
        by_type: Dict[str, float] = defaultdict(float)
        for _, v in rows:
            by_type[v["type"]] += v["ms"]
        lines = [f"{'layer':<48} {'type':<16} {'ms':>9} {'share':>7}"]
        for name, v in rows[:top]:
            lines.append(f"{name[:48]:<48} {v['type']:<16} {v['ms']:>9.4f} {100 * v['share']:>6.1f}%")
        total = sum(by_type.values())
        lines.append(f"{'total (' + str(len(rows)) + ' layers)':<48} {'':<16} {total:>9.4f}")
        lines.append("by layer type: " + ", ".join(f"{k} {ms:.4f}" for k, ms in sorted(by_type.items(), key=lambda kv: -kv[1])))
        return "\n".join(lines)

    def chrome_trace(self) -> dict:
        """Chrome trace events: one track per engine, runs laid end to end."""
        events = []
        offsets: Dict[tuple, float] = {}
        cursor = defaultdict(float)
        for r in self.records:
            key = (r.engine, r.run)
            if key not in offsets:
                offsets[key] = cursor[r.engine]
            end = offsets[key] + r.start_ms + r.ms
            cursor[r.engine] = max(cursor[r.engine], end)
            events.append({"name": r.layer, "cat": r.type, "ph": "X", "pid": 0, "tid": r.engine,
                           "ts": (offsets[key] + r.start_ms) * 1000.0, "dur": r.ms * 1000.0})
        return {"traceEvents": events, "displayTimeUnit": "ms"}

    def save_chrome_trace(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump(self.chrome_trace(), f)


def profile() -> Profile:
    return Profile()


def set_cuda_graphs_mode(enabled: bool) -> None:
    """CUDA graph replay of Kiln engines (on by default): each engine records its launches once per input shape
    and I/O addresses and replays them, which removes most launch overhead at small batch sizes."""
    _execute.set_cuda_graphs(enabled)


def get_cuda_graphs_mode() -> bool:
    return _execute.cuda_graphs_enabled()
