"""The changes the sandbox makes to a parsed template before compiling it (with
Jinja2's public ``NodeTransformer``), so that the budget sees what the template does:

- ``a ~ b`` (a ``Concat``, which Jinja2 routes through no hook) becomes a call of
  ``bounded_concat``, which checks the size first;
- every ``for`` loop iterates over ``bounded_iterate(iterable, nbytes)``, which counts
  each item and charges the literal text the loop's body writes (``nbytes``) for it;
- a ``macro`` (and a ``call`` block's body, also a macro) starts with
  ``bounded_written(nbytes)``, the literal text its body writes.

So the text written inside a loop or a macro is charged each time it is written, also
when a ``set``, ``filter`` or ``call`` block buffers it before anything streams out.
Literal text outside them is written once, at most the template's own size. Values
written (``{{ ... }}``) are charged as they are written (``bounded_output.finalized``).

The names are attributes of the environment (``nodes.EnvironmentAttribute``), which no
template can reach.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, cast

from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from shared.templates.bounded_output import POINTER_BYTES
from shared.templates.sizes import text_bytes

ITERATE: Final = "bounded_iterate"
CONCAT: Final = "bounded_concat"
WRITTEN: Final = "bounded_written"
# Bodies that run again and again, each charging its own literal text.
_REPEATING: Final = (nodes.For, nodes.Macro, nodes.CallBlock)


def _hook(name: str, *args: nodes.Expr, lineno: int) -> nodes.Call:
    call = nodes.Call(nodes.EnvironmentAttribute(name), list(args), [], None, None)
    call.set_lineno(lineno)
    return call


def literal_bytes(body: Iterable[nodes.Node]) -> int:
    """The bytes of literal text ``body`` writes each time it runs (and a pointer for
    every piece written), leaving out the bodies that charge for themselves."""
    total = 0
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, nodes.Output):
            total += POINTER_BYTES * len(node.nodes) + sum(
                text_bytes(child.data)
                for child in node.nodes
                if isinstance(child, nodes.TemplateData)
            )
        if isinstance(node, nodes.For):
            stack.extend(node.else_)  # runs once, after the loop
        elif not isinstance(node, _REPEATING):
            stack.extend(node.iter_child_nodes())
    return total


class _Instrument(NodeTransformer):
    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - NodeTransformer's names
        loop = self.generic_visit(node)
        assert isinstance(loop, nodes.For)
        cost = nodes.Const(literal_bytes(loop.body))
        loop.iter = _hook(ITERATE, cast(nodes.Expr, loop.iter), cost, lineno=loop.lineno)
        return loop

    def _charged_body(self, node: nodes.Macro | nodes.CallBlock) -> nodes.Node:
        block = self.generic_visit(node)
        assert isinstance(block, nodes.Macro | nodes.CallBlock)
        charge = nodes.ExprStmt(
            _hook(WRITTEN, nodes.Const(literal_bytes(block.body)), lineno=block.lineno)
        )
        charge.set_lineno(block.lineno)
        block.body.insert(0, charge)
        return block

    visit_Macro = visit_CallBlock = _charged_body  # noqa: N815

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        concat = self.generic_visit(node)
        assert isinstance(concat, nodes.Concat)
        return _hook(CONCAT, *concat.nodes, lineno=node.lineno)


def instrumented(tree: nodes.Template) -> nodes.Template:
    """``tree``, changed in place (see the module's docstring)."""
    _Instrument().visit(tree)
    return tree
