"""impl.activation: ``impl.activation.tanh(ctx, target, name=..., source_ir=..., input_val=x)`` and friends."""

from typing import Any, Optional

from .... import _C
from ._common import layer_name


def convert_activation(ctx, target, source_ir, name: str, operation_type, input_val, alpha: Optional[float] = None,
                       beta: Optional[float] = None):
    layer = ctx.net.add_activation(input_val, operation_type)
    if alpha is not None:
        layer.alpha = alpha
    if beta is not None:
        layer.beta = beta
    layer.name = layer_name(target, source_ir, name)
    return layer.get_output(0)


def relu(ctx, target, source_ir=None, name="relu", input_val=None):
    return convert_activation(ctx, target, source_ir, name, _C.ActivationType.RELU, input_val)


def sigmoid(ctx, target, source_ir=None, name="sigmoid", input_val=None):
    return convert_activation(ctx, target, source_ir, name, _C.ActivationType.SIGMOID, input_val)


def tanh(ctx, target, source_ir=None, name="tanh", input_val=None):
    return convert_activation(ctx, target, source_ir, name, _C.ActivationType.TANH, input_val)


def leaky_relu(ctx, target, source_ir=None, name="leaky_relu", input_val=None, alpha: float = 0.01):
    return convert_activation(ctx, target, source_ir, name, _C.ActivationType.LEAKY_RELU, input_val, alpha=alpha)


def elu(ctx, target, source_ir=None, name="elu", input_val=None, alpha: float = 1.0):
    return convert_activation(ctx, target, source_ir, name, _C.ActivationType.ELU, input_val, alpha=alpha)


def hardtanh(ctx, target, source_ir=None, name="hardtanh", input_val=None, min_val: float = -1.0, max_val: float = 1.0):
    return convert_activation(ctx, target, source_ir, name, _C.ActivationType.CLIP, input_val, alpha=min_val,
                              beta=max_val)


def gelu(ctx, target, source_ir=None, name="gelu", input_val=None, approximate: str = "none"):
    kind = _C.ActivationType.GELU_TANH if approximate == "tanh" else _C.ActivationType.GELU_ERF
    return convert_activation(ctx, target, source_ir, name, kind, input_val)


def softplus(ctx, target, source_ir=None, name="softplus", input_val=None, beta: float = 1.0):
    # torch: log(1 + exp(beta x)) / beta  ==  Kiln's alpha * log(exp(beta' x) + 1) with alpha = 1/beta, beta' = beta
    return convert_activation(ctx, target, source_ir, name, _C.ActivationType.SOFTPLUS, input_val, alpha=1.0 / beta,
                              beta=beta)
