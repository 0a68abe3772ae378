r"""Optimizers with exactly ``torch.optim``'s update rules, defaults and contract.

Use them as torch.optim: ``opt = SGD(model.parameters(), lr=0.1)``; each training step is
``opt.zero_grad(); loss.backward(); opt.step()``.

* ``opt.param_groups``: a list of dicts, each with ``"params"`` (a list of Tensors) and every
  hyper-parameter. ``step()`` reads them afresh each time, so
  ``opt.param_groups[0]["lr"] = 0.01`` changes the next step (this is how a learning-rate
  schedule works), and different groups may have different settings:
  ``SGD([{"params": body}, {"params": head, "lr": 0.1}], lr=0.01)``.
* ``opt.defaults``: the constructor's hyper-parameters, used for keys a group leaves out.
* ``opt.state[p]``: a dict per parameter ``p`` (momentum buffers, step counts), created on
  first use.
* ``opt.add_param_group({...})`` adds parameters later; ``opt.zero_grad()`` sets every ``.grad``
  to None (``set_to_none=False`` fills zeros instead).

Parameters whose ``.grad`` is None are skipped, as in torch. Notation in the update rules:
:math:`\theta` the parameter, :math:`g` its gradient, :math:`t` the step count from 1,
:math:`\lambda` the weight decay, :math:`\gamma` the learning rate.

Writing your own optimizer: subclass :class:`Optimizer`, pass the defaults to
``super().__init__(params, dict(lr=lr, ...))`` and write ``step()``::

    class SignSGD(Optimizer):
        def __init__(self, params, lr=0.01):
            super().__init__(params, dict(lr=lr))

        def step(self):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]  # a dict of your own per parameter
                    state["step"] = state.get("step", 0) + 1
                    p.data -= group["lr"] * np.sign(p.grad)  # update p.data in place

The built-in optimizers also accept torch's ``step(closure)``, a function that re-evaluates the
loss (zero_grad, forward, backward) and returns it: it is called first and its loss returned.
``opt.state_dict()`` / ``opt.load_state_dict(sd)`` save and restore the hyper-parameters and
the per-parameter state in torch's layout, so a resumed run continues exactly.
"""

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from .tensor import Tensor, enable_grad

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop"]

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]
#: ``step(closure)``'s argument: re-evaluates the model and returns the loss.
Closure = Callable[[], Any]


def _evaluate(closure: Closure | None) -> Any:
    """The loss from ``closure()`` (with graph recording on, as torch), or None."""
    if closure is None:
        return None
    with enable_grad():
        return closure()


def _hyperparameters(arguments: dict[str, Any]) -> dict[str, Any]:
    """An optimizer's ``defaults`` from its constructor's ``locals()``: every argument but
    ``self`` and ``params``, under its own name (each hyper-parameter written once)."""
    return {k: v for k, v in arguments.items() if k not in ("self", "params", "__class__")}


def _checked_state(key: str, value: Any, p: Tensor) -> Any:
    """A loaded state entry; an array must have its parameter's shape."""
    if isinstance(value, np.ndarray) and value.ndim and value.shape != p.shape:
        raise ValueError(
            f"loaded optimizer state {key!r} has shape {value.shape} but its parameter has "
            f"shape {p.shape}: the state belongs to a different model"
        )
    return value


class Optimizer:
    """Base class of the optimizers: holds ``param_groups``, ``state`` and ``defaults``.

    ``params`` is an iterable of Tensors, or of dicts (parameter groups) with a ``"params"`` entry
    and any hyper-parameters that differ from ``defaults``. Subclasses implement :meth:`step`;
    they may override :meth:`_check_group` to validate a group's hyper-parameters (called for
    every group, including those added later with :meth:`add_param_group`).
    """

    #: hyper-parameters that must be >= 0 (checked for every group, if the group has them)
    _non_negative: tuple[str, ...] = ("lr", "eps", "weight_decay")

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "optimizer params should be an iterable of Tensors or of dicts, got a single "
                "Tensor (write [p])"
            )
        self.defaults: dict[str, Any] = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups: list[Any] = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters; hyper-parameters it leaves out are taken from ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a parameter group needs a 'params' entry")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer parameters must be mathdl Tensors, got {type(p).__name__}"
                )
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            raise ValueError("a parameter appears twice in one parameter group")
        for g in self.param_groups:
            if any(id(q) in ids for q in g["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        group = {"params": params}
        for k, v in self.defaults.items():
            group[k] = param_group.get(k, v)
        for k, v in param_group.items():  # extra keys are kept, as torch (e.g. a name)
            group.setdefault(k, v)
        self._check_group(group)
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Raise ValueError for invalid hyper-parameters (subclasses add their own checks)."""
        for k in self._non_negative:
            if k in group and group[k] < 0:
                raise ValueError(f"invalid {k}: {group[k]} (must be >= 0)")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradients: set them to None (torch's default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = np.zeros_like(p.data)

    def step(self, closure: Closure | None = None) -> Any:
        """Update every parameter that has a gradient, in place (``p.data`` changes).

        ``closure``, if given, re-evaluates the model (zero_grad, forward, backward) and returns
        the loss; it is called first, with graph recording on, and its loss returned (torch's
        contract, for optimizers that need several evaluations per step).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement step(): loop over self.param_groups, "
            "skip parameters whose .grad is None, keep per-parameter values in self.state[p]"
        )

    # ----- saving and loading ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in torch's layout: ``{"state": {i: {...}}, "param_groups": [...]}``.

        Parameters are replaced by their position ``i`` across the groups, so the state can be
        loaded into a new optimizer over a new model of the same architecture. As in torch, the
        values are the optimizer's own (not copies): ``copy.deepcopy`` or ``pickle`` it to keep it.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved: every group's hyper-parameters and each
        parameter's state (copied), so training continues exactly where it stopped."""
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups) or any(
            len(s["params"]) != len(g["params"]) for s, g in zip(saved, self.param_groups)
        ):
            raise ValueError(
                "loaded state dict has a different number of parameter groups or of parameters "
                f"in a group: saved {[len(s['params']) for s in saved]}, this optimizer "
                f"{[len(g['params']) for g in self.param_groups]}"
            )
        by_index: dict[int, Tensor] = {}
        for s, g in zip(saved, self.param_groups):
            by_index.update(zip(s["params"], g["params"]))
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for i, values in state_dict["state"].items():
            p = by_index[int(i)]
            state[p] = {k: _checked_state(k, copy.deepcopy(v), p) for k, v in values.items()}
        self.state = state
        self.param_groups = [
            {**copy.deepcopy({k: v for k, v in s.items() if k != "params"}), "params": g["params"]}
            for s, g in zip(saved, self.param_groups)
        ]

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: point opt.lr readers to param_groups.
        defaults = self.__dict__.get("defaults")
        if defaults is not None and name in defaults:
            raise AttributeError(
                f"{type(self).__name__} has no attribute {name!r}: hyper-parameters live in "
                f"param_groups, e.g. opt.param_groups[0][{name!r}]"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        # opt.lr = 0.5 would do nothing (step() reads param_groups): say so instead.
        defaults = self.__dict__.get("defaults")
        if defaults is not None and name in defaults:
            raise AttributeError(
                f"{type(self).__name__}.{name} is not an attribute: hyper-parameters live in "
                f"param_groups, e.g. opt.param_groups[0][{name!r}] = {value!r} "
                "(for every group: for g in opt.param_groups: g[...] = ...)"
            )
        super().__setattr__(name, value)

    def __repr__(self) -> str:
        # The layout of torch.optim's repr: one block per group, keys sorted, current values.
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {group[k]}" for k in sorted(group) if k != "params")
        lines.append(")")
        return "\n".join(lines)


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum (``torch.optim.SGD``).

    .. math::

        g &\leftarrow g + \lambda\theta \\
        b_1 &= g, \quad b_t = \mu b_{t-1} + (1 - \tau) g
            \quad\text{(momentum buffer, dampening } \tau\text{)} \\
        g &\leftarrow g + \mu b_t \ \text{(nesterov)} \quad\text{or}\quad g \leftarrow b_t
            \quad\text{(when } \mu \ne 0\text{)} \\
        \theta &\leftarrow \theta - \gamma g

    Defaults (torch's): ``lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False``.
    Momentum as used in deep learning: Sutskever, Martens, Dahl & Hinton, "On the importance of
    initialization and momentum in deep learning", ICML 2013 (which also gives the Nesterov form).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
    ):
        super().__init__(params, _hyperparameters(locals()))

    _non_negative = ("lr", "weight_decay", "momentum")

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening")

    def step(self, closure: Closure | None = None) -> Any:
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = np.asarray(p.grad, dtype=np.float64)
                if wd != 0:
                    g = g + wd * p.data
                if mu != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    buf = g.copy() if buf is None else mu * buf + (1 - tau) * g
                    state["momentum_buffer"] = buf
                    g = g + mu * buf if nesterov else buf
                p.data -= lr * g  # in place: a model holding p sees the change
        return loss


class RMSprop(Optimizer):
    r"""RMSprop (``torch.optim.RMSprop``): divide the gradient by a running RMS of its size.

    .. math::

        g &\leftarrow g + \lambda\theta \\
        v_t &= \alpha v_{t-1} + (1 - \alpha) g^2 \quad (v_0 = 0) \\
        \text{centered: } m_t &= \alpha m_{t-1} + (1 - \alpha) g, \quad
            d = \sqrt{v_t - m_t^2} + \epsilon; \quad \text{otherwise } d = \sqrt{v_t} + \epsilon \\
        \mu > 0: b_t &= \mu b_{t-1} + g / d, \quad \theta \leftarrow \theta - \gamma b_t;
            \quad \text{otherwise } \theta \leftarrow \theta - \gamma g / d

    Defaults (torch's): ``lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False``. Source: Hinton, Srivastava & Swersky, Neural Networks for Machine Learning,
    lecture 6e (2012); the centered form is Graves, 2013.
    """

    _non_negative = ("lr", "eps", "weight_decay", "momentum", "alpha")

    def __init__(
        self,
        params: ParamsT,
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
    ):
        super().__init__(params, _hyperparameters(locals()))

    def step(self, closure: Closure | None = None) -> Any:
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, a, eps = group["lr"], group["alpha"], group["eps"]
            wd, mu, centered = group["weight_decay"], group["momentum"], group["centered"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                state["step"] = state.get("step", 0) + 1  # counted, as torch (the rule needs no t)
                g = np.asarray(p.grad, dtype=np.float64)
                if wd != 0:
                    g = g + wd * p.data
                v = a * state.get("square_avg", 0.0) + (1 - a) * g * g
                state["square_avg"] = v
                if centered:
                    m = a * state.get("grad_avg", 0.0) + (1 - a) * g
                    state["grad_avg"] = m
                    denom = np.sqrt(v - m * m) + eps
                else:
                    denom = np.sqrt(v) + eps
                if mu > 0:
                    buf = mu * state.get("momentum_buffer", 0.0) + g / denom
                    state["momentum_buffer"] = buf
                    p.data -= lr * buf
                else:
                    p.data -= lr * g / denom
        return loss


class Adam(Optimizer):
    r"""Adam (``torch.optim.Adam``), with L2 weight decay added to the gradient (or, with
    ``decoupled_weight_decay=True``, applied to the weights as :class:`AdamW` does).

    .. math::

        g &\leftarrow g + \lambda\theta \\
        m_t &= \beta_1 m_{t-1} + (1 - \beta_1) g, \qquad
        v_t = \beta_2 v_{t-1} + (1 - \beta_2) g^2 \\
        \hat m_t &= m_t / (1 - \beta_1^t), \qquad \hat v_t = v_t / (1 - \beta_2^t)
            \quad\text{(amsgrad: } v_t \text{ replaced by } \max_{s \le t} v_s\text{)} \\
        \theta &\leftarrow \theta - \gamma\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)

    Defaults (torch's): ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    amsgrad=False, decoupled_weight_decay=False``. Source: Kingma & Ba, "Adam: A Method for Stochastic Optimization",
    ICLR 2015; amsgrad: Reddi, Kale & Kumar, ICLR 2018.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        decoupled_weight_decay: bool = False,
    ):
        hyper = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, dict(hyper, decoupled_weight_decay=decoupled_weight_decay))

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        b = group["betas"]
        if len(b) != 2 or not (0 <= b[0] < 1 and 0 <= b[1] < 1):
            raise ValueError(f"invalid betas {b}: two numbers, each in [0, 1)")

    def step(self, closure: Closure | None = None) -> Any:
        loss = _evaluate(closure)
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            wd, amsgrad = group["weight_decay"], group["amsgrad"]
            decoupled = group["decoupled_weight_decay"]  # shrink theta instead of adding to g
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                g = np.asarray(p.grad, dtype=np.float64)
                if wd != 0:
                    if decoupled:
                        p.data *= 1 - lr * wd
                    else:
                        g = g + wd * p.data
                t = state["step"] = state.get("step", 0) + 1
                m = state["exp_avg"] = b1 * state.get("exp_avg", 0.0) + (1 - b1) * g
                v = state["exp_avg_sq"] = b2 * state.get("exp_avg_sq", 0.0) + (1 - b2) * g * g
                if amsgrad:
                    v = state["max_exp_avg_sq"] = np.maximum(state.get("max_exp_avg_sq", 0.0), v)
                step_size = lr / (1 - b1**t)
                denom = np.sqrt(v) / np.sqrt(1 - b2**t) + eps  # torch.optim.Adam's arrangement
                p.data -= step_size * m / denom
        return loss


class AdamW(Adam):
    r"""AdamW (``torch.optim.AdamW``): Adam with decoupled weight decay.

    First :math:`\theta \leftarrow \theta (1 - \gamma\lambda)`, then the Adam step of
    :class:`Adam` with the raw gradient :math:`g` (no :math:`\lambda\theta` added to it).
    Defaults (torch's): ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
    amsgrad=False``. Source: Loshchilov & Hutter, "Decoupled Weight Decay Regularization",
    ICLR 2019.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ):
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            decoupled_weight_decay=True,
        )
