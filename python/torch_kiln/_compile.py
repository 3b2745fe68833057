"""torch_kiln.compile (the entry point users call, like torch_tensorrt.compile)."""

from typing import Any, Dict, Optional, Sequence, Set

import torch

from ._input import Input
from .dynamo import CompilationSettings
from .dynamo._compiler import _specs_from, compile_module, default_device


def compile(
    module: torch.nn.Module,
    ir: str = "dynamo",
    inputs: Optional[Sequence[Any]] = None,
    arg_inputs: Optional[Sequence[Any]] = None,
    kwarg_inputs: Optional[Dict[str, Any]] = None,
    enabled_precisions: Optional[Set[torch.dtype]] = None,
    min_block_size: int = 5,
    torch_executed_ops: Optional[Set[Any]] = None,
    require_full_compilation: bool = False,
    device: Optional[Any] = None,
    workspace_size: int = 0,
    optimization_level: int = 3,
    timing_cache_path: Optional[str] = None,
    debug: bool = False,
    **kwargs: Any,
) -> torch.fx.GraphModule:
    """Compiles `module` for Kiln: the supported parts run as Kiln engines, the rest stays in PyTorch.

    inputs / arg_inputs: torch_kiln.Input specs (static or min/opt/max ranges) or example tensors.
    device: where the engines run; by default where the example tensors (else the module's parameters) are.
    Returns a torch.fx.GraphModule whose engine segments are KilnEngineModule submodules.
    """
    if ir not in ("dynamo", "default"):
        raise ValueError(f"ir={ir!r} is not supported; use ir='dynamo'")
    if kwargs:
        raise TypeError(f"unknown compile options: {sorted(kwargs)}")
    if inputs is not None and arg_inputs is not None:
        raise ValueError("give inputs or arg_inputs, not both")
    specs = _specs_from(arg_inputs if arg_inputs is not None else (inputs or []))
    kwarg_specs = {}
    for key, value in (kwarg_inputs or {}).items():
        spec = _specs_from([value])[0]
        spec.name = spec.name or key
        kwarg_specs[key] = spec
    if not specs and not kwarg_specs:
        raise ValueError("compile needs inputs=[...] (torch_kiln.Input or example tensors)")
    if device is None:
        examples = list(arg_inputs if arg_inputs is not None else (inputs or [])) + list((kwarg_inputs or {}).values())
        device = default_device(module, examples)
    settings = CompilationSettings(
        enabled_precisions=set(enabled_precisions or {torch.float32}),
        min_block_size=min_block_size,
        torch_executed_ops=set(torch_executed_ops or ()),
        require_full_compilation=require_full_compilation,
        device=torch.device(device),
        workspace_size=workspace_size,
        optimization_level=optimization_level,
        timing_cache_path=timing_cache_path,
        debug=debug,
    )
    return compile_module(module, specs, settings, kwarg_specs)
