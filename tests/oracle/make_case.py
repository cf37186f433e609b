#!/usr/bin/python3
"""Helpers for tests/oracle/gen_cases.sh (run with Debian's /usr/bin/python3).

  make_case.py packed RUN_REF.py [run_ref args...]
      Runs run_ref.py's main() with position_ids taken from --inputs-json and passed to the model.
      run_ref.py's shim create_causal_mask ignores position_ids; transformers' masking_utils
      (create_causal_mask -> _preprocess_mask_arguments -> find_packed_sequence_indices) derives a
      packed-sequence mask from them when attention_mask is None and there is no cache: tokens
      attend only within their own sample (a new sample starts wherever position_ids does not
      increase by exactly 1). The wrapper adds exactly that rule to the shim (same formula), so
      the reference is what real transformers computes for packed position_ids. position_ids
      is added to the ref file.

  make_case.py store bf16|fp8 IN.safetensors STORED.safetensors DEQUANT.safetensors
      Converts float32 HF weights to the stored dtype (BF16: round to nearest even; FP8: every
      FP8-capable weight as F8_E4M3 with a float32 weight_scale_inv = amax / 448, per expert
      [E,1,1] for the fused expert tensors, plus activation_scale tensors as the release has)
      and writes the float32 weights the checkpoint decodes to (bf16 -> f32 exactly; fp8 ->
      f32(fp8) * scale, one float32 rounding), which the reference is run on.
"""
import json
import struct
import sys

import numpy as np


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    return header, data, meta


def write_st(path, entries, metadata):
    """entries: list of (name, dtype string, shape, bytes)."""
    header, off = {"__metadata__": metadata}, 0
    for name, dt, shape, b in entries:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for e in entries:
            f.write(e[3])


def load_f32(path):
    header, data, _ = read_st(path)
    out = {}
    for k, v in header.items():
        assert v["dtype"] == "F32", k
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype="<f4").reshape(v["shape"]).copy()
    return out


# ---- FP8 E4M3 (fn: no infinities, S.1111.111 is NaN, max 448) ----
def e4m3_table():
    vals = np.zeros(256, dtype=np.float64)
    for c in range(256):
        s, e, m = c >> 7, (c >> 3) & 15, c & 7
        v = (m / 8.0) * 2.0 ** -6 if e == 0 else (1 + m / 8.0) * 2.0 ** (e - 7)
        vals[c] = -v if s else v
    vals[0x7F] = vals[0xFF] = np.nan
    return vals


E4M3 = e4m3_table()
POS_CODES = np.arange(0, 0x7F)          # 0 .. 448, increasing values
POS_VALS = E4M3[POS_CODES]


def to_e4m3(x):
    """Round float64 values (|x| <= 448) to the nearest E4M3 code, ties to the even code."""
    a = np.abs(x)
    hi = np.clip(np.searchsorted(POS_VALS, a, side="left"), 1, len(POS_VALS) - 1)
    lo = hi - 1
    dlo, dhi = a - POS_VALS[lo], POS_VALS[hi] - a
    pick = np.where(dlo < dhi, lo, np.where(dhi < dlo, hi, np.where(lo % 2 == 0, lo, hi)))
    code = POS_CODES[pick].astype(np.uint8)
    return np.where(x < 0, code | 0x80, code).astype(np.uint8)


def fp8_capable(name):
    """Weights the FP8 release stores as F8_E4M3: text-model linear layers and fused experts;
    not embeddings, lm_head, norms or the router (model/m4_names.c has the same rule)."""
    if name.endswith("mlp.experts.gate_up_proj") or name.endswith("mlp.experts.down_proj"):
        return True
    return name.endswith("_proj.weight") or name.endswith("_proj_with_mqa.weight")


def quantize_fp8(w):
    """Per-tensor (2-D) or per-expert (3-D) scale = amax / 448 in float32."""
    w64 = w.astype(np.float64)
    if w.ndim == 3:
        amax = np.abs(w).reshape(w.shape[0], -1).max(axis=1)
        scale = (amax.astype(np.float32) / np.float32(448.0)).reshape(-1, 1, 1)
    else:
        scale = np.array(np.abs(w).max(), dtype=np.float32) / np.float32(448.0)
    codes = to_e4m3(w64 / scale.astype(np.float64))
    deq = (E4M3[codes].astype(np.float32) * scale).astype(np.float32)  # one f32 rounding
    return codes, scale.astype(np.float32), deq


def store(mode, src, stored_path, deq_path):
    ws = load_f32(src)
    stored, deq = [], []
    for name in sorted(ws):
        w = ws[name]
        if mode == "bf16":
            bits = w.view(np.uint32).astype(np.uint64)
            r = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # RNE, finite inputs
            stored.append((name, "BF16", w.shape, r.astype("<u2").tobytes()))
            deq.append((name, "F32", w.shape,
                        (r.astype(np.uint32) << 16).view(np.float32).astype("<f4").tobytes()))
        elif fp8_capable(name):
            codes, scale, d = quantize_fp8(w)
            stored.append((name, "F8_E4M3", w.shape, codes.tobytes()))
            deq.append((name, "F32", w.shape, d.astype("<f4").tobytes()))
            if w.ndim == 3:
                E = w.shape[0]
                stored.append((name + "_scale_inv", "F32", [E, 1, 1], scale.astype("<f4").tobytes()))
                stored.append((name + "_activation_scale", "F32", [E], np.ones(E, "<f4").tobytes()))
            else:
                base = name[: -len(".weight")]
                stored.append((base + ".weight_scale_inv", "F32", [], scale.astype("<f4").tobytes()))
                stored.append((base + ".activation_scale", "F32", [], np.ones(1, "<f4").tobytes()))
        else:
            stored.append((name, "F32", w.shape, w.astype("<f4").tobytes()))
            deq.append((name, "F32", w.shape, w.astype("<f4").tobytes()))
    write_st(stored_path, stored, {"format": "pt"})
    write_st(deq_path, deq, {"format": "pt"})


def packed(run_ref_path, argv):
    import importlib.util
    import torch
    spec = importlib.util.spec_from_file_location("run_ref", run_ref_path)
    rr = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rr)
    inputs = argv[argv.index("--inputs-json") + 1]
    out_dir = argv[argv.index("--out") + 1]
    pos = torch.tensor(json.load(open(inputs))["position_ids"], dtype=torch.int64)
    original = rr.install_shims_and_load

    def install(sources):
        cfg_cls, lm_cls, extra = original(sources)
        glb = sys.modules[lm_cls.__module__].__dict__  # the modeling module's namespace
        shim_mask = glb["create_causal_mask"]

        def create_causal_mask(config, inputs_embeds, attention_mask, past_key_values=None,
                               position_ids=None, **kw):
            m = shim_mask(config, inputs_embeds, attention_mask, past_key_values, position_ids, **kw)
            if position_ids is None or attention_mask is not None or past_key_values is not None:
                return m
            p = position_ids.expand(inputs_embeds.shape[0], -1)
            diff = torch.diff(p, prepend=p[:, :1] - 1, dim=-1)
            seq = (diff != 1).cumsum(-1)
            same = seq[:, None, :, None] == seq[:, None, None, :]
            return m.masked_fill(~same, torch.finfo(m.dtype).min)

        glb["create_causal_mask"] = create_causal_mask
        fwd = lm_cls.forward

        def forward(self, *a, **k):
            k.setdefault("position_ids", pos)
            return fwd(self, *a, **k)

        lm_cls.forward = forward
        return cfg_cls, lm_cls, extra

    rr.install_shims_and_load = install
    sys.argv = [run_ref_path] + argv
    rr.main()
    import glob
    for path in glob.glob(out_dir + "/ref_float*.safetensors"):
        header, data, meta = read_st(path)
        entries = [(k, v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
                   for k, v in sorted(header.items())]
        entries.append(("position_ids", "I64", list(pos.shape), pos.numpy().astype("<i8").tobytes()))
        write_st(path, entries, meta)


def check_packed(packed_ref, alone_ref, begin, end):
    """Logits of tokens [begin, end) of row 0 of the packed run == the sample run alone."""
    def logits(path):
        header, data, _ = read_st(path)
        v = header["logits"]
        a, b = v["data_offsets"]
        return np.frombuffer(data[a:b], dtype="<f8").reshape(v["shape"])
    p, s = logits(packed_ref)[0, begin:end], logits(alone_ref)[0]
    diff = float(np.abs(p - s).max())
    print(f"packed isolation check: max |logits diff| = {diff:.3e}")
    if diff > 1e-12:
        sys.exit("packed case: attention leaks across samples")


if __name__ == "__main__":
    if sys.argv[1] == "store":
        store(*sys.argv[2:6])
    elif sys.argv[1] == "check_packed":
        check_packed(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif sys.argv[1] == "packed":
        packed(sys.argv[2], sys.argv[3:])
    else:
        sys.exit("usage: make_case.py store|packed ...")
