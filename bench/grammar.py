"""The llama.cpp backend's two grammar engines side by side: llguidance and xgrammar.

    .venv/bin/python bench/grammar.py [--repeat 3] [--tokens 160] [--json]

Both engines constrain the same greedy requests on the default GGUF, in one process
(one model loaded per engine), so the figures compare in one run:

- `setup_s`: building the engine's view of the vocabulary (first constrained call);
- `compile_ms`: a schema's first matcher, median over the schemas;
- `mask_ms`: one token's mask (the matcher's `allowed()` and `accept()`), median over
  every token of every answer, timed again on the answers' own tokens;
- `tok_s`: tokens/s of the constrained requests one at a time (median of --repeat), with
  `tokens_out` (their sum) and `ms_per_token` (each answer's latency over its tokens,
  median): the engines' answers differ in length, and prefill weighs more in a short one;
- `valid`: answers that parse and validate against their schema;
- `same`: answers equal, character for character, to the other engine's.

The schemas are the model conformance suite's and the build's own decoding schemas (an
agent's name, a team, a judgement, a choice from a list).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from autogenesis.build.agents.understanding import AgentName, Team
from autogenesis.llm.base import Decoding
from autogenesis.llm.llamacpp_backend import LlamaCppModel
from autogenesis.llm.schema import one_of, problems, schema_of
from autogenesis.llm.source import resolve
from autogenesis.runtime.model_agent import ModelJudgement

from model_conformance import SCHEMAS

ENGINES = ("llguidance", "xgrammar")
ASKS = [
    ("nested_object", "Describe one person who writes a blog, as JSON."),
    ("array_of_enums", "Pick the colours of a flag, as JSON."),
    ("pattern", "Give a booking code and whether it is confirmed, as JSON."),
    ("from_a_type", "Plan a small team that writes a blog, as JSON."),
    ("agent_name", "Name the agent who checks the facts of an article."),
    ("team", "Which agents does a newsroom need? Answer as JSON."),
    ("judgement", "Is 'The capital of France is Paris.' a correct answer? Judge it."),
    ("one_of", "A customer asks for a refund. Which desk: billing, tech or sales?"),
]


def schemas() -> dict[str, dict[str, Any]]:
    every = dict(SCHEMAS)
    every["agent_name"] = schema_of(AgentName)
    every["team"] = schema_of(Team)
    every["judgement"] = schema_of(ModelJudgement)
    every["one_of"] = schema_of(one_of("desk", ("billing", "tech", "sales")))
    return every


async def answers(model: LlamaCppModel, tokens: int) -> tuple[list[Any], float]:
    every, started, out = [], time.perf_counter(), 0
    for name, ask in ASKS:
        result = await model.generate([{"role": "user", "content": ask}],
                                      schema=schemas()[name],
                                      settings=Decoding(max_new_tokens=tokens))
        every.append(result)
        out += result.tokens_out
    return every, out / (time.perf_counter() - started)


def per_answer_ms(results: list[Any]) -> float:
    """Milliseconds per token out, each answer's own (prefill included), median: answers
    of different lengths weigh alike, where tokens/s over all favours the longer."""
    return statistics.median(r.latency_ms / max(1, r.tokens_out) for r in results)


def mask_times(model: LlamaCppModel, results: list[Any]) -> list[float]:
    """Each token's mask and accept, replayed on the answers' own tokens."""
    times = []
    for (name, _), result in zip(ASKS, results, strict=True):
        matcher = model._matcher(schemas()[name])
        for token in model.llm.tokenize(result.text.encode(), add_bos=False, special=False):
            started = time.perf_counter()
            allowed = matcher.allowed()
            if not allowed[token]:
                break   # the text re-tokenised differently from the decoded tokens
            matcher.accept(token)
            times.append((time.perf_counter() - started) * 1000)
    return times


def measure(engine: str, repeat: int, tokens: int) -> tuple[dict[str, Any], list[str]]:
    model = LlamaCppModel(resolve(None), slots=1, grammar=engine)
    started = time.perf_counter()
    model._matcher({"type": "object"})
    setup = time.perf_counter() - started
    compile_ms = []
    for schema in schemas().values():
        started = time.perf_counter()
        model._matcher(dict(schema, title=f"bench-{engine}"))  # a schema not seen before
        compile_ms.append((time.perf_counter() - started) * 1000)
    rates, results = [], []
    for _ in range(repeat):
        results, rate = asyncio.run(answers(model, tokens))
        rates.append(rate)
    valid = sum(r.parsed is not None and not problems(r.parsed, schemas()[name])
                for (name, _), r in zip(ASKS, results, strict=True))
    figures = {"setup_s": round(setup, 2),
               "compile_ms": round(statistics.median(compile_ms), 2),
               "mask_ms": round(statistics.median(mask_times(model, results)), 3),
               "tok_s": round(statistics.median(rates), 1),
               "tokens_out": sum(r.tokens_out for r in results),
               "ms_per_token": round(per_answer_ms(results), 1), "valid": valid,
               "asked": len(ASKS)}
    model.close()
    return figures, [r.text for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=160)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures, texts = {}, {}
    for engine in ENGINES:
        figures[engine], texts[engine] = measure(engine, args.repeat, args.tokens)
    same = sum(a == b for a, b in zip(*texts.values(), strict=True))
    for engine in ENGINES:
        figures[engine]["same"] = same
    figures["tok_s_ratio"] = round(figures["llguidance"]["tok_s"] /
                                   figures["xgrammar"]["tok_s"], 2)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"{'engine':<12}{'setup s':>9}{'compile ms':>12}{'mask ms':>9}{'tok/s':>8}"
          f"{'out':>6}{'ms/tok':>8}{'valid':>8}{'same':>6}")
    for engine in ENGINES:
        f = figures[engine]
        print(f"{engine:<12}{f['setup_s']:>9}{f['compile_ms']:>12}{f['mask_ms']:>9}"
              f"{f['tok_s']:>8}{f['tokens_out']:>6}{f['ms_per_token']:>8}"
              f"{f['valid']:>5}/{f['asked']}{f['same']:>4}/{f['asked']}")
    print(f"llguidance/xgrammar tokens/s: {figures['tok_s_ratio']}")
    for (name, _), a, b in zip(ASKS, texts["llguidance"], texts["xgrammar"], strict=True):
        if a != b:
            print(f"  {name}: llguidance {a[:70]!r}\n  {' ' * len(name)}  xgrammar   {b[:70]!r}")


if __name__ == "__main__":
    main()
