"""Write the synthetic request trace that the shipped examples use, deterministically.

    python tools/make_trace.py [--out problems/traces/chat-support-1h.csv] [--seed 2024]

One hour of a chat-support service: columns arrival_s,input_tokens,output_tokens, one row per
request in arrival order. Generated, not sampled from any real trace; the shapes are chosen to
resemble the public figures in problems/traces/README.md:

- prompt lengths lognormal, median 1,000 tokens and p99 4,000 (sigma = ln 4 / 2.326), at most 8,000;
- answer lengths lognormal, median 130 tokens and p90 420 (sigma = ln(420/130) / 1.2816), at most 2,000,
  independent of the prompt;
- arrivals bursty: gamma inter-arrival times with coefficient of variation 2 (shape 1/4), a mean
  rate of 0.85 requests/s (about 3,000 requests), kept while the arrival is under 3,600 s.

Same seed, same file (numpy's PCG64 generator, fixed formatting).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "problems" / "traces" / "chat-support-1h.csv"

DURATION_S = 3600.0
RATE_QPS = 0.85
ARRIVAL_CV = 2.0
PROMPT_MEDIAN, PROMPT_P99, PROMPT_CAP = 1000.0, 4000.0, 8000
ANSWER_MEDIAN, ANSWER_P90, ANSWER_CAP = 130.0, 420.0, 2000
Z_P99, Z_P90 = 2.3263, 1.2816
"""Standard normal quantiles at 0.99 and 0.90."""


def make_trace(seed: int) -> list[tuple[float, int, int]]:
    """(arrival_s, input_tokens, output_tokens) of each request, in arrival order."""
    rng = np.random.default_rng(seed)
    shape = 1.0 / ARRIVAL_CV**2
    n_max = int(DURATION_S * RATE_QPS * 3)  # far more gaps than an hour needs
    gaps = rng.gamma(shape, (1.0 / RATE_QPS) / shape, n_max)
    arrivals = np.cumsum(gaps) - gaps[0]
    arrivals = np.round(arrivals[arrivals < DURATION_S], 3)
    n = len(arrivals)
    prompt = rng.lognormal(math.log(PROMPT_MEDIAN), math.log(PROMPT_P99 / PROMPT_MEDIAN) / Z_P99, n)
    answer = rng.lognormal(math.log(ANSWER_MEDIAN), math.log(ANSWER_P90 / ANSWER_MEDIAN) / Z_P90, n)
    prompt = np.clip(np.round(prompt), 1, PROMPT_CAP).astype(int)
    answer = np.clip(np.round(answer), 1, ANSWER_CAP).astype(int)
    return [(float(a), int(i), int(o)) for a, i, o in zip(arrivals, prompt, answer)]


def trace_csv(seed: int) -> str:
    """The trace as CSV text, one line a request, 3 decimals of arrival time."""
    lines = ["arrival_s,input_tokens,output_tokens"] + [f"{a:.3f},{i},{o}" for a, i, o in make_trace(seed)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    text = trace_csv(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({text.count(chr(10)) - 1} requests)")


if __name__ == "__main__":
    main()
