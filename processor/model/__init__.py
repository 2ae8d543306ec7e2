"""The old home of the feature contract, kept only as :mod:`processor.model.features`.

Models are served from :mod:`processor.serving`, trained in :mod:`processor.training`, and their
feature modules live in :mod:`processor.features` (docs/design.md §9). Nothing in the processor
imports this package.
"""
