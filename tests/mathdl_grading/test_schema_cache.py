"""mathdl_grading.schema_cache: nbgrader's metadata check with its schema checked once."""

import pytest


def test_the_metadata_check_with_its_schema_checked_once_gives_nbgraders_verdicts():
    import jsonschema
    from nbgrader.nbgraderformat import common
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    from mathdl_grading import schema_cache

    schema = MetadataValidatorV3().schema
    good = {"grade": True, "solution": False, "locked": True, "points": 2.0}
    good |= {"grade_id": "t1", "schema_version": 3, "task": False}
    bad = [good | {"points": "two"}, good | {"grade_id": 7}, {**good, "extra": 1}, {}]
    assert schema_cache.validate(good, schema) is None
    for metadata in bad:
        with pytest.raises(jsonschema.ValidationError) as theirs:
            jsonschema.validate(metadata, schema)
        with pytest.raises(jsonschema.ValidationError) as ours:
            schema_cache.validate(metadata, schema)
        assert (ours.value.message, list(ours.value.path)) == (
            theirs.value.message,
            list(theirs.value.path),
        )
    with pytest.raises(jsonschema.SchemaError):  # a broken schema is still refused
        schema_cache.validate({}, {"type": 12})
    schema_cache.install()
    assert common.jsonschema.validate is schema_cache.validate
    assert common.jsonschema.ValidationError is jsonschema.ValidationError
