"""This repository's own pytest settings. The harness plugin itself is loaded by its pytest11 entry point."""

import os

from hypothesis import settings

# Reproducible property-based tests: the same examples on every run and in CI.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
