"""Named, reusable pictures for the lessons' playgrounds and figures (matplotlib).

Each view draws its static parts once when it is created and then updates a few artists, marked
``animated`` so that ``Playground(..., blit=True)`` redraws only them. Import the module you
need; this package imports nothing by itself, so ``import mathdl`` stays NumPy-only:

* :mod:`mathdl.views.curves`: curves over training steps (losses, distances) with a readout;
* :mod:`mathdl.views.descent`: a descent path on a 1-D curve or over the contour lines of a
  2-D function, and :func:`~mathdl.views.descent.descent_playground`, the surface playground
  (accepts an optimizer name, a :class:`mathdl.optim.Optimizer` subclass or a step function);
* :mod:`mathdl.views.parabola`, :mod:`~mathdl.views.line_fit`, :mod:`~mathdl.views.minibatch`,
  :mod:`~mathdl.views.softmax_map`: the playgrounds of lessons 00-03 around the lesson's own
  training function (each experiment a NumPy function, apart from its picture);
* :mod:`mathdl.views.per_layer`: one bar per layer (gradient norms at two moments);
* :mod:`mathdl.views.gradient_sizes`: lesson 05's playground, gradient descent on a deep MLP with
  the lesson's own backward pass and its per-layer gradient norms;
* :mod:`mathdl.views.graph`: a computational graph with each wire's value above it and its
  gradient below it;
* :mod:`mathdl.views.race`: the optimizer race, several descent paths on a 2-D surface, every
  path visible (accepts optimizer names, :class:`mathdl.optim.Optimizer` subclasses, instance
  factories or step functions);
* :mod:`mathdl.views.layers`: per-layer statistics of a deep MLP (activation and gradient sizes,
  dead units) for any activation name or ``(f, f')`` pair and any initializer;
* :mod:`mathdl.views.boundary`: a classifier's decision regions next to its training loss;
* :mod:`mathdl.views.build`: what every playground above shares (:func:`~mathdl.views.build.view_playground`,
  the blitting two-panel playground around one view, and :class:`~mathdl.views.build.Memo`).

The computations they draw live outside the pictures: descent paths in
:func:`mathdl.surfaces.descent_path` (optimizers resolved by :mod:`mathdl.stepper`), the
per-layer statistics in :mod:`mathdl.layer_stats` (on the engine: :mod:`mathdl.nn`,
:mod:`mathdl.optim`).
"""
