"""Models: feature modules (shared by training and serving), artifacts, training, the scoring worker."""
