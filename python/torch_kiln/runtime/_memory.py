"""Device memory Kiln holds, the way torch.cuda.memory_allocated reports PyTorch's:

    torch_kiln.runtime.reset_peak_memory_stats("cuda")
    out = compiled(x)
    print(torch_kiln.runtime.memory_stats("cuda"))   # {"current_bytes": ..., "peak_bytes": ...}

Counted are engines' weights and activations, execution contexts' workspaces and output buffers, and while a
build runs, its tactic-timing buffers. Kiln allocates outside PyTorch's caching allocator, so none of this
shows in torch.cuda's statistics.
"""

from typing import Dict, Union

import torch

from .. import _C
from . import _execute


def _backend(device: Union[str, torch.device]):
    kind = torch.device(device).type
    if kind == "cuda":
        return _C.BackendKind.CUDA
    if kind == "cpu":
        return _C.BackendKind.CPU
    raise ValueError(f"Kiln runs on 'cuda' or 'cpu', not {kind!r}")


def memory_stats(device: Union[str, torch.device] = "cuda") -> Dict[str, int]:
    """Bytes Kiln holds on the device now, and the most it held at once since the last reset. Engines of
    modules that were deleted are released first, so what is counted belongs to modules still alive."""
    _execute.release_unused_engines()
    current, peak = _C.memory_use(_backend(device))
    return {"current_bytes": current, "peak_bytes": peak}


def reset_peak_memory_stats(device: Union[str, torch.device] = "cuda") -> None:
    """Starts the peak over from what Kiln holds now."""
    _C.reset_peak_memory_use(_backend(device))
