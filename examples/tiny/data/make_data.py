#!/usr/bin/env python3
"""Writes chat.jsonl: 200 small conversations with [THINK] reasoning for the tiny demo model.
Every answer is a fixed function of the question (sums, differences, reversed words, letter
counts), so a model that learns the task can be checked exactly. Deterministic (seeded).
Run: /usr/bin/python3 examples/tiny/data/make_data.py"""
import json
import os
import random

WORDS = ["apple", "river", "stone", "cloud", "tiger", "lemon", "piano", "orbit", "maple", "quartz",
         "garden", "pencil", "window", "silver", "rocket", "planet", "bridge", "candle", "forest", "marble"]
SYSTEM = "You are a careful assistant. Think step by step, then give only the answer."


def add(r):
    a, b = r.randint(10, 99), r.randint(10, 99)
    ones = a % 10 + b % 10
    carry = ones // 10
    think = (f"{a} + {b}: ones {a % 10} + {b % 10} = {ones}, write {ones % 10} carry {carry}; "
             f"tens {a // 10} + {b // 10} + {carry} = {a // 10 + b // 10 + carry}. So {a + b}.")
    return f"What is {a} + {b}?", think, str(a + b)


def sub(r):
    a, b = r.randint(50, 99), r.randint(10, 49)
    return f"What is {a} - {b}?", f"{a} - {b}: {a} - {b // 10 * 10} = {a - b // 10 * 10}, then - {b % 10} = {a - b}.", str(a - b)


def reverse(r):
    w = r.choice(WORDS)
    return (f"Reverse the word '{w}'.", f"The letters are {', '.join(w)}. Backwards: {', '.join(w[::-1])}.", w[::-1])


def count(r):
    w = r.choice(WORDS)
    c = r.choice(sorted(set(w)))
    pos = [str(i + 1) for i, ch in enumerate(w) if ch == c]
    return (f"How many times does the letter '{c}' appear in '{w}'?",
            f"Spelling {w}: {' '.join(w)}. '{c}' is at position(s) {', '.join(pos)}.", str(len(pos)))


TASKS = [add, sub, reverse, count]


def conversation(r, i):
    msgs = []
    if i % 3 == 0:
        msgs.append({"role": "system", "content": SYSTEM})
    for _ in range(1 if i % 4 else 2):  # every fourth conversation has two exchanges
        q, think, a = r.choice(TASKS)(r)
        msgs.append({"role": "user", "content": q})
        msgs.append({"role": "assistant", "thinking": think, "content": a})
    return {"messages": msgs}


def main():
    r = random.Random(7)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chat.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for i in range(200):
            f.write(json.dumps(conversation(r, i), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
