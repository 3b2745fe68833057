"""The dynamo path of torch_kiln.compile: capture -> Kiln IR -> lowering -> partitioning -> conversion ->
a GraphModule with KilnEngineModule submodules and the rest in PyTorch."""

import contextlib
import logging
from typing import Any, List, Optional, Sequence

import torch

from .. import _C
from .._input import Input
from . import _state
from ._capture import export_module
from ._rebuild import Rebuilder
from ._settings import CompilationSettings
from ._translate import Translation

logger = logging.getLogger("torch_kiln")


def _specs_from(inputs: Sequence[Any]) -> List[Input]:
    specs = []
    for i, x in enumerate(inputs):
        if isinstance(x, Input):
            specs.append(x)
        elif isinstance(x, torch.Tensor):
            specs.append(Input.from_tensor(x))
        else:
            raise TypeError(f"input {i}: expected torch_kiln.Input or a torch.Tensor, got {type(x).__name__}")
    return specs


def default_device(module: Optional[torch.nn.Module], inputs: Sequence[Any]) -> torch.device:
    """The device to build for when the caller names none: where the example tensors live, else where the
    module's parameters live, else torch's default device (the CPU unless torch.set_default_device changed
    it). A model and inputs on the GPU then get a CUDA engine without device='cuda', as a user moving
    everything with .cuda() expects."""
    for x in inputs:
        if isinstance(x, torch.Tensor):
            return x.device
    if module is not None:
        for t in list(module.parameters()) + list(module.buffers()):
            return t.device
    return torch.get_default_device()


def translate(gm: torch.fx.GraphModule, specs: Sequence[Input]) -> Translation:
    return Translation(gm, specs)


def compile_graph_module(gm: torch.fx.GraphModule, specs: Sequence[Input], settings: CompilationSettings):
    """Compiles an ATen-level GraphModule (as torch.export produces) and returns the rebuilt module."""
    translation = translate(gm, specs)
    native = settings.to_native()
    with _state.compiling(translation, settings):
        _C.lower(translation.graph, settings.debug)
        segments, reasons, report = _C.partition(translation.graph, native)
        if settings.debug:
            logger.info("Kiln IR after lowering:\n%s", translation.graph.print())
        logger.info("%s", report)
        rebuilder = Rebuilder(translation, settings, native)
        rebuilder.emit_placeholders()
        for segment_id, runs_in_kiln, node_names, inputs, outputs in segments:
            if runs_in_kiln:
                rebuilder.emit_engine(segment_id, node_names, inputs, outputs)
            else:
                for name in node_names:
                    rebuilder.emit_torch_node(name)
        rebuilder.emit_output()
        result = rebuilder.finish()
    result.kiln_partition_report = report
    result.kiln_node_reasons = dict(reasons)
    return result


def compile_module(module: torch.nn.Module, specs: Sequence[Input], settings: CompilationSettings,
                   kwarg_specs: Optional[dict] = None):
    module = module.eval()
    ep = export_module(module, specs, settings.device, kwarg_specs)
    gm = ep.module(check_guards=False)
    # Placeholders follow the flattened (args, kwargs): keyword inputs come after the positional ones.
    return compile_graph_module(gm, list(specs) + list((kwarg_specs or {}).values()), settings)


def lower_module(module: torch.nn.Module, inputs: Sequence[Any]) -> torch.fx.GraphModule:
    """The ATen graph Kiln partitions (after capture, decompositions and Kiln's lowering passes are applied to
    the IR): useful to check expected_ops / unexpected_ops in converter tests."""
    specs = _specs_from(inputs)
    ep = export_module(module.eval(), specs, default_device(module, inputs))
    return ep.module(check_guards=False)


def explain(module: torch.nn.Module, inputs: Sequence[Any], **kwargs) -> dict:
    """For one model: which ops would run in Kiln and which in PyTorch, and why (no converter, validator
    refused, dynamic shapes not supported, forced by torch_executed_ops, segment below min_block_size)."""
    settings = CompilationSettings(**{k: v for k, v in kwargs.items() if hasattr(CompilationSettings, k) or k in CompilationSettings.__dataclass_fields__})
    if "device" not in kwargs:
        settings.device = default_device(module, inputs)
    specs = _specs_from(inputs)
    ep = export_module(module.eval(), specs, settings.device)
    translation = translate(ep.module(check_guards=False), specs)
    native = settings.to_native()
    with _state.compiling(translation, settings):
        _C.lower(translation.graph, False)
        segments, reasons, report = _C.partition(translation.graph, native)
    described = {e[1]: e for e in translation.graph.describe()}
    in_torch = {}
    for name, (segment, reason) in reasons.items():
        if reason and reason != "supported":
            in_torch[name] = {"target": described[name][2] if name in described else "?", "reason": reason}
    return {
        "engine_segments": sum(1 for s in segments if s[1]),
        "ops_in_pytorch": in_torch,
        "report": report,
    }
