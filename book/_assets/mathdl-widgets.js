// Loaded between RequireJS and the widget manager (book/_config.yml: nb_ipywidgets_js).
(function () {
  // The widget manager finds its fonts next to where RequireJS thinks it lives; by default that
  // is the page's own folder. Point RequireJS at the vendored copy in _static/vendor/.
  var here = document.currentScript.src.split("?")[0];
  var staticDir = here.slice(0, here.lastIndexOf("/") + 1);
  // Widget modules beyond ipywidgets' own are loaded by RequireJS under their module name; the
  // ones the lessons use are vendored (anywidget: mathdl.playground.Picture), so the manager
  // never falls back to a CDN.
  require.config({
    paths: {
      "@jupyter-widgets/html-manager/dist": staticDir + "vendor/html-manager",
      anywidget: staticDir + "vendor/anywidget/index",
    },
  });

  // ipywidgets typesets its labels through MathJax 2's API (MathJax.Hub.Queue); the pages run
  // MathJax 3. Translate, once MathJax 3 (a deferred script) has replaced its configuration.
  document.addEventListener("DOMContentLoaded", function () {
    var mj = window.MathJax;
    if (!mj || mj.Hub || !mj.startup) return;
    mj.Hub = {
      Queue: function (job) {
        var element = job && job[2];
        mj.startup.promise = mj.startup.promise.then(function () {
          return mj.typesetPromise(element ? [element] : undefined);
        });
      },
    };
  });
})();
