"""The transformers (+ peft) backend: batched greedy generation and log-likelihood scoring."""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from harness.models.base import DecodingSettings, Generation, Loglikelihood, RollingLoglikelihood
from harness.models.windows import rolling_windows, split_context_continuation

# Progress bars appear only for runs at least this long (in requests).
PROGRESS_MIN_ITEMS = 64


class PromptTruncatedWarning(UserWarning):
    """An input was longer than the model's context window and was cut from the left."""


class HFModel:
    """A causal LM from transformers, optionally with a PEFT adapter that can be switched off.

    Two HFModel objects can share one module: the base model of an adapter pair is the same
    weights with the adapter disabled, so base + tuned cost one copy of the weights.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        tokenizer: Any,
        *,
        role: str,
        name: str,
        fingerprint: str,
        adapter_enabled: bool = True,
        batch_size: int = 16,
    ) -> None:
        self.module = module
        self.tokenizer = tokenizer
        self.role = role
        self.name = name
        self.fingerprint = fingerprint
        self.batch_size = batch_size
        self._configured_batch_size = batch_size
        self._adapter_enabled = adapter_enabled
        self._generations: dict[tuple[str, str], Generation] = {}
        self._warned_truncation = False
        config = module.config
        self.context_window = int(getattr(config, "max_position_embeddings", 0) or tokenizer.model_max_length)
        self.device = next(module.parameters()).device
        self.eos_id = tokenizer.eos_token_id
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id

    def __repr__(self) -> str:
        return f"HFModel(role={self.role!r}, name={self.name!r})"

    def environment(self) -> dict[str, Any]:
        """Where and how this model computes: device, weights dtype, batch size, torch threads."""
        dtype = next(self.module.parameters()).dtype
        return {
            "device": str(self.device),
            "dtype": str(dtype).removeprefix("torch."),
            "batch_size": self._configured_batch_size,
            "threads": torch.get_num_threads(),
        }

    # -- internals -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _active(self) -> Iterator[None]:
        """Run the module with this model's adapter state (disabled for the base of a pair)."""
        disable = getattr(self.module, "disable_adapter", None)
        ctx = disable() if (disable is not None and not self._adapter_enabled) else contextlib.nullcontext()
        with torch.inference_mode(), ctx:
            yield

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _run_batched(self, order: list[int], desc: str, run: Callable[[list[int]], None]) -> None:
        """Call `run` on index batches in the given (length-sorted) order, with a progress bar on long runs.

        On a GPU out-of-memory error the batch size is halved and the batch retried, and the smaller
        size is kept for the rest of the run.
        """
        bar = tqdm(
            total=len(order),
            desc=f"{self.role}: {desc}",
            disable=len(order) < PROGRESS_MIN_ITEMS or None,
            leave=False,
            unit="req",
        )
        with bar:
            start = 0
            while start < len(order):
                batch = order[start : start + self.batch_size]
                try:
                    run(batch)
                except torch.OutOfMemoryError:
                    if self.batch_size == 1:
                        raise
                    self.batch_size = max(1, self.batch_size // 2)
                    if torch.cuda.is_available():
                        torch.cuda.empty_cache()
                    continue
                start += len(batch)
                bar.update(len(batch))

    def _warn_truncated(self, n_tokens: int, limit: int) -> None:
        if not self._warned_truncation:
            self._warned_truncation = True
            warnings.warn(
                f"{self.name} ({self.role}): an input of {n_tokens} tokens is longer than the "
                f"{limit} tokens that fit the context window; inputs are cut from the left "
                "(this is said once per model)",
                PromptTruncatedWarning,
                stacklevel=3,
            )

    # -- generation ------------------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], settings: DecodingSettings = DecodingSettings()) -> list[Generation]:
        """Completions, batched longest-first; each result is cut at the first stop string.

        Greedy answers are kept per prompt and repeated prompts share one; sampled answers are drawn anew
        for every prompt in the list, so the same prompt twice gives two samples."""
        if settings.sampled:
            return self._generate_uncached(list(prompts), settings)
        key = settings.key()
        todo = [i for i, p in enumerate(prompts) if (p, key) not in self._generations]
        unique_todo = list(dict.fromkeys(prompts[i] for i in todo))
        if unique_todo:
            for prompt, gen in zip(unique_todo, self._generate_uncached(unique_todo, settings), strict=True):
                self._generations[(prompt, key)] = gen
        return [self._generations[(p, key)] for p in prompts]

    @contextlib.contextmanager
    def _seeded(self, settings: DecodingSettings, first: int) -> Iterator[None]:
        """For sampling: torch's generator seeded from the settings' seed and the batch, restored afterwards."""
        if not settings.sampled:
            yield
            return
        devices = [self.device] if str(self.device).startswith("cuda") else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(settings.seed * 1_000_003 + first)
            yield

    def _generate_uncached(self, prompts: list[str], settings: DecodingSettings) -> list[Generation]:
        limit = max(1, self.context_window - settings.max_new_tokens)
        encoded: list[list[int]] = []
        truncated: list[bool] = []
        for prompt in prompts:
            ids = self._encode(prompt) or [self.eos_id]
            cut = len(ids) > limit
            if cut:
                self._warn_truncated(len(ids), limit)
                ids = ids[-limit:]
            encoded.append(ids)
            truncated.append(cut)
        order = sorted(range(len(prompts)), key=lambda i: (-len(encoded[i]), i))
        results: list[Generation | None] = [None] * len(prompts)

        def run(batch: list[int]) -> None:
            width = max(len(encoded[i]) for i in batch)
            input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                ids = encoded[i]
                input_ids[row, width - len(ids) :] = torch.tensor(ids)
                attention[row, width - len(ids) :] = 1
            started = time.perf_counter()
            sampling: dict[str, Any] = {"do_sample": False}
            if settings.sampled:
                sampling = {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p, "top_k": 0}
            with self._active(), self._seeded(settings, batch[0]):
                output = self.module.generate(
                    input_ids=input_ids.to(self.device),
                    attention_mask=attention.to(self.device),
                    max_new_tokens=settings.max_new_tokens,
                    **sampling,
                    num_beams=1,
                    pad_token_id=self.pad_id,
                    eos_token_id=self.eos_id,
                    stop_strings=list(settings.stop) or None,
                    tokenizer=self.tokenizer if settings.stop else None,
                )
            seconds = (time.perf_counter() - started) / len(batch)
            for row, i in enumerate(batch):
                new_tokens = output[row, width:].tolist()
                if self.eos_id in new_tokens:
                    new_tokens = new_tokens[: new_tokens.index(self.eos_id)]
                text = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
                text = _cut_at_stop(text, settings.stop)
                n_tokens = len(self._encode(text)) if text else 0
                results[i] = Generation(text=text, n_tokens=n_tokens, seconds=seconds, prompt_truncated=truncated[i])

        self._run_batched(order, "generate", run)
        return [r for r in results if r is not None]

    # -- scoring ---------------------------------------------------------------------------------

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglikelihood]:
        """log P(continuation | context) for each pair, and whether greedy decoding would produce it."""
        pairs = [self._split(context, continuation) for context, continuation in requests]
        scored: list[tuple[float, bool]] = [(0.0, True)] * len(pairs)
        shared, alone = self._shared_contexts(pairs)
        for i, result in zip(alone, self._score_tokens([pairs[i] for i in alone], "loglikelihood"), strict=True):
            scored[i] = result
        for i, result in self._score_shared(shared, pairs).items():
            scored[i] = result
        return [Loglikelihood(lp, greedy, len(cont)) for (lp, greedy), (_, cont) in zip(scored, pairs, strict=True)]

    @functools.cached_property
    def _cache_argument(self) -> str:
        """What forward() calls the key/value cache: `cache` in newer transformers, `past_key_values` before."""
        model = self.module.get_base_model() if hasattr(self.module, "get_base_model") else self.module
        return "cache" if "cache" in inspect.signature(type(model).forward).parameters else "past_key_values"

    def _split(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """(context ids, continuation ids) as lm-evaluation-harness splits them; an empty context is eos."""
        if context:
            return split_context_continuation(self._encode, context, continuation)
        return [self.eos_id], self._encode(continuation)

    def _shared_contexts(self, pairs: Sequence[tuple[list[int], list[int]]]) -> tuple[list[list[int]], list[int]]:
        """Requests that share a context with multi-token continuations (groups), and the rest.

        A group costs one forward pass of its context plus one short pass of its continuations; single-token
        continuations after one context already share a row in `_score_tokens`, as do requests that do not
        fit the context window whole (they are cut from the left there)."""
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (ctx, cont) in enumerate(pairs):
            if cont and len(ctx) + len(cont) - 1 <= self.context_window:
                groups.setdefault(tuple(ctx), []).append(i)
        shared = [g for g in groups.values() if len(g) > 1 and any(len(pairs[i][1]) > 1 for i in g)]
        in_groups = {i for g in shared for i in g}
        return shared, [i for i in range(len(pairs)) if i not in in_groups]

    def _score_shared(
        self, groups: list[list[int]], pairs: Sequence[tuple[list[int], list[int]]]
    ) -> dict[int, tuple[float, bool]]:
        """Score each group's continuations after one pass of its context, whose key/value cache is copied
        to every continuation of the group."""
        results: dict[int, tuple[float, bool]] = {}
        order = sorted(range(len(groups)), key=lambda g: (-len(pairs[groups[g][0]][0]), g))

        def run(batch: list[int]) -> None:
            contexts = [pairs[groups[g][0]][0] for g in batch]
            width = max(map(len, contexts))
            input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, ctx in enumerate(contexts):  # left padding: every context ends at the last column
                input_ids[row, width - len(ctx) :] = torch.tensor(ctx)
                mask[row, width - len(ctx) :] = 1
            members = [(row, i) for row, g in enumerate(batch) for i in groups[g]]
            owner = torch.tensor([row for row, _ in members])
            conts = [pairs[i][1] for _, i in members]
            steps = max(len(cont) for cont in conts) - 1
            cont_ids = torch.full((len(members), steps), self.pad_id, dtype=torch.long)
            cont_mask = torch.zeros((len(members), steps), dtype=torch.long)
            for r, cont in enumerate(conts):
                cont_ids[r, : len(cont) - 1] = torch.tensor(cont[:-1])
                cont_mask[r, : len(cont) - 1] = 1
            lengths = mask.sum(-1)
            with self._active():
                out = self.module(
                    input_ids=input_ids.to(self.device),
                    attention_mask=mask.to(self.device),
                    position_ids=(mask.cumsum(-1) - 1).clamp(min=0).to(self.device),
                    use_cache=True,
                )
                first = F.log_softmax(out.logits[:, -1].float(), dim=-1)[owner.to(self.device)]
                cache = out.cache if hasattr(out, "cache") else out.past_key_values
                cache.reorder_cache(owner.to(self.device))
                positions = lengths[owner].unsqueeze(-1) + torch.arange(steps).unsqueeze(0)
                rest = self.module(
                    input_ids=cont_ids.to(self.device),
                    attention_mask=torch.cat([mask[owner], cont_mask], dim=-1).to(self.device),
                    position_ids=positions.to(self.device),
                    **{self._cache_argument: cache},
                ).logits
                logprobs = torch.cat([first.unsqueeze(1), F.log_softmax(rest.float(), dim=-1)], dim=1)
            for r, ((_, i), cont) in enumerate(zip(members, conts, strict=True)):
                span = logprobs[r, : len(cont)]
                target = torch.tensor(cont, device=span.device)
                total = span.gather(-1, target.unsqueeze(-1)).sum().item()
                results[i] = (total, bool((span.argmax(-1) == target).all().item()))

        self._run_batched(order, "loglikelihood", run)
        return results

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[RollingLoglikelihood]:
        """Total log-likelihood of each text, in disjoint windows that fit the context (for perplexity)."""
        windows: list[tuple[list[int], list[int]]] = []
        owners: list[int] = []
        counts: list[int] = []
        for index, text in enumerate(texts):
            tokens = self._encode(text)
            counts.append(len(tokens))
            for window in rolling_windows(tokens, self.eos_id, self.context_window):
                windows.append(window)
                owners.append(index)
        totals = [0.0] * len(texts)
        for owner, (logprob, _) in zip(owners, self._score_tokens(windows, "perplexity"), strict=True):
            totals[owner] += logprob
        return [RollingLoglikelihood(total, n) for total, n in zip(totals, counts, strict=True)]

    def _score_tokens(self, pairs: Sequence[tuple[list[int], list[int]]], desc: str) -> list[tuple[float, bool]]:
        """Sum of continuation log-probs for (context ids, continuation ids) pairs, batched longest-first."""
        inputs: list[list[int]] = []
        for ctx, cont in pairs:
            if not cont:
                inputs.append([])
                continue
            whole = (ctx + cont)[-(self.context_window + 1) :][:-1]
            if len(ctx) + len(cont) - 1 > self.context_window:
                self._warn_truncated(len(ctx) + len(cont), self.context_window)
            inputs.append(whole)
        # Requests with the same model input (e.g. single-token choices after one context) share a row.
        rows: dict[tuple[int, ...], list[int]] = {}
        for i, ids in enumerate(inputs):
            if ids:
                rows.setdefault(tuple(ids), []).append(i)
        unique = list(rows)
        results: list[tuple[float, bool]] = [(0.0, True)] * len(pairs)
        order = sorted(range(len(unique)), key=lambda u: (-len(unique[u]), u))

        def run(batch: list[int]) -> None:
            width = max(len(unique[u]) for u in batch)
            input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for row, u in enumerate(batch):
                input_ids[row, : len(unique[u])] = torch.tensor(unique[u])
                attention[row, : len(unique[u])] = 1
            with self._active():
                logits = self.module(
                    input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device)
                ).logits
                logprobs = F.log_softmax(logits.float(), dim=-1)
            for row, u in enumerate(batch):
                end = len(unique[u])
                for i in rows[unique[u]]:
                    cont = pairs[i][1][-end:]
                    span = logprobs[row, end - len(cont) : end]
                    target = torch.tensor(cont, device=span.device)
                    total = span.gather(-1, target.unsqueeze(-1)).sum().item()
                    greedy = bool((span.argmax(-1) == target).all().item())
                    results[i] = (total, greedy)

        self._run_batched(order, desc, run)
        return results


def _cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """The text before the earliest stop string."""
    cut = len(text)
    for stop in stops:
        at = text.find(stop)
        if at != -1:
            cut = min(cut, at)
    return text[:cut]
