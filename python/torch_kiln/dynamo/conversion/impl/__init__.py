"""The Python impl library: layer builders shared by converters, taking (ctx, target, name=, source_ir=, ...)."""

from . import activation, elementwise, unary

__all__ = ["activation", "elementwise", "unary"]
