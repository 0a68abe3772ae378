// The lessons' playgrounds, live on the static site without a kernel (docs/site.md).
//
// book/build.py ran every Playground over a grid of settings when it built the site
// (mathdl/playground_export.py) and wrote, per lesson, playgrounds/<lesson>/playgrounds.js:
// the controls, the picture of the starting setting (base.png, at 2x) and per setting the
// pixels that differ from it (an RGBA PNG laid over it). This script replaces the saved
// (static) widget with the same controls; a change swaps the layer, already decoded.
(function () {
  "use strict";
  const VIEW = 'script[type="application/vnd.jupyter.widget-view+json"]';

  function findView(modelId) {
    for (const s of document.querySelectorAll(VIEW)) {
      try {
        if (JSON.parse(s.textContent).model_id === modelId) return s;
      } catch (e) {
        /* not a widget view */
      }
    }
    return null;
  }

  function control(c, index, onChange) {
    const row = document.createElement("label");
    row.className = "mathdl-live-control";
    const name = document.createElement("span");
    name.className = "mathdl-live-name";
    name.textContent = c.description;
    const readout = document.createElement("span");
    readout.className = "mathdl-live-readout";
    let input;
    if (c.menu) {
      input = document.createElement("select");
      c.labels.forEach((label, i) => input.add(new Option(label, String(i))));
    } else {
      input = document.createElement("input");
      input.type = "range";
      input.min = "0";
      input.max = String(c.values.length - 1);
      input.step = "1";
    }
    input.value = String(c.start);
    input.dataset.control = c.name;
    input.setAttribute("aria-label", c.description);
    const set = (i) => {
      input.value = String(i);
      readout.textContent = c.menu ? "" : c.labels[i];
    };
    input.addEventListener("input", () => onChange(index, Number(input.value)));
    row.append(name, input, readout);
    set(c.start);
    return { row, set };
  }

  function build(m, folder) {
    const view = findView(m.model_id);
    if (!view) return;
    const output = view.closest(".cell_output") || view.parentElement;
    const root = document.createElement("div");
    root.className = "mathdl-live-playground";
    const state = m.controls.map((c) => c.start);
    const lr = m.controls.findIndex((c) => c.name === "lr");
    const frame = document.createElement("div");
    frame.className = "mathdl-live-frame";
    frame.style.width = m.css_width + "px";
    // One canvas at the pictures' own size (2x): the layers are composed there pixel for
    // pixel, and the browser scales the result as one picture (stacked <img> would each be
    // scaled on their own, and a layer's transparent pixels would blur into its edges).
    const canvas = document.createElement("canvas");
    canvas.width = m.pixels[0];
    canvas.height = m.pixels[1];
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", "the playground's picture");
    frame.append(canvas);
    const ctx = canvas.getContext("2d");
    const pictures = new Map(); // file -> {img, ready: its decoding}
    const picture = (e) => {
      if (!e || !e.file) return null;
      if (!pictures.has(e.file)) {
        const img = new Image();
        img.src = folder + "/" + e.file;
        pictures.set(e.file, { img, e, ready: img.decode().catch(() => null) });
      }
      return pictures.get(e.file);
    };
    const base = picture({ file: "base.png", x: 0, y: 0 });
    let token = 0;
    let keyTime = null;
    const preload = () => {
      // Every learning rate for the other controls as they are: the next key is instant.
      if (lr < 0) return;
      const s = state.slice();
      for (let i = 0; i < m.controls[lr].values.length; i++) {
        s[lr] = i;
        picture(m.settings[s.join(",")]);
      }
    };
    let preloadedRows = false;
    const preloadRows = () => {
      // The other controls' rows, once the reader reaches for the controls.
      if (preloadedRows) return;
      preloadedRows = true;
      for (const r of Object.values(m.rows)) picture(r);
    };
    const show = () => {
      const key = state.join(",");
      const entry = m.settings[key];
      const mine = ++token;
      const t0 = keyTime !== null ? keyTime : performance.now();
      keyTime = null;
      const layers = [base, picture(m.rows[entry.row]), picture(entry)].filter((l) => l);
      Promise.all(layers.map((l) => l.ready)).then(() => {
        if (mine !== token) return;
        for (const l of layers) ctx.drawImage(l.img, l.e.x, l.e.y);
        root.dataset.layers = layers.map((l) => l.e.file).join(" ");
        requestAnimationFrame(() => {
          root.dataset.shown = key;
          window.mathdlPlaygroundTimings.push({ key, ms: performance.now() - t0 });
        });
      });
      root.dataset.key = key;
      root.dataset.diverged = String(!!entry.diverged);
    };
    const widgets = [];
    const onChange = (index, value) => {
      state[index] = value;
      if (!(state.join(",") in m.settings)) {
        // Settings are precomputed for one control at a time (with any learning rate):
        // the other controls go back to where they started.
        state.forEach((v, i) => {
          if (i !== index && i !== lr && v !== m.controls[i].start) {
            state[i] = m.controls[i].start;
            widgets[i].set(state[i]);
          }
        });
      }
      widgets[index].set(value);
      show();
      preload();
    };
    const controls = document.createElement("div");
    controls.className = "mathdl-live-controls";
    m.controls.forEach((c, i) => {
      const w = control(c, i, onChange);
      widgets.push(w);
      controls.append(w.row);
    });
    controls.addEventListener("keydown", (e) => { keyTime = e.timeStamp; }, true);
    controls.addEventListener("pointerdown", (e) => { keyTime = e.timeStamp; }, true);
    controls.addEventListener("focusin", preloadRows);
    controls.addEventListener("pointerenter", preloadRows);
    root.append(controls, frame);
    output.parentElement.insertBefore(root, output);
    output.classList.add("mathdl-replaced-widget");
    const note = root.previousElementSibling;
    if (note && note.classList.contains("mathdl-static-widget")) {
      const strong = note.querySelector("strong");
      if (strong) strong.textContent = "Live: ";
      const text = strong && strong.nextSibling;
      if (text && text.nodeType === Node.TEXT_NODE) {
        text.textContent =
          "precomputed when this page was built, for " +
          Object.keys(m.settings).length +
          " settings: every learning rate shown with one other control at a time (moving " +
          "another control resets the rest). For every combination, run it live: ";
      }
    }
    show();
    base.ready.then(preload);
  }

  window.mathdlPlaygroundTimings = window.mathdlPlaygroundTimings || [];
  function start() {
    for (const p of window.mathdlPlaygrounds || []) {
      for (const m of p.manifests) build(m, p.base + "/" + m.folder);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
