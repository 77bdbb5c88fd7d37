"""Grades from a server without log-probabilities: a constrained choice, checked, never parsed loosely.

Through /chat/completions (a `?chat=1` URL) the request carries a JSON schema (`response_format`, which vLLM,
SGLang and llama.cpp's server enforce) whose only field is the grade, an enum of the options; through
/completions it carries the option list as vLLM's choice constraint (`structured_outputs.choice`, and
`guided_choice` for older vLLM). Whatever comes back must be exactly one option: anything else is recorded
as an ERROR naming what the server said, never as a grade. Answers are kept in the response cache under
the judge's fingerprint, the prompt and the options.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from harness.judge.grader import Grade
from harness.models.base import Generation
from harness.models.cache import ResponseCache, request_key, shape_check

OPERATION = "judge_choice"
MAX_TOKENS = 32
_IS_GENERATION = shape_check(Generation)


def choice_payload(model: str, prompt: str, options: Sequence[str], chat: bool) -> tuple[str, dict[str, Any]]:
    """The endpoint and request body that ask for one of `options`."""
    common: dict[str, Any] = {"model": model, "max_tokens": MAX_TOKENS, "temperature": 0}
    if chat:
        schema = {
            "type": "object",
            "properties": {"grade": {"type": "string", "enum": list(options)}},
            "required": ["grade"],
            "additionalProperties": False,
        }
        return "/chat/completions", {
            **common,
            "messages": [{"role": "user", "content": prompt}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "grade", "strict": True, "schema": schema},
            },
        }
    return "/completions", {
        **common,
        "prompt": prompt,
        "structured_outputs": {"choice": list(options)},
        "guided_choice": list(options),
    }


def parse_choice(text: str, options: Sequence[str], chat: bool) -> Grade:
    """The option the server answered, or an ERROR grade quoting (a short, escaped part of) what it said."""
    answer: Any = text.strip()
    if chat:
        try:
            decoded = json.loads(answer)
        except ValueError:
            decoded = None
        answer = decoded.get("grade") if isinstance(decoded, dict) else None
    if isinstance(answer, str) and answer in options:
        return Grade(answer)
    shown = text.strip()[:60]
    return Grade(None, f"the judge answered {shown!r}, not one of {', '.join(options)}")


def ask_choices(model: Any, prompts: Sequence[str], options: Sequence[str], cache: ResponseCache | None) -> list[Grade]:
    """One grade per prompt from an OpenAI-compatible server (harness.models.openai.OpenAIModel)."""
    from harness.models.capabilities import CHAT, COMPLETIONS

    chat = bool(model.server.chat)
    model.capabilities.require(CHAT if chat else COMPLETIONS)
    settings = f"choice|max_tokens={MAX_TOKENS}|chat={int(chat)}"
    keys = [request_key(model.fingerprint, OPERATION, [prompt, list(options)], settings) for prompt in prompts]
    found = cache.get_many(keys, _IS_GENERATION) if cache is not None else {}
    todo = [i for i, key in enumerate(keys) if key not in found]

    def answer(data: Any) -> dict[str, Any]:
        choices = data.get("choices") if isinstance(data, dict) else None
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        text = (choice.get("message") or {}).get("content") if chat else choice.get("text")
        return {"text": text if isinstance(text, str) else "", "n_tokens": 0, "seconds": 0.0}

    chunk = getattr(model, "answers_per_write", 64)
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        requests = [choice_payload(model.server.model, prompts[i], options, chat) for i in part]
        answers = [answer(data) for data in model.post_many(requests)]  # the backend's retries and replicas
        answered = dict(zip((keys[i] for i in part), answers, strict=True))
        if cache is not None:
            cache.put_many(answered)
        found.update(answered)
    return [parse_choice(found[key]["text"], options, chat) for key in keys]
