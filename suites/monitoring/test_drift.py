"""Production traffic must still look like what the model was tuned and evaluated on: one test per window.

A window fails when its drift tests, corrected together (Holm) at the window level alpha / horizon, find a
significant shift with an effect at its practical floor; a window with too few requests is skipped as "not
enough data", never passed or failed.
"""

from __future__ import annotations

import pytest

from harness.monitoring.monitor import DRIFT, NOT_ENOUGH
from harness.monitoring.report import TEST_TITLES


def test_window_has_no_drift(drift_report, window_index):
    result = drift_report.windows[window_index]
    if result.verdict == NOT_ENOUGH:
        pytest.skip(f"not enough data: {result.note}")
    for test in result.tests:
        if test.enough_data:
            print(f"{TEST_TITLES[test.name]}: {test.effect_name} {test.effect:.3f}, adjusted p {test.p_adjusted:.3g}")
    if result.verdict == DRIFT:
        flagged = [t for t in result.tests if t.flagged]
        lines = [f"drift in window {result.window.id} ({len(result.window)} requests, {drift_report.settings.rule}):"]
        lines += [
            f"  {TEST_TITLES[t.name]}: {t.effect_name} {t.effect:.3f} (floor {t.effect_floor}), "
            f"p {t.p_value:.3g}, adjusted {t.p_adjusted:.3g}"
            for t in flagged
        ]
        lines.append("  words marking the window: " + ", ".join(w for w, _ in result.window_words[:8]))
        lines += [f"  e.g. {r.where}: {' '.join(r.input.split())[:120]}" for r in result.examples[:3]]
        pytest.fail("\n".join(lines), pytrace=False)
