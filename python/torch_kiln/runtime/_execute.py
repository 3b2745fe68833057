"""torch.ops.kiln.execute_engine: runs a serialized Kiln plan on torch tensors.

Engines are a registered custom op so that compiled modules can be exported (torch.export) and saved as an
ExportedProgram: the plan travels as a uint8 tensor, the output dtypes and shapes as JSON metadata.
"""

import contextlib
import functools
import json
import sys
import threading
from typing import Dict, List, Tuple

import torch

from .. import _C
from .._types import to_kiln_dtype, to_torch_dtype

_RUNNERS: Dict[Tuple[int, int], Tuple[torch.Tensor, "_C.EngineRunner"]] = {}
_LOCK = threading.Lock()
_MODES = {"cuda_graphs": True, "profiling": False}
# An engine with data-dependent outputs keeps them in the runner between execute and copy_output; this keeps
# another thread's run of such an engine out of that window (other engines never take it).
_DATA_DEPENDENT_LOCK = threading.Lock()


@functools.lru_cache(maxsize=256)
def _has_data_dependent_outputs(metadata: str) -> bool:
    return any(d is None for spec in json.loads(metadata).get("outputs", []) for d in spec["shape"])


def _configure(runner: "_C.EngineRunner") -> None:
    runner.set_cuda_graphs(_MODES["cuda_graphs"])
    runner.set_profiling(_MODES["profiling"])


def set_cuda_graphs(enabled: bool) -> None:
    with _LOCK:
        _MODES["cuda_graphs"] = bool(enabled)
        for _, runner in _RUNNERS.values():
            _configure(runner)


def cuda_graphs_enabled() -> bool:
    return _MODES["cuda_graphs"]


def set_profiling(enabled: bool) -> None:
    with _LOCK:
        _MODES["profiling"] = bool(enabled)
        for _, runner in _RUNNERS.values():
            _configure(runner)


def take_profiles() -> Dict[int, list]:
    """Per engine (numbered in creation order): the layer times recorded since the last call."""
    with _LOCK:
        return {i: runner.take_profile() for i, (_, runner) in enumerate(_RUNNERS.values())}


def _drop_stale_runners() -> None:
    """Drops the engines whose plan tensor only _RUNNERS still holds (their module is gone). Call under _LOCK."""
    for stale in [k for k, (held, _) in _RUNNERS.items() if sys.getrefcount(held) <= 3]:
        del _RUNNERS[stale]


def release_unused_engines() -> None:
    """Frees the device memory of engines whose modules were deleted (otherwise freed when the next engine is
    made)."""
    with _LOCK:
        _drop_stale_runners()


def _runner_for(plan: torch.Tensor) -> "_C.EngineRunner":
    # Keyed by the plan tensor's memory: a module reuses its engine; a loaded program gets a new one. The entry
    # holds the plan tensor itself, so that memory cannot be freed and reused by another plan while the entry
    # lives; entries whose plan nobody else holds any more are dropped when a new engine is made.
    key = (plan.data_ptr(), plan.numel())
    with _LOCK:
        entry = _RUNNERS.get(key)
        if entry is None:
            _drop_stale_runners()
            runner = _C.EngineRunner(plan.cpu().numpy().tobytes())
            _configure(runner)
            entry = (plan, runner)
            _RUNNERS[key] = entry
        return entry[1]


def _engine_device(runner) -> torch.device:
    if runner.backend == _C.BackendKind.CUDA:
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _current_stream(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.current_stream(device).cuda_stream
    return 0


@torch.library.custom_op("kiln::execute_engine", mutates_args=())
def execute_engine(inputs: List[torch.Tensor], plan: torch.Tensor, metadata: str) -> List[torch.Tensor]:
    runner = _runner_for(plan)
    names = runner.input_names
    if len(inputs) != len(names):
        raise ValueError(f"the Kiln engine takes {len(names)} inputs ({names}), got {len(inputs)}")
    prepared = []
    for name, tensor in zip(names, inputs):
        expected = to_torch_dtype(runner.dtype(name))
        if tensor.dtype != expected:
            if tensor.dtype == torch.float64 and expected == torch.float32:
                tensor = tensor.float()
            else:
                raise TypeError(f"Kiln engine input '{name}' must be {expected}, got {tensor.dtype}")
        if runner.backend == _C.BackendKind.CPU and tensor.device.type != "cpu":
            raise RuntimeError(
                f"Kiln engine input '{name}' is on {tensor.device}, but the engine was built for the CPU; "
                "compile with device='cuda' to run on the GPU"
            )
        if runner.backend == _C.BackendKind.CUDA and tensor.device.type != "cuda":
            raise RuntimeError(
                f"Kiln engine input '{name}' is on {tensor.device}, but the engine was built for CUDA; "
                "move the inputs to the GPU (or compile with device='cpu')"
            )
        prepared.append(tensor.contiguous())
    # An engine without inputs (everything it computes is constant) still returns tensors on its own device.
    device = prepared[0].device if prepared else _engine_device(runner)
    stream = _current_stream(device)
    with _DATA_DEPENDENT_LOCK if _has_data_dependent_outputs(metadata) else contextlib.nullcontext():
        out_shapes = runner.prepare([list(t.shape) for t in prepared])
        # Data-dependent outputs (an extent of -1) are written to the runner's own memory; they get their
        # tensors once the run has told their shapes.
        late = [i for i, shape in enumerate(out_shapes) if any(d < 0 for d in shape)]
        outputs = [
            None if i in late else torch.empty(shape, dtype=to_torch_dtype(runner.dtype(name)), device=device)
            for i, (name, shape) in enumerate(zip(runner.output_names, out_shapes))
        ]
        runner.execute(
            [(t.data_ptr(), to_kiln_dtype(t.dtype), list(t.shape)) for t in prepared],
            [(0, runner.dtype(name), []) if t is None else (t.data_ptr(), to_kiln_dtype(t.dtype), list(t.shape))
             for name, t in zip(runner.output_names, outputs)],
            stream,
        )
        for i in late:
            tensor = torch.empty(runner.output_shape(i), dtype=to_torch_dtype(runner.dtype(runner.output_names[i])),
                                 device=device)
            runner.copy_output(i, tensor.data_ptr(), stream)
            outputs[i] = tensor
    return outputs


@execute_engine.register_fake
def _(inputs: List[torch.Tensor], plan: torch.Tensor, metadata: str) -> List[torch.Tensor]:
    # Output shapes from the metadata: each dim an int, [input index, dim] to copy an input's extent, or None
    # for a data-dependent extent (a fresh unbacked symbol: only the run knows it).
    meta = json.loads(metadata)
    outputs = []
    for spec in meta["outputs"]:
        shape = []
        for dim in spec["shape"]:
            if dim is None:
                shape.append(torch.library.get_ctx().new_dynamic_size())
            else:
                shape.append(inputs[dim[0]].shape[dim[1]] if isinstance(dim, list) else dim)
        device = inputs[0].device if inputs else torch.device("cpu")
        outputs.append(torch.empty(shape, dtype=getattr(torch, spec["dtype"]), device=device))
    return outputs
