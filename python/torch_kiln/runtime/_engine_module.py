"""KilnEngineModule: a torch.nn.Module that runs one Kiln engine segment."""

import json
from typing import Any, Dict, List, Optional, Sequence

import torch

from .. import _C
from ._execute import execute_engine  # noqa: F401  (registers torch.ops.kiln.execute_engine)


class KilnEngineModule(torch.nn.Module):
    """Runs a serialized Kiln plan. Inputs and outputs are positional, in the engine's I/O order.

    ``output_specs`` gives each output's dtype name and shape template (ints, or ``[input_index, dim]`` for
    extents that follow an input, or ``None`` for data-dependent extents known only after a run), used when the
    module is traced or exported.
    """

    def __init__(self, plan: bytes, name: str = "kiln_engine", output_specs: Optional[List[Dict[str, Any]]] = None):
        super().__init__()
        self.name = name
        self.register_buffer("plan", torch.frombuffer(bytearray(plan), dtype=torch.uint8), persistent=True)
        runner = _C.EngineRunner(plan)
        self.input_names: List[str] = list(runner.input_names)
        self.output_names: List[str] = list(runner.output_names)
        self.metadata = json.dumps({"name": name, "outputs": output_specs or []})
        # What the builder did (layers fused, tactics timed, planned vs unshared activation bytes), when this
        # module was just built; a loaded module has none.
        self.build_report: Dict[str, Any] = {}

    def forward(self, *inputs: torch.Tensor):
        outputs = torch.ops.kiln.execute_engine(list(inputs), self.plan, self.metadata)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def inspect(self, json_format: bool = False) -> str:
        """The engine's layers, kernels and I/O (like `kiln inspect`)."""
        return _C.EngineRunner(self.plan.numpy().tobytes()).inspect(json_format)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, inputs={self.input_names}, outputs={self.output_names}, plan_bytes={self.plan.numel()}"
