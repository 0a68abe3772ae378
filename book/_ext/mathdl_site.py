"""Sphinx extension of the course website: a "static: run it live" note above every widget,
and a note on how to work on each exercise (the notebooks themselves are not changed, so a
downloaded exercise is exactly the one in exercises/).

It also switches off sphinx-thebe, which Jupyter Book 1 always loads: the site has no live
kernel (thebe is off in _config.yml), yet sphinx-thebe still adds its script, whose settings
name a CDN (unpkg) and are declared twice on every page, a JavaScript error.

The pages show the lessons' widgets from the state saved when the lesson was executed at build
time (@jupyter-widgets/html-manager, vendored). Nothing runs behind them, so moving a slider does
not recompute the picture. Every cell output that holds a widget gets a note saying so, with links
to the same notebook on Binder and in a local JupyterLab started by `make lab`.
"""

from docutils import nodes

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
NOTE_CLASS = "mathdl-static-widget"


def _has_widget(node):
    return any(
        raw.get("format") == "html" and WIDGET_VIEW in raw.astext()
        for raw in node.findall(nodes.raw)
    )


def _note(config, docname):
    notebook = f"{docname}.ipynb"
    par = nodes.paragraph()
    par += nodes.strong(text="Static: ")
    par += nodes.Text(
        "these controls show the state saved when the page was built; nothing recomputes "
        "here. Run it live: "
    )
    par += nodes.reference(text="on Binder", refuri=config.mathdl_binder_url + notebook)
    par += nodes.Text(", or locally with ")
    par += nodes.literal(text="make lab")
    par += nodes.Text(" and then ")
    par += nodes.reference(
        text="this notebook in JupyterLab", refuri=config.mathdl_lab_url + notebook
    )
    par += nodes.Text(".")
    box = nodes.container(classes=[NOTE_CLASS])
    box += par
    return box


def _exercise_note(config, docname):
    notebook = f"{docname}.ipynb"
    par = nodes.paragraph()
    par += nodes.Text(
        "This is the exercise as students receive it, not executed. To work on it, open "
    )
    par += nodes.literal(text=notebook)
    par += nodes.Text(" in JupyterLab (")
    par += nodes.literal(text="make lab")
    par += nodes.Text(" in the course repository) or ")
    par += nodes.reference(text="on Binder", refuri=config.mathdl_binder_url + notebook)
    par += nodes.Text(", replace every ")
    par += nodes.literal(text="raise NotImplementedError()")
    par += nodes.Text(" with your code and run the test cells.")
    box = nodes.note()
    box += par
    return box


def add_notes(app, doctree, docname):
    if docname.startswith("exercises/"):
        section = next(iter(doctree.findall(nodes.section)), None)
        if section is not None:
            title = next(iter(section.findall(nodes.title)), None)
            section.insert(
                section.index(title) + 1 if title else 0, _exercise_note(app.config, docname)
            )
    for output in list(doctree.findall(nodes.container)):
        if "cell_output" not in output.get("classes", []) or not _has_widget(output):
            continue
        parent = output.parent
        parent.insert(parent.index(output), _note(app.config, docname))


def drop_thebe(app, config):
    for listeners in list(app.events.listeners.values()):
        for listener in list(listeners):
            if getattr(listener.handler, "__module__", "").startswith("sphinx_thebe"):
                app.disconnect(listener.id)
    app.registry.css_files = [
        (name, attrs) for name, attrs in app.registry.css_files if name != "sphinx-thebe.css"
    ]


def setup(app):
    app.connect("config-inited", drop_thebe, priority=900)
    app.add_config_value("mathdl_binder_url", "", "html")
    app.add_config_value("mathdl_lab_url", "", "html")
    app.connect("doctree-resolved", add_notes)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
