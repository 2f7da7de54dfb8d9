"""A small network drawn as nodes and weighted edges (a :class:`~nntutor.trace.Network`).

One block per layer. The layer's inputs stand on the left, each with its value;
every input feeds every node on the right (the lines meet in one bus), and the
edge into each node is labelled with its weights, one column per input (named
in the header), then the node's bias. Every number is read from the Network,
which the lesson built from the same arrays as its tables; nothing is recomputed.

>>> from nntutor.trace import Network
>>> net = Network("2 → 1", (("x0", "x1"), ("y0", "y1")), ((1.0, 2.0), (0.5, -1.5)),
...               (((0.25, -0.5), (1.0, 0.0)),), ("input x", "y = W·x + b"), ((0.0, 1.0),))
>>> print(network_text(net, precision=2))
2 → 1
(value) ─(a weight per input | bias)─▶ (value)
layer 1: y = W·x + b
                 x0   x1   bias
(x0 1.00) ─┬─( 0.25 -0.5 |    0)─▶ (y0  0.50)
(x1 2.00) ─┴─(    1    0 |    1)─▶ (y1 -1.50)
"""

from __future__ import annotations

from nntutor.numfmt import fmt
from nntutor.trace import Network

MAX_NODES = 4
"""Nodes drawn per layer; the rest are named in a note (their numbers are in the tables)."""


BUS = {  # (line above, line below, an input on the left, a node on the right) -> the bus character
    (False, True, True, True): "┬", (False, True, True, False): "┐", (False, True, False, True): "┌",
    (True, False, True, True): "┴", (True, False, True, False): "┘", (True, False, False, True): "└",
    (True, True, True, True): "┼", (True, True, True, False): "┤", (True, True, False, True): "├",
    (True, True, False, False): "│", (False, False, True, True): "─",
}


def _shown(count: int, most: int = MAX_NODES) -> list[int]:
    return list(range(min(count, most)))


def _nodes(names, values, indices, precision: int) -> list[str]:
    texts = [fmt(values[i], precision, fixed=True) for i in indices]
    name_width = max(len(names[i]) for i in indices)
    value_width = max(len(t) for t in texts)
    return [f"({names[i].ljust(name_width)} {t.rjust(value_width)})" for i, t in zip(indices, texts, strict=True)]


def _layer_block(net: Network, layer: int, precision: int, most: int = MAX_NODES) -> list[str]:
    sources, targets = net.layers[layer], net.layers[layer + 1]
    weights = net.weights[layer]
    biases = net.biases[layer] if layer < len(net.biases) else None
    src, tgt = _shown(len(sources), most), _shown(len(targets), MAX_NODES)
    left = _nodes(sources, net.values[layer], src, precision)
    right = _nodes(targets, net.values[layer + 1], tgt, precision)
    numbers = [fmt(weights[j][i], precision) for j in tgt for i in src]
    if biases is not None:
        numbers += [fmt(biases[j], precision) for j in tgt]
    cell = max(max(len(t) for t in numbers), *(len(sources[i]) for i in src)) + 1
    rows = max(len(src), len(tgt))
    left_width = len(left[0])
    lines = []
    note = net.notes[layer + 1] if layer + 1 < len(net.notes) else ""
    lines.append(f"layer {layer + 1}: {note}" if note else f"layer {layer + 1}")
    header = "".join(sources[i].rjust(cell) for i in src) + ("bias".rjust(cell + 2) if biases is not None else "")
    lines.append(" " * (left_width + 5) + header)
    for r in range(rows):
        has_left, has_right = r < len(left), r < len(right)
        bus = BUS.get((r > 0, r < rows - 1, has_left, has_right), " ")
        line = (left[r] + " ─") if has_left else " " * (left_width + 2)
        line += bus
        if has_right:
            j = tgt[r]
            cells = "".join(fmt(weights[j][i], precision).rjust(cell) for i in src)
            bias = f" | {fmt(biases[j], precision).rjust(cell - 1)}" if biases is not None else ""
            line += f"─({cells}{bias})─▶ {right[r]}"
        lines.append(line.rstrip())
    hidden = [f"{len(sources) - len(src)} of {len(sources)} inputs"] if len(src) < len(sources) else []
    hidden += [f"{len(targets) - len(tgt)} of {len(targets)} nodes"] if len(tgt) < len(targets) else []
    if hidden:
        lines.append(f"({' and '.join(hidden)} not drawn: the tables above have every number)")
    return lines


def network_text(net: Network, *, width: int = 80, precision: int = 4) -> str:
    """The diagram as text, one block per layer; a layer too wide for ``width`` draws fewer inputs."""
    lines = [net.title, "(value) ─(a weight per input | bias)─▶ (value)"]
    for layer in range(len(net.layers) - 1):
        if layer:
            lines.append("")
        for most in range(MAX_NODES, 0, -1):
            block = _layer_block(net, layer, precision, most)
            if max(len(line) for line in block[1:]) <= width:
                break
        lines += block
    return "\n".join(lines)
