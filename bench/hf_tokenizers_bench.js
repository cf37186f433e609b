#!/usr/bin/env node
// HF tokenizers (Rust, napi binding @anush008/tokenizers from .deps/npm) encode throughput on a
// JSONL corpus, for bench/tokenizer_bench.c. The Rust thread pool size comes from
// RAYON_NUM_THREADS, set by the caller before this process starts.
//   node bench/hf_tokenizers_bench.js TOKENIZER_JSON CORPUS_JSONL seq|batch REPEATS
// seq: one encode() per document, awaited in turn (single-threaded encoding);
// batch: encodeBatch over all documents (uses the rayon pool).
// Prints {"mode", "seconds" (best of REPEATS), "tokens", "bytes"}.
const fs = require("fs");
const path = require("path");
const { Tokenizer } = require(path.join(__dirname, "..", ".deps", "npm", "node_modules", "@anush008", "tokenizers"));

async function main() {
  const [tokPath, corpus, mode, reps] = process.argv.slice(2);
  const tok = Tokenizer.fromFile(tokPath);
  const docs = fs.readFileSync(corpus, "utf-8").split("\n").filter((l) => l.length).map((l) => JSON.parse(l).text);
  const bytes = docs.reduce((a, d) => a + Buffer.byteLength(d, "utf-8"), 0);
  const opts = { addSpecialTokens: false };
  await tok.encode(docs[0], null, opts); // warm-up
  let best = Infinity, tokens = 0;
  for (let r = 0; r < Number(reps || 3); r++) {
    const t0 = process.hrtime.bigint();
    tokens = 0;
    if (mode === "batch") {
      const encs = await tok.encodeBatch(docs, opts);
      for (const e of encs) tokens += e.getLength();
    } else {
      for (const d of docs) tokens += (await tok.encode(d, null, opts)).getLength();
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (s < best) best = s;
  }
  console.log(JSON.stringify({ mode, seconds: best, tokens, bytes }));
}
main().catch((e) => { console.error(e); process.exit(1); });
