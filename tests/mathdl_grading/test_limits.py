"""Each grading limit is written once, at its home, and the docs quote the home's value.

The homes: the sandbox's limits are the traits of :class:`SandboxKernelManager`
(mathdl_grading/sandbox.py), the output budgets the traits of :class:`SandboxExecute`
(execute.py), nbgrader's own limits (per-cell timeout, output lines, submission sizes) are in
nbgrader_config.py, the submission's entries and depth in intake.py, the grading workers' in
parallel.py. A limit's name followed by a number anywhere else in the shipped code, the
configuration or deploy/ is a second writing of it (the review found 200 vs 64 processes, and a
wall time of 1800 s in parallel.py against the sandbox's 120).
"""

import functools
import re
from pathlib import Path

import pytest
from traitlets.config import Config

from mathdl_grading import execute, intake, parallel, sandbox
from mathdl_grading.apps import load_config

REPO = Path(__file__).resolve().parents[2]
KERNEL = sandbox.SandboxKernelManager
EXECUTE = execute.SandboxExecute
SANDBOX_LIMITS = (
    "memory_mb",
    "folder_mb",
    "file_mb",
    "processes",
    "open_files",
    "cpu_seconds",
    "wall_seconds",
)
#: limit name -> the one file that may write its value
HOMES = {
    **dict.fromkeys(SANDBOX_LIMITS, "mathdl_grading/sandbox.py"),
    "KERNEL_TASKS": "mathdl_grading/sandbox.py",
    "max_output_chars": "mathdl_grading/execute.py",
    "max_notebook_chars": "mathdl_grading/execute.py",
    "max_record_chars": "mathdl_grading/execute.py",
    "MAX_MESSAGE_BYTES": "mathdl_grading/execute.py",
    "MAX_ENTRIES": "mathdl_grading/intake.py",
    "MAX_DEPTH": "mathdl_grading/intake.py",
    "MAX_FILES": "mathdl_grading/intake.py",  # scratch.py reads MAX_ENTRIES
    "WORKER_MEMORY_MB": "mathdl_grading/parallel.py",
    "MARGIN_SECONDS": "mathdl_grading/parallel.py",
    "Execute.timeout": "nbgrader_config.py",
    "max_lines": "nbgrader_config.py",
    "max_traceback": "nbgrader_config.py",
    "max_file_size": "nbgrader_config.py",
    "max_dir_size": "nbgrader_config.py",
}
#: Modules with a limit of their own under a name used above for another (sanitize.MAX_DEPTH:
#: the nesting of HTML tags), where that name is theirs.
OWN_NAMES = {"mathdl_grading/sanitize.py": {"MAX_DEPTH"}}


@functools.cache
def course_config() -> Config:
    """nbgrader_config.py of this repository, read once."""
    return load_config(REPO)


def shipped_files() -> list[Path]:
    files = [*REPO.glob("mathdl_grading/**/*.py"), *REPO.glob("mathdl_harness/*.py")]
    files += [REPO / "nbgrader_config.py", REPO / "Makefile", REPO / "pyproject.toml"]
    files += [p for p in REPO.glob("deploy/**/*") if p.is_file() and "node_modules" not in p.parts]
    files += [p for p in REPO.glob(".ci/*") if p.is_file()]
    return [p for p in files if p.name != "package-lock.json"]


def writings(name: str, text: str) -> list[str]:
    """Lines where ``name`` (or its dashed form) is followed by a number: a value written."""
    forms = {name, name.replace("_", "-")}
    pattern = "|".join(rf"\b{re.escape(f)}\b[\s\"'=:,(]{{0,12}}\d" for f in forms)
    return [line.strip() for line in text.splitlines() if re.search(pattern, line)]


def second_writings(files: list[Path], root: Path = REPO) -> list[str]:
    found = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        for name, home in HOMES.items():
            if rel == home or name in OWN_NAMES.get(rel, ()):
                continue
            found += [f"{rel}: {line}" for line in writings(name, text)]
    return list(dict.fromkeys(found))  # a line naming several limits once


def test_each_limit_is_written_once():
    files = shipped_files()
    assert len(files) > 40 and REPO / "nbgrader_config.py" in files
    assert second_writings(files) == []


@pytest.mark.parametrize(
    "line",
    [
        "# memory_mb 2048 (the whole sandbox), folder_mb 512, processes 64,",  # main's config
        'deadline = cfg.SandboxKernelManager.get("wall_seconds", 1800) + MARGIN_SECONDS',
        "#   capped at SandboxKernelManager.memory_mb = 2 GiB",
        "limits += [f'--open-files=1024']",
        "    max_output_chars=100_000,",
    ],
)
def test_a_second_writing_is_found(tmp_path, line):
    (tmp_path / "elsewhere.py").write_text(f"x = 1\n{line}\n")
    assert second_writings([tmp_path / "elsewhere.py"], tmp_path) == [
        f"elsewhere.py: {line.strip()}"
    ]


def test_each_home_writes_its_limits():
    """The homes hold the values the grader uses (a limit moved away would leave it empty)."""
    for name in SANDBOX_LIMITS:
        assert getattr(KERNEL, name).default_value > 0
    assert EXECUTE.max_output_chars.default_value < EXECUTE.max_notebook_chars.default_value
    cfg = course_config()
    assert cfg.Execute.timeout > 0 and cfg.LimitOutput.max_lines > 0
    assert 0 < cfg.CourseDirectory.max_file_size <= cfg.CourseDirectory.max_dir_size
    assert parallel.WALL_SECONDS == KERNEL.wall_seconds.default_value


def docs_quotes() -> list[tuple[str, str, float]]:
    """``(doc, pattern with one number, the home's value)`` for every limit the docs quote."""
    cfg = course_config()
    d = {n: getattr(KERNEL, n).default_value for n in SANDBOX_LIMITS}
    units = {"memory_mb": "MiB", "folder_mb": "MiB", "file_mb": "MiB", "cpu_seconds": "s"}
    units |= {"wall_seconds": "s", "processes": "", "open_files": ""}
    quotes = [
        ("instructors.md", rf"^\| `{n}`: [^|]*\| ([\d,]+) ?{u} \|", d[n]) for n, u in units.items()
    ]
    quotes += [
        ("instructors.md", r"`pids.max` \(plus (\d+) for the sandbox", sandbox.KERNEL_TASKS),
        ("instructors.md", r"\((\d+) s in all\)", d["wall_seconds"]),
        (
            "instructors.md",
            r"GRADE_MEMORY_MB=<the sandbox's memory, default (\d+)>",
            d["memory_mb"],
        ),
        ("instructors.md", r"GRADE_TIMEOUT=<s per cell, default (\d+)>", cfg.Execute.timeout),
        ("instructors.md", r"`c.Execute.timeout = (\d+)`", cfg.Execute.timeout),
        (
            "instructors.md",
            r"`CourseDirectory.max_file_size` \((\d+) MB\)",
            0.001 * cfg.CourseDirectory.max_file_size,
        ),
        (
            "instructors.md",
            r"`max_dir_size` \((\d+) MB\)",
            0.001 * cfg.CourseDirectory.max_dir_size,
        ),
        ("instructors.md", r"more than (\d+) entries or \d+ folder levels", intake.MAX_ENTRIES),
        ("instructors.md", r"more than \d+ entries or (\d+) folder levels", intake.MAX_DEPTH),
        (
            "instructors.md",
            r"beyond ([\d,]+) characters per cell",
            EXECUTE.max_output_chars.default_value,
        ),
        ("instructors.md", r"keeps at most (\d+) lines per cell", cfg.LimitOutput.max_lines),
        (
            "hub.md",
            r"capped at (\d+) GiB by\s+`SandboxKernelManager.memory_mb`",
            d["memory_mb"] / 1024,
        ),
    ]
    return quotes


@pytest.mark.parametrize("doc, pattern, value", docs_quotes())
def test_the_docs_quote_the_homes(doc, pattern, value):
    text = (REPO / "docs" / doc).read_text(encoding="utf-8")
    found = re.findall(pattern, text, flags=re.M)
    assert found, f"docs/{doc} no longer says {pattern!r}: update this test with the docs"
    assert {float(f.replace(",", "")) for f in found} == {value}, (doc, pattern, found)
