"""Independent reader of TensorBoard event files for test_metrics: TFRecord framing with
masked CRC-32C (checked), then a generic protobuf wire-format walk of each Event.

usage: tfevents_ref.py FILE
Prints one line per record: "version <file_version>" or "scalar <step> <tag> <float.hex>";
exits 1 with a message on any framing or CRC error."""
import struct
import sys


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, i):
    shift = v = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, i


def fields(buf):
    """(field number, wire type, value) for each field of a message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 1:
            v, i = buf[i:i + 8], i + 8
        elif wt == 2:
            n, i = varint(buf, i)
            v, i = buf[i:i + n], i + n
        elif wt == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            sys.exit("bad wire type %d" % wt)
        yield num, wt, v


data = open(sys.argv[1], "rb").read()
pos = 0
assert crc32c(b"123456789") == 0xE3069283
while pos < len(data):
    head = data[pos:pos + 8]
    (n,) = struct.unpack("<Q", head)
    (hc,) = struct.unpack("<I", data[pos + 8:pos + 12])
    if hc != masked(head):
        sys.exit("bad length crc at %d" % pos)
    payload = data[pos + 12:pos + 12 + n]
    (pc,) = struct.unpack("<I", data[pos + 12 + n:pos + 16 + n])
    if len(payload) != n or pc != masked(payload):
        sys.exit("bad payload crc at %d" % pos)
    pos += 16 + n
    step, version, scalars = 0, None, []
    for num, wt, v in fields(payload):
        if num == 1 and wt == 1:
            struct.unpack("<d", v)
        elif num == 2 and wt == 0:
            step = v
        elif num == 3 and wt == 2:
            version = v.decode()
        elif num == 5 and wt == 2:
            for sn, swt, sv in fields(v):
                tag, val = None, None
                for vn, vwt, vv in fields(sv):
                    if vn == 1:
                        tag = vv.decode()
                    elif vn == 2 and vwt == 5:
                        val = struct.unpack("<f", vv)[0]
                scalars.append((tag, val))
    if version is not None:
        print("version", version)
    for tag, val in scalars:
        print("scalar", step, tag, float(val).hex())
