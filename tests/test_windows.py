"""Rolling windows and context/continuation splits, checked as properties."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from harness.models.windows import rolling_windows, split_context_continuation


@given(st.lists(st.integers(1, 50), max_size=200), st.integers(1, 40))
def test_windows_predict_every_token_exactly_once_in_order(tokens, max_length):
    windows = list(rolling_windows(tokens, 0, max_length))
    predicted = [t for _, cont in windows for t in cont]
    assert predicted == tokens


@given(st.lists(st.integers(1, 50), min_size=1, max_size=200), st.integers(1, 40))
def test_each_window_fits_the_context_and_uses_the_preceding_tokens(tokens, max_length):
    position = 0
    for index, (context, cont) in enumerate(rolling_windows(tokens, 0, max_length)):
        assert 1 <= len(cont) <= max_length
        assert len(context) + len(cont) - 1 <= max_length
        if index == 0:
            assert context == [0]
        else:
            assert context == tokens[position - len(context) : position]
            assert len(context) >= 1
        position += len(cont)


def test_trailing_space_moves_to_the_continuation():
    def encode(text: str) -> list[int]:
        return [ord(c) for c in text]

    ctx, cont = split_context_continuation(encode, "Answer: ", "yes")
    assert ctx == encode("Answer:") and cont == encode(" yes")
