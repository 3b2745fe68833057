"""Capture with torch.export: dynamic dims from Input ranges become torch.export Dims; then torch's own
decomposition table, adjusted by Kiln's registry."""

from typing import Any, Dict, Optional, Sequence

import torch

from .._input import Input
from .lowering import get_decompositions


def _example_extent(spec: Input, d: int) -> int:
    # torch.export specializes extents 0 and 1; trace dynamic dims at a size >= 2 inside the range.
    opt = spec.opt_shape[d]
    if opt >= 2:
        return opt
    return min(2, spec.max_shape[d]) if spec.max_shape[d] >= 2 else opt


def example_inputs(specs: Sequence[Input], device) -> list:
    tensors = []
    for spec in specs:
        shape = [_example_extent(spec, d) if d in spec.dynamic_dims() else spec.opt_shape[d] for d in range(len(spec.opt_shape))]
        if spec.dtype.is_floating_point:
            tensors.append(torch.randn(shape, dtype=spec.dtype, device=device))
        else:
            tensors.append(torch.zeros(shape, dtype=spec.dtype, device=device))
    return tensors


def dynamic_shapes_for(specs: Sequence[Input], names: Sequence[str]) -> Optional[list]:
    if not any(s.is_dynamic() for s in specs):
        return None
    shapes = []
    for k, spec in enumerate(specs):
        dims: Dict[int, Any] = {}
        for d in spec.dynamic_dims():
            dims[d] = torch.export.Dim(f"{names[k]}_dim{d}", min=spec.min_shape[d], max=spec.max_shape[d])
        shapes.append(dims or None)
    return shapes


def export_module(module: torch.nn.Module, specs: Sequence[Input], device,
                  kwarg_specs: Optional[Dict[str, Input]] = None) -> torch.export.ExportedProgram:
    import inspect

    try:
        params = list(inspect.signature(module.forward).parameters)
    except (TypeError, ValueError):
        params = []
    names = [s.name or (params[i] if i < len(params) else f"input_{i}") for i, s in enumerate(specs)]
    args = tuple(example_inputs(specs, device))
    kwarg_specs = dict(kwarg_specs or {})
    kwargs = dict(zip(kwarg_specs, example_inputs(list(kwarg_specs.values()), device)))
    dynamic = dynamic_shapes_for(list(specs) + list(kwarg_specs.values()), names + list(kwarg_specs))
    dynamic_shapes = None
    if dynamic:
        positional = tuple(dynamic[: len(specs)])
        if kwarg_specs:
            # Keyword inputs: export takes a dict per argument name, after the positional ones.
            dynamic_shapes = {**{p: d for p, d in zip(params, positional)},
                              **dict(zip(kwarg_specs, dynamic[len(specs):]))}
        else:
            dynamic_shapes = positional
    ep = torch.export.export(module, args, kwargs=kwargs or None, dynamic_shapes=dynamic_shapes)
    return ep.run_decompositions(get_decompositions())
