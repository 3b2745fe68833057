"""Python converters in Kiln's (C++) converter registry, with the dynamo seed's decorator:

    @dynamo_kiln_converter(torch.ops.aten.gelu.default, capability_validator=..., priority=ConverterPriority.HIGH,
                           supports_dynamic_shapes=True, requires_output_allocator=False)
    def my_gelu(ctx, target, args, kwargs, name): ...
"""

import atexit
from enum import Enum
from typing import Any, Callable, Optional

import torch

from ... import _C
from .. import _state


class ConverterPriority(Enum):
    STANDARD = 0
    HIGH = 1


class ConversionContext:
    """What a converter receives as ``ctx``: ``ctx.net`` is the network under construction."""

    def __init__(self, native: "_C.ConversionContext", settings):
        self._native = native
        self.net = native.net
        self.compilation_settings = settings

    def __repr__(self):
        return f"ConversionContext(node={self._native.node_name})"


def _key_of(target) -> str:
    if isinstance(target, torch._ops.OpOverload):
        return f"{target._schema.name}.{target._overloadname or 'default'}"
    raise TypeError(f"converters are registered per op overload (torch.ops.aten.x.overload), got {target!r}")


def _overloads(target):
    if isinstance(target, torch._ops.OpOverloadPacket):
        return [getattr(target, o) for o in target.overloads()]
    return [target]


def dynamo_kiln_converter(
    key,
    enabled: bool = True,
    capability_validator: Optional[Callable[[Any, Any], bool]] = None,
    priority: ConverterPriority = ConverterPriority.STANDARD,
    supports_dynamic_shapes: bool = False,
    requires_output_allocator: bool = False,
):
    """Registers the decorated fn(ctx, target, args, kwargs, name) for `key` (an op overload, or a packet for
    all its overloads). HIGH priority converters are tried before the built-in ones, STANDARD ones after."""

    def register(fn):
        for target in _overloads(key):
            _register_one(target, fn, enabled, capability_validator, priority, supports_dynamic_shapes,
                          requires_output_allocator)
        return fn

    return register


def _register_one(target, fn, enabled, validator, priority, supports_dynamic_shapes, requires_output_allocator):
    def convert(native_ctx, node_name):
        translation, settings = _state.current()
        args, kwargs = native_ctx.args_and_kwargs()
        ctx = ConversionContext(native_ctx, settings)
        out = fn(ctx, target, tuple(args), dict(kwargs), node_name)
        return out if isinstance(out, (list, tuple)) else [out]

    def validate(node_name):
        translation, settings = _state.current()
        fx_node = translation.fx_nodes.get(node_name)
        if fx_node is None:  # a node created by lowering: leave it to the built-in converters
            return False
        return bool(validator(fx_node, settings))

    _C.register_converter(
        _key_of(target), convert, validate if validator is not None else None,
        priority=1 if priority == ConverterPriority.HIGH else 0,
        supports_dynamic_shapes=supports_dynamic_shapes,
        requires_output_allocator=requires_output_allocator, enabled=enabled)


def supported_ops():
    """Every registered target with its flags: validator, dynamic shapes, output allocator, priority, origin."""
    return _C.supported_ops()


atexit.register(_C.clear_python_converters)
