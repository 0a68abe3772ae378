"""Optimizers with exactly ``torch.optim``'s update rules and defaults.

Contract (as torch.optim): ``opt = SGD(model.parameters(), lr=0.1)``; each training step
is ``opt.zero_grad(); loss.backward(); opt.step()``. State lives per parameter in
``opt.state[i]`` (a dict) for the i-th parameter. Parameters whose ``.grad`` is None are
skipped. Notation below: theta the parameter, g its gradient, t the step count from 1,
lambda the weight decay, gamma the learning rate.
"""

import numpy as np

from .tensor import Tensor

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop"]


class Optimizer:
    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer parameters must be mathdl Tensors, got {type(p).__name__}"
                )
        self.params = params
        self.defaults = dict(defaults)
        self.state = [dict() for _ in params]
        for k, v in defaults.items():
            setattr(self, k, v)

    def zero_grad(self, set_to_none=True):
        """Forget the accumulated gradients (set them to None, torch's default)."""
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = np.zeros_like(p.data)

    def step(self):
        """Update every parameter that has a gradient, in place (``p.data`` changes)."""
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                new = self._update(p.data, np.asarray(p.grad, dtype=np.float64), state)
                if new is not p.data:  # SGD updates p.data in place already
                    p.data[...] = new

    def _update(self, theta, g, state):  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self):
        opts = ", ".join(f"{k}={v}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({opts})"


def _check_nonnegative(**kwargs):
    for k, v in kwargs.items():
        if v < 0:
            raise ValueError(f"invalid {k}: {v} (must be >= 0)")


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with momentum (torch.optim.SGD).

    g <- g + lambda theta                                  (weight decay)
    b_1 = g;  b_t = mu b_{t-1} + (1 - tau) g               (momentum buffer, dampening tau)
    g <- g + mu b_t  (nesterov)   or   g <- b_t            (when mu != 0)
    theta <- theta - gamma g
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False):
        _check_nonnegative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum > 0 and zero dampening")
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
            ),
        )

    def _update(self, theta, g, state):
        if self.weight_decay != 0:
            g = g + self.weight_decay * theta
        if self.momentum != 0:
            buf = state.get("momentum_buffer")
            buf = g.copy() if buf is None else self.momentum * buf + (1 - self.dampening) * g
            state["momentum_buffer"] = buf
            g = g + self.momentum * buf if self.nesterov else buf
        theta -= self.lr * g  # in place: no new array per step
        return theta


class RMSprop(Optimizer):
    r"""RMSprop (torch.optim.RMSprop).

    g <- g + lambda theta
    v_t = alpha v_{t-1} + (1 - alpha) g^2                      (v_0 = 0)
    centered:  m_t = alpha m_{t-1} + (1 - alpha) g,  denom = sqrt(v_t - m_t^2) + eps
    otherwise: denom = sqrt(v_t) + eps
    momentum mu > 0: b_t = mu b_{t-1} + g / denom,  theta <- theta - gamma b_t
    otherwise:       theta <- theta - gamma g / denom
    """

    def __init__(
        self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False
    ):
        _check_nonnegative(
            lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum
        )
        super().__init__(
            params,
            dict(
                lr=lr,
                alpha=alpha,
                eps=eps,
                weight_decay=weight_decay,
                momentum=momentum,
                centered=centered,
            ),
        )

    def _update(self, theta, g, state):
        if self.weight_decay != 0:
            g = g + self.weight_decay * theta
        a = self.alpha
        v = a * state.get("square_avg", 0.0) + (1 - a) * g * g
        state["square_avg"] = v
        if self.centered:
            m = a * state.get("grad_avg", 0.0) + (1 - a) * g
            state["grad_avg"] = m
            denom = np.sqrt(v - m * m) + self.eps
        else:
            denom = np.sqrt(v) + self.eps
        if self.momentum > 0:
            buf = self.momentum * state.get("momentum_buffer", 0.0) + g / denom
            state["momentum_buffer"] = buf
            return theta - self.lr * buf
        return theta - self.lr * g / denom


class Adam(Optimizer):
    r"""Adam (torch.optim.Adam), with L2 weight decay added to the gradient.

    g <- g + lambda theta
    m_t = beta1 m_{t-1} + (1 - beta1) g          v_t = beta2 v_{t-1} + (1 - beta2) g^2
    m_hat = m_t / (1 - beta1^t)                  v_hat = v_t / (1 - beta2^t)
    amsgrad: v_max = max(v_max, v_t) replaces v_t in v_hat
    theta <- theta - gamma m_hat / (sqrt(v_hat) + eps)
    """

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False
    ):
        _check_nonnegative(lr=lr, eps=eps, weight_decay=weight_decay)
        if not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"invalid betas {betas}: each must lie in [0, 1)")
        super().__init__(
            params,
            dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad),
        )

    def _decay(self, theta, g):
        return g + self.weight_decay * theta if self.weight_decay != 0 else g

    def _update(self, theta, g, state):
        g = self._decay(theta, g)
        theta = self._decoupled_decay(theta)
        b1, b2 = self.betas
        t = state["step"] = state.get("step", 0) + 1
        m = state["exp_avg"] = b1 * state.get("exp_avg", 0.0) + (1 - b1) * g
        v = state["exp_avg_sq"] = b2 * state.get("exp_avg_sq", 0.0) + (1 - b2) * g * g
        if self.amsgrad:
            v = state["max_exp_avg_sq"] = np.maximum(state.get("max_exp_avg_sq", 0.0), v)
        step_size = self.lr / (1 - b1**t)
        denom = np.sqrt(v) / np.sqrt(1 - b2**t) + self.eps
        return theta - step_size * m / denom

    def _decoupled_decay(self, theta):
        return theta


class AdamW(Adam):
    r"""AdamW (torch.optim.AdamW): Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    theta <- theta (1 - gamma lambda) first, then the Adam step with the raw gradient g.
    Default weight_decay = 1e-2, as torch.
    """

    def __init__(
        self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False
    ):
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad
        )

    def _decay(self, theta, g):
        return g

    def _decoupled_decay(self, theta):
        return theta * (1 - self.lr * self.weight_decay)
