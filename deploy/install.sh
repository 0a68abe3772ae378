#!/usr/bin/env bash
# Build (or refresh) everything the course hub runs from, in one world-readable prefix:
#
#   $PREFIX/env      the class environment: a venv made from a system Python (never one under
#                    /root: other users could not execute it), with requirements.txt and
#                    requirements-dev.txt (the course, as `make setup` installs it),
#                    deploy/requirements-hub.txt (JupyterHub) and the course's packages
#   $PREFIX/proxy    configurable-http-proxy from npm (deploy/package.json + package-lock.json)
#   $PREFIX/course   what every student gets a copy of on first login: the lessons (notebooks/)
#   $PREFIX/etc      per-role Jupyter configuration (deploy/jupyter/{instructor,student})
#
# Usage: deploy/install.sh [--prefix DIR] [--python PATH] [--no-proxy] [--course-requirements FILE]
# (--course-requirements: instead of requirements.txt, e.g. binder/requirements.txt for torch's
# CPU build in the Kubernetes image.)
# Re-running it is quick: the environment is rebuilt only when a requirements file, the lock
# file or the mathdl package changed. Run it as root on the hub server (docs/hub.md).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="${MATHDL_HUB_PREFIX:-/opt/mathdl-hub}"
# Debian's Python 3.11 where there is one (the version the course's wheels are built for),
# else the system's python3.
if [ -x /usr/bin/python3.11 ]; then DEFAULT_PYTHON=/usr/bin/python3.11; else DEFAULT_PYTHON=/usr/bin/python3; fi
PYTHON="${MATHDL_HUB_PYTHON:-$DEFAULT_PYTHON}"
WITH_PROXY=1
COURSE_REQS="$REPO/requirements.txt"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --python) PYTHON="$2"; shift 2 ;;
    --no-proxy) WITH_PROXY=0; shift ;;
    --course-requirements) COURSE_REQS="$2"; shift 2 ;;
    *) echo "install.sh: unknown argument '$1' (use --prefix DIR, --python PATH, --no-proxy, --course-requirements FILE)" >&2; exit 2 ;;
  esac
done

fail() { echo "install.sh: $*" >&2; exit 1; }

[ -f "$COURSE_REQS" ] || fail "no requirements file at $COURSE_REQS"

case "$PREFIX" in /*) ;; *) fail "--prefix must be an absolute path, got '$PREFIX'" ;; esac
[ -x "$PYTHON" ] || fail "no Python at $PYTHON (install Debian's python3 and python3-venv, or pass --python)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || fail "$PYTHON is $("$PYTHON" -V 2>&1); the course needs Python 3.11 or newer"
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null \
  || fail "$PYTHON has no venv/ensurepip module (Debian: apt-get install python3-venv)"

# Every directory from / down to the interpreter and the prefix must be enterable by everyone,
# or users' servers die with "bad interpreter: Permission denied".
world_traversable() {
  local p
  p="$(readlink -f "$1")"
  while [ "$p" != "/" ]; do
    if [ -d "$p" ] && [ "$(($(stat -c '%#a' "$p") & 8#001))" = 0 ]; then
      echo "$p"
      return 1
    fi
    p="$(dirname "$p")"
  done
}
bad="$(world_traversable "$PYTHON")" \
  || fail "$PYTHON resolves into $bad, which other users cannot enter; use a system Python (--python /usr/bin/python3)"

mkdir -p "$PREFIX"
chmod 755 "$PREFIX"
# One install at a time per prefix (two test runs, or a test run and an admin, may overlap).
exec 9>"$PREFIX/.install.lock"
flock 9
bad="$(world_traversable "$PREFIX")" || fail "$PREFIX is inside $bad, which other users cannot enter; choose another --prefix"

# --- the class environment ----------------------------------------------------------------
# The course's own packages (mathdl, and the grading package where the course has one), as
# pyproject.toml lists them; and its requirements: the course's, then the development ones
# (the grading commands need some of them), so that the environment is the one `make setup`
# gives an instructor, plus the hub.
PACKAGES="$("$PYTHON" -c 'import sys, tomllib
cfg = tomllib.load(open(sys.argv[1], "rb"))
print(" ".join(sorted({p.split(".")[0] for p in cfg["tool"]["setuptools"]["packages"]})))' "$REPO/pyproject.toml")" \
  || fail "cannot read the package list from $REPO/pyproject.toml"
REQS=(-r "$COURSE_REQS")
[ -f "$REPO/requirements-dev.txt" ] && REQS+=(-r "$REPO/requirements-dev.txt")
REQS+=(-r "$REPO/deploy/requirements-hub.txt")

inputs_hash() {
  {
    "$PYTHON" -V 2>&1
    cat "$COURSE_REQS" "$REPO/deploy/requirements-hub.txt" "$REPO/pyproject.toml"
    cat "$REPO/requirements-dev.txt" 2>/dev/null || true
    cat "$REPO/deploy/install.sh"
    # shellcheck disable=SC2086
    (cd "$REPO" && find $PACKAGES -type f ! -name '*.pyc' -print0 | sort -z | xargs -0 cat)
  } | sha256sum | cut -d' ' -f1
}
want="$(inputs_hash)"
have="$(cat "$PREFIX/env/.mathdl-hub-inputs" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
  echo "install.sh: building the class environment in $PREFIX/env from $PYTHON"
  rm -rf "$PREFIX/env"
  "$PYTHON" -m venv "$PREFIX/env"
  # Bytecode is compiled afterwards on every core at once (pip compiles one file at a time);
  # users cannot write into the environment, so without it every import would recompile.
  "$PREFIX/env/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile "${REQS[@]}"
  # The course's packages themselves (not editable: the environment must not depend on this
  # checkout).
  build="$(mktemp -d)"
  cp "$REPO/pyproject.toml" "$REPO/README.md" "$build/"
  for pkg in $PACKAGES; do cp -r "$REPO/$pkg" "$build/$pkg"; done
  "$PREFIX/env/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile \
    --no-deps "$build"
  rm -rf "$build"
  # (a few test files inside packages do not compile on purpose: ignore those)
  "$PREFIX/env/bin/python" -m compileall -q -q -j 0 "$PREFIX/env/lib" >/dev/null || true
  echo "$want" >"$PREFIX/env/.mathdl-hub-inputs"
else
  echo "install.sh: class environment in $PREFIX/env is up to date"
fi

# --- configurable-http-proxy ----------------------------------------------------------------
if [ "$WITH_PROXY" = 1 ]; then
  command -v npm >/dev/null || fail "npm not found (Debian: apt-get install nodejs npm; Node.js 18 or newer)"
  lock_hash="$(cat "$REPO/deploy/package.json" "$REPO/deploy/package-lock.json" | sha256sum | cut -d' ' -f1)"
  if [ "$lock_hash" != "$(cat "$PREFIX/proxy/.mathdl-hub-inputs" 2>/dev/null || true)" ]; then
    echo "install.sh: installing configurable-http-proxy into $PREFIX/proxy (npm ci)"
    rm -rf "$PREFIX/proxy"
    mkdir -p "$PREFIX/proxy"
    cp "$REPO/deploy/package.json" "$REPO/deploy/package-lock.json" "$PREFIX/proxy/"
    (cd "$PREFIX/proxy" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$lock_hash" >"$PREFIX/proxy/.mathdl-hub-inputs"
  fi
  "$PREFIX/proxy/node_modules/.bin/configurable-http-proxy" --version >/dev/null \
    || fail "configurable-http-proxy does not start with this Node.js ($(node --version)); it needs Node.js 18+"
fi

# --- lessons and per-role configuration (cheap: refreshed whenever they changed) -------------
# replace DEST with a copy of SRC..., unless it is identical already (a running hub keeps using
# an unchanged copy undisturbed).
replace_dir() {
  local dest="$1"
  shift
  rm -rf "$dest.new"
  mkdir -p "$dest.new"
  cp -r "$@" "$dest.new/"
  if diff -r "$dest.new" "$dest" >/dev/null 2>&1; then
    rm -rf "$dest.new"
  else
    rm -rf "$dest"
    mv "$dest.new" "$dest"
  fi
}
replace_dir "$PREFIX/course" "$REPO/notebooks"
replace_dir "$PREFIX/etc" "$REPO/deploy/jupyter/instructor" "$REPO/deploy/jupyter/student"
# Settings shared by every nbgrader command run from the environment (the exchange).
mkdir -p "$PREFIX/env/etc/jupyter"
cp "$REPO/deploy/jupyter/nbgrader_config.py" "$PREFIX/env/etc/jupyter/nbgrader_config.py"

chmod -R a+rX,go-w "$PREFIX"
echo "install.sh: done ($PREFIX)"
