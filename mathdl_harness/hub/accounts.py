"""Unix users and groups for a class, made as docs/hub.md says (deploy/add-class.sh), and removed."""

import contextlib
import os
import pwd
import signal
import subprocess
from pathlib import Path

from .system import REPO, USER_PREFIX, pids_of_uids, sh


class UnixAccounts:
    """mdlh_* users and groups made by deploy/add-class.sh, the command docs/hub.md gives for a
    class list; `remove()` deletes them, their homes and processes."""

    def __init__(self) -> None:
        self.users: list[str] = []
        self.groups: list[str] = []

    def add_class(
        self,
        roster: dict[str, tuple[str, str]],
        instructor_group: str,
        student_group: str,
        workdir: Path,
    ) -> dict[str, str]:
        """Accounts for `roster` ({name: (role, password or "")}) through deploy/add-class.sh,
        as an administrator following docs/hub.md would; returns {name: password}, the
        passwords the script made where the roster gave none."""
        for name in [*roster, instructor_group, student_group]:
            assert name.startswith(USER_PREFIX), name
        self.groups += [instructor_group, student_group]
        self.users += list(roster)
        csv_path = workdir / "class.csv"
        lines = ["username,role,password"]
        lines += [f"{name},{role},{password}" for name, (role, password) in roster.items()]
        csv_path.touch(mode=0o600)  # it holds a password: the students must not read it
        csv_path.write_text("\n".join(lines) + "\n")
        made = workdir / "class.passwords.csv"
        sh(
            "bash",
            str(REPO / "deploy/add-class.sh"),
            "--instructor-group",
            instructor_group,
            "--student-group",
            student_group,
            str(csv_path),
        )
        passwords = {name: password for name, (_, password) in roster.items() if password}
        if made.exists():
            assert made.stat().st_mode & 0o077 == 0, oct(made.stat().st_mode)
            rows = made.read_text().splitlines()
            assert rows[0] == "username,password", rows[0]
            for row in rows[1:]:
                name, password = row.split(",", 1)
                passwords[name] = password
        assert set(passwords) == set(roster), (sorted(passwords), sorted(roster))
        return passwords

    def uids(self) -> list[int]:
        out = []
        for name in self.users:
            with contextlib.suppress(KeyError):
                out.append(pwd.getpwnam(name).pw_uid)
        return out

    def remove(self) -> list[str]:
        errors = []
        for pid in pids_of_uids(self.uids()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for name in reversed(self.users):
            r = subprocess.run(["userdel", "--remove", name], capture_output=True, text=True)
            if r.returncode not in (0, 6):  # 6: no such user
                errors.append(f"userdel {name}: {r.stderr.strip()}")
        for name in reversed(self.groups):
            r = subprocess.run(["groupdel", name], capture_output=True, text=True)
            if r.returncode not in (0, 6):
                errors.append(f"groupdel {name}: {r.stderr.strip()}")
        return errors
