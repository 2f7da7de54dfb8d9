"""The network diagram a lesson shows (:class:`~nntutor.trace.Network`), from the arrays of its tables.

>>> import numpy as np
>>> net = layered("2 → 1", [np.array([1.0, 2.0]), np.array([0.5])], [np.array([[0.25, -0.5]])],
...               [np.array([1.25])], ["x", "y"], ["input x", "y = W·x + b"])
>>> net.layers, net.values, net.weights
((('x0', 'x1'), ('y0',)), ((1.0, 2.0), (0.5,)), (((0.25, -0.5),),))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nntutor.trace import Network


def layered(title: str, values: Sequence[np.ndarray], weights: Sequence[np.ndarray], biases: Sequence[np.ndarray],
            prefixes: Sequence[str], notes: Sequence[str]) -> Network:
    """Nodes ``{prefix}{i}`` per layer with ``values`` (a prefix ending in ``[`` gives ``a1[0]``);
    ``weights[l]`` (outputs × inputs) leads into layer ``l + 1``."""
    def name(prefix: str, i: int) -> str:
        return f"{prefix}{i}]" if prefix.endswith("[") else f"{prefix}{i}"

    return Network(
        title=title,
        layers=tuple(tuple(name(p, i) for i in range(np.size(v))) for p, v in zip(prefixes, values, strict=True)),
        values=tuple(tuple(float(x) for x in np.ravel(v)) for v in values),
        weights=tuple(tuple(tuple(float(w) for w in row) for row in np.atleast_2d(m)) for m in weights),
        notes=tuple(notes),
        biases=tuple(tuple(float(b) for b in np.ravel(v)) for v in biases),
    )
