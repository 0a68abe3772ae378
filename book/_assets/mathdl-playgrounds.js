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
    const pictures = new Map(); // file -> {img, ready: its decoding}
    const picture = (file, place) => {
      if (!pictures.has(file)) {
        const img = new Image();
        img.src = folder + "/" + file;
        img.alt = "the playground's picture";
        place(img);
        pictures.set(file, { img, ready: img.decode().catch(() => null) });
      }
      return pictures.get(file);
    };
    const base = picture("base.png", (img) => { img.className = "mathdl-live-base"; });
    frame.append(base.img);
    const shown = [null, null]; // the row's layer and the setting's layer, over base.png
    let token = 0;
    let keyTime = null;
    const layer = (e) =>
      e && e.file
        ? picture(e.file, (img) => {
            img.className = "mathdl-live-layer";
            img.alt = "";
            img.style.left = (100 * e.x) / m.pixels[0] + "%";
            img.style.top = (100 * e.y) / m.pixels[1] + "%";
            img.style.width = (100 * e.w) / m.pixels[0] + "%";
          })
        : null;
    const preload = () => {
      // Every learning rate for the other controls as they are: the next key is instant.
      if (lr < 0) return;
      const s = state.slice();
      for (let i = 0; i < m.controls[lr].values.length; i++) {
        s[lr] = i;
        layer(m.settings[s.join(",")]);
      }
    };
    let preloadedRows = false;
    const preloadRows = () => {
      // The other controls' rows, once the reader reaches for the controls.
      if (preloadedRows) return;
      preloadedRows = true;
      for (const r of Object.values(m.rows)) layer(r);
    };
    const show = () => {
      const key = state.join(",");
      const entry = m.settings[key];
      const mine = ++token;
      const t0 = keyTime !== null ? keyTime : performance.now();
      keyTime = null;
      const next = [layer(m.rows[entry.row]), layer(entry)];
      Promise.all(next.map((l) => l && l.ready)).then(() => {
        if (mine !== token) return;
        next.forEach((l, i) => {
          const img = l && l.img;
          if (shown[i] === img) return;
          if (shown[i]) shown[i].remove();
          shown[i] = img;
        });
        for (const img of shown) if (img) frame.append(img); // row first, then the setting
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
    root.dataset.key = state.join(",");
    root.dataset.shown = root.dataset.key;
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
