"""torch_kiln.save / torch_kiln.load: a compiled module as an ExportedProgram whose engines are calls of
torch.ops.kiln.execute_engine with their plans as constants."""

from typing import Any, Optional, Sequence

import torch

from ._input import Input
from .dynamo._capture import dynamic_shapes_for, example_inputs
from .dynamo._compiler import _specs_from


def save(module: torch.nn.Module, path: str, inputs: Optional[Sequence[Any]] = None,
         arg_inputs: Optional[Sequence[Any]] = None) -> None:
    specs = _specs_from(arg_inputs if arg_inputs is not None else (inputs or []))
    if not specs:
        raise ValueError("torch_kiln.save needs inputs=[...] to export the compiled module")
    names = [s.name or f"input_{i}" for i, s in enumerate(specs)]
    dynamic = dynamic_shapes_for(specs, names)
    args = tuple(example_inputs(specs, "cpu"))
    ep = torch.export.export(module, args, dynamic_shapes=tuple(dynamic) if dynamic else None)
    torch.export.save(ep, path)


def load(path: str) -> torch.nn.Module:
    """Loads what torch_kiln.save wrote; the engines deserialize on first call."""
    from . import runtime  # noqa: F401  (registers torch.ops.kiln.execute_engine)

    return torch.export.load(path).module()
