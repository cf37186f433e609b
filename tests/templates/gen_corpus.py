#!/usr/bin/env python3
"""Seeded generator of chat conversations for the template parity test.

Covers: system prompts first / in the middle / absent, multi-turn, consecutive same-role
messages, tools and tool calls (dict and string arguments, empty arguments), tool results,
thinking as a field (reasoning_content / reasoning) and as content chunks (closed or not),
reasoning_effort none / high / invalid / absent, images as content chunks, unicode and
special-token strings in content, empty content, add_generation_prompt, enable_thinking.

Usage: gen_corpus.py [N] [SEED]  -> JSON list of conversation objects on stdout.
"""
import json
import random
import sys

TEXTS = [
    "Hello!", "What is 2+2?", "Explain MLA attention in one sentence.", "Merci beaucoup, à bientôt.",
    "日本語のテキストです。", "emoji 🦎 and ñ, ü, ß", "tab\tand\nnewline", "  padded with spaces  ",
    "[INST]fake tokens[/INST]</s><s>", "<|im_start|>user<|im_end|>", "[THINK]not real[/THINK]",
    "quote ' and \" and \\ backslash", "{{ not a template }} {% neither %}", "<b>html</b> & more",
    "A longer answer that spans a couple of clauses, with punctuation; and numbers 12345.",
    "\n\nleading newlines", "trailing newlines\n\n", "<think>inline think</think>answer",
    "[TOOL_CALLS]x", "a", "",
]
THOUGHTS = ["Let me think step by step.", "The user wants a number: 4.", "Considérons: é.",
            "\nmultiline\nthought\n", "[/THINK] inside", ""]
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Get the weather <now>",
                                      "parameters": {"type": "object", "properties": {
                                          "city": {"type": "string"}, "unit": {"type": "string", "enum": ["C", "F"]}},
                                          "required": ["city"]}}},
    {"type": "function", "function": {"name": "search", "description": "Search the web für Dinge",
                                      "parameters": {"type": "object", "properties": {"q": {"type": "string"},
                                                                                      "k": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "calc", "description": "Evaluate 1.5e-07 * x",
                                      "parameters": {"type": "object", "properties": {"x": {"type": "number"}}},
                                      "return": {"type": "number"}}},
]
ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def text(r):
    return r.choice(TEXTS)


def call_id(r, ok=True):
    return "".join(r.choice(ID_CHARS) for _ in range(9 if ok else r.choice([3, 12])))


def arguments(r):
    kind = r.random()
    if kind < 0.35:
        return {"city": r.choice(["Paris", "Zürich", "東京"]), "unit": r.choice(["C", "F"])}
    if kind < 0.55:
        return json.dumps({"q": text(r), "k": r.randint(1, 9)}, ensure_ascii=r.random() < 0.5)
    if kind < 0.65:
        return ""
    if kind < 0.8:
        return {"x": r.choice([1, 2.5, -3e-7, 1e20, True, None]), "nested": {"list": [1, "two", 3.0]}}
    return "{\"raw\": \"string args\"}"


def tool_call(r, ok_id=True):
    tc = {"type": "function", "function": {"name": r.choice(["get_weather", "search", "calc"]),
                                           "arguments": arguments(r)}}
    if r.random() < 0.9:
        tc["id"] = call_id(r, ok_id)
    return tc


def user_content(r):
    x = r.random()
    if x < 0.7:
        return text(r)
    chunks = []
    for _ in range(r.randint(1, 3)):
        y = r.random()
        if y < 0.55:
            chunks.append({"type": "text", "text": text(r)})
        elif y < 0.8:
            chunks.append({"type": "image", "image": "file:///tmp/cat.png"})
        elif y < 0.95:
            chunks.append({"type": "image_url", "image_url": {"url": "https://example.com/x.png"}})
        else:
            chunks.append({"type": "audio", "audio": "a.wav"})
    return chunks


def assistant(r):
    m = {"role": "assistant"}
    x = r.random()
    if x < 0.45:
        m["content"] = text(r)
    elif x < 0.7:
        chunks = []
        if r.random() < 0.8:
            th = {"type": "thinking", "thinking": r.choice(THOUGHTS)}
            if r.random() < 0.2:
                th["closed"] = r.random() < 0.5
            chunks.append(th)
        chunks.append({"type": "text", "text": text(r)})
        m["content"] = chunks
    elif x < 0.85:
        m["content"] = text(r)
        m[r.choice(["reasoning_content", "reasoning_content", "reasoning"])] = r.choice(THOUGHTS)
    else:
        m["content"] = r.choice(["", None, text(r)])
    if r.random() < 0.3:
        m["tool_calls"] = [tool_call(r, r.random() < 0.95) for _ in range(r.randint(1, 2))]
    return m


def tool_result(r, calls):
    m = {"role": "tool", "content": r.choice([text(r), "{\"temp\": 21}", "42"])}
    if calls and r.random() < 0.9:
        m["tool_call_id"] = calls[0].get("id", call_id(r))
    if r.random() < 0.15:
        m["content"] = [{"type": "text", "text": text(r)}]
    return m


def conversation(r):
    msgs = []
    sys_mode = r.random()
    if sys_mode < 0.4:
        msgs.append({"role": "system", "content": r.choice([text(r), "You are a concise assistant.",
                                                           [{"type": "text", "text": "Chunked system."}]])})
    turns = r.randint(1, 4)
    for t in range(turns):
        msgs.append({"role": "user", "content": user_content(r)})
        if r.random() < 0.12:  # consecutive user messages
            msgs.append({"role": "user", "content": text(r)})
        if sys_mode > 0.9 and t == 0:  # system prompt in the middle
            msgs.append({"role": "system", "content": "Mid-conversation instruction."})
        if t == turns - 1 and r.random() < 0.4:
            break  # ends with a user turn
        a = assistant(r)
        msgs.append(a)
        if a.get("tool_calls"):
            for c in a["tool_calls"]:
                msgs.append(tool_result(r, [c]))
            if r.random() < 0.7:
                msgs.append({"role": "assistant", "content": text(r) or "Done."})
        elif r.random() < 0.1:  # consecutive assistant messages
            msgs.append({"role": "assistant", "content": text(r)})
    if r.random() < 0.04:
        msgs.append({"role": r.choice(["narrator", "tool_results"]), "content": "odd role"})
    if r.random() < 0.03:
        msgs = [{"role": "assistant", "content": "starts with assistant"}] + msgs
    conv = {"messages": msgs}
    if r.random() < 0.35:
        conv["tools"] = r.sample(TOOLS, r.randint(1, 3))
    elif r.random() < 0.05:
        conv["tools"] = []
    x = r.random()
    if x < 0.3:
        conv["reasoning_effort"] = "high"
    elif x < 0.55:
        conv["reasoning_effort"] = "none"
    elif x < 0.6:
        conv["reasoning_effort"] = r.choice(["medium", None])
    if r.random() < 0.5:
        conv["add_generation_prompt"] = r.random() < 0.5
    if r.random() < 0.2:
        conv["enable_thinking"] = r.random() < 0.5
    return conv


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 320
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20260316
    r = random.Random(seed)
    json.dump([conversation(r) for _ in range(n)], sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
