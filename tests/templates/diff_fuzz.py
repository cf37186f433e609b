#!/usr/bin/python3
"""Differential fuzzer: newt's template engine vs Jinja2 as transformers configures it.

Usage (from the repo root, after `make -j2 all`; needs ../shared, not run by CI):

    /usr/bin/python3 tests/templates/diff_fuzz.py [--seconds 300] [--seed 1] [--batch 400]
        [--shrink 40] [--save mismatches.json] [--replay FILE.json]

Generates templates two ways: by mutating and recombining tests/templates/snippets.json
(swapping names, numbers, strings, operators, whitespace-control marks, splicing `{{ }}` and
`{% %}` pieces between snippets), and from a small grammar of expressions, filters, tests,
methods, loops, macros, `call`/`filter` blocks and whitespace control over the snippets'
context. Each template is rendered by the oracle in this process
(../shared/oracles/chat_template/render.py, strftime_now pinned to 2026-03-16T12:00:00) and by
newt through tests/templates/diff_driver.c (compiled here against build/release/libnewt.a
into build/release/diff_driver; one process renders a whole batch).

A case matches as tests/unit/test_template_lang.c requires: same bytes when the oracle
renders; when it raises, newt errors too and its message ends with Jinja2's. Mismatches are
bucketed: (a) both render but differ, (b) one renders and the other errors, (c) both error
with different messages, plus `crash` (the driver died). Per bucket the shortest case is
shrunk (token deletion while the bucket stays the same) and printed. --save writes every
bucket's reproducers as [{template, context}] (the snippets.json format); --replay renders
such a file (or snippets.json) instead of fuzzing.
"""
import argparse
import importlib.util
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from copy import deepcopy
from datetime import datetime

import jinja2

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = os.path.join(os.path.dirname(ROOT), "shared")
RENDER_PY = os.path.join(SHARED, "oracles", "chat_template", "render.py")
DRIVER_SRC = os.path.join(ROOT, "tests", "templates", "diff_driver.c")
DRIVER = os.path.join(ROOT, "build", "release", "diff_driver")
LIBNEWT = os.path.join(ROOT, "build", "release", "libnewt.a")
NOW = datetime.fromisoformat("2026-03-16T12:00:00")
NT_ERAISE, NT_ELIMIT, NT_EUNSUPPORTED = 8, 7, 5


class Timeout(Exception):
    pass


def load_oracle():
    spec = importlib.util.spec_from_file_location("oracle_render", RENDER_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build_driver():
    if os.path.exists(DRIVER) and os.path.getmtime(DRIVER) >= max(
            os.path.getmtime(LIBNEWT), os.path.getmtime(DRIVER_SRC)):
        return
    multiarch = subprocess.run(["gcc", "-print-multiarch"], capture_output=True, text=True).stdout.strip()
    blas = f"/usr/lib/{multiarch}/openblas-openmp"
    cmd = ["gcc", "-std=c17", "-D_GNU_SOURCE", "-O2", "-fopenmp", "-Isrc", "-o", DRIVER, DRIVER_SRC, LIBNEWT,
           f"-L{blas}", f"-Wl,-rpath,{blas}", "-lopenblas", "-lyaml", "-lpcre2-8", "-lm", "-lpthread"]
    subprocess.run(cmd, cwd=ROOT, check=True)


def oracle_render(oracle, template, ctx):
    """(rc, text): rc 0 rendered, 3 TemplateError, 1 other exception, -1 timeout."""
    signal.alarm(2)
    try:
        return 0, oracle.compile_template(template, now=NOW).render(**deepcopy(ctx))
    except Timeout:
        return -1, "timeout"
    except jinja2.exceptions.TemplateError as e:
        return 3, str(e)
    except RecursionError as e:
        return 1, f"RecursionError: {e}"
    except Exception as e:  # noqa: BLE001
        return 1, f"{type(e).__name__}: {e}"
    finally:
        signal.alarm(0)


def newt_render(cases):
    """[(status, bytes)] per case; status -1 when the driver died on that case."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False)
        path = f.name
    res = []
    try:
        while len(res) < len(cases):
            try:
                p = subprocess.run([DRIVER, path, str(len(res))], capture_output=True, timeout=60)
                out, rc = p.stdout, p.returncode
            except subprocess.TimeoutExpired as e:
                out, rc = e.stdout or b"", -9
            dead = rc != 0
            pos = 0
            while pos < len(out):
                nl = out.find(b"\n", pos)
                if nl < 0:
                    break
                st, n = map(int, out[pos:nl].split())
                if nl + 1 + n > len(out):
                    break
                res.append((st, out[nl + 1:nl + 1 + n]))
                pos = nl + 1 + n
            if dead and len(res) < len(cases):
                res.append((-1, b"driver died (%d)" % rc))
    finally:
        os.unlink(path)
    return res


def classify(orc, nt):
    """None if they agree, else (bucket, signature)."""
    rc, want = orc
    st, got = nt
    if rc == -1:
        return None
    if st == -1:
        return "crash", ""
    got_s = got.decode("utf-8", "replace")
    if rc == 0:
        if st == 0:
            if got == want.encode("utf-8", "surrogatepass"):
                return None
            # Python object reprs (functions, generators, macros): no chat template prints them
            return ("a-repr", "") if OBJ_REPR.search(want) else ("a", "")
        return "b", "newt errors: " + norm(got_s)
    if st == 0:
        return "b", "oracle errors: " + norm(want)
    pymsg = want.split(": ", 1)[1] if rc == 1 and ": " in want else want
    ok = (got_s == want if st == NT_ERAISE else got_s.endswith(want)) if rc == 3 else \
        (st != NT_ERAISE and got_s.endswith(pymsg))
    return None if ok else ("c", norm(want) + "  <>  " + norm(re.sub(r"^t:\d+:\d+: ", "", got_s)))


OBJ_REPR = re.compile(r"<(generator|function|built-in|bound method|Macro|LoopContext|jinja2|Cycler|Joiner|Namespace|"
                      r"Undefined|class|list_reverseiterator|reversed|MACRO)\b|range\(")


def norm(msg):
    msg = re.sub(r"'[^']*'", "Q", msg)
    msg = re.sub(r"\d+", "N", msg)
    return msg[:90]


# ---------------------------------------------------------------- generation

VARS = ["s", "n", "f", "l", "d", "u", "msgs", "words", "none", "t", "e", "ws", "nested", "missing",
        "msgs[0]", "msgs[1]", "nested.a", "nested.a.b", "d.a", "msgs[1].x", "loop"]
INTS = ["0", "1", "2", "3", "-1", "-2", "5", "10", "7", "100", "-7", "255"]
FLOATS = ["0.5", "2.5", "-2.5", "1.0", "0.0", "-0.0", "1e20", "1e-7", "3.14159", "1e16", "2.675", "0.1", "1e300",
          "123456789.125", "1.5e-5", "100.0"]
STRS = ["''", "'a'", "'ab c'", "'Hello'", "' x '", "'é'", "'a,b'", "'{}'", "'%s'", "'ß'", "'\\n'", "'x\\ny'",
        "'A b C'", "'1'", "'2.5'", "' 3 '", "'true'", "'ǅ'", "'ﬁ'", "'İ'", "'\\t'", "'a-b_c'", "'hello world'",
        "'<b>'", "'\"q\"'", "'-5'", "'0x1A'", "'1e3'", "' '", "'ab'", "'Σ'", "'ÉCOLE'", "'日本'", "'\\u00a0'",
        "'1_000'", "'+4'", "'  '", "'role'", "'content'", "'a.b'"]
ATTRS = ["role", "content", "x", "a", "b", "c", "upper", "items", "length", "first", "0", "1", "real"]
FILTERS = {
    "trim": ["", "('x')", "(' ')"], "tojson": ["", "(indent=2)", "(sort_keys=true)", "(indent=0)"],
    "length": [""], "count": [""], "first": [""], "last": [""],
    "join": ["", "(', ')", "('|', attribute='role')", "(attribute='content')", "(1)"],
    "default": ["", "('D')", "('D', true)", "(none)"], "d": ["('x')", "('x', boolean=true)"],
    "upper": [""], "lower": [""], "title": [""], "capitalize": [""],
    "replace": ["('a', 'b')", "('l', 'L', 1)", "('', '-')", "('o', '', 0)", "('x', 'y', -1)"],
    "string": [""], "int": ["", "(5)", "(0, 16)", "(base=2)", "(default=3)"], "float": ["", "(1.5)"],
    "list": [""], "items": [""], "dictsort": ["", "(true)", "(by='value')", "(reverse=true)", "(false, 'value', true)"],
    "map": ["('upper')", "(attribute='role')", "('string')", "('length')", "(attribute='x', default='D')",
            "('int')", "('default', 'z')", "('round', 1)", "('abs')"],
    "select": ["", "('odd')", "('even')", "('string')", "('defined')", "('gt', 1)", "('in', [1, 2])"],
    "reject": ["", "('odd')", "('none')", "('equalto', 1)"],
    "selectattr": ["('role', 'equalto', 'user')", "('x')", "('x', 'none')", "('content')", "('role', 'in', ['user'])"],
    "rejectattr": ["('role', 'eq', 'user')", "('x')", "('x', 'defined')"],
    "unique": ["", "(case_sensitive=true)", "(attribute='role')"],
    "indent": ["", "(2)", "(2, true)", "(2, blank=true)", "('> ')", "(first=true)", "(0)", "(-1)"],
    "abs": [""], "round": ["", "(1)", "(2, 'floor')", "(0, 'ceil')", "(-1)", "(method='common')"],
    "safe": [""], "batch": ["(2)", "(2, 0)", "(1)", "(3, 'x')"], "slice": ["(2)", "(3, 0)"],
    "sum": ["", "(start=10)", "(attribute='a')"], "min": ["", "(case_sensitive=true)"], "max": ["", "(attribute='a')"],
    "sort": ["", "(reverse=true)", "(case_sensitive=true)", "(attribute='role')", "(attribute='0')"],
    "reverse": [""], "center": ["", "(6)", "(1)", "(9)"], "attr": ["('role')", "('upper')", "('a')"],
    "wordcount": [""], "truncate": ["(5)", "(5, true)", "(3, false, '..', 0)"], "striptags": [""],
    "escape": [""], "e": [""], "forceescape": [""], "urlencode": [""], "format": ["(1)", "('x', 2)"],
    "wordwrap": ["(5)"], "xmlattr": [""], "filesizeformat": [""], "pprint": [""], "random": [""],
    "groupby": ["('role')"], "items": [""], "tojson ": [""],
}
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable",
         "sequence", "boolean", "true", "false", "equalto 1", "eq(2)", "ne 1", "in l", "in 'abc'", "odd", "even",
         "divisibleby 3", "divisibleby(0)", "sameas none", "lt 3", "le 2", "gt 1", "ge(2)", "callable", "lower",
         "upper", "escaped", "filter", "test", "==(1)", "<(3)"]
METHODS = {
    "str": ["strip()", "strip('x')", "lstrip()", "rstrip(' d')", "split()", "split(',')", "split(' ', 1)",
            "split(maxsplit=1)", "rsplit(' ', 1)", "startswith('H')", "endswith(('d', 'x'))", "replace('l', 'L')",
            "replace('l', 'L', 1)", "upper()", "lower()", "title()", "capitalize()", "join(['a', 'b'])",
            "find('o')", "rfind('o')", "index('o')", "count('l')", "format(1, 2)", "format(name='n')",
            "isdigit()", "isalpha()", "isspace()", "islower()", "isupper()", "swapcase()", "splitlines()",
            "partition(' ')", "center(15)", "ljust(13, '*')", "zfill(14)", "casefold()", "removeprefix('He')",
            "encode()", "strip(none)", "split(none, 1)", "startswith('lo', 3)", "find('l', 3)", "count('')"],
    "dict": ["items()", "keys()", "values()", "get('a')", "get('zz')", "get('zz', 0)", "copy()", "get('a', 'b', 'c')"],
    "list": ["index(1)", "count(1)", "copy()", "__len__()"],
}
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", "<=", ">", ">=", "in", "not in", "and", "or"]


class Gen:
    def __init__(self, rng, snippets):
        self.r = rng
        self.snips = [s["template"] for s in snippets]
        self.pieces = []
        for t in self.snips:
            self.pieces += re.findall(r"\{\{.*?\}\}|\{%.*?%\}", t, re.S)

    def atom(self, d):
        r = self.r
        k = r.random()
        if k < 0.35:
            return r.choice(VARS)
        if k < 0.5:
            return r.choice(INTS)
        if k < 0.6:
            return r.choice(FLOATS)
        if k < 0.8:
            return r.choice(STRS)
        if k < 0.85:
            return r.choice(["none", "true", "false", "True", "None", "False"])
        if d > 2:
            return r.choice(VARS)
        if k < 0.9:
            return "[" + ", ".join(self.expr(d + 1) for _ in range(r.randint(0, 3))) + "]"
        if k < 0.93:
            return "{" + ", ".join(f"{r.choice(STRS)}: {self.expr(d + 1)}" for _ in range(r.randint(0, 2))) + "}"
        if k < 0.96:
            return "(" + ", ".join(self.expr(d + 1) for _ in range(r.randint(0, 3))) + ",)"
        return r.choice(["range(3)", "range(1, 7, 2)", "range(5, 0, -2)", "namespace(a=1)", "dict(a=1, b=2)",
                         "range(-2)", "dict()", "lipsum", "cycler(1, 2)", "joiner()"])

    def postfix(self, e, d):
        r = self.r
        k = r.random()
        if k < 0.25:
            return f"{e}.{r.choice(ATTRS)}"
        if k < 0.45:
            return f"{e}[{r.choice(INTS + STRS[:6])}]"
        if k < 0.6:
            a, b, c = (r.choice(["", "1", "-1", "2", "-2", "0", "10", "none"]) for _ in range(3))
            return f"{e}[{a}:{b}" + (f":{c}" if r.random() < 0.5 else "") + "]"
        kind = r.choice(["str", "str", "dict", "list"])
        return f"{e}.{r.choice(METHODS[kind])}"

    def expr(self, d=0):
        r = self.r
        if d > 3:
            return self.atom(d)
        k = r.random()
        if k < 0.3:
            e = self.atom(d)
        elif k < 0.5:
            e = self.postfix(self.atom(d), d)
        elif k < 0.7:
            f = r.choice(list(FILTERS))
            e = f"{self.expr(d + 1)} | {f.strip()}{r.choice(FILTERS[f])}"
        elif k < 0.82:
            op = r.choice(BINOPS)
            e = f"{self.expr(d + 1)} {op} {self.expr(d + 1)}"
            if r.random() < 0.5:
                e = f"({e})"
        elif k < 0.88:
            e = f"{self.expr(d + 1)} is {r.choice(['', 'not '])}{r.choice(TESTS)}"
        elif k < 0.92:
            e = f"{r.choice(['not ', '-', '+'])}{self.expr(d + 1)}"
        elif k < 0.96:
            e = f"({self.expr(d + 1)} if {self.expr(d + 1)} else {self.expr(d + 1)})"
        else:
            e = f"({self.expr(d + 1)} if {self.expr(d + 1)})"
        return e

    def ws(self):
        return self.r.choice(["", "", "", " ", "\n", "  ", "\n  ", " \n", "\t", "x", "\n\n"])

    def mark(self):
        return self.r.choice(["", "", "", "-", "+"])

    def tag(self, body):
        return "{%" + self.mark() + " " + body + " " + self.mark() + "%}"

    def stmt(self, d=0):
        r = self.r
        k = r.random()
        w = self.ws
        if k < 0.45 or d > 2:
            m1, m2 = r.choice(["", "", "-"]), r.choice(["", "", "-"])
            return w() + "{{" + m1 + " " + self.expr() + " " + m2 + "}}" + w()
        body = lambda: "".join(self.stmt(d + 1) for _ in range(r.randint(1, 2)))  # noqa: E731
        if k < 0.6:
            s = w() + self.tag("if " + self.expr()) + body()
            if r.random() < 0.3:
                s += w() + self.tag("elif " + self.expr()) + body()
            if r.random() < 0.4:
                s += w() + self.tag("else") + body()
            return s + w() + self.tag("endif") + w()
        if k < 0.75:
            tgt = r.choice(["x", "x", "k, v", "i"])
            it = r.choice(["l", "words", "msgs", "d", "d.items()", "s", "range(3)", "u", "nested.a.b", "[]",
                           "missing", self.expr(2)])
            cond = f" if {self.expr(2)}" if r.random() < 0.2 else ""
            inner = r.choice(["{{ x }}", "{{ loop.index }}", "{{ loop.last }}", "{{ loop.previtem }}",
                              "{{ loop.cycle('a', 'b') }}", "{{ k }}={{ v }}", "{{ loop.revindex }}",
                              "{% if loop.first %}F{% endif %}", "{{ loop.length }}", "{{ loop.depth }}",
                              "{{ loop.nextitem }}", "{{ loop.changed(x) }}", "{% break %}", "{% continue %}"])
            s = w() + self.tag(f"for {tgt} in {it}{cond}") + w() + inner + body()
            if r.random() < 0.2:
                s += self.tag("else") + body()
            return s + w() + self.tag("endfor") + w()
        if k < 0.85:
            var = r.choice(["x", "y", "ns.a", "a, b"])
            if r.random() < 0.3:
                return w() + self.tag(f"set {var}") + body() + self.tag("endset") + w() + "{{ " + var.split(",")[0] + " }}"
            pre = "{% set ns = namespace(a=0) %}" if var.startswith("ns") else ""
            return pre + w() + self.tag(f"set {var} = {self.expr()}") + w() + "{{ " + var.split(",")[0] + " }}"
        if k < 0.92:
            args = r.choice(["", "a", "a, b=2", "a=none", "a, b, c=[]"])
            call = r.choice(["m()", "m(1)", "m(1, 2)", "m(1, 2, 3)", "m(a=5)", "m(b=3, a=1)", "m(1, z=2)", "m"])
            mbody = r.choice(["{{ a }}", "{{ varargs }}", "{{ kwargs }}", "{{ b }}", "{{ caller() }}", "x"])
            if r.random() < 0.2:
                return (self.tag(f"macro m({args})") + w() + mbody + body() + self.tag("endmacro")
                        + self.tag(f"call {call}") + body() + self.tag("endcall"))
            return self.tag(f"macro m({args})") + w() + mbody + body() + self.tag("endmacro") + w() + "{{ " + call + " }}"
        f = r.choice(["upper", "trim", "lower", "title", "indent(2)", "replace('o', '0')", "center(30)", "length",
                      "list", "reverse", "wordcount"])
        return self.tag(f"filter {f}") + body() + self.tag("endfilter") + w()

    def grammar(self):
        return "".join(self.stmt() for _ in range(self.r.randint(1, 2)))

    # -- mutation of the snippets
    TOK = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|\d+(?:\.\d+)?(?:e-?\d+)?|\w+|\{\{[-+]?|[-+]?\}\}"
                     r"|\{%[-+]?|[-+]?%\}|\{#|#\}|//|\*\*|[=!<>]=|\s+|.", re.S)

    def mutate(self):
        r = self.r
        t = r.choice(self.snips)
        for _ in range(r.randint(1, 3)):
            toks = self.TOK.findall(t)
            if not toks:
                break
            i = r.randrange(len(toks))
            tk = toks[i]
            k = r.random()
            if k < 0.12 and self.pieces:
                toks.insert(i, r.choice(self.pieces))
            elif re.fullmatch(r"\d+(?:\.\d+)?(?:e-?\d+)?", tk):
                toks[i] = r.choice(INTS + FLOATS)
            elif tk[:1] in "'\"":
                toks[i] = r.choice(STRS)
            elif re.fullmatch(r"[A-Za-z_]\w*", tk):
                pool = r.choice([list(FILTERS), TESTS, VARS, ATTRS, ["true", "false", "none", "not", "and", "or"],
                                 [m.split("(")[0] for m in METHODS["str"]]])
                toks[i] = r.choice(pool).split(" ")[0].strip()
            elif tk in BINOPS or tk in ("*", "/", "%", "~", "+", "-", "<", ">"):
                toks[i] = r.choice(BINOPS)
            elif tk.startswith(("{{", "{%")) or tk.endswith(("}}", "%}")):
                core = tk.strip("-+")
                m = r.choice(["", "-", "+"])
                toks[i] = core + m if core.startswith("{") else m + core
            elif tk.isspace():
                toks[i] = r.choice(["", " ", "\n", "  \n ", "\t"])
            elif k < 0.5:
                del toks[i]
            else:
                toks.insert(i, tk)
            t = "".join(toks)
        return t

    def case(self):
        t = self.mutate() if self.r.random() < 0.5 else self.grammar()
        # keep Python from big-integer work and huge allocations the engine's limits would stop
        if re.search(r"\d{5,}", t) and ("*" in t or "**" in t):
            t = re.sub(r"\d{5,}", "7", t)
        return t


# ---------------------------------------------------------------- shrinking

def shrink(oracle, template, ctx, key):
    toks = Gen.TOK.findall(template)
    n = max(1, len(toks) // 2)
    while n >= 1:
        cands = []
        for i in range(0, len(toks) - n + 1):
            cands.append(toks[:i] + toks[i + n:])
        if not cands:
            n //= 2
            continue
        texts = ["".join(c) for c in cands]
        orcs = [oracle_render(oracle, t, ctx) for t in texts]
        nts = newt_render([{"template": t, "context": ctx} for t in texts])
        best = None
        for c, o, nt in zip(cands, orcs, nts):
            if classify(o, nt) == key and (best is None or len(c) < len(best)):
                best = c
        if best is not None:
            toks = best
            n = min(n, max(1, len(toks) // 2))
        else:
            n //= 2
    return "".join(toks)


def features(t):
    f = set(re.findall(r"\|\s*(\w+)", t)) | {"is " + x for x in re.findall(r"\bis\s+(?:not\s+)?(\w+)", t)}
    f |= {"." + x for x in re.findall(r"\.(\w+)\(", t)} | {"%" + x for x in re.findall(r"\{%[-+]?\s*(\w+)", t)}
    return " ".join(sorted(f))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--batch", type=int, default=400)
    ap.add_argument("--shrink", type=int, default=40, help="most buckets to shrink")
    ap.add_argument("--save")
    ap.add_argument("--replay")
    a = ap.parse_args()
    if not os.path.exists(RENDER_PY):
        sys.exit(f"{RENDER_PY} not found (the oracle lives in ../shared)")
    build_driver()
    oracle = load_oracle()
    resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
    sys.setrecursionlimit(3000)
    warnings.filterwarnings("ignore")

    def on_alarm(*_):
        raise Timeout()
    signal.signal(signal.SIGALRM, on_alarm)

    with open(os.path.join(ROOT, "tests", "templates", "snippets.json"), encoding="utf-8") as fh:
        snippets = json.load(fh)
    ctx = snippets[0]["context"]
    gen = Gen(random.Random(a.seed), snippets)
    buckets = {}  # (bucket, signature) -> list of cases
    total, t0 = 0, time.time()
    replay = None
    if a.replay:
        with open(a.replay, encoding="utf-8") as fh:
            replay = json.load(fh)
    while True:
        if replay is not None:
            cases, replay = replay, []
            if not cases:
                break
        else:
            if time.time() - t0 > a.seconds:
                break
            cases = [{"template": gen.case(), "context": ctx} for _ in range(a.batch)]
        orcs = [oracle_render(oracle, c["template"], c["context"]) for c in cases]
        nts = newt_render(cases)
        for c, o, nt in zip(cases, orcs, nts):
            key = classify(o, nt)
            if key:
                sig = key[1] if key[0] != "a" else features(c["template"])
                buckets.setdefault((key[0], sig), []).append((c, o, nt, key))
        total += len(cases)
    print(f"{total} cases in {time.time() - t0:.0f} s; {sum(len(v) for v in buckets.values())} mismatches")
    order = sorted(buckets, key=lambda k: ({"crash": 0, "a": 1, "b": 2, "c": 3, "a-repr": 4}[k[0]], -len(buckets[k])))
    saved = []
    counts = {}
    for i, bk in enumerate(order):
        items = buckets[bk]
        counts[bk[0]] = counts.get(bk[0], 0) + len(items)
        c, o, nt, key = min(items, key=lambda x: len(x[0]["template"]))
        t = c["template"]
        if i < a.shrink and replay is None:
            t = shrink(oracle, t, c["context"], key)
            o = oracle_render(oracle, t, c["context"])
            nt = newt_render([{"template": t, "context": c["context"]}])[0]
        saved.append({"bucket": bk[0], "signature": bk[1], "count": len(items), "template": t, "context": c["context"]})
        print(f"[{bk[0]}] x{len(items)} {bk[1]}\n    {t!r}\n    jinja rc={o[0]}: {o[1][:200]!r}\n"
              f"    newt  st={nt[0]}: {nt[1][:200].decode('utf-8', 'replace')!r}")
    print("per bucket:", counts)
    if a.save:
        with open(a.save, "w", encoding="utf-8") as fh:
            json.dump(saved, fh, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
