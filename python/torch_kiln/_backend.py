"""torch.compile(model, backend="kiln", options={...})."""

from typing import Any, Dict, List, Optional

import torch

from ._input import Input
from .dynamo import CompilationSettings
from .dynamo._compiler import compile_module, default_device


def kiln_backend(gm: torch.fx.GraphModule, example_inputs: List[Any], options: Optional[Dict[str, Any]] = None):
    options = dict(options or {})
    settings = CompilationSettings()
    for key, value in options.items():
        if key not in CompilationSettings.__dataclass_fields__:
            raise ValueError(f"unknown torch_kiln option {key!r}")
        setattr(settings, key, set(value) if key in ("enabled_precisions", "torch_executed_ops") else value)
    if "device" not in options:
        settings.device = default_device(gm, example_inputs)
    specs = []
    for x in example_inputs:
        if not isinstance(x, torch.Tensor):
            raise NotImplementedError("the kiln torch.compile backend takes tensor inputs only")
        specs.append(Input(shape=tuple(int(d) for d in x.shape), dtype=x.dtype))
    compiled = compile_module(gm, specs, settings)

    def run(*args):
        out = compiled(*args)
        return out

    return run


def register() -> None:
    from torch._dynamo import register_backend

    try:
        register_backend(name="kiln")(kiln_backend)
    except Exception:  # already registered (module reloaded)
        pass
