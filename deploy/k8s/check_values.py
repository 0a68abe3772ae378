"""Check deploy/k8s/values.yaml against the Zero to JupyterHub chart, as `helm` does before
rendering: the chart's own values.yaml merged with ours, then validated against the chart's
values.schema.yaml.

    python deploy/k8s/check_values.py CHART_DIR [values.yaml ...]

CHART_DIR is the unpacked chart (`helm pull jupyterhub/jupyterhub --version 4.4.0 --untar`
gives ./jupyterhub, holding values.yaml and values.schema.yaml). With helm at hand,
`helm template` checks the same and renders the manifests too. Prints each violation with its
location; exit status 1 if there is any.
"""

import sys
from pathlib import Path

import jsonschema
import yaml

HERE = Path(__file__).resolve().parent


def merge(defaults, override):
    """Helm's merge of user values over a chart's defaults: maps merge key by key, anything
    else replaces, and null removes the key."""
    out = dict(defaults)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def violations(chart_dir, values_path):
    chart_dir = Path(chart_dir)
    schema = yaml.safe_load((chart_dir / "values.schema.yaml").read_text())
    defaults = yaml.safe_load((chart_dir / "values.yaml").read_text())
    values = merge(defaults, yaml.safe_load(Path(values_path).read_text()) or {})
    validator = jsonschema.Draft7Validator(schema)
    return [
        f"{'.'.join(str(p) for p in err.absolute_path) or '(top)'}: {err.message}"
        for err in sorted(validator.iter_errors(values), key=lambda e: list(e.absolute_path))
    ]


def main(argv):
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    chart, files = argv[0], argv[1:] or [str(HERE / "values.yaml")]
    for name in ("values.yaml", "values.schema.yaml"):
        if not (Path(chart) / name).is_file():
            print(f"check_values.py: {chart} has no {name}: is it the unpacked chart?")
            return 2
    bad = 0
    for f in files:
        found = violations(chart, f)
        bad += len(found)
        print(f"{f}: {'valid' if not found else f'{len(found)} violation(s)'}")
        for line in found:
            print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
