"""Independent references for src/data: the seeded shuffle and the prepared-cache file format,
written from docs/datasets.md (not from the C code).

  ds_ref.py shuffle SEED STREAM N   -> the permutation of 0..N-1, one line, space-separated
  ds_ref.py cache PATH              -> "ok n_train ntok_train n_val ntok_val" and, per split,
                                       the token ids and labels of each sample, or "bad WHY"
"""
import hashlib
import struct
import sys

M64 = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed, stream):
        self.s = (seed ^ (stream * 0xD1B54A32D192ED03)) & M64

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def below(self, n):
        threshold = (1 << 64) % n
        while True:
            x = self.next()
            if x >= threshold:
                return x % n


def shuffle(seed, stream, n):
    r, a = SplitMix64(seed, stream), list(range(n))
    for i in range(n - 1, 0, -1):
        j = r.below(i + 1)
        a[i], a[j] = a[j], a[i]
    return a


def align(x):
    return (x + 63) // 64 * 64


def cache(path):
    data = open(path, "rb").read()
    if len(data) < 128 or data[:8] != b"NEWTPREP":
        return "bad header"
    version, hsize = struct.unpack_from("<II", data, 8)
    counts = struct.unpack_from("<4Q", data, 48)
    fsize = struct.unpack_from("<Q", data, 80)[0]
    if version != 1 or hsize != 128 or fsize != len(data):
        return "bad sizes"
    if hashlib.blake2b(data[:96] + data[128:], digest_size=32).digest() != data[96:128]:
        return "bad checksum"
    out, at = ["ok %d %d %d %d" % counts], 128
    for split in range(2):
        n, ntok = counts[2 * split], counts[2 * split + 1]
        cols = []
        for count, fmt, size in ((ntok, "i", 4), (ntok, "i", 4), (n, "Q", 8), (n, "I", 4),
                                 (n, "I", 4), (n, "Q", 8)):
            cols.append(struct.unpack_from("<%d%s" % (count, fmt), data, at))
            at = align(at + count * size)
        ids, labels, start, length, dataset, row = cols
        for i in range(n):
            s, e = start[i], start[i] + length[i]
            out.append("%d %d %d | %s | %s" % (split, dataset[i], row[i],
                                              " ".join(map(str, ids[s:e])),
                                              " ".join(map(str, labels[s:e]))))
    if at != len(data):
        return "bad layout"
    return "\n".join(out)


if __name__ == "__main__":
    if sys.argv[1] == "shuffle":
        print(" ".join(map(str, shuffle(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))))
    else:
        print(cache(sys.argv[2]))
