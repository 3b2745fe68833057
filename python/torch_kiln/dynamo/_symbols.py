"""Symbolic dims: torch.export names dynamic extents (s0, s1 ...) and derived ones (2*s0). Kiln's IR carries
them as text; engine profiles need their min/opt/max, evaluated from the user's Input ranges.

Data-dependent extents (unbacked symbols u0, u1 ... of nonzero, masked_select, mask indexing) have no range
the user could give: they stay symbols in the IR (-1 to the engine, sized by an output allocator at run
time) with the range [0, unbounded]."""

from typing import Dict, Set, Tuple, Union

import sympy
import torch
from torch.fx.experimental.symbolic_shapes import free_unbacked_symbols

Range = Tuple[int, int, int]


class SymbolTable:
    def __init__(self):
        self.ranges: Dict[str, Range] = {}
        self.data_dependent: Set[str] = set()  # expressions over unbacked symbols

    def bind_input(self, fake: torch.Tensor, spec) -> None:
        """Records the range of every dynamic dim of a placeholder from its Input spec."""
        for d, extent in enumerate(fake.shape):
            if isinstance(extent, torch.SymInt):
                name = str(extent)
                self.ranges.setdefault(name, (spec.min_shape[d], spec.opt_shape[d], spec.max_shape[d]))

    def dim_spec(self, extent, ) -> Union[int, Tuple[str, int, int]]:
        """An int for static extents; (expression, min, max) for symbolic ones."""
        if isinstance(extent, int):
            return extent
        if isinstance(extent, torch.SymInt):
            expr = extent.node.expr
            if expr.is_number:
                return int(expr)
            if free_unbacked_symbols(expr):
                self.data_dependent.add(str(expr))
                return (str(expr), 0, -1)
            lo, _, hi = self.evaluate(str(expr))
            return (str(expr), lo, hi)
        return int(extent)

    def is_data_dependent(self, expression) -> bool:
        return isinstance(expression, str) and expression in self.data_dependent

    def evaluate(self, expression: Union[int, str]) -> Range:
        if isinstance(expression, int):
            return (expression, expression, expression)
        if self.is_data_dependent(expression):
            raise ValueError(
                f"extent {expression} is data-dependent (it comes from nonzero, masked_select or mask indexing "
                "run in PyTorch) and cannot size an engine input; let Kiln convert that op too, or keep the ops "
                "that read it in PyTorch")
        expr = sympy.sympify(expression)
        values = []
        for k in range(3):
            subs = {sympy.Symbol(name): r[k] for name, r in self.ranges.items()}
            value = expr.subs(subs)
            if not value.is_number:
                raise ValueError(f"cannot evaluate dynamic extent {expression}: unknown symbols {value.free_symbols}")
            values.append(int(value))
        lo, opt, hi = values
        return (min(lo, hi), opt, max(lo, hi))
