"""[inspect] The expression graph of a function, or of its derivative, as text.

``graph(func, format="mermaid")`` draws the IR: one node per argument, operation
and result, one edge per value flowing from where it is computed to where it is used.
Loops and branches become subgraphs.  With ``adjoint=True`` it draws the reverse
sweep instead: one node per generated statement, edges from the statements whose
values it reads.  Mermaid renders on GitHub and in most docs; DOT is Graphviz's.
"""

from __future__ import annotations

import re

from .ir import Assign, Block, If, Line, Loop, Return, Var, operand_reads, static_code

_IDENT = re.compile(r"(?<![\w.])[A-Za-z_]\w*")


class _Graph:
    def __init__(self):
        self.nodes = []  # (id, label, shape)
        self.edges = []  # (source id, target id)
        self.groups = []  # (label, [node ids]) for loops and branches
        self.producer = {}  # value name -> node id

    def node(self, label, shape="box"):
        nid = f"n{len(self.nodes)}"
        self.nodes.append((nid, label, shape))
        return nid

    def uses(self, nid, names):
        for name in names:
            if name in self.producer and self.producer[name] != nid:
                edge = (self.producer[name], nid)
                if edge not in self.edges:
                    self.edges.append(edge)


def _forward(g, stmts, group):
    for s in stmts:
        if isinstance(s, Assign):
            label = f"{s.target} = {_op_label(s)}"
            nid = g.node(label)
            group.append(nid)
            g.uses(nid, [a.name for a in s.args if isinstance(a, Var)])
            g.producer[s.target] = nid
        elif isinstance(s, Return):
            nid = g.node(f"return {static_code(s.value)}", "output")
            group.append(nid)
            g.uses(nid, [s.value.name] if isinstance(s.value, Var) else [])
        elif isinstance(s, If):
            nid = g.node(f"if {static_code(s.cond)}", "decision")
            group.append(nid)
            g.uses(nid, operand_reads(s)[:1])
            for label, body in (("then", s.body), ("else", s.orelse)):
                members = []
                _forward(g, body, members)
                g.groups.append((f"{label} (line {s.span.lineno})", members))
                group.extend(members)
            for p in s.phis:
                pid = g.node(f"{p.target} = merge", "box")
                group.append(pid)
                g.uses(pid, [v.name for v in (p.then, p.orelse) if isinstance(v, Var)])
                g.producer[p.target] = pid
        elif isinstance(s, Loop):
            head = (f"for {s.index} in range(...)" if s.kind == "for" else "while ...")
            nid = g.node(head, "decision")
            group.append(nid)
            g.uses(nid, [a.name for a in s.bounds if isinstance(a, Var)])
            for c in s.carried:
                g.uses(nid, [c.init.name] if isinstance(c.init, Var) else [])
                g.producer[c.name] = nid
            members = []
            _forward(g, s.test + s.body, members)
            g.groups.append((f"loop (line {s.span.lineno})", members))
            group.extend(members)
            for c in s.carried:
                if isinstance(c.update, Var):
                    g.uses(nid, [c.update.name])


def _op_label(s):
    from .emit import render
    return render(s)[0]


def _adjoint(g, nodes, group):
    for n in nodes:
        if isinstance(n, Line):
            label = (", ".join(n.targets) + " = " if n.targets else "") + n.code
            nid = g.node(label)
            group.append(nid)
            g.uses(nid, sorted(n.reads))
            for t in n.targets:
                g.producer[t] = nid
        elif isinstance(n, Assign):
            nid = g.node(f"{n.target} = {_op_label(n)}")
            group.append(nid)
            g.uses(nid, [a.name for a in n.args if isinstance(a, Var)])
            g.producer[n.target] = nid
        elif isinstance(n, Block):
            nid = g.node(n.header.rstrip(":"), "decision")
            group.append(nid)
            g.uses(nid, sorted(n.reads))
            members = []
            _adjoint(g, n.body + (n.orelse or []), members)
            g.groups.append((n.header.rstrip(":"), members))
            group.extend(members)


def build(func_ir, derivative=None):
    """A _Graph of the function's IR, or of `derivative`'s reverse sweep."""
    g = _Graph()
    top = []
    for p in func_ir.params:
        nid = g.node(p, "input")
        top.append(nid)
        g.producer[p] = nid
    if derivative is None:
        _forward(g, func_ir.body, top)
    else:
        _adjoint(g, list(derivative.forward) + list(derivative.reverse), top)
        for code in derivative.grads:
            nid = g.node(f"return {code}", "output")
            g.uses(nid, _IDENT.findall(code))
    return g


def _escape_mermaid(text):
    return text.replace('"', "#quot;")


def to_mermaid(g):
    lines = ["flowchart TD"]
    shapes = {"input": '(["{}"])', "output": '[/"{}"/]', "decision": '{{"{}"}}',
              "box": '["{}"]'}
    grouped = {nid for _, members in g.groups for nid in members}
    for nid, label, shape in g.nodes:
        if nid not in grouped:
            lines.append(f"    {nid}{shapes[shape].format(_escape_mermaid(label))}")
    for i, (label, members) in enumerate(g.groups):
        lines.append(f'    subgraph g{i}["{_escape_mermaid(label)}"]')
        for nid, text, shape in g.nodes:
            if nid in members and not any(nid in m for _, m in g.groups[i + 1:]):
                lines.append(f"        {nid}{shapes[shape].format(_escape_mermaid(text))}")
        lines.append("    end")
    for a, b in g.edges:
        lines.append(f"    {a} --> {b}")
    return "\n".join(lines) + "\n"


def to_dot(g):
    shapes = {"input": "ellipse", "output": "parallelogram", "decision": "diamond",
              "box": "box"}
    lines = ["digraph s2s {", "    rankdir=TB;", '    node [fontname="monospace"];']
    grouped = {nid for _, members in g.groups for nid in members}
    for nid, label, shape in g.nodes:
        if nid not in grouped:
            lines.append(f'    {nid} [label="{_escape_dot(label)}", shape={shapes[shape]}];')
    for i, (label, members) in enumerate(g.groups):
        lines.append(f'    subgraph cluster_{i} {{')
        lines.append(f'        label="{_escape_dot(label)}";')
        for nid, text, shape in g.nodes:
            if nid in members and not any(nid in m for _, m in g.groups[i + 1:]):
                lines.append(f'        {nid} [label="{_escape_dot(text)}", '
                             f'shape={shapes[shape]}];')
        lines.append("    }")
    for a, b in g.edges:
        lines.append(f"    {a} -> {b};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape_dot(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


def render_graph(func_ir, derivative=None, format="mermaid"):
    g = build(func_ir, derivative)
    if format == "mermaid":
        return to_mermaid(g)
    if format == "dot":
        return to_dot(g)
    raise ValueError(f"unknown graph format {format!r}: use 'mermaid' or 'dot'")
