"""From the partitioned IR back to a torch.fx.GraphModule: Kiln segments become KilnEngineModule submodules,
nodes left to PyTorch become calls of their ATen ops (with the arguments lowering gave them)."""

import copy
import json
import operator
from typing import Any, Dict, List, Tuple

import numpy as np
import torch
import torch.fx

from .. import _C
from .._types import to_torch_dtype
from ..runtime import KilnEngineModule
from ._translate import LIST_GET_TARGET, OPAQUE_PREFIX, Translation, _fetch_attr

_LAYOUTS = {"torch.strided": torch.strided, "torch.sparse_coo": torch.sparse_coo}
_FORMATS = {
    "torch.contiguous_format": torch.contiguous_format,
    "torch.channels_last": torch.channels_last,
    "torch.preserve_format": torch.preserve_format,
    "torch.channels_last_3d": torch.channels_last_3d,
}
_CODE_TO_DTYPE = {0: torch.uint8, 1: torch.int8, 2: torch.int16, 3: torch.int32, 4: torch.int64, 5: torch.float16,
                  6: torch.float32, 7: torch.float64, 11: torch.bool, 15: torch.bfloat16}


def resolve_op(target: str):
    """torch.ops.aten.add.Tensor for "aten::add.Tensor"."""
    namespace, _, rest = target.partition("::")
    name, _, overload = rest.partition(".")
    return getattr(getattr(getattr(torch.ops, namespace), name), overload or "default")


def schema_arg_types(op) -> List[str]:
    """The written type of each argument ("ScalarType?", "Layout?", "int[2]") from the schema text: torch's
    Python type objects print ScalarType and Layout both as int."""
    text = str(op._schema)
    inner = text[text.index("(") + 1:text.rindex(") ->")]
    parts, depth, current = [], 0, ""
    for ch in inner:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    types = []
    for part in parts:
        part = part.strip()
        if not part or part == "*":
            continue
        types.append(part.split("=")[0].rsplit(" ", 1)[0].strip())
    return types


def _python_value(arg_type: str, value):
    """IR constants back to what the op expects for its schema type."""
    t = arg_type.replace("?", "")
    if value is None:
        return None
    if t == "ScalarType":
        return _CODE_TO_DTYPE[value]
    if t == "Layout":
        return _LAYOUTS.get(value if str(value).startswith("torch.") else f"torch.{value}", torch.strided)
    if t == "Device":
        return torch.device(value)
    if t == "MemoryFormat":
        return _FORMATS.get(value if str(value).startswith("torch.") else f"torch.{value}", torch.contiguous_format)
    return value


class Rebuilder:
    def __init__(self, translation: Translation, settings, native_settings, segment_engines: Dict[int, Any] = None):
        self.t = translation
        self.settings = settings
        self.native = native_settings
        self.nodes = {entry[1]: entry for entry in translation.graph.describe()}
        self.graph = torch.fx.Graph()
        self.graph._codegen = copy.deepcopy(translation.gm.graph._codegen)
        self.root = torch.nn.Module()
        self.env: Dict[Tuple[str, int], torch.fx.Node] = {}
        self.engines: List[KilnEngineModule] = []

    # -- values ----------------------------------------------------------------------------------------
    def _value(self, producer: str, index: int):
        key = (producer, index)
        if key not in self.env:
            entry = self.nodes[producer]
            if entry[0] != "get_attr":
                raise RuntimeError(f"value {producer}[{index}] is used before it is computed (partition order)")
            self.env[key] = self._emit_get_attr(producer)
        return self.env[key]

    def _arg(self, a):
        if isinstance(a, tuple) and len(a) == 3 and a[0] == "%value":
            return self._value(a[1], a[2])
        if isinstance(a, list):
            return [self._arg(x) for x in a]
        return a

    def _emit_get_attr(self, name: str) -> torch.fx.Node:
        attr = f"_kiln_const_{len(list(self.root.named_buffers()))}"
        fx_node = self.t.fx_nodes.get(name)
        if fx_node is not None and fx_node.op == "get_attr":
            tensor = _fetch_attr(self.t.gm, fx_node.target).detach()
        else:  # created by lowering (constant folding)
            dtype, shape, data = self.t.graph.get_attr_value(name)
            tensor = torch.frombuffer(bytearray(data), dtype=to_torch_dtype(dtype)).reshape(shape) if data else torch.empty(
                shape, dtype=to_torch_dtype(dtype), device="cpu")
            # A folded value stands for tensors that lived on the target device: keep it there, so a result
            # that is entirely constant still comes back on the device the model runs on.
            tensor = tensor.to(self.settings.device)
        self.root.register_buffer(attr, tensor)
        return self.graph.get_attr(attr)

    # -- nodes -----------------------------------------------------------------------------------------
    def emit_placeholders(self):
        for fx_node in self.t.gm.graph.nodes:
            if fx_node.op == "placeholder":
                new = self.graph.placeholder(fx_node.name, type_expr=fx_node.type)
                new.meta = dict(fx_node.meta)
                self.env[(fx_node.name, 0)] = new

    def emit_torch_node(self, name: str):
        op_kind, _, target, args, metas = self.nodes[name]
        if op_kind in ("placeholder", "output"):
            return
        if op_kind == "get_attr":
            return  # emitted lazily where PyTorch needs it
        if target.startswith(OPAQUE_PREFIX):
            fx_node = self.t.fx_nodes[name]

            def remap(a):
                if isinstance(a, torch.fx.Node):
                    value = self.t.values[a.name][0]
                    return self._value(value.producer, value.index)
                return a

            new = self.graph.call_function(
                fx_node.target, torch.fx.node.map_aggregate(fx_node.args, remap),
                torch.fx.node.map_aggregate(fx_node.kwargs, remap))
        elif target == LIST_GET_TARGET:  # an item of a Tensor[] value: indexing the list
            new = self.graph.call_function(operator.getitem, (self._arg(args[0]), args[1]))
        else:
            op = resolve_op(target)
            positional, keywords = [], {}
            for schema_arg, arg_type, value in zip(op._schema.arguments, schema_arg_types(op), args):
                py_value = _python_value(arg_type, self._arg(value))
                if schema_arg.kwarg_only:
                    keywords[schema_arg.name] = py_value
                else:
                    positional.append(py_value)
            new = self.graph.call_function(op, tuple(positional), keywords)
        fx_original = self.t.fx_nodes.get(name)
        if fx_original is not None:
            new.meta = dict(fx_original.meta)
        if len(metas) == 1:
            self.env[(name, 0)] = new
        else:
            for i in range(len(metas)):
                self.env[(name, i)] = self.graph.call_function(operator.getitem, (new, i))

    def emit_engine(self, segment_id: int, node_names: List[str], inputs, outputs):
        ranges = []
        input_symbols: List[List[Any]] = []
        for producer, index in inputs:
            meta = self.nodes[producer][4][index]
            if meta is None:
                raise RuntimeError(f"engine input {producer}[{index}] is not a tensor")
            dims = meta[1]
            input_symbols.append(dims)
            per_dim = [self.t.symbols.evaluate(d) for d in dims]
            ranges.append(([r[0] for r in per_dim], [r[1] for r in per_dim], [r[2] for r in per_dim]))
        plan, in_names, out_names, build_report = _C.convert_segment(
            self.t.graph, node_names, list(inputs), list(outputs), ranges, self.native)
        output_specs = []
        for producer, index in outputs:
            dtype, dims = self.nodes[producer][4][index]
            shape = []
            for d in dims:
                if isinstance(d, int):
                    shape.append(d)
                    continue
                if self.t.symbols.is_data_dependent(d):
                    shape.append(None)  # known only after the engine ran (see runtime/_execute.py)
                    continue
                ref = next(([i, k] for i, syms in enumerate(input_symbols) for k, s in enumerate(syms) if s == d), None)
                shape.append(ref if ref is not None else d)
            output_specs.append({"dtype": str(to_torch_dtype(dtype)).replace("torch.", ""), "shape": shape})
        name = f"_run_on_acc_{segment_id}"
        engine = KilnEngineModule(plan, name=name, output_specs=output_specs)
        engine.build_report = dict(build_report)
        self.root.add_module(name, engine)
        self.engines.append(engine)
        call = self.graph.call_module(name, tuple(self._value(p, i) for p, i in inputs))
        if len(outputs) == 1:
            self.env[tuple(outputs[0])] = call
        else:
            for k, ref in enumerate(outputs):
                self.env[tuple(ref)] = self.graph.call_function(operator.getitem, (call, k))

    def emit_output(self):
        output_entry = next(e for e in self.nodes.values() if e[0] == "output")
        values = [self._arg(a) for a in output_entry[3]]
        self.graph.output(tuple(values) if len(values) != 1 or self._multi_output() else values[0])

    def _multi_output(self) -> bool:
        out_node = next(n for n in self.t.gm.graph.nodes if n.op == "output")
        return isinstance(out_node.args[0], (list, tuple))

    def finish(self) -> torch.fx.GraphModule:
        gm = torch.fx.GraphModule(self.root, self.graph, class_name="KilnCompiledModule")
        gm.graph.lint()
        return gm
