"""The pipeline stages, each a small unit with one job that works on a batch.

decode -> dedupe -> validate -> reorder -> features -> score -> decide -> route
"""
