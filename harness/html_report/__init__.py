"""The promotion report as one self-contained HTML page, and the history of the promoted baselines.

`page.render_page` draws the report from a run's JSON report (`--harness-json`), so a saved run can be drawn
again with `harness report RUN_JSON --html PATH`; `history` reads the committed baselines over git history.
"""
