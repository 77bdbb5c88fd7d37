"""Production traffic must still look like what the model was tuned and evaluated on: one test per window.

A window fails when its drift tests, corrected together (Holm) at the window level alpha / horizon, find a
significant shift with an effect at its practical floor; a window with too few requests is skipped as "not
enough data", never passed or failed.
"""

from harness.drift_suite import check_window


def test_window_has_no_drift(drift_report, window_index):
    check_window(drift_report, window_index)
