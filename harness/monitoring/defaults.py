"""The monitor's documented defaults, in one light module: the `harness monitor` command, the pytest options
of suites/monitoring and MonitorSettings all read them from here."""

WINDOW = "1d"  # a request count (200) or a UTC-aligned span (1d, 12h, 30m, 1w)
ALPHA = 0.05  # the chance of any false alarm over HORIZON windows without drift
HORIZON = 30  # windows over which ALPHA holds: each window is judged at ALPHA / HORIZON
PERMUTATIONS = 4999  # MMD and PSI permutation tests
MIN_SAMPLES = 50  # windows with fewer requests are "not enough data"
