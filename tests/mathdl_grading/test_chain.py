"""A chain of gradients checked step by step: the first wrong step is named and drawn."""

import numpy as np
import pytest

from mathdl_grading import checks
from mathdl_grading.scoring import assess


def test_a_chain_names_its_first_wrong_step_and_draws_it(monkeypatch):
    monkeypatch.delenv("MATHDL_GRADING", raising=False)
    right = {
        "dP": np.ones(2),
        "dW2": np.full(2, 2.0),
        "dH": np.full(2, 3.0),
        "dW1": np.full(2, 4.0),
    }
    wrong = dict(right, dH=np.zeros(2), dW1=np.zeros(2))  # dH is wrong, dW1 inherits it
    with pytest.raises(AssertionError, match="first wrong step dH: wrong values"):
        checks.check("backward", wrong, right, chain=True)
    graph = {"dW2": ["dP"], "dH": ["dP"], "dW1": ["dH"]}
    ref = {"name": "backward", "answer": checks.plain(right), "chain": True, "graph": graph}
    found = assess([{"name": "backward", "answer": checks.plain(wrong)}], [ref])
    assert found[0]["kind"] == "first wrong step dH"
    pic = found[0]["picture"]
    assert pic["data"]["image/png"] and "first wrong step is dH" in pic["data"]["text/plain"]
    # hidden: the step's name is the solution's key, never a number
    hidden = assess([{"name": "backward", "answer": checks.plain(wrong)}], [ref], hidden=True)
    assert hidden[0]["message"].startswith("backward: first wrong step dH")
