"""impl.elementwise: binary ops on tensors and Python scalars, e.g.
``impl.elementwise.mul(ctx, target, name="mul_1", source_ir=SourceIR.ATEN, lhs_val=x, rhs_val=0.5)``."""

from typing import Any

from .... import _C
from ._common import layer_name, operands

_OPS = {
    "add": _C.ElementWiseOperation.SUM,
    "mul": _C.ElementWiseOperation.PROD,
    "sub": _C.ElementWiseOperation.SUB,
    "div": _C.ElementWiseOperation.DIV,
    "pow": _C.ElementWiseOperation.POW,
    "max": _C.ElementWiseOperation.MAX,
    "min": _C.ElementWiseOperation.MIN,
    "floor_divide": _C.ElementWiseOperation.FLOOR_DIV,
    "eq": _C.ElementWiseOperation.EQUAL,
    "gt": _C.ElementWiseOperation.GREATER,
    "lt": _C.ElementWiseOperation.LESS,
    "logical_and": _C.ElementWiseOperation.AND,
    "logical_or": _C.ElementWiseOperation.OR,
    "logical_xor": _C.ElementWiseOperation.XOR,
}


def convert_binary_elementwise(ctx, target, source_ir, name: str, op, lhs_val: Any, rhs_val: Any) -> "_C.ITensor":
    a, b = operands(ctx, lhs_val, rhs_val, name)
    layer = ctx.net.add_elementwise(a, b, op)
    layer.name = layer_name(target, source_ir, name)
    return layer.get_output(0)


def _make(op_name):
    op = _OPS[op_name]

    def fn(ctx, target, source_ir=None, name: str = op_name, lhs_val: Any = None, rhs_val: Any = None):
        return convert_binary_elementwise(ctx, target, source_ir, name, op, lhs_val, rhs_val)

    fn.__name__ = op_name
    fn.__doc__ = f"{op_name}(lhs_val, rhs_val) with broadcasting; scalars take the tensor operand's type."
    return fn


add = _make("add")
mul = _make("mul")
sub = _make("sub")
div = _make("div")
pow = _make("pow")  # noqa: A001
max = _make("max")  # noqa: A001
min = _make("min")  # noqa: A001
floor_divide = _make("floor_divide")
eq = _make("eq")
gt = _make("gt")
lt = _make("lt")
logical_and = _make("logical_and")
logical_or = _make("logical_or")
logical_xor = _make("logical_xor")
