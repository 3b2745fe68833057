"""Helpers shared by the Python impl library: scalars as broadcastable constants, layer naming."""

from typing import Any, Optional, Tuple

import numpy as np

from .... import _C

_NUMPY_OF = {
    _C.DataType.FLOAT: np.float32,
    _C.DataType.HALF: np.float16,
    _C.DataType.INT32: np.int32,
    _C.DataType.INT64: np.int64,
    _C.DataType.INT8: np.int8,
    _C.DataType.UINT8: np.uint8,
    _C.DataType.BOOL: np.bool_,
}


def layer_name(target: Any, source_ir: Any, name: str) -> str:
    return f"[{source_ir}]-[{target}]-[{name}]"


def as_tensor(ctx, value: Any, like: Optional["_C.ITensor"], name: str) -> "_C.ITensor":
    """An ITensor for value: tensors pass through; Python scalars become constants of `like`'s type and rank."""
    if isinstance(value, _C.ITensor):
        return value
    if like is None:
        dtype = _C.DataType.FLOAT if isinstance(value, float) else _C.DataType.INT64
        rank = 0
    else:
        dtype = like.dtype
        rank = len(like.shape)
        if isinstance(value, float) and dtype not in (_C.DataType.FLOAT, _C.DataType.HALF, _C.DataType.BF16):
            raise TypeError(f"{name}: a float operand with an integer tensor needs a cast first")
    if dtype == _C.DataType.BF16:
        array = np.array(value, dtype=np.float32)
        layer = ctx.net.add_constant([1] * rank, array.reshape([1] * rank))
        const = ctx.net.add_cast(layer.get_output(0), _C.DataType.BF16)
        const.name = f"{name}_scalar_cast"
        return const.get_output(0)
    array = np.array(value, dtype=_NUMPY_OF[dtype]).reshape([1] * rank)
    layer = ctx.net.add_constant([1] * rank, array)
    layer.name = f"{name}_scalar"
    return layer.get_output(0)


def operands(ctx, lhs: Any, rhs: Any, name: str) -> Tuple["_C.ITensor", "_C.ITensor"]:
    like = lhs if isinstance(lhs, _C.ITensor) else rhs if isinstance(rhs, _C.ITensor) else None
    a = as_tensor(ctx, lhs, like, f"{name}_lhs")
    b = as_tensor(ctx, rhs, like, f"{name}_rhs")
    if len(a.shape) != len(b.shape):  # equal ranks for the engine's broadcasting
        a, b = _match_rank(ctx, a, b, name)
    return a, b


def _match_rank(ctx, a, b, name):
    def expand(t, rank, suffix):
        shuffle = ctx.net.add_shuffle(t)
        shuffle.reshape_dims = [1] * (rank - len(t.shape)) + [0] * len(t.shape)
        shuffle.name = f"{name}_{suffix}_broadcast"
        return shuffle.get_output(0)

    rank = max(len(a.shape), len(b.shape))
    if len(a.shape) < rank:
        a = expand(a, rank, "lhs")
    if len(b.shape) < rank:
        b = expand(b, rank, "rhs")
    return a, b
