"""Human review of a run's answers: sampling, rubric, a local review app on SQLite, statistics and the gate.

Modules are imported on use (`harness.review.sampling`, `.rubric`, `.store`, `.stats`, `.gate`, `.app`), so
importing this package costs nothing.
"""
