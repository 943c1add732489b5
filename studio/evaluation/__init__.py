"""The parts of persona evaluation (studio.evaluation.run): batched generation and held-out loss, style
statistics and embeddings, the memorisation detector, the knowledge probe, and the report."""
