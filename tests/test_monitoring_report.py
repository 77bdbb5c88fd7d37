"""Monitoring end to end on small synthetic traffic: verdicts, not enough data, JSON, HTML escaping, the CLI."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.monitoring.html import render_html
from harness.monitoring.logs import LogRecord, Reference
from harness.monitoring.monitor import DRIFT, NO_DRIFT, NOT_ENOUGH, MonitorSettings, monitor
from harness.monitoring.report import report_json, terminal_lines
from harness.monitoring.windows import parse_window

T0 = datetime(2024, 3, 1, tzinfo=UTC)
WORDS = "the party shall pay notice terminate agreement days within fee invoice written confidential".split()
NEW_WORDS = "personal data breach processor controller subject gdpr transfer erasure".split()
LABELS = ["payment", "termination", "confidentiality"]
ATTACK = "<script>alert('x')</script>"


def sentence(rng: random.Random, vocabulary: list[str]) -> str:
    return " ".join(rng.choice(vocabulary) for _ in range(8))


def reference(n: int = 120) -> Reference:
    rng = random.Random(0)
    texts = tuple(sentence(rng, WORDS) for _ in range(n))
    labels = tuple(LABELS[k % 3] for k in range(n))
    return Reference(texts, labels, labels, tuple(f"ref.jsonl:{k + 1}" for k in range(n)))


def traffic(days: list[tuple[int, float]], seed: int = 1) -> list[LogRecord]:
    """(requests, share of inputs in a new vocabulary, with markup, answered 'confidentiality') per day."""
    rng = random.Random(seed)
    out = []
    for day, (count, share) in enumerate(days):
        for k in range(count):
            new = k < round(count * share)
            text = f"{sentence(rng, NEW_WORDS)} {ATTACK}" if new else sentence(rng, WORDS)
            moment = T0 + timedelta(days=day, minutes=5 * k)
            label = "confidentiality" if new else LABELS[k % 3]
            out.append(LogRecord(f"r{day}-{k}", moment, text, label, "logs.jsonl", len(out) + 1))
    return out


SETTINGS = MonitorSettings(window=parse_window("1d"), classifier_permutations=39, permutations=199, min_samples=40)


@pytest.fixture(scope="module")
def report():
    return monitor(traffic([(60, 0.0), (60, 0.5), (20, 0.0)]), reference(), SETTINGS, log_files=["logs.jsonl"])


def test_the_drifted_window_is_flagged_and_the_stable_one_is_not(report):
    stable, drifted, short = report.windows
    assert stable.verdict == NO_DRIFT
    assert not any(t.flagged for t in stable.tests)
    assert drifted.verdict == DRIFT
    assert {t.name for t in drifted.tests if t.flagged} >= {"embedding_mmd", "label_shift"}
    assert set(w for w, _ in drifted.window_words[:4]) & set(NEW_WORDS)
    assert drifted.examples and all(ATTACK in r.input for r in drifted.examples)
    for test in drifted.tests:
        assert test.p_value <= test.p_adjusted <= 1  # Holm never makes a p-value smaller


def test_a_small_window_is_not_enough_data_not_a_verdict(report):
    short = report.windows[2]
    assert short.verdict == NOT_ENOUGH
    assert short.tests == ()
    assert "20 requests < --min-samples 40" in short.note
    assert "not enough data (< 40 requests) in 1 window(s): 2024-03-03" in terminal_lines(report)[-1]


def test_json_report_has_effects_beside_p_values(report):
    data = json.loads(json.dumps(report_json(report)))
    assert data["verdict"] == DRIFT and data["drifted_windows"] == ["2024-03-02"]
    test = data["windows"][1]["tests"][0]
    assert {"effect", "effect_name", "p_value", "p_adjusted", "flagged"} <= set(test)
    assert data["settings"]["correction"] == "holm"


def test_html_escapes_logged_text(report):
    page = render_html(report)
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_html_embeds_the_drift_plot(report):
    pytest.importorskip("matplotlib")
    assert 'src="data:image/png;base64,' in render_html(report)


def test_a_tiny_reference_is_a_user_error():
    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="the reference has 10 texts"):
        monitor(traffic([(60, 0.0)]), reference(10), SETTINGS)


def write_logs(path: Path, records: list[LogRecord]) -> Path:
    rows = [{"id": r.id, "timestamp": r.timestamp.isoformat(), "input": r.input, "output": r.output} for r in records]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_cli_exit_status_says_drift_and_writes_reports(tmp_path, capsys):
    ref = reference()
    ref_path = tmp_path / "ref.jsonl"
    ref_path.write_text(
        "".join(json.dumps({"input": t, "output": o}) + "\n" for t, o in zip(ref.texts, ref.outputs, strict=True))
    )
    stable = write_logs(tmp_path / "stable.jsonl", traffic([(60, 0.0)]))
    drifted = write_logs(tmp_path / "drifted.jsonl", traffic([(60, 0.6)]))
    common = ["--reference", str(ref_path), "--window", "60", "--classifier-permutations", "39", "--min-samples", "40"]
    assert main(["monitor", str(stable), *common]) == 0
    out = tmp_path / "report"
    assert main(["monitor", str(drifted), *common, "--json", f"{out}.json", "--html", f"{out}.html"]) == 1
    printed = capsys.readouterr().out
    assert "DRIFT in 1 of 1 window(s)" in printed and "words marking the window" in printed
    assert json.loads(Path(f"{out}.json").read_text())["verdict"] == DRIFT
    assert "&lt;script&gt;" in Path(f"{out}.html").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--window", "3x"], "neither a count nor a time span"),
        (["--alpha", "2"], "--alpha 2.0 is not between 0 and 1"),
        (["--ids", "a"], "--ids does not apply"),
    ],
)
def test_cli_user_errors_exit_2_with_one_line(tmp_path, capsys, extra, message):
    logs = write_logs(tmp_path / "logs.jsonl", traffic([(5, 0.0)]))
    assert main(["monitor", str(logs), "--reference", str(logs), *extra]) == 2
    assert message in capsys.readouterr().err


def test_cli_needs_a_reference(tmp_path, capsys):
    logs = write_logs(tmp_path / "logs.jsonl", traffic([(5, 0.0)]))
    assert main(["monitor", str(logs)]) == 2
    assert "--reference is required" in capsys.readouterr().err


def test_cli_adds_the_perplexity_test_when_a_model_is_given(tmp_path, tiny_dirs):
    ref = reference(60)
    ref_path = tmp_path / "ref.jsonl"
    ref_path.write_text("".join(json.dumps({"input": t}) + "\n" for t in ref.texts))
    logs = write_logs(tmp_path / "logs.jsonl", traffic([(50, 0.0)]))
    out = tmp_path / "report.json"
    common = ["--reference", str(ref_path), "--min-samples", "40", "--classifier-permutations", "39"]
    main(["monitor", str(logs), *common, "--model", str(tiny_dirs["base"]), "--device", "cpu", "--json", str(out)])
    tests = {t["name"]: t for t in json.loads(out.read_text())["windows"][0]["tests"]}
    assert set(tests) == {"domain_classifier", "embedding_mmd", "input_perplexity"}  # no outputs or labels in REF
    assert tests["input_perplexity"]["effect_name"] == "AUC" and 0 < tests["input_perplexity"]["p_value"] <= 1
