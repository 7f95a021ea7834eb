"""What an organisation template may be made of, checked before it is parsed and after.

Its size, its tags, its nodes and their nesting are bounded, so that parsing and compiling
it stay cheap (compiling costs ~3 KB of transient memory per node). It cannot read a file
(``include``, ``import``, ``extends``), define a ``block`` (there is nothing to extend, and
``self.block()`` would render it again), switch escaping off (``autoescape``), recurse in a
loop, or write a number above :data:`MAX_INT`.
"""

from __future__ import annotations

from typing import Final

from jinja2 import Environment, TemplateSyntaxError, nodes

from shared.templates.limits import MAX_DEPTH, MAX_INT, MAX_NODES, MAX_SOURCE_BYTES, MAX_TAGS
from shared.templates.problems import TemplateProblem

_FORBIDDEN: Final[dict[type[nodes.Node], str]] = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "import",
    nodes.Extends: "extends",
    nodes.Block: "block",
    nodes.ScopedEvalContextModifier: "autoescape",
    nodes.EvalContextModifier: "autoescape",
}


def parsed(environment: Environment, source: str) -> nodes.Template:
    """``source`` parsed, once it is known to be small enough; refused with its line
    when it has a syntax error or breaks a rule of this module."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise TemplateProblem(f"template is larger than {MAX_SOURCE_BYTES // 1024} KB")
    tags = source.count("{{") + source.count("{%")
    if tags > MAX_TAGS:
        raise TemplateProblem(f"the template has more than {MAX_TAGS} {{{{ }}}} and {{% %}} tags")
    try:
        tree = environment.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or "syntax error", exc.lineno) from None
    except RecursionError:
        raise TemplateProblem("the template nests too deeply") from None
    _check_nodes(tree)
    return tree


def _check_nodes(tree: nodes.Template) -> None:
    count = 0
    stack: list[tuple[nodes.Node, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise TemplateProblem(f"the template has more than {MAX_NODES} parts (nodes)")
        if depth > MAX_DEPTH:
            raise TemplateProblem(f"the template nests more than {MAX_DEPTH} deep", node.lineno)
        _check_node(node)
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())


def _check_node(node: nodes.Node) -> None:
    tag = _FORBIDDEN.get(type(node))
    if tag is not None:
        raise TemplateProblem(f"'{tag}' is not allowed in a template", node.lineno)
    if isinstance(node, nodes.For) and node.recursive:
        raise TemplateProblem("a recursive loop is not allowed in a template", node.lineno)
    if (
        isinstance(node, nodes.Const)
        and isinstance(node.value, int)
        and not isinstance(node.value, bool)
        and abs(node.value) > MAX_INT
    ):
        raise TemplateProblem(f"numbers above {MAX_INT} are not allowed", node.lineno)
