"""Interactive playgrounds for the lessons: controls wired to a matplotlib picture.

UI code lives here (and in :mod:`mathdl.plots`), never in the math modules.

Usage in a notebook::

    from mathdl.playground import Playground, Diverged, lr_slider, init_dropdown, seed_slider

    def draw(ax, lr, init, seed):
        ax.clear()
        ...                       # compute with lr / init / seed and plot on ax
        if not np.isfinite(loss):
            raise Diverged("loss overflowed")   # the picture says "diverged"

    Playground(draw, lr=lr_slider(0.1), init=init_dropdown(), seed=seed_slider())

Each change of a control calls ``draw(axes, **values)`` and re-renders the figure into a
:class:`Picture` widget (no pyplot figure, no flicker), shown at its CSS size and rendered at the
screen's devicePixelRatio, so it is never upscaled. The figure is created once; ``draw``
may clear and redraw the axes or update artists kept in a closure (faster). Divergence
(``Diverged``, ``OverflowError``, ``FloatingPointError``) is shown as "diverged" in the
picture, never as a traceback. Any other exception is recorded in ``.errors`` and shown in
the picture, so the tests that drive every control can fail on it.
"""

import io
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import anywidget
import ipywidgets as widgets
import numpy as np
import numpy.typing as npt
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.text import Text
from PIL import Image as PILImage

from .init import SCHEMES

__all__ = [
    "INIT_CHOICES",
    "WIDGET_STYLE",
    "Diverged",
    "Picture",
    "Playground",
    "choice_slider",
    "dropdown",
    "encode_png",
    "float_slider",
    "init_dropdown",
    "instances",
    "lr_slider",
    "scale_slider",
    "seed_slider",
]

#: The initialization schemes offered in every lesson's widget.
INIT_CHOICES = ("zeros", "small normal", "xavier", "he")

_INSTANCES: list["Playground"] = []


def instances() -> list["Playground"]:
    """Every Playground created in this kernel (the widget tests drive them all)."""
    return list(_INSTANCES)


class Diverged(Exception):
    """Raise from a draw function when the computation blew up (inf/nan loss)."""


#: The course's control style: every control 420 px wide, its description 110 px.
WIDGET_STYLE = dict(layout=dict(width="420px"), style=dict(description_width="110px"))


def _styled(cls: type, **kwargs: Any) -> Any:
    """A control of ipywidgets class ``cls`` in the course's style, updating while dragged."""
    if cls is not widgets.Dropdown:
        kwargs.setdefault("continuous_update", True)
    return cls(**WIDGET_STYLE, **kwargs)


def _log_slider(
    value: float, min: float, max: float, step: float, description: str
) -> widgets.FloatLogSlider:
    return _styled(
        widgets.FloatLogSlider,
        value=value,
        base=10,
        min=np.log10(min),
        max=np.log10(max),
        step=step,
        description=description,
        readout_format=".2g",
    )


def lr_slider(
    value: float = 0.1, min: float = 1e-4, max: float = 10.0, description: str = "learning rate"
) -> widgets.FloatLogSlider:
    """A log-scale slider for the learning rate (steps of 10^0.1)."""
    return _log_slider(value, min, max, 0.1, description)


def scale_slider(
    value: float = 1.0, min: float = 0.01, max: float = 10.0, description: str = "init scale"
) -> widgets.FloatLogSlider:
    """A log-scale slider for a multiplier on the initial weights (or starting point)."""
    return _log_slider(value, min, max, 0.05, description)


def _choice(cls: type, options: Iterable[Any], value: Any, description: str) -> Any:
    options = list(options)
    value = options[0] if value is None else value
    return _styled(cls, options=options, value=value, description=description)


def dropdown(
    options: Iterable[Any], value: Any = None, description: str = "choice"
) -> widgets.Dropdown:
    """A choice among ``options`` (names) in the course's style; ``value`` defaults to the first."""
    return _choice(widgets.Dropdown, options, value, description)


def init_dropdown(
    value: str = "he", options: Sequence[str] = INIT_CHOICES, description: str = "initialization"
) -> widgets.Dropdown:
    """A choice of weight-initialization scheme (names from :data:`mathdl.init.SCHEMES`)."""
    unknown = [o for o in options if o not in SCHEMES]
    if unknown:
        raise ValueError(
            f"unknown initialization scheme(s) {unknown}; choose from {sorted(SCHEMES)}"
        )
    return dropdown(options, value, description)


def seed_slider(value: int = 0, max: int = 20, description: str = "seed") -> widgets.IntSlider:
    """The random seed: the same seed gives the same numbers."""
    return _styled(widgets.IntSlider, value=value, min=0, max=max, description=description)


def float_slider(
    value: float, min: float, max: float, step: float = 0.1, description: str = "value"
) -> widgets.FloatSlider:
    """A linear slider for any other real control (a starting point that may be negative, a curvature, noise)."""
    return _styled(
        widgets.FloatSlider,
        value=value,
        min=min,
        max=max,
        step=step,
        description=description,
        readout_format=".3g",
    )


def choice_slider(
    options: Iterable[Any], value: Any = None, description: str = "choice"
) -> widgets.SelectionSlider:
    """A slider over a few discrete values (e.g. batch sizes 1, 2, 4, ... 256) in the course's layout."""
    return _choice(widgets.SelectionSlider, options, value, description)


#: PNG colour type by channels: 2 truecolour (RGB), 6 truecolour with alpha (RGBA).
_PNG_COLOR_TYPE = {3: 2, 4: 6}


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(pixels: npt.ArrayLike, level: int = 1) -> bytes:
    """A PNG of an (H, W, 3) RGB or (H, W, 4) RGBA uint8 array, made for speed: no row filter,
    zlib ``level`` 1 by default.

    On the playgrounds' pictures (white background, lines, text) this is 2 to 3 times faster
    than PIL's default encoder at 2x resolution (adaptive filters, level 6) for a file of about
    the same size; the pixels are exact (lossless). The site's overlays (RGBA, mostly
    transparent zeros) are written at level 6, which zlib packs well.
    """
    pixels = np.asarray(pixels)
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in _PNG_COLOR_TYPE:
        raise ValueError(
            f"expected an (H, W, 3) or (H, W, 4) uint8 array, got {pixels.dtype} {pixels.shape}"
        )
    h, w, channels = pixels.shape
    raw = np.empty((h, channels * w + 1), np.uint8)
    raw[:, 0] = 0  # filter type 0 (none) for every row
    raw[:, 1:] = pixels.reshape(h, channels * w)
    # 8 bits per channel, truecolour (with alpha), no interlace
    header = struct.pack(">IIBBBBB", w, h, 8, _PNG_COLOR_TYPE[channels], 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
        + _png_chunk(b"IEND", b"")
    )


_PICTURE_ESM = """
function render({ model, el }) {
  const img = document.createElement("img");
  img.style.cssText = "display:block; height:auto; max-width:100%;";
  let url = null;
  const size = () => { img.style.width = model.get("css_width") + "px"; };
  const show = () => {
    const v = model.get("value");
    if (!v || !v.byteLength) return;
    const next = URL.createObjectURL(new Blob([v], { type: "image/png" }));
    img.src = next;
    if (url) URL.revokeObjectURL(url);
    url = next;
  };
  const report = () => {
    const dpr = window.devicePixelRatio || 1;
    if (model.get("device_pixel_ratio") !== dpr) {
      model.set("device_pixel_ratio", dpr);
      model.save_changes();
    }
  };
  model.on("change:value", show);
  model.on("change:css_width", size);
  size(); show(); report();
  window.addEventListener("resize", report);  // zooming or moving to another screen
  el.appendChild(img);
  return () => { window.removeEventListener("resize", report); if (url) URL.revokeObjectURL(url); };
}
export default { render };
"""


class Picture(anywidget.AnyWidget):
    """A PNG shown ``css_width`` CSS pixels wide (never stretched) that reports the screen's
    ``device_pixel_ratio`` back to the kernel, so the picture can be rendered with as many
    pixels as the screen shows (2x on a HiDPI screen). 1 until a browser reports."""

    _esm = _PICTURE_ESM
    value = traitlets.Bytes(b"").tag(sync=True)
    css_width = traitlets.Int(600).tag(sync=True)
    device_pixel_ratio = traitlets.Float(1.0).tag(sync=True)
    format = "png"


class Playground:
    """A picture that redraws whenever one of its controls changes.

    Parameters
    ----------
    draw : callable(axes, **values)
        Draws on ``axes`` (one Axes, or an array when ``nrows * ncols > 1``) for the current
        control values, passed by the names given in ``controls``. A ``Button`` control passes
        how many times it has been clicked.
    setup : callable(axes), optional
        Draws the parts that never change (contours, data points) once. Then ``draw`` only
        updates artists (``line.set_data(...)``), which keeps each redraw well under 100 ms.
    figsize, nrows, ncols, dpi :
        The figure, created once. It is shown ``figsize * dpi`` CSS pixels wide (never wider:
        the picture is not upscaled in the browser); ``dpi`` is at least 100.
    pixel_ratio : float or None
        Image pixels per CSS pixel. None (default): the browser's devicePixelRatio, reported by
        the picture widget (1 on an ordinary screen, 2 on a HiDPI one; 1 where no browser runs),
        so the picture is neither upscaled (blurred) nor bigger than the screen can show (every
        extra pixel costs drawing, encoding and decoding time). A number fixes it (1 to 4).
    fixed_layout : bool
        False (default): constrained layout is recomputed at every redraw. True: it is computed
        at the first render and kept, which cuts the redraw time by about 40%; right when redraws
        change limits and labels only a little.
    blit : bool
        True: the figure is drawn in full once, at the first render, without the artists marked
        animated (``animated=True`` when created in ``setup``, or ``artist.set_animated(True)``);
        every redraw then pastes that background and draws only the animated artists on top
        (and the "diverged" banner), about 5x faster. ``draw`` must then change animated artists
        only: titles and other artists stay as first drawn. A redraw that changes an axis' limits
        draws the background again (at full cost). Implies ``fixed_layout``. The list of animated
        artists is kept between redraws while the figure's artists stay the same (an artist
        added or removed makes it look again); the views in :mod:`mathdl.views` are built for
        this mode.
    background_key : callable or None
        With ``blit``: a function of no arguments whose value changes whenever the figure's
        non-animated parts change without a change of limits (e.g. which surface's contours are
        visible); the background is drawn again when it does.
    **controls : ipywidgets widgets
        Named controls, e.g. ``lr=lr_slider()``.
    """

    def __init__(
        self,
        draw: Callable[..., None],
        *,
        setup: Callable[[Any], None] | None = None,
        figsize: tuple[float, float] = (6.5, 3.6),
        nrows: int = 1,
        ncols: int = 1,
        dpi: float = 100,
        pixel_ratio: float | None = None,
        fixed_layout: bool = False,
        blit: bool = False,
        background_key: Callable[[], Any] | None = None,
        **controls: Any,
    ) -> None:
        if not controls:
            raise ValueError("a Playground needs at least one control")
        if not dpi >= 100:
            raise ValueError(f"dpi must be at least 100 (text would be too small), got {dpi!r}")
        if pixel_ratio is not None and not 1 <= pixel_ratio <= 4:
            raise ValueError(f"pixel_ratio must be None or between 1 and 4, got {pixel_ratio!r}")
        self.draw = draw
        self.controls = controls
        self.dpi = dpi
        self.pixel_ratio = pixel_ratio
        self.figure = Figure(figsize=figsize, dpi=dpi * (pixel_ratio or 1), layout="constrained")
        self.fixed_layout = fixed_layout
        self.blit = blit
        self._background_key = background_key or (lambda: None)
        self._background: Any = None  # the Agg canvas' saved region (blitting)
        self._background_limits: list[Any] | None = None
        # (signature of the figure's artists, its animated artists)
        self._animated: tuple[tuple[int, ...], list[Any]] | None = None
        self.canvas = FigureCanvasAgg(self.figure)
        #: One Axes, or an array of them when ``nrows * ncols > 1``.
        self.axes: Any = self.figure.subplots(nrows, ncols)
        #: What :func:`mathdl.views.build.view_playground` built the playground around.
        self.view: Any = None
        self._t_encode = 0.0
        #: False: redraws skip the PNG (the site export reads the canvas itself).
        self.encoding = True
        if setup is not None:
            setup(self.axes)
        self._banner: Text | None = None
        self._clicks: dict[str, int] = {}
        self.errors: list[Exception] = []
        self.latencies: list[float] = []
        #: Per redraw, seconds spent in ``draw`` (compute), matplotlib drawing and PNG encoding.
        self.timings: list[dict[str, float]] = []
        # Shown at its CSS size (figsize * dpi): an ipywidgets Image would be stretched to the
        # output's width and upscaled. Narrower outputs shrink it (max-width 100%).
        self.image = Picture(css_width=round(figsize[0] * dpi))
        self.image.observe(self._on_pixel_ratio, names="device_pixel_ratio")
        self.widget = self._wire_controls()
        _INSTANCES.append(self)
        self.refresh()

    def _wire_controls(self) -> widgets.VBox:
        """Redraw on every control's change (a Button: count its clicks); the controls two per
        row above the picture."""
        for name, w in self.controls.items():
            if isinstance(w, widgets.Button):
                self._clicks[name] = 0
                w.on_click(lambda _b, name=name: self._clicked(name))
            else:
                w.observe(self._on_change, names="value")
        controls = list(self.controls.values())
        boxes = [widgets.HBox(controls[i : i + 2]) for i in range(0, len(controls), 2)]
        return widgets.VBox([*boxes, self.image])

    # ----- values -------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """Current control values by name."""
        return {
            name: (self._clicks[name] if name in self._clicks else w.value)
            for name, w in self.controls.items()
        }

    def _on_change(self, _change: object) -> None:
        self.refresh()

    def _on_pixel_ratio(self, change: dict[str, Any]) -> None:
        if self.pixel_ratio is not None:
            return
        ratio = min(max(float(change["new"]), 1.0), 4.0)
        if self.figure.dpi != self.dpi * ratio:
            self.figure.set_dpi(self.dpi * ratio)
            self._background = None  # the blitting background has the old size
            self.refresh()

    def _clicked(self, name: str) -> None:
        self._clicks[name] += 1
        self.refresh()

    # ----- drawing ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute and redraw for the current values; records the latency in seconds."""
        t0 = time.perf_counter()
        message = None
        try:
            with np.errstate(all="ignore"):
                self.draw(self.axes, **self.values())
        except (Diverged, OverflowError, FloatingPointError) as exc:
            message = "diverged" + (f": {exc}" if str(exc) else "")
        except Exception as exc:  # recorded for the tests, shown instead of a traceback
            self.errors.append(exc)
            message = f"error: {type(exc).__name__}: {exc}"
        self._show_banner(message)
        t1 = time.perf_counter()
        self._t_encode = 0.0
        png = self._render_blit() if self.blit else self._render()
        t2 = time.perf_counter()
        self.image.value = png
        t3 = time.perf_counter()
        self.latencies.append(t3 - t0)
        self.timings.append(
            dict(
                compute=t1 - t0,
                render=t2 - t1 - self._t_encode,
                encode=self._t_encode,
                send=t3 - t2,
            )
        )

    def _render(self) -> bytes:
        self.canvas.draw()
        png = self._encode()
        if self.fixed_layout and isinstance(
            self.figure.get_layout_engine(), ConstrainedLayoutEngine
        ):
            self.figure.set_layout_engine(
                "none"
            )  # keep the positions constrained layout just found
        return png

    def _render_blit(self) -> bytes:
        canvas = self.canvas
        limits = [
            self._background_key(),
            *((ax.get_xlim(), ax.get_ylim()) for ax in self.figure.axes),
        ]
        if self._background is None or limits != self._background_limits:
            if self._banner is not None:
                self._banner.set_visible(False)
            canvas.draw()  # lays out and draws everything except the animated artists
            self.figure.set_layout_engine("none")
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            self._background_limits = limits
            if self._banner is not None:
                self._banner.set_visible(True)
        canvas.restore_region(self._background)
        # Finding the animated artists walks the whole figure (every tick, contour and label):
        # about a fifth of a redraw. Keep the list while the figure's artists stay the same.
        signature = (len(self.figure.texts), *(len(ax.get_children()) for ax in self.figure.axes))
        if self._animated is None or self._animated[0] != signature:
            self._animated = (signature, self.figure.findobj(lambda a: a.get_animated()))
        for artist in self._animated[1]:
            self.figure.draw_artist(artist)
        if self._banner is not None:
            self.figure.draw_artist(self._banner)
        return self._encode()

    def _encode(self) -> bytes:
        if not self.encoding:
            self._t_encode = 0.0
            return b""
        t0 = time.perf_counter()
        rgba = np.asarray(self.canvas.buffer_rgba())
        if to_rgba(self.figure.get_facecolor())[3] == 1.0:  # opaque: RGB, filter none, zlib level 1
            png = encode_png(rgba[..., :3])
        else:
            buf = io.BytesIO()
            PILImage.fromarray(rgba).save(buf, format="png")
            png = buf.getvalue()
        self._t_encode = time.perf_counter() - t0
        return png

    def _show_banner(self, message: str | None) -> None:
        if self._banner is not None:
            self._banner.remove()
            self._banner = None
        if message:
            self._banner = self.figure.text(
                0.5,
                0.5,
                message[:80],
                ha="center",
                va="center",
                fontsize=16,
                color="white",
                bbox=dict(boxstyle="round", facecolor="crimson", alpha=0.9),
                zorder=10,
            )

    @property
    def diverged(self) -> bool:
        """True when the picture currently shows the "diverged" banner."""
        return self._banner is not None and self._banner.get_text().startswith("diverged")

    def set(self, **values: Any) -> None:
        """Set controls programmatically (tests, benchmarks); raises if a draw failed."""
        n = len(self.errors)
        for name, v in values.items():
            if name not in self.controls:
                raise KeyError(f"no control named {name!r}; controls: {list(self.controls)}")
            w = self.controls[name]
            if isinstance(w, widgets.Button):
                for _ in range(int(v)):
                    w.click()
            else:
                w.value = v
        if len(self.errors) > n:
            raise self.errors[-1]

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
