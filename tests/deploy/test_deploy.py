"""Fast checks of deploy/ (the end-to-end run is tests/e2e/test_hub.py, `make hub-test`)."""

import json
import os
import signal
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from deploy.k8s.check_values import merge

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def test_pins():
    for line in (DEPLOY / "requirements-hub.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            assert "==" in line, f"requirements-hub.txt: {line!r} is not pinned"
    package = json.loads((DEPLOY / "package.json").read_text())
    lock = json.loads((DEPLOY / "package-lock.json").read_text())
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    chp = package["dependencies"]["configurable-http-proxy"]
    assert chp[0].isdigit(), f"configurable-http-proxy is not pinned: {chp}"
    assert lock["packages"]["node_modules/configurable-http-proxy"]["version"] == chp


def _load_hub_config(tmp_path, **env):
    prefix = tmp_path / "prefix"
    for sub in ("env/bin", "course/notebooks", "exchange"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    (prefix / "env/bin/jupyterhub-singleuser").touch()
    base = {
        "MATHDL_HUB_PREFIX": str(prefix),
        "MATHDL_HUB_STATE": str(tmp_path / "state"),
        "MATHDL_EXCHANGE": str(prefix / "exchange"),
        "MATHDL_COURSE_ID": "algebra",
    }
    base.update(env)
    config = Config()
    code = (DEPLOY / "jupyterhub_config.py").read_text()
    namespace = {"get_config": lambda: config, "__file__": str(DEPLOY / "jupyterhub_config.py")}
    saved = {k: os.environ.get(k) for k in base}
    os.environ.update(base)
    try:
        exec(compile(code, "jupyterhub_config.py", "exec"), namespace)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return config, namespace, prefix


def test_hub_config_settings(tmp_path):
    c, ns, prefix = _load_hub_config(tmp_path)
    assert c.PAMAuthenticator.allowed_groups == {"formgrade-algebra", "nbgrader-algebra"}
    assert c.Authenticator.admin_users == set()
    assert c.Spawner.cmd == [f"{prefix}/env/bin/jupyterhub-singleuser"]
    assert c.JupyterHub.ip == "127.0.0.1"
    assert c.Spawner.environment["MATHDL_EXCHANGE"] == str(prefix / "exchange")
    assert "PATH" not in c.Spawner.env_keep  # root's PATH never reaches users
    assert c.Spawner.environment["PATH"].startswith(f"{prefix}/env/bin:")
    assert (tmp_path / "state").is_dir()
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    # root is in neither course group: refused with the groups named.
    with pytest.raises(ValueError, match="neither formgrade-algebra nor nbgrader-algebra"):
        ns["course_role"]("root")


def test_hub_config_names_what_is_missing(tmp_path):
    with pytest.raises(SystemExit, match="nbgrader's exchange directory"):
        _load_hub_config(tmp_path, MATHDL_EXCHANGE=str(tmp_path / "nowhere"))


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_hub_config_closes_an_existing_state_folder(tmp_path):
    """`mkdir -p` leaves 755; an older hub left its database 644: the config closes both
    (os.makedirs(mode=0o700, exist_ok=True) alone changes nothing of an existing folder)."""
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o755)
    for name in ("jupyterhub.sqlite", "jupyterhub_cookie_secret", "backup.sqlite"):
        (state / name).write_text("x")
        os.chmod(state / name, 0o644)
    c, _, _ = _load_hub_config(tmp_path)
    assert _mode(state) == 0o700
    for name in ("jupyterhub.sqlite", "jupyterhub_cookie_secret", "backup.sqlite"):
        assert _mode(state / name) == 0o600, name
    assert c.JupyterHub.db_url == f"sqlite:///{state}/jupyterhub.sqlite"
    assert c.JupyterHub.cookie_secret_file == f"{state}/jupyterhub_cookie_secret"
    assert (state / "jupyterhub.sqlite").read_text() == "x"  # the database is kept as it is


def test_hub_config_creates_the_database_private(tmp_path):
    _load_hub_config(tmp_path)
    db = tmp_path / "state/jupyterhub.sqlite"
    assert db.is_file() and db.stat().st_size == 0  # SQLite takes an empty file as a new database
    assert _mode(db) == 0o600 and _mode(tmp_path / "state") == 0o700


def test_hub_config_refuses_a_state_folder_it_cannot_trust(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "state").symlink_to(elsewhere)
    with pytest.raises(SystemExit, match="is not a folder"):
        _load_hub_config(tmp_path)
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "jupyterhub.sqlite").symlink_to(elsewhere / "db")
    with pytest.raises(SystemExit, match=r"jupyterhub\.sqlite is a link"):
        _load_hub_config(tmp_path, MATHDL_HUB_STATE=str(linked))
    assert not (elsewhere / "db").exists()
    if os.geteuid() != 0:
        pytest.skip("the foreign-owner case needs root (chown)")
    other = tmp_path / "other"
    other.mkdir()
    os.chown(other, 65534, 65534)  # nobody
    with pytest.raises(SystemExit, match="belongs to uid 65534, not to the hub's user"):
        _load_hub_config(tmp_path, MATHDL_HUB_STATE=str(other))


def test_hub_config_lets_services_stop_on_sigint(tmp_path):
    """A hub started with SIGINT ignored (from a script's background) started its idle culler
    with SIGINT ignored too; stopping then waited 30 s for it. The config restores the handler."""
    saved = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        _load_hub_config(tmp_path)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

        # A hub whose SIGINT is handled keeps its handler.
        def mine(*_):
            return None

        signal.signal(signal.SIGINT, mine)
        _load_hub_config(tmp_path)
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        signal.signal(signal.SIGINT, saved)


def test_role_configs():
    inst = json.loads((DEPLOY / "jupyter/instructor/jupyter_server_config.json").read_text())
    stud = json.loads((DEPLOY / "jupyter/student/jupyter_server_config.json").read_text())
    ext = "nbgrader.server_extensions.formgrader"
    assert inst["ServerApp"]["jpserver_extensions"][ext] is True
    assert stud["ServerApp"]["jpserver_extensions"][ext] is False
    page = json.loads((DEPLOY / "jupyter/student/labconfig/page_config.json").read_text())
    assert page["disabledExtensions"]["@jupyter/nbgrader:formgrader"] is True


def test_install_refuses_a_python_other_users_cannot_run(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    os.chmod(private, 0o700)
    fake = private / "python3"
    fake.write_text('#!/bin/sh\nexec /usr/bin/python3 "$@"\n')
    fake.chmod(0o755)
    r = subprocess.run(
        [
            "bash",
            str(DEPLOY / "install.sh"),
            "--prefix",
            str(tmp_path / "p"),
            "--python",
            str(fake),
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1
    assert "which other users cannot enter" in r.stderr, r.stderr
    assert not (tmp_path / "p" / "env").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prefix", "relative/dir"], "must be an absolute path"),
        (["--python", "/nonexistent/python3"], "no Python at /nonexistent/python3"),
        (["--frobnicate"], "unknown argument '--frobnicate'"),
    ],
)
def test_install_rejects_bad_arguments(args, message):
    r = subprocess.run(["bash", str(DEPLOY / "install.sh"), *args], capture_output=True, text=True)
    assert r.returncode != 0 and message in r.stderr, r.stderr


def test_k8s_values_consistent():
    values = yaml.safe_load((DEPLOY / "k8s/values.yaml").read_text())
    docs = list(yaml.safe_load_all((DEPLOY / "k8s/formgrader.yaml").read_text()))
    kinds = {d["kind"] for d in docs}
    assert kinds == {"PersistentVolumeClaim", "Deployment", "Service"}
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    service = env["JUPYTERHUB_SERVICE_NAME"]["value"]
    assert service in values["hub"]["services"]
    token = env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]["key"]
    assert token == f"hub.services.{service}.apiToken"
    image = values["singleuser"]["image"]
    assert container["image"] == f"{image['name']}:{image['tag']}"
    claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}
    mounted = {
        v["persistentVolumeClaim"]["claimName"]
        for v in values["singleuser"]["storage"]["extraVolumes"]
    }
    assert mounted <= claims
    exchange = next(d for d in docs if d["metadata"]["name"] == "mathdl-exchange")
    assert exchange["spec"]["accessModes"] == ["ReadWriteMany"]
    for name, snippet in values["hub"]["extraConfig"].items():
        compile(snippet, f"extraConfig.{name}", "exec")
    assert values["cull"]["enabled"] is True


def test_helm_style_merge():
    defaults = {"a": {"b": 1, "c": 2}, "d": [1], "e": 5}
    assert merge(defaults, {"a": {"b": 9}, "d": [2], "e": None}) == {
        "a": {"b": 9, "c": 2},
        "d": [2],
    }
    assert defaults == {"a": {"b": 1, "c": 2}, "d": [1], "e": 5}


def test_image_leaves_out_solutions_and_student_data():
    text = (DEPLOY / "Dockerfile").read_text()
    assert "COPY . /src/mathdl" in text
    assert "--course-requirements /src/mathdl/binder/requirements.txt" in text
    assert (REPO / "binder/requirements.txt").is_file()
    ignored = {
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for path in ("solutions/", "gradebook.db", "submitted/", "feedback/", ".venv/", ".git/"):
        assert path in ignored, path
