"""mathdl's public API is annotated: every public function and method of the math modules.

Walks each module's ``__all__`` (functions, and the public methods and properties of classes)
and requires an annotation on every parameter and on the return value (``__init__`` excepted),
and that ``typing.get_type_hints`` resolves them (no dangling forward references).
"""

import importlib
import inspect
import typing

import pytest

# by module path: ``mathdl.tensor`` and ``mathdl.gradcheck`` as attributes are the functions
NAMES = "activations data functional gradcheck init losses nn normalization optim tensor".split()
MODULES = [importlib.import_module(f"mathdl.{n}") for n in NAMES]


def _public_callables(module):
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj
        elif inspect.isclass(obj) and obj.__module__ == module.__name__:
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr not in ("__init__", "__call__"):
                    continue
                if isinstance(member, property):
                    member = member.fget
                if inspect.isfunction(member):
                    yield f"{module.__name__}.{name}.{attr}", member


CALLABLES = [c for m in MODULES for c in _public_callables(m)]


def test_the_walk_finds_the_api():
    names = {n for n, _ in CALLABLES}
    assert len(CALLABLES) > 100
    for expected in (
        "mathdl.tensor.Tensor.backward",
        "mathdl.functional.batch_norm",
        "mathdl.optim.Optimizer.add_param_group",
        "mathdl.nn.BatchNorm1d.forward",
        "mathdl.losses.cross_entropy_and_gradient",
    ):
        assert expected in names


@pytest.mark.parametrize("name, fn", CALLABLES, ids=[n for n, _ in CALLABLES])
def test_public_callable_is_fully_annotated(name, fn):
    sig = inspect.signature(fn)
    missing = [
        p.name
        for p in sig.parameters.values()
        if p.name not in ("self", "cls") and p.annotation is inspect.Parameter.empty
    ]
    assert not missing, f"{name}: parameters without a type hint: {missing}"
    if fn.__name__ != "__init__":
        assert sig.return_annotation is not inspect.Signature.empty, f"{name}: no return hint"
    typing.get_type_hints(fn)  # every annotation resolves
