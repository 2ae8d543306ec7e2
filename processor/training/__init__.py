"""Training models: sources, the training run and its guards, baselines, metrics, the report, the
rolling time-fold evaluation, ``processor train`` and ``processor models bootstrap``
(docs/design.md §9).

Only commands that train import this package, through deferred imports in :mod:`processor.cli`:
``processor run`` never loads it nor its libraries (scikit-learn, matplotlib, the lightgbm package).
"""
