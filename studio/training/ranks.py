"""Where this process stands in a run on several processes (studio.training.distributed): one process
when not launched by torch.distributed.run. Imports nothing of the studio, so the step and the run can ask."""

from __future__ import annotations

import os


def world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def average_gradients(model) -> None:
    """Average the trainable parameters' gradients over the processes (gloo has no AVG: sum, then divide)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return
    for param in model.parameters():
        if param.requires_grad and param.grad is not None:
            dist.all_reduce(param.grad, op=dist.ReduceOp.SUM)
            param.grad.div_(dist.get_world_size())
