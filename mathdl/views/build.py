"""What every view playground shares: a view drawn once, a redraw per control change, a memo.

:func:`view_playground` builds the blitting two-panel :class:`mathdl.playground.Playground` the
lessons' playgrounds use from a view factory and a draw function; :class:`Memo` keeps results
already computed, so that moving a slider back redraws without recomputing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the playground needs ipywidgets: imported when one is built
    from ..playground import Playground

__all__ = ["Memo", "view_playground"]


class Memo:
    """Results by the settings they depend on, at most ``size`` of them (oldest dropped first).

    ``memo(key, compute)`` returns the result stored under ``key``, calling ``compute()`` (and
    storing what it returns) the first time.
    """

    def __init__(self, size: int = 1000) -> None:
        if size < 1:
            raise ValueError(f"a Memo needs room for at least one result, got size={size}")
        self.size = size
        self._seen: dict[Hashable, Any] = {}

    def __call__(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        if key not in self._seen:
            if len(self._seen) >= self.size:
                del self._seen[next(iter(self._seen))]
            self._seen[key] = compute()
        return self._seen[key]

    def __len__(self) -> int:
        return len(self._seen)


def view_playground(
    make_view: Callable[[Any], Any],
    draw: Callable[..., None],
    *,
    figsize: tuple[float, float],
    dpi: float = 100,
    ncols: int = 2,
    **controls: Any,
) -> Playground:
    """A blitting :class:`~mathdl.playground.Playground` around one view.

    ``make_view(axes)`` builds the view once (its static parts drawn, its changing artists
    ``animated``); each change of a control calls ``draw(view, **values)``. A view with a
    ``background_key`` attribute (e.g. the name of the surface whose contours are visible) has
    its background drawn again whenever that changes. The view is the playground's ``view``.
    """
    from ..playground import Playground

    made: list[Any] = []

    def setup(axes: Any) -> None:
        made.append(make_view(axes))

    def redraw(_axes: Any, **values: Any) -> None:
        draw(made[0], **values)

    def background_key() -> Any:
        return getattr(made[0], "background_key", None) if made else None

    figure: dict[str, Any] = dict(ncols=ncols, figsize=figsize, dpi=dpi)
    pg = Playground(
        redraw, setup=setup, blit=True, background_key=background_key, **figure, **controls
    )
    pg.view = made[0]
    return pg
