"""Kiln's decomposition registry (as in the dynamo converter seed):

    @register_decomposition(torch.ops.aten.addmm, registry=DECOMPOSITIONS)
    def addmm_replacement(input_, mat1, mat2, *, beta=1, alpha=1):
        return torch.add(torch.mul(input_, beta), torch.mul(torch.matmul(mat1, mat2), alpha))

Entries here override torch's default table when a model is captured; remove_decomposition drops one.
Torch's own decomposition of an op is dropped when a converter for that overload is registered (C++ or Python):
the converter then sees the op whole, which is what it was written for and usually makes a faster engine.
"""

from typing import Callable, Dict

import torch
from torch._decomp import register_decomposition as _torch_register_decomposition

DECOMPOSITIONS: Dict[torch._ops.OperatorBase, Callable] = {}


def register_decomposition(op, registry=None):
    """Registers fn as the decomposition of op (a packet registers every overload) in `registry`."""
    target = DECOMPOSITIONS if registry is None else registry
    return _torch_register_decomposition(op, registry=target)


def remove_decomposition(op, registry=None):
    target = DECOMPOSITIONS if registry is None else registry
    overloads = [getattr(op, o) for o in op.overloads()] if isinstance(op, torch._ops.OpOverloadPacket) else [op]
    for o in overloads:
        target.pop(o, None)


def converter_key(op: torch._ops.OpOverload) -> str:
    """The registry's name of an overload: "aten::add.Tensor", "aten::relu.default"."""
    return f"{op._schema.name}.{op._overloadname}"


def get_decompositions() -> Dict[torch._ops.OperatorBase, Callable]:
    from ... import _C

    converted = {row["target"] for row in _C.supported_ops() if row["enabled"]}
    table = {
        op: fn
        for op, fn in torch.export.default_decompositions().items()
        if not (isinstance(op, torch._ops.OpOverload) and converter_key(op) in converted)
    }
    table.update(DECOMPOSITIONS)
    return table


__all__ = ["DECOMPOSITIONS", "register_decomposition", "remove_decomposition", "get_decompositions"]
