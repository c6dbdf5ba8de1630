"""Helpers shared by the example training scripts and the fixture generator.

Canonical JSON (RFC 8785 / JCS) so a spec hash computed here can be recomputed
byte-for-byte in Node, and byte-stable writers (gzip without timestamp) so
re-running a script leaves `git status` clean.
"""

import gzip
import hashlib
import io
import json
import math
from decimal import Decimal
from pathlib import Path


def _es_number(x):
    """Format a number the way ECMAScript's Number::toString does (JCS section 3.2.2.3)."""
    if isinstance(x, bool):
        raise TypeError("bool is not a number")
    if isinstance(x, int):
        if abs(x) > 2**53:
            raise ValueError(f"integer {x} is not exactly representable in JSON/JS")
        return str(x)
    if math.isnan(x) or math.isinf(x):
        raise ValueError("NaN/Infinity are not valid JSON")
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    # repr() gives the shortest digit string that round-trips, as ECMAScript requires.
    _, digit_tuple, exponent = Decimal(repr(abs(x))).as_tuple()
    digits = "".join(map(str, digit_tuple))
    n = len(digits) + exponent  # value = 0.<digits> * 10**n
    stripped = digits.lstrip("0")
    n -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        out = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + out


def canonical_json(value):
    """RFC 8785 canonical JSON: sorted keys, no whitespace, ECMAScript number format."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return _es_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if isinstance(value, dict):
        # JCS sorts by UTF-16 code units; identical to code-point order for BMP keys.
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + canonical_json(v) for k, v in items) + "}"
    raise TypeError(f"cannot canonicalise {type(value).__name__}")


SPEC_HASH_RULE = (
    "sha256, lowercase hex, of the UTF-8 bytes of the RFC 8785 (JCS) canonical JSON of this "
    "whole object with the 'hash' field removed (every other field, including this one, is hashed)"
)


def with_spec_hash(spec):
    """Return a copy of `spec` with `hashAlgorithm` and `hash` filled in."""
    spec = dict(spec)
    spec.pop("hash", None)
    spec["hashAlgorithm"] = SPEC_HASH_RULE
    digest = hashlib.sha256(canonical_json(spec).encode("utf-8")).hexdigest()
    spec["hash"] = digest
    return spec


def _pretty(value, indent=""):
    # Like json.dumps(indent=2), but lists of scalars stay on one line (tensors, categories).
    inner = indent + "  "
    if isinstance(value, dict) and value:
        body = ",\n".join(f"{inner}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, inner)}" for k, v in value.items())
        return "{\n" + body + "\n" + indent + "}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + _pretty(v, inner) for v in value) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def write_json(path, value):
    Path(path).write_text(_pretty(value) + "\n", encoding="utf-8")


def write_bytes(path, data, compress=False):
    """Write bytes; with compress=True a gzip stream with no name or mtime (byte-stable)."""
    if compress:
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
            gz.write(data)
        data = buf.getvalue()
    Path(path).write_bytes(data)


def f32_json(values):
    """float32 values as the shortest decimals that parse back to the same float32."""
    import numpy as np

    return [float(repr(np.float32(v))) for v in np.asarray(values, dtype=np.float32).ravel()]


def sha256_file(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
