"""Token bookkeeping shared by backends: context/continuation splits and rolling perplexity windows.

The definitions follow lm-evaluation-harness so that the same model on the same items gives the
same numbers in both tools.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence


def split_context_continuation(
    encode: Callable[[str], list[int]], context: str, continuation: str
) -> tuple[list[int], list[int]]:
    """Tokenise context+continuation together and split them, moving trailing context spaces over.

    Encoding the whole string at once (rather than the two halves) keeps merges across the
    boundary the same as when the model reads the text.
    """
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = encode(context + continuation)
    context_ids = encode(context)
    return whole[: len(context_ids)], whole[len(context_ids) :]


def rolling_windows(tokens: Sequence[int], prefix_token: int, max_length: int) -> Iterator[tuple[list[int], list[int]]]:
    """Disjoint (context, predicted) windows covering every token once, each at most `max_length` long.

    The first window is conditioned on `prefix_token`; later windows keep as much preceding text as
    fits as context. Matches lm-eval's get_rolling_token_windows(context_len=1) + make_disjoint_window.
    """
    tokens = list(tokens)
    if not tokens:
        return
    first = min(max_length, len(tokens))
    yield [prefix_token], tokens[:first]
    predicted = first
    while predicted < len(tokens):
        window = min(len(tokens) - predicted, max_length)
        end = predicted + window
        context = tokens[max(0, end - max_length - 1) : end - 1]
        # Keep only the tokens before the predicted span as context (a disjoint window).
        context = context[: len(context) - (window - 1)]
        yield context, tokens[end - window : end]
        predicted = end
