#!/usr/bin/env node
// Parity oracle for newt's tokenizer: encodes every {"text": ...} line of a JSONL file with
// Hugging Face `tokenizers` (Rust, napi binding @anush008/tokenizers, installed by
// scripts/npm-deps.sh into .deps/npm) and prints one {"ids", "offsets", "decoded"} line each.
// Offsets are converted from HF's character offsets to UTF-8 byte offsets (newt's unit).
//
//   node tests/tokenizer/hf_oracle.js TOKENIZER_JSON CORPUS_JSONL [--plain]
//
// --plain: the same tokenizer without its added tokens and the vocabulary ids they occupy,
// i.e. plain-text encoding as mistral-common does (special tokens are never parsed).
const fs = require("fs");
const path = require("path");

const deps = path.join(__dirname, "..", "..", ".deps", "npm", "node_modules");
const { Tokenizer } = require(path.join(deps, "@anush008", "tokenizers"));

function byteOffsets(text) {
  // pos[i] = UTF-8 byte offset of code point i
  const pos = [0];
  let b = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    b += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    pos.push(b);
  }
  return pos;
}

async function main() {
  const [tokPath, corpus, flag] = process.argv.slice(2);
  let tok;
  if (flag === "--plain") {
    const j = JSON.parse(fs.readFileSync(tokPath, "utf-8"));
    const addedIds = new Set(j.added_tokens.map((t) => t.id));
    for (const [k, v] of Object.entries(j.model.vocab)) if (addedIds.has(v)) delete j.model.vocab[k];
    j.added_tokens = [];
    tok = Tokenizer.fromString(JSON.stringify(j));
  } else {
    tok = Tokenizer.fromFile(tokPath);
  }
  const texts = fs.readFileSync(corpus, "utf-8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l).text);
  const out = [];
  const B = 1000;
  for (let i = 0; i < texts.length; i += B) {
    const chunk = texts.slice(i, i + B);
    const encs = await tok.encodeBatch(chunk, { addSpecialTokens: false });
    const ids = encs.map((e) => Array.from(e.getIds()));
    const decoded = await tok.decodeBatch(ids, false);
    // the first half of the ids may end inside a character: HF's lossy UTF-8 decoding
    const halves = await tok.decodeBatch(ids.map((x) => x.slice(0, x.length >> 1)), false);
    encs.forEach((enc, k) => {
      const pos = byteOffsets(chunk[k]);
      const offsets = enc.getOffsets().map(([s, e]) => [pos[s], pos[e]]);
      out.push(JSON.stringify({ ids: ids[k], offsets, decoded: decoded[k], decoded_half: halves[k] }));
    });
  }
  process.stdout.write(out.join("\n") + "\n");
}

main().catch((e) => { console.error(e); process.exit(1); });
