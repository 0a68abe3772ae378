"""nbgrader's cell-metadata check without re-checking its own schema for every cell.

nbgrader's ``CheckCellMetadata`` (run twice per graded notebook) validates each cell's
``nbgrader`` metadata with ``jsonschema.validate(metadata, schema)``, which first checks the
*schema* against the JSON Schema meta-schema: the same constant schema, once per cell. That
check was about a fifth of the grader's own CPU time per notebook. :func:`install` gives
nbgrader's format module a ``jsonschema`` whose ``validate`` checks each schema once per
process and keeps its validator; the metadata is validated exactly as before (the same
validator class, the same best-matching error raised).
"""

import json
from typing import Any

import jsonschema
from jsonschema import exceptions, validators

_VALIDATORS: dict[str, Any] = {}


def validate(instance: Any, schema: dict[str, Any], cls: Any = None) -> None:
    """``jsonschema.validate(instance, schema)``, the schema checked on its first use only."""
    key = json.dumps(schema, sort_keys=True) + repr(cls)
    validator = _VALIDATORS.get(key)
    if validator is None:
        kind = cls or validators.validator_for(schema)
        kind.check_schema(schema)
        validator = _VALIDATORS[key] = kind(schema)
    error = exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


class _Jsonschema:
    """What nbgrader's format module uses of ``jsonschema``: ``validate`` (this module's) and,
    for anything else, the real module."""

    validate = staticmethod(validate)

    def __getattr__(self, name: str) -> Any:
        return getattr(jsonschema, name)


def install() -> None:
    """nbgrader's metadata validation (:mod:`nbgrader.nbgraderformat.common`) uses :func:`validate`."""
    from nbgrader.nbgraderformat import common

    common.jsonschema = _Jsonschema()
