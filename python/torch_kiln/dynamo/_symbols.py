"""Symbolic dims: torch.export names dynamic extents (s0, s1 ...) and derived ones (2*s0). Kiln's IR carries
them as text; engine profiles need their min/opt/max, evaluated from the user's Input ranges."""

from typing import Dict, Tuple, Union

import sympy
import torch

Range = Tuple[int, int, int]


class SymbolTable:
    def __init__(self):
        self.ranges: Dict[str, Range] = {}

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
            lo, _, hi = self.evaluate(str(expr))
            return (str(expr), lo, hi)
        return int(extent)

    def evaluate(self, expression: Union[int, str]) -> Range:
        if isinstance(expression, int):
            return (expression, expression, expression)
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
