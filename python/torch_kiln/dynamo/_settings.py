"""CompilationSettings: what the user asked torch_kiln.compile for (like torch_tensorrt.dynamo.CompilationSettings)."""

import dataclasses
from typing import Optional, Set

import torch

from .. import _C
from .._types import to_kiln_dtype


@dataclasses.dataclass
class CompilationSettings:
    enabled_precisions: Set[torch.dtype] = dataclasses.field(default_factory=lambda: {torch.float32})
    min_block_size: int = 5
    torch_executed_ops: Set[str] = dataclasses.field(default_factory=set)
    require_full_compilation: bool = False
    device: torch.device = dataclasses.field(default_factory=lambda: torch.device("cpu"))
    workspace_size: int = 0
    optimization_level: int = 3
    timing_cache_path: Optional[str] = None
    debug: bool = False

    @property
    def backend(self) -> "_C.BackendKind":
        return _C.BackendKind.CUDA if torch.device(self.device).type == "cuda" else _C.BackendKind.CPU

    def to_native(self) -> "_C.CompilationSettings":
        native = _C.CompilationSettings()
        native.min_block_size = int(self.min_block_size)
        native.torch_executed_ops = {_op_name(op) for op in self.torch_executed_ops}
        native.require_full_compilation = bool(self.require_full_compilation)
        native.enabled_precisions = {to_kiln_dtype(p) for p in self.enabled_precisions}
        native.backend = self.backend
        native.workspace_size = int(self.workspace_size)
        native.optimization_level = int(self.optimization_level)
        native.debug = bool(self.debug)
        native.timing_cache_path = str(self.timing_cache_path or "")
        return native


def _op_name(op) -> str:
    """"aten::add.Tensor" for torch.ops.aten.add.Tensor, "aten::add" for the packet or the string "aten.add"."""
    if isinstance(op, str):
        if "::" in op:
            return op
        namespace, _, rest = op.partition(".")
        return f"{namespace}::{rest}"
    if isinstance(op, torch._ops.OpOverload):
        return f"{op._schema.name}.{op._overloadname or 'default'}"
    if isinstance(op, torch._ops.OpOverloadPacket):
        return op._qualified_op_name
    raise TypeError(f"torch_executed_ops takes op overloads, packets or names, got {op!r}")
