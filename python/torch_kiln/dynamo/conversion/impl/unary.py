"""impl.unary: ``impl.unary.exp(ctx, target, name=..., source_ir=..., input_val=x)`` and the other unary ops."""

from .... import _C
from ._common import layer_name


def convert_unary(ctx, target, source_ir, name: str, operation_type, input_val):
    layer = ctx.net.add_unary(input_val, operation_type)
    layer.name = layer_name(target, source_ir, name)
    return layer.get_output(0)


def _make(op_name, op):
    def fn(ctx, target, source_ir=None, name: str = op_name, input_val=None):
        return convert_unary(ctx, target, source_ir, name, op, input_val)

    fn.__name__ = op_name
    return fn


for _name, _op in _C.UnaryOperation.__members__.items():
    globals()[_name.lower()] = _make(_name.lower(), _op)

# torch spellings of the same ops
reciprocal = globals()["recip"]
neg = globals()["neg"]
logical_not = globals()["not"]
