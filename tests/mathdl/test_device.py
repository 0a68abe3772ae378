"""mathdl.device picks CUDA, then Apple MPS, then the CPU, and says plainly when it falls back.

CI has no GPU, so the accelerator branches are exercised by pretending torch found one.
"""

import pytest
import torch

from mathdl import device


def test_falls_back_to_the_cpu_and_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert device.get_device() == torch.device("cpu")
    message = device.describe_device()
    assert "No GPU" in message and "CPU" in message


def test_prefers_cuda_when_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Test GPU")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert device.get_device() == torch.device("cuda")
    # the sentence names the kind of device and the GPU torch reports (wording aside)
    message = device.describe_device()
    assert "CUDA" in message and "Test GPU" in message
    assert "CPU" not in message


def test_uses_apple_mps_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert device.get_device() == torch.device("mps")
    assert "MPS" in device.describe_device() and "CPU" not in device.describe_device()


@pytest.mark.parametrize("name", ["cpu", "cuda", "mps"])
def test_describes_an_explicit_device(name, monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Test GPU")
    text = device.describe_device(name)
    assert {"cpu": "CPU", "cuda": "CUDA", "mps": "MPS"}[name] in text
