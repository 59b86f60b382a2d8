"""Hypothesis profiles: deterministic by default (CI), ``HYPOTHESIS_PROFILE=explore`` to search more.

``default`` derandomizes (the same examples every run, so a CI failure reproduces) and keeps no
example database in the working tree; ``explore`` draws fresh random examples, ten times as many.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("default", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", max_examples=1000, database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
