"""binder/ stays consistent with the root requirements and stays lean."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(path):
    out = {}
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, _, version = line.partition("==")
            assert version, f"{path}: {line!r} is not pinned with =="
            out[name.lower()] = version
    return out


def test_binder_pins_the_same_versions_as_the_root_requirements():
    root, binder = pins("requirements.txt"), pins("binder/requirements.txt")
    assert set(root) == set(binder)
    for name, version in root.items():
        if name == "torch":
            assert binder[name] == version + "+cpu", "Binder must pin the CPU-only torch wheel"
        else:
            assert binder[name] == version, (
                f"{name}: {version} at the root, {binder[name]} in binder/"
            )


def test_binder_uses_the_cpu_torch_index_and_python_311():
    text = (ROOT / "binder/requirements.txt").read_text()
    assert re.search(r"^--extra-index-url https://download\.pytorch\.org/whl/cpu$", text, re.M)
    assert (ROOT / "binder/runtime.txt").read_text().strip() == "python-3.11"


def test_binder_installs_mathdl():
    post = (ROOT / "binder/postBuild").read_text()
    assert "pip install" in post and "-e ." in post
    assert (ROOT / "binder/postBuild").stat().st_mode & 0o111, "postBuild must be executable"


def test_readme_badge_opens_jupyterlab_on_the_welcome_notebook():
    readme = (ROOT / "README.md").read_text()
    m = re.search(
        r"\[!\[[^\]]*Binder[^\]]*\]\([^)]*\)\]\((https://mybinder\.org/v2/gh/[^)]+)\)", readme
    )
    assert m, "README needs a Binder badge"
    assert m.group(1).endswith("?urlpath=lab/tree/notebooks/00_welcome.ipynb")
