#!/usr/bin/env python3
"""Axolotl's turn spans (ChatTemplateStrategy.find_turn, character level) from the oracle.

For every assistant message i of every conversation that renders without error, renders
messages[:i+1] as is and with message i replaced by a dummy that keeps only its role and has
placeholder content, and reports where the two renders differ: the first differing character
from the front and the first from the back, as byte offsets into the render. Conversations
whose later messages change the text of earlier ones are skipped (axolotl's prefix renders
would not line up with the full render there).

Usage: axolotl_spans.py RENDER_PY CORPUS.json OUT.json TEMPLATE...
OUT.json: [{"template": t, "conv": k, "message": i, "start": s, "end": e}, ...]
"""
import functools
import importlib.util
import json
import sys

PLACEHOLDER = "\x07"


def main():
    render_py, corpus_path, out_path, *templates = sys.argv[1:]
    spec = importlib.util.spec_from_file_location("oracle_render", render_py)
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)
    oracle.compile_template = functools.lru_cache(maxsize=None)(oracle.compile_template)
    special = dict(oracle.DEFAULT_SPECIAL_TOKENS)
    corpus = json.load(open(corpus_path, encoding="utf-8"))
    out = []

    def render(text, conv, msgs):
        extra = {k: v for k, v in conv.items() if k not in ("messages", "tools", "add_generation_prompt")}
        return oracle.render(text, msgs, tools=conv.get("tools"), **{**special, **extra})[0]

    for t in templates:
        text = open(t, encoding="utf-8").read()
        for k, conv in enumerate(corpus):
            msgs = conv["messages"]
            roles = [m["role"] for m in msgs]
            if any(a == b for a, b in zip(roles, roles[1:])):
                continue  # merged turns: axolotl's per-turn dummy is not defined for them
            try:
                full = render(text, conv, msgs)
            except Exception:  # noqa: BLE001
                continue
            for i, m in enumerate(msgs):
                if m["role"] != "assistant":
                    continue
                try:
                    real = render(text, conv, msgs[:i + 1])
                    dummy = render(text, conv, msgs[:i] + [{"role": "assistant", "content": PLACEHOLDER}])
                except Exception:  # noqa: BLE001
                    continue
                if not full.startswith(real):
                    continue
                s = 0
                while s < min(len(real), len(dummy)) and real[s] == dummy[s]:
                    s += 1
                e_r, e_d = len(real), len(dummy)
                while e_r > s and e_d > s and real[e_r - 1] == dummy[e_d - 1]:
                    e_r -= 1
                    e_d -= 1
                if e_r <= s:
                    continue
                out.append({"template": t, "conv": k, "message": i,
                            "start": len(real[:s].encode()), "end": len(real[:e_r].encode())})
    json.dump(out, open(out_path, "w", encoding="utf-8"))


if __name__ == "__main__":
    main()
