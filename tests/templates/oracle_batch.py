#!/usr/bin/env python3
"""Renders every (template, conversation) pair with the shared Jinja2 oracle, in one process.

Usage: oracle_batch.py RENDER_PY CORPUS.json OUT.json TEMPLATE...
Writes a JSON list, one entry per template then conversation: {"rc": 0, "out": str} on
success, {"rc": 3, "out": message} when the template raised a TemplateError (raise_exception
or Undefined), {"rc": 1, "out": "ExcType: message"} for any other exception.
The oracle module is imported from RENDER_PY; its compiled templates are cached;
strftime_now sees 2026-03-16T12:00:00.
"""
import functools
import importlib.util
import json
import sys
from datetime import datetime

import jinja2


def main():
    render_py, corpus_path, out_path, *templates = sys.argv[1:]
    spec = importlib.util.spec_from_file_location("oracle_render", render_py)
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)
    oracle.compile_template = functools.lru_cache(maxsize=None)(oracle.compile_template)
    special = dict(oracle.DEFAULT_SPECIAL_TOKENS)
    known = {"messages", "add_generation_prompt", "continue_final_message", "tools", "documents",
             "special_tokens", "kwargs"}
    with open(corpus_path, encoding="utf-8") as f:
        corpus = json.load(f)
    results = []
    for path in templates:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for conv in corpus:
            extra = {k: v for k, v in conv.items() if k not in known}
            try:
                out, _ = oracle.render(text, conv["messages"], tools=conv.get("tools"),
                                       documents=conv.get("documents"),
                                       add_generation_prompt=conv.get("add_generation_prompt", False),
                                       now=datetime.fromisoformat("2026-03-16T12:00:00"),
                                       **{**special, **extra})
                results.append({"rc": 0, "out": out})
            except jinja2.exceptions.TemplateError as e:
                results.append({"rc": 3, "out": str(e)})
            except Exception as e:  # noqa: BLE001 - any Python error is a render failure
                results.append({"rc": 1, "out": f"{type(e).__name__}: {e}"})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
