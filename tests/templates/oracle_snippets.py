#!/usr/bin/env python3
"""Renders small templates with the shared oracle's Jinja2 environment (transformers' setup).

Usage: oracle_snippets.py RENDER_PY IN.json OUT.json
IN.json: [{"template": str, "context": {...}}, ...]; OUT.json: [{"rc": 0|3|1, "out": str}, ...]
(rc 3: a TemplateError, "out" is its message; rc 1: any other exception, "out" names it).
strftime_now sees 2026-03-16T12:00:00.
"""
import importlib.util
import json
import sys
from datetime import datetime

import jinja2


def main():
    render_py, in_path, out_path = sys.argv[1:]
    spec = importlib.util.spec_from_file_location("oracle_render", render_py)
    oracle = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oracle)
    now = datetime.fromisoformat("2026-03-16T12:00:00")
    with open(in_path, encoding="utf-8") as f:
        cases = json.load(f)
    results = []
    for case in cases:
        try:
            out = oracle.compile_template(case["template"], now=now).render(**case["context"])
            results.append({"rc": 0, "out": out})
        except jinja2.exceptions.TemplateError as e:
            results.append({"rc": 3, "out": str(e)})
        except Exception as e:  # noqa: BLE001
            results.append({"rc": 1, "out": f"{type(e).__name__}: {e}"})
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
