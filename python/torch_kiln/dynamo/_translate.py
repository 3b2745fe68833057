"""From a torch.fx graph of ATen ops (torch.export, unlifted) to Kiln's IR.

Each fx node becomes an IR node of the same name: placeholders, get_attr weights, and calls of ATen op
overloads with their schema; tuple getitem resolves to the producer's output value. An op returning Tensor[]
(split, unbind, chunk) has one list value, and getitem on it becomes a prim::list_get node, so other nodes
read single tensors. Calls that are not ATen op overloads (Python arithmetic on sizes ...) become opaque nodes
that always run in PyTorch.
"""

import operator
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.fx

from .. import _C
from .._types import is_supported_dtype, to_kiln_dtype
from ._symbols import SymbolTable

OPAQUE_PREFIX = "kiln::opaque_"
# Item `index` of a Tensor[] value; the same text as the IR's kLIST_GET_SCHEMA (src/ir/graph.h), which the
# extension exports as _C.LIST_GET_SCHEMA (tests check the two agree).
LIST_GET_SCHEMA = "prim::list_get(Tensor(a)[] list, int index) -> Tensor(a)"
LIST_GET_TARGET = "prim::list_get.default"


def _fetch_attr(module: torch.nn.Module, target: str):
    obj = module
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


class Translation:
    """The IR graph plus the maps the rebuild step needs."""

    def __init__(self, gm: torch.fx.GraphModule, input_specs: Sequence[Any]):
        self.gm = gm
        self.graph = _C.Graph()
        self.symbols = SymbolTable()
        self.values: Dict[str, List[Any]] = {}  # fx node name -> IR values (one per output)
        self.list_values: Dict[str, List[bool]] = {}  # fx node name -> per output: a Tensor[] value
        self.fx_nodes: Dict[str, torch.fx.Node] = {}
        self.opaque_targets: Dict[str, Any] = {}  # IR node name -> python callable for opaque nodes
        self.placeholder_names: List[str] = []
        self._translate(input_specs)

    # -- metadata ------------------------------------------------------------------------------------
    def _meta(self, val) -> Optional[Tuple["_C.DataType", list]]:
        if isinstance(val, torch.Tensor) and is_supported_dtype(val.dtype):
            return (to_kiln_dtype(val.dtype), [self.symbols.dim_spec(d) for d in val.shape])
        return None

    def _output_metas(self, node: torch.fx.Node) -> list:
        val = node.meta.get("val")
        lists = _list_returns(node)
        if lists is not None:
            # A Tensor[] return is one untyped value whatever its length; its items get metas at list_get.
            if len(lists) == 1:
                vals = [val]
            else:  # no returns (val None), or a tuple of them
                vals = list(val) if isinstance(val, (tuple, list)) else [None] * len(lists)
            return [None if is_list else self._meta(v) for is_list, v in zip(lists, vals)]
        if isinstance(val, (tuple, list)):
            return [self._meta(v) for v in val]
        return [self._meta(val)]

    # -- arguments -------------------------------------------------------------------------------------
    def _arg(self, a):
        if isinstance(a, torch.fx.Node):
            values = self.values[a.name]
            if len(values) != 1:
                raise ValueError(f"node {a.name} has {len(values)} outputs; use getitem")
            return values[0]
        if isinstance(a, (list, tuple)):
            return [self._arg(x) for x in a]
        if isinstance(a, torch.dtype):
            from .._types import scalar_type_code

            return scalar_type_code(a)
        if isinstance(a, (torch.device, torch.layout, torch.memory_format)):
            return str(a)
        if isinstance(a, torch.SymInt):
            raise ValueError("symbolic ints must come from nodes")
        return a

    # -- translation -----------------------------------------------------------------------------------
    def _translate(self, input_specs):
        graph = self.graph
        placeholder_index = 0
        for node in self.gm.graph.nodes:
            self.fx_nodes[node.name] = node
            if node.op == "placeholder":
                fake = node.meta.get("val")
                if not isinstance(fake, torch.Tensor):
                    raise TypeError(f"input {node.name} is not a tensor; Kiln compiles tensor inputs only")
                if placeholder_index < len(input_specs) and input_specs[placeholder_index] is not None:
                    self.symbols.bind_input(fake, input_specs[placeholder_index])
                placeholder_index += 1
                meta = self._meta(fake)
                if meta is None:
                    raise TypeError(f"input {node.name} has dtype {fake.dtype}, which Kiln does not support")
                self.values[node.name] = [graph.add_placeholder(node.name, meta[0], meta[1])]
                self.placeholder_names.append(node.name)
            elif node.op == "get_attr":
                value = _fetch_attr(self.gm, node.target)
                if not isinstance(value, torch.Tensor):
                    self.values[node.name] = []
                    continue
                tensor = value.detach().cpu().contiguous()
                if tensor.dtype == torch.float64:
                    tensor = tensor.float()
                if not is_supported_dtype(tensor.dtype):
                    raise TypeError(f"weight {node.target} has dtype {tensor.dtype}, which Kiln does not support")
                data = tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
                self.values[node.name] = [
                    graph.add_get_attr(node.name, to_kiln_dtype(tensor.dtype), list(tensor.shape), data)
                ]
            elif node.op == "call_function" and node.target is operator.getitem:
                source, index = node.args
                value = self.values[source.name]
                is_list = self.list_values.get(source.name, [False] * len(value))
                if len(value) == 1 and is_list[0]:
                    meta = self._meta(node.meta.get("val"))
                    self.values[node.name] = list(
                        graph.add_call(LIST_GET_SCHEMA, node.name, [value[0], index], {}, [meta]))
                else:
                    self.values[node.name] = [value[index]]
                    self.list_values[node.name] = [is_list[index]]
            elif node.op == "call_function" and isinstance(node.target, torch._ops.OpOverload):
                schema = str(node.target._schema)
                args = [self._arg(a) for a in _static_sizes(node)]
                kwargs = {k: self._arg(v) for k, v in node.kwargs.items()}
                self.values[node.name] = list(graph.add_call(schema, node.name, args, kwargs, self._output_metas(node)))
                lists = _list_returns(node)
                if lists is not None:
                    self.list_values[node.name] = lists
            elif node.op == "call_function":
                self._add_opaque(node)
            elif node.op == "output":
                outputs = node.args[0]
                flat = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
                graph.set_outputs([self._arg(o) for o in flat])
            else:
                raise NotImplementedError(f"fx node op {node.op} ({node.name}) is not supported by Kiln's frontend")

    def _add_opaque(self, node: torch.fx.Node):  # noqa: D401
        # Python-level calls (operator.mul on sizes, torch.sym_* ...) run in PyTorch; in the IR they are nodes
        # without a converter whose inputs and outputs keep the data flow visible to the partitioner.
        inputs = [a for a in node.all_input_nodes]
        metas = self._output_metas(node)
        returns = ", ".join("Tensor" if m is not None else "Any" for m in metas)
        schema = f"{OPAQUE_PREFIX}{len(self.opaque_targets)}(Any[] inputs) -> ({returns})"
        self.opaque_targets[node.name] = node.target
        values = list(self.graph.add_call(schema, node.name, [[self._arg(i) for i in inputs]], {}, metas))
        self.values[node.name] = values


def _list_returns(node: torch.fx.Node) -> Optional[List[bool]]:
    """Per schema return of an ATen op call: whether it is a list (Tensor[]); None for other calls."""
    if not isinstance(node.target, torch._ops.OpOverload):
        return None
    return [isinstance(r.type, torch.ListType) for r in node.target._schema.returns]


_RESHAPES = {torch.ops.aten.view.default, torch.ops.aten.reshape.default, torch.ops.aten._unsafe_view.default}


def _static_sizes(node: torch.fx.Node):
    """Size lists of reshapes and expands with at most one computed (symbolic) entry get -1 there instead.

    torch.export writes dynamic sizes as sym_size / Python arithmetic nodes; as engine inputs those are ints
    that would have to cross an engine boundary. -1 means the same extent to the engine: for a reshape the
    one inferred dim, for an expand "keep the input's extent" (only used where input and output agree).
    """
    args = node.args
    if node.target not in _RESHAPES and node.target is not torch.ops.aten.expand.default:
        return args
    if len(args) < 2 or not isinstance(args[1], (list, tuple)):
        return args
    sizes = list(args[1])
    computed = [i for i, s in enumerate(sizes) if isinstance(s, torch.fx.Node)]
    if not computed:
        return args
    if node.target in _RESHAPES:
        if len(computed) != 1 or any(isinstance(s, int) and s == -1 for s in sizes):
            return args
        sizes[computed[0]] = -1
        return (args[0], sizes) + tuple(args[2:])
    source = args[0].meta.get("val") if isinstance(args[0], torch.fx.Node) else None
    target = node.meta.get("val")
    if not isinstance(source, torch.Tensor) or not isinstance(target, torch.Tensor):
        return args
    offset = len(target.shape) - len(source.shape)
    for i in computed:
        if i < offset or str(source.shape[i - offset]) != str(target.shape[i]):
            return args
        sizes[i] = -1
    return (args[0], sizes) + tuple(args[2:])
