"""Model backends side by side, in one run, on the same GGUF, prompt and token count.

    .venv/bin/python bench/llm.py [--tokens 128] [--repeat 3] [--variants float32,bfloat16,int8]
                                  [--skip-cold] [--json]

For raw llama-cpp-python (the baseline), the llama.cpp backend as it was
before batching (llama-cpp-python's chat completion with our greedy
settings, one call at a time: four callers wait for each other), and each
of our backends/variants: single-stream decode tokens/s, aggregate tokens/s
with 4 concurrent requests, per-token time constrained (JSON schema) vs unconstrained, load
times (cold = first load ever, i.e. the GGUF dequantisation for
transformers; warm = from the cache, in-process and in a fresh process with
imports), and the wall time of stage 1 (the understanding agent) on
examples/lesson_pipeline.md. Figures are medians over --repeat runs; ratios
to the raw llama.cpp baseline of the same run are what to compare. `--json`
prints one JSON object instead of the table (keys in bench/README.md);
`--variants ""` leaves the transformers backend out; `--requantize q8_0,q4_0`
adds the llama.cpp backend on copies of the GGUF requantised to those types
(ggml has batched kernels for them on x86 that it lacks for Q4_1, the
default file's type).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autogenesis.build.prompts import Prompts
from autogenesis.config import Settings
from autogenesis.llm.base import Decoding, Model
from autogenesis.llm.llamacpp_backend import LlamaCppModel
from autogenesis.llm.source import resolve
from autogenesis.llm.transformers_backend import TransformersModel

REPO = Path(__file__).resolve().parents[1]
STORY = [{"role": "user", "content": "Write a long, detailed story about a lighthouse keeper "
                                     "who finds a map. Use many paragraphs."}]
STORY_SCHEMA = {"type": "object", "required": ["title", "chapters"], "properties": {
    "title": {"type": "string"},
    "chapters": {"type": "array", "items": {"type": "string"}}}}
TOPICS = ["a lighthouse keeper", "a mountain village", "a robot gardener", "a river journey"]


def median(values: list[float]) -> float:
    return statistics.median(values)


async def single_stream(model: Model, tokens: int, repeat: int,
                        schema: dict | None = None) -> tuple[float, float]:
    """(tokens/s, ms/token) of one request at a time, median over `repeat`."""
    rates, per_token = [], []
    for _ in range(repeat):
        result = await model.generate(STORY, schema=schema,
                                      settings=Decoding(max_new_tokens=tokens))
        seconds = result.latency_ms / 1000
        rates.append(result.tokens_out / seconds)
        per_token.append(result.latency_ms / result.tokens_out)
    return median(rates), median(per_token)


async def aggregate(model: Model, tokens: int, repeat: int, concurrent: int = 4
                    ) -> tuple[float, int]:
    """(aggregate tokens/s of `concurrent` requests at once, how many of their answers
    equal the answer the same request gets alone)."""
    prompts = [[{"role": "user", "content": f"Write a long, detailed story about {t}."}]
               for t in TOPICS[:concurrent]]
    settings = Decoding(max_new_tokens=tokens)
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        results = await asyncio.gather(*(model.generate(p, settings=settings)
                                         for p in prompts))
        rates.append(sum(r.tokens_out for r in results) / (time.perf_counter() - started))
    alone = [await model.generate(p, settings=settings) for p in prompts]
    same = sum(a.text == b.text for a, b in zip(alone, results, strict=True))
    return median(rates), same


async def stage_one(model: Model) -> tuple[float, str]:
    """The understanding agent on examples/lesson_pipeline.md: three agents to name."""
    from autogenesis.build.agents import Understanding, Work

    spec = (REPO / "examples" / "lesson_pipeline.md").read_text()
    started = time.perf_counter()
    requirements = await Understanding(model, Prompts()).produce(Work({"spec": spec}))
    implied = [a.name for a in requirements.agents if not a.stated]
    return time.perf_counter() - started, f"named {', '.join(implied)}"


def fresh_process_load(backend: str, extra: str = "") -> float:
    """Seconds for a new interpreter to import everything and load the model (warm cache)."""
    code = ("import time; t=time.perf_counter(); from autogenesis.llm.loader import load_model; "
            f"load_model(backend={backend!r}{extra}); print(time.perf_counter()-t)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "TQDM_DISABLE": "1"})
    return float(out.stdout.strip().splitlines()[-1])


def raw_llamacpp(path: str, tokens: int, repeat: int) -> dict[str, object]:
    """The baseline: llama-cpp-python called directly, the same prompt, greedy."""
    import llama_cpp

    started = time.perf_counter()
    llm = llama_cpp.Llama(model_path=path, n_ctx=8192, n_threads=os.cpu_count(), verbose=False)
    load = time.perf_counter() - started
    rates = []
    for _ in range(repeat):
        started = time.perf_counter()
        out = llm.create_chat_completion(messages=STORY, max_tokens=tokens, temperature=0.0)
        rates.append(out["usage"]["completion_tokens"] / (time.perf_counter() - started))
    llm.close()
    return {"name": "raw llama-cpp-python", "tok_s": median(rates),
            "load": f"{load:.2f}s in-process"}


def previous_llamacpp(path: str, tokens: int, repeat: int) -> dict[str, object]:
    """The llama.cpp backend before batching: one chat completion at a time with our greedy
    settings (top_k 1, no min_p, no repeat penalty); four callers queued one behind the
    other, so their aggregate rate is this one's."""
    import llama_cpp

    llm = llama_cpp.Llama(model_path=path, n_ctx=8192, n_threads=os.cpu_count(), verbose=False)

    def call(messages: list[dict[str, str]]) -> int:
        out = llm.create_chat_completion(messages=messages, max_tokens=tokens,
                                         temperature=0.0, top_k=1, top_p=1.0, min_p=0.0,
                                         repeat_penalty=1.0, seed=0)
        return int(out["usage"]["completion_tokens"])

    rates, agg = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        rates.append(call(STORY) / (time.perf_counter() - started))
    for _ in range(max(1, repeat - 1)):
        started = time.perf_counter()
        made = sum(call([{"role": "user", "content": f"Write a long, detailed story about "
                          f"{t}."}]) for t in TOPICS)
        agg.append(made / (time.perf_counter() - started))
    llm.close()
    return {"name": "llamacpp before batching", "tok_s": median(rates), "agg4": median(agg),
            "load": "-"}


async def measure(name: str, model: Model, args: argparse.Namespace) -> dict[str, object]:
    rate, per_token = await single_stream(model, args.tokens, args.repeat)
    _, per_token_json = await single_stream(model, args.tokens, args.repeat, STORY_SCHEMA)
    agg, same = await aggregate(model, args.tokens, max(1, args.repeat - 1))
    stage_seconds, stage_outcome = await stage_one(model)
    return {"name": name, "tok_s": rate, "agg4": agg, "batched_same": same,
            "constrained_ratio":
            per_token_json / per_token, "stage1_s": stage_seconds, "stage1": stage_outcome}


def requantize(source: str, target: Path, kind: str) -> Path:
    """A copy of the GGUF with its weights requantised to `kind` (q8_0, q4_0) by llama.cpp."""
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind.upper()}")
    params.allow_requantize = True
    if llama_cpp.llama_model_quantize(source.encode(), str(target).encode(), params) != 0:
        raise RuntimeError(f"llama.cpp could not requantise {source} to {kind}")
    return target


def section(name: str, args: argparse.Namespace) -> dict[str, object]:
    """One measurement, run in a process of its own (see main)."""
    source = resolve(None)
    if name == "raw":
        return raw_llamacpp(source.location, args.tokens, args.repeat)
    if name == "previous":
        return previous_llamacpp(source.location, args.tokens, args.repeat)
    if name == "cold":
        with tempfile.TemporaryDirectory() as empty:
            started = time.perf_counter()
            TransformersModel(source, cache_root=Path(empty)).close()
        return {"name": "transformers cold", "load": f"{time.perf_counter() - started:.1f}s "
                "(dequantise the GGUF and save it)"}
    started = time.perf_counter()
    if name.startswith("requantized:"):
        kind = name.split(":", 1)[1]
        with tempfile.TemporaryDirectory() as tmp:
            copy = requantize(source.location, Path(tmp) / f"model-{kind}.gguf", kind)
            model = LlamaCppModel(resolve(str(copy)))
            load = time.perf_counter() - started
            row = asyncio.run(measure(f"llamacpp on a {kind.upper()} copy", model, args))
            model.close()
        return {**row, "load": f"{load:.2f}s (requantise and load)"}
    if name == "llamacpp":
        model: Model = LlamaCppModel(source)
    else:
        variant = name.split(":", 1)[1]
        options = {"quantize": "int8"} if variant == "int8" else {"dtype": variant}
        model = TransformersModel(source, cache_root=Settings.from_env().models_dir, **options)
    load = time.perf_counter() - started
    row = asyncio.run(measure(name.replace(":", " "), model, args))
    model.close()
    return {**row, "load": f"{load:.2f}s in-process, warm"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--variants", default="float32,bfloat16,int8",
                        help="transformers variants: float32, bfloat16, int8 (dynamic quant)")
    parser.add_argument("--skip-cold", action="store_true",
                        help="skip the cold transformers load (dequantising the GGUF)")
    parser.add_argument("--requantize", default="",
                        help="also measure the llama.cpp backend on copies of the GGUF "
                        "requantised to these types, e.g. q8_0,q4_0")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (keys in bench/README.md)")
    parser.add_argument("--section", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.section:
        print(json.dumps(section(args.section, args)))
        return

    # Every backend runs in a process of its own: llama.cpp's and torch's OpenMP
    # thread teams fight for the cores when they share one (measured: 75 -> 16 tok/s).
    def run(name: str) -> dict[str, object]:
        command = [sys.executable, __file__, "--section", name, "--tokens", str(args.tokens),
                   "--repeat", str(args.repeat)]
        out = subprocess.run(command, capture_output=True, text=True,
                             env={**os.environ, "TQDM_DISABLE": "1"})
        if out.returncode != 0:
            sys.exit(f"bench section {name} failed:\n{out.stderr[-3000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    names = ["raw", "previous", "llamacpp"] + [f"requantized:{k}" for k in
                                               args.requantize.split(",") if k]
    names += [f"transformers:{v}" for v in args.variants.split(",") if v]
    if not args.json:
        print(f"model {resolve(None).location}\n{os.cpu_count()} CPU threads, {args.tokens} "
              f"new tokens, greedy, median of {args.repeat}, each backend in its own "
              "process\n")
    rows = {name: run(name) for name in names}
    loads = [(row["name"], row["load"]) for row in rows.values() if row["load"] != "-"]
    loads.append(("llamacpp fresh process", f"{fresh_process_load('llamacpp'):.2f}s "
                  "(imports + load)"))
    if any(n.startswith("transformers") for n in names):
        loads.append(("transformers fresh process", f"{fresh_process_load('transformers'):.2f}s "
                      "(imports + load, warm cache)"))
    if not args.skip_cold and any(n.startswith("transformers") for n in names):
        cold = run("cold")
        loads.append((cold["name"], cold["load"]))
    ours, before = rows["llamacpp"], rows["previous"]
    if args.json:
        print(json.dumps({
            "tokens": args.tokens, "repeat": args.repeat, "cpu_threads": os.cpu_count(),
            "raw_tok_s": rows["raw"]["tok_s"],
            "previous_single_tok_s": before["tok_s"],
            "previous_concurrent4_tok_s": before["agg4"],
            "single_tok_s": ours["tok_s"], "concurrent4_tok_s": ours["agg4"],
            "concurrent4_ratio": ours["agg4"] / ours["tok_s"],
            "single_vs_previous": ours["tok_s"] / before["tok_s"],
            "concurrent4_vs_previous": ours["agg4"] / before["agg4"],
            "batched_same_as_alone": ours["batched_same"],
            "constrained_ratio": ours["constrained_ratio"], "stage1_s": ours["stage1_s"],
            "requantized": {name.split(":", 1)[1]: {
                "single_tok_s": rows[name]["tok_s"], "concurrent4_tok_s": rows[name]["agg4"],
                "concurrent4_ratio": rows[name]["agg4"] / rows[name]["tok_s"]}
                for name in names if name.startswith("requantized:")},
            "backends": rows, "loads": dict(loads)}))
        return

    base = rows["raw"]["tok_s"]
    print(f"{'backend':<26}{'tok/s':>8}{'x raw':>7}{'4-conc tok/s':>14}{'x raw':>7}"
          f"{'x own single':>13}{'json/plain per tok':>20}{'stage-1 call':>14}")
    print(f"{'raw llama-cpp-python':<26}{base:>8.1f}{1.0:>7.2f}{'-':>14}{'':>7}{'':>13}"
          f"{'-':>20}{'-':>14}")
    print(f"{before['name']:<26}{before['tok_s']:>8.1f}{before['tok_s'] / base:>7.2f}"
          f"{before['agg4']:>14.1f}{before['agg4'] / base:>7.2f}"
          f"{before['agg4'] / before['tok_s']:>13.2f}{'-':>20}{'-':>14}")
    for name in names[2:]:
        row = rows[name]
        print(f"{row['name']:<26}{row['tok_s']:>8.1f}{row['tok_s'] / base:>7.2f}"
              f"{row['agg4']:>14.1f}{row['agg4'] / base:>7.2f}"
              f"{row['agg4'] / row['tok_s']:>13.2f}"
              f"{row['constrained_ratio']:>20.2f}{row['stage1_s']:>13.1f}s  ({row['stage1']})")
    print(f"\nllamacpp now beside before: single stream {ours['tok_s'] / before['tok_s']:.2f}x, "
          f"4 concurrent {ours['agg4'] / before['agg4']:.2f}x; the 4 concurrent answers "
          f"equal to each asked alone: {ours['batched_same']}/4")
    print("\nload times")
    for name, figure in loads:
        print(f"  {name:<32}{figure}")


if __name__ == "__main__":
    main()
