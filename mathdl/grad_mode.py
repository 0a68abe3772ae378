"""Graph recording on and off, as ``torch.no_grad`` / ``torch.enable_grad``.

:mod:`mathdl.tensor` reads ``_GRAD_ENABLED[0]`` each time an operation makes its result.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["enable_grad", "is_grad_enabled", "no_grad"]

_F = TypeVar("_F", bound=Callable[..., Any])

_GRAD_ENABLED = [True]


def is_grad_enabled() -> bool:
    """True unless inside a :class:`no_grad` block."""
    return _GRAD_ENABLED[0]


class no_grad:
    """Context manager (and decorator) that stops graph recording, like ``torch.no_grad``.

    Inside it, operations give tensors with ``requires_grad=False`` and no history:
    use it for evaluation and for optimizer updates.
    """

    _mode = False

    def __enter__(self) -> no_grad:
        self._prev = _GRAD_ENABLED[0]
        _GRAD_ENABLED[0] = self._mode
        return self

    def __exit__(self, *exc: object) -> None:
        _GRAD_ENABLED[0] = self._prev

    def __call__(self, func: _F) -> _F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():  # a fresh manager per call, so recursion nests correctly
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class enable_grad(no_grad):
    """Turn graph recording back on inside a :class:`no_grad` block."""

    _mode = True
