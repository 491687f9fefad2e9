#!/usr/bin/env python3
"""Writes a scsynth non-real-time score (binary OSC) that plays one oscillator UGen for a
few seconds: `sc_score.py UGEN FREQ [WIDTH] > score.osc`, then
`scsynth -N score.osc _ out.wav 48000 WAV float`. UGEN is Saw, Pulse (with WIDTH), LFTri
or SinOsc; the output is UGEN.ar(FREQ[, WIDTH]) * 0.5 on both channels. The SynthDef is
built here in its binary form (version 2), so no sclang is needed."""
import struct
import sys

SECONDS = 2.4


def pstr(s):
    b = s.encode()
    return struct.pack(">B", len(b)) + b


def synthdef(ugen, freq, width):
    consts = [freq, 0.5, 0.0, width]
    k = {v: i for i, v in reversed(list(enumerate(consts)))}
    const = lambda v: struct.pack(">ii", -1, k[v])
    out = lambda u: struct.pack(">ii", u, 0)
    inputs = {
        "Saw": [freq],
        "Pulse": [freq, width],
        "LFTri": [freq, 0.0],
        "SinOsc": [freq, 0.0],
    }[ugen]
    ugens = [
        pstr(ugen) + struct.pack(">biih", 2, len(inputs), 1, 0)
        + b"".join(const(v) for v in inputs) + struct.pack(">b", 2),
        pstr("BinaryOpUGen") + struct.pack(">biih", 2, 2, 1, 2)
        + out(0) + const(0.5) + struct.pack(">b", 2),
        pstr("Out") + struct.pack(">biih", 2, 3, 0, 0) + const(0.0) + out(1) + out(1),
    ]
    body = pstr("quality") + struct.pack(">i", len(consts))
    body += b"".join(struct.pack(">f", c) for c in consts)
    body += struct.pack(">iii", 0, 0, len(ugens)) + b"".join(ugens) + struct.pack(">h", 0)
    return b"SCgf" + struct.pack(">ih", 2, 1) + body


def pad(b):
    return b + b"\0" * (4 - len(b) % 4)


def message(address, *args):
    tags, data = ",", b""
    for a in args:
        if isinstance(a, bytes):
            tags += "b"
            data += struct.pack(">i", len(a)) + a + b"\0" * (-len(a) % 4)
        elif isinstance(a, str):
            tags += "s"
            data += pad(a.encode())
        else:
            tags += "i"
            data += struct.pack(">i", a)
    return pad(address.encode()) + pad(tags.encode()) + data


def bundle(seconds, *messages):
    tag = struct.pack(">II", int(seconds), int((seconds % 1) * 2**32))
    b = b"#bundle\0" + tag + b"".join(struct.pack(">i", len(m)) + m for m in messages)
    return struct.pack(">i", len(b)) + b


def main():
    ugen, freq = sys.argv[1], float(sys.argv[2])
    width = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5
    score = bundle(0.0, message("/d_recv", synthdef(ugen, freq, width)))
    score += bundle(0.0, message("/s_new", "quality", 1000, 0, 0))
    score += bundle(SECONDS, message("/n_free", 1000))
    sys.stdout.buffer.write(score)


main()
