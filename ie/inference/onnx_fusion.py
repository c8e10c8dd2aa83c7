"""Fused transformer kernels for an exported graph: ONNX Runtime's contrib ops in place of the exporter's
primitive ones (``python -m ie.export``, ``fuse=true``).

torch's exporter writes each layer as some twenty primitive nodes (MatMul, Add, Reshape, Transpose,
Softmax, LayerNormalization, Gelu). onnxscript's ONNX Runtime rewriter (``onnxscript.rewriter.ort_fusions``)
matches those patterns and puts in their place the ops ONNX Runtime ships optimised CPU kernels for:
``Attention`` (the Q/K/V projections and the scaled, masked softmax in one op), ``SkipLayerNormalization``
(residual add and LayerNorm) and ``BiasGelu``. Why onnxscript's rewriter and not
``onnxruntime.transformers.optimizer``: the latter knows the patterns of torch's older TorchScript
exporter; on the dynamo exporter's graphs it fuses LayerNorms and GELUs but never attention.

The rewrite changes how the arithmetic is grouped, not what is computed; the export checks the fused graph
against torch within the same tolerance as the unfused one.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

# the fused ops that carry a layer's work: one Attention, two SkipLayerNormalization and one BiasGelu per layer
FUSED_OPS = ("Attention", "SkipLayerNormalization", "BiasGelu")


def fuse(graph: Path) -> dict[str, int]:
    """Rewrite the graph file in place with ONNX Runtime's fused ops; returns how many of each of
    :data:`FUSED_OPS` the rewritten graph holds."""
    from onnxscript import ir
    from onnxscript.rewriter import ort_fusions

    model = ir.load(str(graph))
    model, _ = ort_fusions.optimize_for_ort(model)
    ir.save(model, str(graph))
    held = {op: sum(node.op_type == op for node in model.graph) for op in FUSED_OPS}
    missing = [op for op, n in held.items() if not n]
    if missing:  # still a correct graph, only a slower one: say so, do not fail the export
        log.warning("%s: no %s fused; the graph runs on primitive ops there", graph, ", ".join(missing))
    return held
