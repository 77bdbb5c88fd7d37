"""The rules of the scripted demo judge: each rubric criterion graded from the answer, the task and the reference.

None of the demo models can judge, so `demo:judge` (harness.demo.judge) applies these transparent rules to
what the judge prompt holds. "Material" is the task text (the clause) plus the reference summary. Words are
compared as rouge-score tokenizes them (lower case, Porter stems), without scikit-learn's English stop words.

- accuracy (1-5): ROUGE-L F1 of answer vs reference, in bands (>= 0.9: 5, 0.75: 4, 0.5: 3, 0.25: 2, else 1);
  at most 2 when the answer states a number or a capitalised name the material does not hold.
- factual_correctness: fail when any content word of the answer is absent from the material.
- coherence (1-5): 1 when empty, under 3 words or not ending in . ! ?; 2 when more than one sentence;
  3 when a three-word phrase repeats; else 5.
- tone: inappropriate when it uses an advice or opinion word, too_casual when it has "!" or a casual or
  first/second-person word (words the clause itself uses are not counted); else neutral.
- guideline_adherence: pass when it is one sentence, gives no advice, names only parties the material names
  (a capitalised word after "the"), and names one when the reference does.

For a pairwise prompt the better answer is the one passing more gated criteria, then the one with the higher
accuracy, then the higher ROUGE-L; answers equal on all three are told apart by their text (the shorter,
then the alphabetically first), never by the side they are shown on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from harness.errors import HarnessError

ACCURACY_BANDS = ((0.9, "5"), (0.75, "4"), (0.5, "3"), (0.25, "2"))
WRONG_DETAIL_CAP = 2  # "a key party, amount or period is wrong"
MIN_WORDS = 3
REPEATED_PHRASE = 3  # words
ADVICE_WORDS = frozenset("should recommend advise suggest unfair ridiculous outrageous terrible beware scam".split())
CASUAL_WORDS = frozenset(
    "i me my we our you your basically gonna wanna kinda hey lol stuff okay ok cool awesome yeah guys".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_WORD = re.compile(r"[A-Za-z]+|\d+(?:[.,]\d+)*")
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z]+")
_PARTY = re.compile(r"\b[Tt]he\s+([A-Z][a-zA-Z]+)")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Material:
    """What a judge prompt gives to grade by: the task (clause), the reference and the answer."""

    task: str
    reference: str
    answer: str

    @property
    def source(self) -> str:
        return f"{self.task}\n{self.reference}"


@lru_cache(maxsize=1)
def _tokenizer():
    from rouge_score.tokenizers import DefaultTokenizer

    return DefaultTokenizer(use_stemmer=True)


@lru_cache(maxsize=1)
def _stop_stems() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(_tokenizer().tokenize(" ".join(sorted(ENGLISH_STOP_WORDS))))


def content_words(text: str) -> list[str]:
    """The stemmed words of `text` that carry content (numbers included), in order."""
    stops = _stop_stems()
    return [token for token in _tokenizer().tokenize(text) if token not in stops]


def rouge_l(answer: str, reference: str) -> float:
    """ROUGE-L F1 (rouge-score, with stemming), the summary suite's own metric."""
    from rouge_score import rouge_scorer

    return float(rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(reference, answer)["rougeL"].fmeasure)


def sentences(text: str) -> list[str]:
    return [part for part in _SENTENCE_END.split(text.strip()) if part]


def _words(text: str) -> list[str]:
    return [word.lower() for word in _WORD.findall(text)]


def wrong_details(m: Material) -> list[str]:
    """Numbers and capitalised names (not the first word of a sentence) in the answer that the material lacks."""
    known = set(_words(m.source)) | set(_NUMBER.findall(m.source))
    answer = m.answer.strip()
    numbers = [n for n in _NUMBER.findall(answer) if n not in known]
    names = [n for n in _NAME.findall(answer) if n.lower() not in known]
    return numbers + names


def invented_words(m: Material) -> list[str]:
    """Content words of the answer that appear nowhere in the material."""
    known = set(content_words(m.source))
    return [word for word in content_words(m.answer) if word not in known]


def accuracy(m: Material) -> str:
    score = rouge_l(m.answer, m.reference or m.task)
    grade = next((g for floor, g in ACCURACY_BANDS if score >= floor), "1")
    return str(min(int(grade), WRONG_DETAIL_CAP)) if wrong_details(m) else grade


def factual_correctness(m: Material) -> str:
    return "fail" if invented_words(m) else "pass"


def coherence(m: Material) -> str:
    text = m.answer.strip()
    words = _words(text)
    if len(words) < MIN_WORDS or text[-1] not in ".!?":
        return "1"
    if len(sentences(text)) > 1:
        return "2"
    phrases = [tuple(words[i : i + REPEATED_PHRASE]) for i in range(len(words) - REPEATED_PHRASE + 1)]
    return "3" if len(set(phrases)) < len(phrases) else "5"


def tone(m: Material) -> str:
    used = set(_words(m.answer)) - set(_words(m.task))
    if used & ADVICE_WORDS:
        return "inappropriate"
    if "!" in m.answer or used & CASUAL_WORDS:
        return "too_casual"
    return "neutral"


def _parties(text: str) -> set[str]:
    return {party.lower() for party in _PARTY.findall(text)}


def guideline_adherence(m: Material) -> str:
    one_sentence = len(sentences(m.answer)) == 1 and m.answer.strip()[-1:] in (".", "!", "?")
    named = _parties(m.answer)
    right_parties = named <= _parties(m.source) and (bool(named) or not _parties(m.reference))
    return "pass" if one_sentence and tone(m) != "inappropriate" and right_parties else "fail"


RULES: dict[str, Callable[[Material], str]] = {
    "accuracy": accuracy,
    "factual_correctness": factual_correctness,
    "coherence": coherence,
    "tone": tone,
    "guideline_adherence": guideline_adherence,
}
PASS_AT = {"accuracy": 4, "coherence": 3}  # the demo rubric's pass_at of its scales; other criteria pass as named
PASS_LABELS = ("pass", "neutral")


def grade(criterion: str, m: Material, options: tuple[str, ...]) -> str:
    """The rule's grade of one criterion, checked to be one of the prompt's options."""
    rule = RULES.get(criterion)
    if rule is None:
        raise HarnessError(
            f"demo:judge has no rule for the rubric criterion {criterion!r}",
            hint=f"it grades {', '.join(RULES)} (fixtures/review/rubric.yaml); judge other rubrics with a real model",
        )
    chosen = rule(m)
    if chosen not in options:
        raise HarnessError(
            f"demo:judge grades {criterion!r} as {chosen!r}, which this rubric does not allow ({', '.join(options)})",
            hint="use the demo rubric fixtures/review/rubric.yaml with demo:judge",
        )
    return chosen


def _passes(criterion: str, value: str) -> bool:
    return int(value) >= PASS_AT[criterion] if criterion in PASS_AT else value in PASS_LABELS


def standing(m: Material) -> tuple[int, int, float]:
    """What the pairwise rule compares: criteria passed, accuracy grade, ROUGE-L against the reference."""
    passed = sum(_passes(name, rule(m)) for name, rule in RULES.items())
    return passed, int(accuracy(m)), round(rouge_l(m.answer, m.reference or m.task), 6)


def better(task: str, reference: str, first: str, second: str) -> str:
    """ "A" when `first` is the better answer, else "B" (the order of the arguments never decides)."""
    a, b = (standing(Material(task, reference, text)) for text in (first, second))
    if a != b:
        return "A" if a > b else "B"
    by_text = (len(first), first) <= (len(second), second)
    return "A" if by_text else "B"
