"""Picture helpers shared by the view tests (not a test module).

Blitting: the fast redraw must show what a full draw shows.
"""

import numpy as np
from matplotlib.figure import Figure


def axes(n=1):
    """Axes on a fresh figure that no pyplot state holds: one, or a row of ``n``."""
    fig = Figure()
    return fig.subplots(1, n) if n > 1 else fig.subplots()


def blit_vs_full(pg, threshold=60):
    """Fraction of pixels where the blitted picture differs from a full draw of the figure."""
    import io

    from PIL import Image

    blitted = np.asarray(Image.open(io.BytesIO(pg.image.value)).convert("RGB")).astype(int)
    animated = pg.figure.findobj(lambda a: a.get_animated())
    assert animated, "nothing is animated: blitting would redraw nothing"
    for a in animated:
        a.set_animated(False)
    try:
        pg.figure.canvas.draw()
        full = np.asarray(pg.figure.canvas.buffer_rgba())[..., :3].astype(int)
    finally:
        for a in animated:
            a.set_animated(True)
    assert blitted.shape == full.shape
    return np.mean(np.abs(blitted - full).max(axis=-1) > threshold)


def line(ax, label):
    return next(li for li in ax.get_lines() if li.get_label() == label)
