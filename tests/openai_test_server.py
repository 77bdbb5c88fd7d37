"""TEST SERVER, for the harness's own tests only: serves a local model through an OpenAI-compatible API.

It implements just enough of /v1/completions (generation, and echo + logprobs the way vLLM returns
them), /v1/chat/completions and /v1/models to test the HTTP backend against a real server process.
It binds to 127.0.0.1. Do not use it to serve models.

    python tests/openai_test_server.py MODEL_DIR [--port 0] [--fail-first N] [--no-logprobs] [--api-key-env VAR]
        [--lora-modules NAME=ADAPTER_DIR] [--die-after N]

It serves MODEL_DIR as "test-model" and, like `vllm serve --enable-lora --lora-modules`, an adapter on the
same weights under its own name. GET /v1/stats tells how many POST requests it received.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.models.base import DecodingSettings  # noqa: E402
from harness.models.loading import LoadOptions, load_pair  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--fail-first", type=int, default=0, help="answer HTTP 429 to the first N requests")
    parser.add_argument("--no-logprobs", action="store_true", help="behave like a server without echo + logprobs")
    parser.add_argument("--api-key-env", default="", help="require the key in this environment variable")
    parser.add_argument("--lora-modules", default="", help="NAME=ADAPTER_DIR: serve an adapter of the model too")
    parser.add_argument("--die-after", type=int, default=0, help="exit abruptly on the N+1-th POST request")
    parser.add_argument(
        "--shift-logprobs", action="store_true", help="score each prompt token with the distribution after it"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.lora_modules:
        lora_name, adapter = args.lora_modules.split("=", 1)
        pair = load_pair(args.model_dir, adapter, LoadOptions())
        models = {"test-model": pair.base, lora_name: pair.tuned}
    else:
        models = {"test-model": load_pair(args.model_dir, args.model_dir, LoadOptions()).base}
    lock = threading.Lock()
    state = {"failures_left": args.fail_first, "requests": 0}
    required_key = os.environ.get(args.api_key_env, "") if args.api_key_env else ""

    def echo_logprobs(model, text: str, generated: int = 0) -> dict:
        encoded = model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = encoded["input_ids"], [start for start, _ in encoded["offset_mapping"]]
        with torch.inference_mode(), model._active():  # the adapter on for the tuned model, off for the base
            logits = model.module(input_ids=torch.tensor([ids])).logits[0]
            logprobs = F.log_softmax(logits.float(), dim=-1)
        token_logprobs: list = [None]
        tops: list = [None]
        for position in range(1, len(ids)):
            row = logprobs[position if args.shift_logprobs else position - 1]  # shifted: a server's off-by-one
            best = int(row.argmax())
            token_logprobs.append(float(row[ids[position]]))
            tops.append({model.tokenizer.decode([best]): float(row[best])})
        tokens = [model.tokenizer.decode([t]) for t in ids]
        for _ in range(generated):  # the greedy next token, after the prompt
            row = logprobs[-1]
            best = int(row.argmax())
            tokens.append(model.tokenizer.decode([best]))
            token_logprobs.append(float(row[best]))
            tops.append({tokens[-1]: float(row[best])})
            offsets.append(len(text))
        return {"tokens": tokens, "token_logprobs": token_logprobs, "top_logprobs": tops, "text_offset": offsets}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": name, "object": "model"} for name in models]})
            elif self.path.rstrip("/") == "/v1/stats":
                self._send(200, {"requests": state["requests"]})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            with lock:
                if args.die_after and state["requests"] >= args.die_after:
                    os._exit(1)  # a crash mid-run: no answer, the connection drops
                state["requests"] += 1
                fail = state["failures_left"] > 0
                state["failures_left"] -= int(fail)
            if required_key and self.headers.get("Authorization") != f"Bearer {required_key}":
                return self._send(401, {"error": {"message": "invalid api key"}})
            if fail:
                return self._send(429, {"error": {"message": "rate limited"}})
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            model = models.get(request.get("model"))
            if model is None:
                return self._send(404, {"error": {"message": f"The model `{request.get('model')}` does not exist."}})
            max_tokens = int(request.get("max_tokens", 16))
            if max_tokens < 1:  # as transformers serve answers it: a deterministic 500 with the reason
                return self._send(500, {"error": {"message": "max_new_tokens must be greater than 0"}})
            settings = DecodingSettings(max_new_tokens=max(1, max_tokens), stop=tuple(request.get("stop") or ()))
            if self.path == "/v1/completions":
                prompt = request["prompt"]
                if request.get("echo"):  # the prompt's log-probabilities, then one generated token, as vLLM does
                    logprobs = None if args.no_logprobs else echo_logprobs(model, prompt, generated=1)
                    text = prompt + ("".join(logprobs["tokens"][-1:]) if logprobs else "")
                    choice = {"text": text, "index": 0, "logprobs": logprobs, "finish_reason": "length"}
                    return self._send(200, {"object": "text_completion", "choices": [choice], "usage": {}})
                with lock:
                    generation = model.generate([prompt], settings)[0]
                choice = {"text": generation.text, "index": 0, "logprobs": None, "finish_reason": "stop"}
                usage = {"completion_tokens": generation.n_tokens}
                return self._send(200, {"object": "text_completion", "choices": [choice], "usage": usage})
            if self.path == "/v1/chat/completions":
                prompt = request["messages"][-1]["content"]
                with lock:
                    generation = model.generate([prompt], settings)[0]
                message = {"role": "assistant", "content": generation.text}
                usage = {"completion_tokens": generation.n_tokens}
                return self._send(
                    200, {"object": "chat.completion", "choices": [{"message": message, "index": 0}], "usage": usage}
                )
            return self._send(404, {"error": {"message": f"no route {self.path}"}})

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"TEST SERVER listening on http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
