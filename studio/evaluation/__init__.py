"""The parts of persona evaluation (studio.evaluate): batched generation and held-out loss, style
statistics and embeddings, the memorisation detector, the knowledge probe, and the report."""
