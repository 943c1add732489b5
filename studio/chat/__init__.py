"""Chat: `engine` (one base model, every adapter loaded once, batched generation), `sampling` (the one
per-row sampler), `fused_lora` (a batch's LoRA deltas side by side), `arena` (panes, duels, votes),
`config` (GenerationConfig) and `threads` (model work in short-lived threads)."""
