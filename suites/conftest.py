"""Eval sets and decoding settings shared by the promotion suites.

Eval sets are read from --eval-data (default: fixtures/data, the demo sets). Point it at a directory
with files of the same names to run these suites on your own data.
"""

from __future__ import annotations

import pytest

from harness.data import GENERATION, MULTIPLE_CHOICE, TEXT
from harness.models import DecodingSettings


@pytest.fixture(scope="session")
def summary_decoding():
    """Summaries are one line: greedy, stopping at the first newline."""
    return DecodingSettings(max_new_tokens=48, stop=("\n",))


@pytest.fixture(scope="session")
def clauses(eval_set):
    """Contract clauses to classify by type (multiple choice)."""
    return eval_set("clauses", MULTIPLE_CHOICE)


@pytest.fixture(scope="session")
def clause_summaries(eval_set):
    """Contract clauses with one-sentence reference summaries."""
    return eval_set("clause_summaries", GENERATION)


@pytest.fixture(scope="session")
def general_probes(eval_set):
    """General-knowledge probes the fine-tune must not forget (multiple choice)."""
    return eval_set("general_probes", MULTIPLE_CHOICE)


@pytest.fixture(scope="session")
def heldout_domain(eval_set):
    """Held-out contract prose for perplexity."""
    return eval_set("heldout_domain", TEXT)


@pytest.fixture(scope="session")
def heldout_general(eval_set):
    """Held-out general text for perplexity."""
    return eval_set("heldout_general", TEXT)
