#!/usr/bin/env python3
"""Write the example language-model suites' texts from CPython's own documentation (pydoc_data/topics.py,
which ships with every CPython): an evaluation text and a disjoint calibration text, each cut at a
paragraph boundary. Standard library only; the output is committed (suites/data/llm/), so a change of
CPython version does not change it.

    python scripts/make_llm_text.py            # writes suites/data/llm/{eval,calibration}.txt
"""

from __future__ import annotations

import pydoc_data.topics as topics
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "suites" / "data" / "llm"
SIZES = {"eval.txt": 18_000, "calibration.txt": 9_000}  # characters (~4.2 per SmolLM2 token)


def paragraphs() -> list[str]:
    text = "\n\n".join(topics.topics[k].strip() for k in sorted(topics.topics))
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def main() -> int:
    paras = paragraphs()
    OUT.mkdir(parents=True, exist_ok=True)
    start = 0
    for name, size in SIZES.items():
        taken: list[str] = []
        while start < len(paras) and sum(map(len, taken)) < size:
            taken.append(paras[start])
            start += 1
        (OUT / name).write_text("\n\n".join(taken) + "\n", encoding="utf-8")
        print(f"{OUT / name}: {len(taken)} paragraphs, {sum(map(len, taken))} characters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
