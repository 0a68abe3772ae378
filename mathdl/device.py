"""Pick the best torch device. torch is imported only when these functions are called."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # for the annotations only: torch is not imported at run time here
    import torch

__all__ = ["describe_device", "get_device"]


def get_device() -> torch.device:
    """``torch.device('cuda')`` when a CUDA GPU is usable, else ``'mps'`` (Apple), else ``'cpu'``."""
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe_device(device: str | torch.device | None = None) -> str:
    """A sentence saying which device torch cells will use, and plainly when that is a CPU fallback."""
    import torch

    device = get_device() if device is None else torch.device(device)
    if device.type == "cuda":
        return f"Using CUDA GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Using Apple GPU (MPS)"
    return "No GPU found (neither CUDA nor Apple MPS): falling back to the CPU"
