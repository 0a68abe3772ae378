"""The public API of mathdl.views.race, .layers and .boundary carries type hints."""

import matplotlib

matplotlib.use("Agg")

import pytest


def _view_callables():
    import inspect

    from mathdl.views import boundary, layers, race

    for module in (race, layers, boundary):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{name}", obj
            elif inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if (not attr.startswith("_") or attr == "__init__") and inspect.isfunction(
                        member
                    ):
                        yield f"{module.__name__}.{name}.{attr}", member


@pytest.mark.parametrize(
    "name, fn", list(_view_callables()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_view_api_is_annotated(name, fn):
    import inspect
    import typing

    sig = inspect.signature(fn)
    missing = [
        p.name for p in sig.parameters.values() if p.name != "self" and p.annotation is p.empty
    ]
    assert not missing, f"{name}: parameters without a type hint: {missing}"
    if fn.__name__ != "__init__":
        assert sig.return_annotation is not sig.empty, f"{name}: no return hint"
    typing.get_type_hints(fn)
