"""Which optimizer: one name table and one contract for an optimizer you pass to a lesson.

Everywhere a lesson or a playground runs "an optimizer" on a parameter
(:func:`mathdl.surfaces.descent_path`, :func:`mathdl.views.race.run_path`, the race and the
descent playgrounds) you may give any of:

* a **name** from :data:`OPTIMIZERS`: ``"sgd"`` or ``"gd"`` (gradient descent, ``SGD`` without
  momentum), ``"momentum"`` (``SGD`` with ``momentum``, default 0.9), ``"nesterov"``,
  ``"rmsprop"``, ``"adam"``, ``"adamw"``; the options (``lr``, ``momentum``, ``betas``, ...) go to
  the :mod:`mathdl.optim` class, which refuses one it does not take;
* a :class:`mathdl.optim.Optimizer` **subclass**, e.g. your own ``class MyAdam(Optimizer)``,
  built as ``cls([param], **options)``;
* an **instance factory**, a callable taking the parameter list and returning an ``Optimizer``,
  e.g. ``lambda params, lr: optim.SGD(params, lr=lr, momentum=0.5)``;
* a **step function** ``step(theta, grad, **options) -> new theta`` on NumPy arrays (keep a
  velocity in a closure), or ``step(theta, grad, state, **options)`` where ``state`` is a dict
  kept from one step to the next, with ``state["t"]`` the step number (1, 2, ...).

To a class, factory or step function each option is passed by keyword when the callable takes a
parameter of that name, and left out when it does not but is one of the optimizers' usual options
(:data:`KNOWN_OPTIONS`: a playground offers ``momentum`` and ``betas`` to every entry); any other
option is refused, so a misspelt ``momentom=0.9`` is an error, never silently ignored.
"""

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from . import optim
from .tensor import Tensor

__all__ = ["KNOWN_OPTIONS", "OPTIMIZERS", "OptimizerSpec", "stepper"]

#: Optimizer names, with the mathdl.optim class and the default options each stands for.
OPTIMIZERS: dict[str, tuple[type[optim.Optimizer], dict[str, Any]]] = {
    "sgd": (optim.SGD, {}),
    "gd": (optim.SGD, {}),
    "momentum": (optim.SGD, {"momentum": 0.9}),
    "nesterov": (optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "rmsprop": (optim.RMSprop, {}),
    "adam": (optim.Adam, {}),
    "adamw": (optim.AdamW, {}),
}

#: The options some named optimizer takes: left out (not refused) where a callable lacks them.
KNOWN_OPTIONS = frozenset(
    name
    for cls, _ in OPTIMIZERS.values()
    for name in inspect.signature(cls.__init__).parameters
    if name not in ("self", "params")
)

#: An optimizer as the lessons accept it: a name, an Optimizer subclass, a factory or a step function.
OptimizerSpec = str | type | Callable[..., Any]


def stepper(spec: OptimizerSpec, param: Tensor, options: Mapping[str, Any]) -> Callable[[], None]:
    """A function doing one step on ``param`` (a Tensor whose ``.grad`` the caller sets)."""
    if isinstance(spec, str):
        if spec not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer name {spec!r}; choose one of {sorted(OPTIMIZERS)}")
        cls, defaults = OPTIMIZERS[spec]
        return cls([param], **{**defaults, **options}).step
    if isinstance(spec, type):
        if not issubclass(spec, optim.Optimizer):
            raise TypeError(
                f"optimizer class {spec.__name__} is not a subclass of mathdl.optim.Optimizer"
            )
        return spec([param], **_accepted(spec, options)).step
    if isinstance(spec, optim.Optimizer):
        raise TypeError(
            "give an optimizer class or a factory (lambda params: ...), not an instance: "
            "each run needs a fresh optimizer"
        )
    if not callable(spec):
        raise TypeError(
            "optimizer must be a name, an Optimizer subclass, a factory or a step function "
            f"step(theta, grad, **options), got {type(spec).__name__}"
        )
    return _callable_stepper(spec, param, options)


def _callable_stepper(
    spec: Callable[..., Any], param: Tensor, options: Mapping[str, Any]
) -> Callable[[], None]:
    kwargs = _accepted(spec, options)
    free = _free_positional(spec, kwargs)
    if len(free) == 1:
        opt = spec([param], **kwargs)
        if not isinstance(opt, optim.Optimizer):
            raise TypeError(
                f"an optimizer factory must return a mathdl.optim.Optimizer, got {type(opt).__name__}"
            )
        return opt.step
    if len(free) == 3 and free[2] in KNOWN_OPTIONS:
        raise TypeError(
            f"the step function's third parameter {free[2]!r} is an option that was not given: "
            f"pass {free[2]}=... (a third parameter named otherwise receives the state dict)"
        )
    if len(free) not in (2, 3):
        raise TypeError(
            "a callable optimizer must be a factory f(params) or a step function "
            f"step(theta, grad) or step(theta, grad, state); {getattr(spec, '__name__', spec)!r} "
            f"takes {len(free)} required positional arguments"
        )
    state: dict[str, Any] | None = {"t": 0} if len(free) == 3 else None

    def step() -> None:
        args: list[Any] = [param.data.copy(), np.array(param.grad, dtype=float)]
        if state is not None:
            state["t"] += 1
            args.append(state)
        new = np.asarray(spec(*args, **kwargs), dtype=float)
        if new.shape != param.data.shape:
            raise ValueError(
                f"the step function returned shape {new.shape}, expected {param.data.shape} "
                "(return the new theta)"
            )
        param.data[...] = new

    return step


def _parameters(fn: Callable[..., Any]) -> Mapping[str, inspect.Parameter] | None:
    try:
        return inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: pass nothing by name
        return None


def _accepted(fn: Callable[..., Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """The options ``fn`` takes by name; an option it lacks that no optimizer knows is refused."""
    params = _parameters(fn)
    if params is None:
        return {}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return dict(options)
    unknown = sorted(k for k in options if k not in params and k not in KNOWN_OPTIONS)
    if unknown:
        name = getattr(fn, "__name__", type(fn).__name__)
        raise TypeError(
            f"{name} takes no option(s) {unknown}; its parameters are {list(params)} "
            f"(options no optimizer takes are refused, not ignored)"
        )
    return {k: v for k, v in options.items() if k in params}


def _free_positional(fn: Callable[..., Any], given: Mapping[str, Any]) -> list[str]:
    """Names of the required positional parameters of ``fn`` not filled by ``given``."""
    params = _parameters(fn)
    if params is None:
        return []
    return [
        p.name
        for p in params.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        and p.default is p.empty
        and p.name not in given
    ]
