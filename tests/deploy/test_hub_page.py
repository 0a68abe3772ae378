"""docs/hub.md against what deploy/ ships: the roster script, the systemd unit, the commands.

The page's own examples are run (deploy/add-class.sh --dry-run on the page's roster) or compared
with the shipped files, so the page and deploy/ cannot drift apart. `make hub-test` then creates
real accounts with the same script.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "docs/hub.md").read_text()
ADD_CLASS = REPO / "deploy/add-class.sh"


def code_blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", PAGE, flags=re.S)


def roster_from_page():
    """The class list written by the page's `cat > ... <<'END'` example, and the commands run on it."""
    blocks = [b for b in code_blocks("bash") if "add-class.sh" in b and "<<'END'" in b]
    assert len(blocks) == 1, "docs/hub.md should show one roster example for add-class.sh"
    csv = re.search(r"<<'END'\n(.*?)\nEND\n", blocks[0], flags=re.S).group(1)
    commands = [line for line in blocks[0].splitlines() if "add-class.sh" in line]
    return csv, commands


def add_class(tmp_path, csv_text, *args):
    roster = tmp_path / "class.csv"
    roster.write_text(csv_text)
    return subprocess.run(
        ["bash", str(ADD_CLASS), *args, str(roster)], capture_output=True, text=True
    )


def test_page_roster_runs_through_add_class(tmp_path):
    csv_text, commands = roster_from_page()
    assert any("--dry-run" in c for c in commands) and any("--dry-run" not in c for c in commands)
    r = add_class(tmp_path, csv_text + "\n", "--dry-run")
    assert r.returncode == 0, r.stderr
    useradds = [line for line in r.stdout.splitlines() if "useradd" in line]
    people = [line.split(",")[:2] for line in csv_text.splitlines()[1:]]
    assert len(useradds) == len(people) == 3
    for (name, role), line in zip(people, useradds, strict=True):
        group = "formgrade-mathdl" if role == "instructor" else "nbgrader-mathdl"
        assert line.endswith(f"--groups {group} {name}"), line
        assert "--shell /bin/bash" in line and "-K HOME_MODE=0700" in line, line
    assert r.stdout.count("chpasswd") == 3
    assert not list(tmp_path.glob("*.passwords.csv")), "a dry run wrote passwords"
    # The commands the page says the script runs are the ones it runs.
    by_hand = [b for b in code_blocks("bash") if "chpasswd" in b and "useradd" in b]
    assert len(by_hand) == 1
    shown = next(line for line in by_hand[0].splitlines() if line.startswith("useradd"))
    assert f"would run: {shown}" in r.stdout, (shown, r.stdout)


@pytest.mark.parametrize(
    "csv_text, message",
    [
        ("name,role\nann,student\n", "line 1: the header must be"),
        ("username,role\n1ann,student\n", "line 2: '1ann' is not a valid user name"),
        ("username,role\nann;rm -rf /,student\n", "is not a valid user name"),
        ("username,role\nAnn,student\n", "'Ann' is not a valid user name"),
        ("username,role\nann,teacher\n", "role of 'ann' is 'teacher'"),
        ("username,role\nann,student\nann,instructor\n", "line 3: 'ann' is listed twice"),
        ("username,role,password\nann,student,a,b\n", "more than three fields"),
        ("username,role,password\n", "lists nobody"),
    ],
)
def test_add_class_refuses_a_bad_roster_naming_the_line(tmp_path, csv_text, message):
    r = add_class(tmp_path, csv_text, "--dry-run")
    assert r.returncode == 1 and message in r.stderr, (r.returncode, r.stderr)
    assert "would run" not in r.stdout  # nothing is done from a roster with an error


def test_add_class_reads_a_spreadsheet_export(tmp_path):
    """Windows line ends, blanks around fields, capitals in the role and header, blank lines."""
    r = add_class(
        tmp_path, "Username, Role\r\n ann , Student\r\n\r\nbo,INSTRUCTOR\r\n", "--dry-run"
    )
    assert r.returncode == 0, r.stderr
    assert "--groups nbgrader-mathdl ann\n" in r.stdout
    assert "--groups formgrade-mathdl bo\n" in r.stdout


def test_add_class_arguments(tmp_path):
    r = add_class(tmp_path, "username,role\nann,student\n", "--bogus")
    assert r.returncode == 2 and "unknown option '--bogus'" in r.stderr
    r = subprocess.run(["bash", str(ADD_CLASS), str(tmp_path / "none.csv")], capture_output=True)
    assert r.returncode == 1 and b"no roster file" in r.stderr
    r = add_class(tmp_path, "username,role\nann,student\n", "--course", "algebra", "--dry-run")
    assert (
        "--groups nbgrader-algebra ann" in r.stdout and "groupadd -f formgrade-algebra" in r.stdout
    )


def test_page_systemd_unit_is_the_shipped_one():
    units = [b for b in code_blocks("ini") if "ExecStart=" in b]
    assert len(units) == 1
    shipped = (REPO / "deploy/mathdl-hub.service").read_text()
    assert units[0] == shipped
    unit = shipped.split("[Service]")[0]
    assert "[Unit]" in unit
    assert "After=network-online.target" in unit and "Wants=network-online.target" in unit


def test_page_commands_work_on_a_minimal_debian():
    commands = "\n".join(code_blocks("bash"))
    assert not re.search(r"(^|\s)sudo\s", commands), "sudo is not on a minimal Debian: runuser"
    assert "runuser -u alice -- git clone" in commands
    assert "chmod 700 /home/*" not in commands  # every account on the server, not the class's
    assert not re.search(r"alias cmake=", PAGE), "the alias would hide CMake"
    # The NodeSource case: the apt line without npm, and the check that npm came with nodejs.
    nodesource = [b for b in code_blocks("bash") if "NodeSource" in b]
    assert len(nodesource) == 1 and " npm " not in nodesource[0].split("\n")[0]
    assert "npm --version" in nodesource[0]


def test_systemd_accepts_the_unit(tmp_path):
    """systemd's own check of deploy/mathdl-hub.service: no unknown key or section (a typo in a
    key is only a warning to systemd). The hub binary is swapped for /bin/true, which exists."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: systemd)")
    text = (REPO / "deploy/mathdl-hub.service").read_text()
    unit = tmp_path / "mathdl-hub.service"
    unit.write_text(text.replace("/opt/mathdl-hub/env/bin/jupyterhub", "/bin/true"))
    r = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True
    )
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr
