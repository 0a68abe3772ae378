"""Make nbgrader's gradebook creation cheap.

nbgrader 0.9 finds the alembic head revision of a *new* gradebook by running the ``alembic``
command in a subprocess (a second Python start, 1-7 s on a busy machine, and it needs
``alembic`` on PATH). :func:`install` replaces that with the same lookup done in-process
through alembic's own API; the value written to the gradebook is identical.
"""

import functools
import os


@functools.lru_cache(maxsize=1)
def alembic_head():
    import nbgrader
    from alembic.script import ScriptDirectory

    script_dir = os.path.join(os.path.dirname(nbgrader.__file__), "alembic")
    return ScriptDirectory(script_dir).get_current_head()


def install():
    """Patch nbgrader.api.get_alembic_version (idempotent; falls back to nbgrader's own on error)."""
    import nbgrader.api

    original = getattr(
        nbgrader.api.get_alembic_version, "_mathdl_original", nbgrader.api.get_alembic_version
    )

    def get_alembic_version():
        try:
            return alembic_head()
        except Exception:
            return original()

    get_alembic_version._mathdl_original = original
    nbgrader.api.get_alembic_version = get_alembic_version
