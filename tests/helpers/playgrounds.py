"""Sweeping a playground through every control, for the view and exercise playground tests."""

import ipywidgets as widgets


def drive(pg):
    """Every control to its ends / through its options; returns the playground's errors."""
    for name, w in pg.controls.items():
        if isinstance(w, widgets.SelectionSlider | widgets.Dropdown):
            values = list(w.options)
        elif isinstance(w, widgets.FloatLogSlider):  # min and max are exponents
            values = [w.base**w.min, w.base**w.max, w.value]
        elif hasattr(w, "min"):
            values = [w.min, w.max, w.value]
        else:
            continue
        for v in values:
            pg.set(**{name: v})
    return pg.errors
