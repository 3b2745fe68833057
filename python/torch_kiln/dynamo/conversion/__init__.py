"""Converters: the registry decorator, priorities, the conversion context, and the impl library."""

from . import impl
from ._registry import ConversionContext, ConverterPriority, dynamo_kiln_converter, supported_ops

__all__ = ["ConversionContext", "ConverterPriority", "dynamo_kiln_converter", "impl", "supported_ops"]
