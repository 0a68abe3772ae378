"""Time the sanitizer (mathdl_grading.sanitize) on honest and hostile outputs; prints a table.

    .venv/bin/python benchmarks/bench_sanitize.py

Each row: what was cleaned, its size, and the best of 3 runs. The hostile rows are what the
bounds (MAX_TAGS, MAX_DEPTH, NOTEBOOK_TAGS, NOTEBOOK_MARKDOWN) keep short; "unbounded" rows
call bleach directly, as the sanitizer would without them.
"""

import time

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from mathdl_grading.sanitize import SanitizeOutputs, _cleaner, clean_html


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def notebook(outputs, markdown):
    cells = [new_code_cell("x", outputs=outputs)] + [new_markdown_cell(m) for m in markdown]
    return new_notebook(cells=cells)


def main():
    pandas = (
        "<table class='dataframe'><tbody>"
        + ("<tr><th>1</th>" + "<td>0.5</td>" * 10 + "</tr>") * 60
        + "</tbody></table>"
    )
    nested = ("<b>" * 60 + "x" + "</b>" * 60) * 24
    listing = "* item **bold** *it* `code` [l](https://x.org)\n" * 400
    html_out = [new_output("display_data", data={"text/html": nested}) for _ in range(50)]
    rows = [
        ("pandas table 60x10 (honest)", len(pandas), lambda: clean_html(pandas)),
        ("3,000 nested <div>, unbounded", 15_000, lambda: _cleaner().clean("<div>" * 3000)),
        ("3,000 nested <div>", 15_000, lambda: clean_html("<div>" * 3000)),
        ("2,900 tags, depth 60", len(nested), lambda: clean_html(nested)),
        (
            "notebook: 50 such outputs + 50 such Markdown cells",
            100 * len(nested),
            lambda: SanitizeOutputs().preprocess(notebook(html_out, [nested] * 50), {}),
        ),
        (
            "notebook: 100 Markdown cells of 400 list items",
            100 * len(listing),
            lambda: SanitizeOutputs().preprocess(notebook([], [listing] * 100), {}),
        ),
    ]
    print(f"{'case':55} {'chars':>9} {'seconds':>8}")
    for name, size, fn in rows:
        print(f"{name:55} {size:9d} {best(fn):8.3f}")


if __name__ == "__main__":
    main()
