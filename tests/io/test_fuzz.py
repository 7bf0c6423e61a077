"""Fuzz battery: any pairs file gives finite numbers or one InputError, never another exception.

Random shapes, dtypes (float16/32/64, int, bool, bfloat16 where the format has it) and
corruptions (truncated, flipped or appended bytes, wrong keys, NaN/inf, zero rows, N or d
mismatch, ragged or null parquet rows) of .npy / .npz / .parquet / .safetensors / .pt files,
read by :func:`gaplab.load_pairs` + :func:`gaplab.measure` and by ``gaplab measure``.
Then the metrics' symmetries: a common rotation and a common row order change nothing.

Bounded (200 examples for the file battery, 5 with the slow O(N²) metrics, 50 per symmetry;
derandomized, no example database) so the file runs in well under a minute; raise ``GAPLAB_FUZZ_EXAMPLES`` (and set ``GAPLAB_FUZZ_RANDOM=1``
for fresh random examples) to search longer.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from click.testing import CliRunner  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import gaplab  # noqa: E402
from gaplab import GaplabError, InputError  # noqa: E402
from gaplab.cli import main  # noqa: E402

EXAMPLES = int(os.environ.get("GAPLAB_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=not os.environ.get("GAPLAB_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

try:
    import torch
except ImportError:  # pragma: no cover - the io extra without torch
    torch = None
try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:  # pragma: no cover
    pa = pq = None
try:
    import safetensors.numpy as st_numpy
except ImportError:  # pragma: no cover
    st_numpy = None

FORMATS = [f for f, ok in (("npy", True), ("npz", True), ("parquet", pa is not None),
                           ("safetensors", st_numpy is not None and torch is not None),
                           ("pt", torch is not None)) if ok]
DTYPES = {
    "npy": ["float16", "float32", "float64", "int32", "int64", "bool"],
    "npz": ["float16", "float32", "float64", "int8", "int64", "bool"],
    "parquet": ["float16", "float32", "float64", "int32", "int64", "bool"],
    "safetensors": ["float16", "float32", "float64", "bfloat16", "int32", "bool"],
    "pt": ["float16", "float32", "float64", "bfloat16", "int64", "bool"],
}
CORRUPTIONS = ["none"] * 3 + ["truncate", "flip", "flip", "append", "wrong_keys", "ragged", "null_row"]
UNSAFE = ("allow_pickle", "pickle", "weights_only", "trusted source", "arbitrary code")


@dataclass
class Case:
    fmt: str
    dtype: str
    n: int
    d: int
    n_text: int
    d_text: int
    seed: int
    scale: float
    inject: str  # none | nan | inf | zero_row
    corruption: str
    where: float  # relative position of the corruption in the file (or of the bad row)
    mask: int  # xor mask of flipped bytes
    count: int  # how many bytes to flip / append
    variant: int  # format-specific choice (compressed npz, fixed-size parquet lists, bare tensor)
    pairwise: bool = False
    files: dict = field(default_factory=dict)


@st.composite
def cases(draw, formats=tuple(FORMATS), readable=False):
    """Mostly readable files (so the numbers are exercised too), often damaged in one way.

    ``readable=True``: well-formed float files of at least 3 rows and 2 dimensions (for the
    slow metrics).
    """
    fmt = draw(st.sampled_from(formats))
    if readable:
        n = draw(st.integers(3, 9))
        d = draw(st.integers(2, 5))  # d = 1: see test_one_dimension_gives_numbers_or_an_error
        return Case(fmt=fmt, dtype=draw(st.sampled_from(["float16", "float32", "float64"])), n=n, d=d,
                    n_text=n, d_text=d, seed=draw(st.integers(0, 2**31 - 1)), scale=1.0,
                    inject=draw(st.sampled_from(["none"] * 3 + ["nan"])), corruption="none", where=0.5,
                    mask=1, count=1, variant=draw(st.integers(0, 3)))
    n = draw(st.sampled_from([0, 1, *range(2, 10)] + [4] * 4))
    d = draw(st.sampled_from([0, *range(1, 6)] + [3] * 4))
    same = draw(st.integers(0, 7))  # mostly well-paired; sometimes N or d differ
    return Case(
        fmt=fmt,
        dtype=draw(st.sampled_from(DTYPES[fmt] + ["float32", "float64"] * 2)),
        n=n,
        d=d,
        n_text=n if same else draw(st.integers(0, 9)),
        d_text=d if same != 1 else draw(st.integers(0, 5)),
        seed=draw(st.integers(0, 2**31 - 1)),
        scale=draw(st.sampled_from([1.0] * 4 + [1e-3, 1e3, 1e-30, 1e30])),
        inject=draw(st.sampled_from(["none"] * 5 + ["nan", "inf", "zero_row"])),
        corruption=draw(st.sampled_from(CORRUPTIONS)),
        where=draw(st.floats(0, 1)),
        mask=draw(st.integers(1, 255)),
        count=draw(st.integers(1, 8)),
        variant=draw(st.integers(0, 3)),
    )


# ---- writing a case to disk ------------------------------------------------------------


def _arrays(c: Case):
    rng = np.random.default_rng(c.seed)
    x = rng.normal(size=(c.n, c.d)) * c.scale + c.scale
    y = rng.normal(size=(c.n_text, c.d_text)) * c.scale - c.scale
    if c.inject != "none" and x.size:
        r = int(c.where * (c.n - 1))
        if c.inject == "zero_row":
            x[r] = 0
        else:
            x.flat[int(c.where * (x.size - 1))] = np.nan if c.inject == "nan" else np.inf
    if c.dtype in ("bfloat16", "float16", "float32", "float64"):
        cast = "float32" if c.dtype == "bfloat16" else c.dtype
        with np.errstate(over="ignore", invalid="ignore"):
            return x.astype(cast), y.astype(cast)
    if c.dtype == "bool":
        return x > 0, y > 0
    with np.errstate(invalid="ignore"):  # integers: small counts around ±5 (a zero row is rare)
        def ints(a, sign):
            return (np.nan_to_num(a / c.scale, posinf=0, neginf=0).clip(-1e3, 1e3) * 3 + 5 * sign).round().astype(c.dtype)

        return ints(x, 1), ints(y, -1)


def _torch(a: np.ndarray, dtype: str):
    t = torch.from_numpy(np.ascontiguousarray(a))
    return t.bfloat16() if dtype == "bfloat16" else t


def _rows(a: np.ndarray) -> list:
    return [[v.item() for v in row] for row in a]


def _parquet_column(a: np.ndarray, c: Case):
    if c.corruption in ("ragged", "null_row") and len(a):
        rows = _rows(a)
        r = int(c.where * (len(rows) - 1))
        if c.corruption == "null_row":
            rows[r] = None
        else:
            pad = np.zeros(1, dtype=a.dtype)[0].item()
            rows[r] = rows[r][:-1] if rows[r] and c.mask % 2 else rows[r] + [pad]
            if c.mask % 3 == 0 and len(rows) > 1:  # keep N·d the same: the old decoder's blind spot
                other = (r + 1) % len(rows)
                rows[other] = rows[other] + [pad] if len(rows[r]) < a.shape[1] else rows[other][:-1]
        return pa.array(rows, type=pa.list_(pa.from_numpy_dtype(a.dtype)))
    flat = pa.array(a.ravel())
    if c.variant % 2 and a.shape[1]:
        return pa.FixedSizeListArray.from_arrays(flat, a.shape[1])
    offsets = pa.array(np.arange(0, a.size + 1, max(a.shape[1], 1))[: len(a) + 1].astype(np.int32))
    if a.shape[1] == 0:
        offsets = pa.array(np.zeros(len(a) + 1, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, flat)


def _write(c: Case, root: Path) -> dict:
    """Write the case; returns load_pairs keyword arguments (``path`` or ``image``/``text``)."""
    x, y = _arrays(c)
    ki, kt = ("img", "txt") if c.corruption == "wrong_keys" else ("image", "text")
    paired = x.shape == y.shape
    if c.fmt == "npy":
        if paired and c.corruption != "wrong_keys":
            np.save(root / "p.npy", np.stack([x, y]))
            return {"path": root / "p.npy"}
        if c.corruption == "wrong_keys":  # one modality where a (2, N, d) file is expected
            np.save(root / "p.npy", x)
            return {"path": root / "p.npy"}
        np.save(root / "a.npy", x)
        np.save(root / "b.npy", y)
        return {"image": root / "a.npy", "text": root / "b.npy"}
    if c.fmt == "npz":
        (np.savez_compressed if c.variant % 2 else np.savez)(root / "p.npz", **{ki: x, kt: y})
        return {"path": root / "p.npz"}
    if c.fmt == "parquet":
        if len(x) == len(y):
            pq.write_table(pa.table({ki: _parquet_column(x, c), kt: _parquet_column(y, c)}), root / "p.parquet")
            return {"path": root / "p.parquet"}
        pq.write_table(pa.table({"embedding": _parquet_column(x, c)}), root / "a.parquet")
        pq.write_table(pa.table({"embedding": _parquet_column(y, c)}), root / "b.parquet")
        return {"image": root / "a.parquet", "text": root / "b.parquet"}
    if c.fmt == "safetensors":
        from safetensors.torch import save_file

        save_file({ki: _torch(x, c.dtype), kt: _torch(y, c.dtype)}, str(root / "p.safetensors"))
        return {"path": root / "p.safetensors"}
    if paired and c.variant == 3 and c.corruption != "wrong_keys":
        torch.save(_torch(np.stack([x, y]), c.dtype), root / "p.pt")
    else:
        torch.save({ki: _torch(x, c.dtype), kt: _torch(y, c.dtype)}, root / "p.pt")
    return {"path": root / "p.pt"}


def _damage(c: Case, files: dict) -> None:
    if c.corruption not in ("truncate", "flip", "append"):
        return
    p = files.get("path") or files["image"]
    data = bytearray(p.read_bytes())
    if c.corruption == "truncate":
        data = data[: int(c.where * (len(data) - 1))]
    elif c.corruption == "flip":
        rng = np.random.default_rng(c.seed)
        for pos in rng.integers(0, len(data), size=c.count):
            data[pos] ^= c.mask
        data[int(c.where * (len(data) - 1))] ^= c.mask
    else:
        data += bytes(np.random.default_rng(c.seed).integers(0, 256, size=c.count * 7, dtype=np.uint8))
    p.write_bytes(bytes(data))


def _build(c: Case, root: Path) -> dict:
    files = _write(c, root)
    _damage(c, files)
    return files


def _expected(c: Case) -> str | None:
    """What load_pairs must do with the case: "ok" (and give back what was written), "error",
    or None where either is right (damaged bytes may still decode)."""
    rows = max(c.n, c.n_text)
    unpaired_parquet = c.fmt == "parquet" and c.n != c.n_text  # two files of "embedding" columns
    if c.corruption in ("truncate", "flip", "append"):
        return None
    if c.fmt == "parquet" and c.dtype == "bool":
        return "error"  # a list<bool> column is not embeddings (refused by type, whatever the rows)
    if c.fmt == "parquet" and c.corruption == "null_row" and rows >= 1:
        return "error"
    if c.fmt == "parquet" and c.corruption == "ragged" and rows >= 2:
        return "error"  # rows of d ± 1 values, N·d kept for some: never reflowed into (N, d)
    if c.corruption == "wrong_keys" and not unpaired_parquet:
        return "error"
    if c.fmt == "parquet" and c.corruption == "ragged":
        return None  # one row: it sets d
    if c.fmt == "parquet" and min(c.n, c.n_text) == 0 and c.d != c.d_text:
        return None  # no row to tell d from
    return "ok" if (c.n, c.d) == (c.n_text, c.d_text) else "error"


def _as_written(c: Case):
    x, y = _arrays(c)
    if c.dtype == "bfloat16":
        x, y = (torch.from_numpy(a).bfloat16().float().numpy() for a in (x, y))
    return x, y


def _check_load(c: Case, files: dict) -> None:
    want = _expected(c)
    try:
        p = gaplab.load_pairs(**files)
    except GaplabError as e:
        _good_message(str(e))
        assert want != "ok", f"load_pairs refused a valid file: {e}"
        return
    assert want != "error", f"load_pairs accepted a file it must refuse: {p.image.shape}, {p.text.shape}"
    if want == "ok":
        x, y = _as_written(c)
        for got, wrote in ((p.image, x), (p.text, y)):
            if wrote.size == 0:
                assert np.asarray(got).size == 0
            else:
                np.testing.assert_array_equal(np.asarray(got), wrote)


# ---- the properties --------------------------------------------------------------------


def _finite(obj, path="result"):
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return
    if isinstance(obj, (int, np.integer)):
        return
    if isinstance(obj, (float, np.floating)):
        assert math.isfinite(obj), f"{path} = {obj}"
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            _finite(v, f"{path}[{k!r}]")
        return
    if isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _finite(v, f"{path}[{i}]")
        return
    if isinstance(obj, np.ndarray):
        assert np.isfinite(obj).all(), f"{path} has non-finite values"
        return
    raise AssertionError(f"{path}: unexpected {type(obj).__name__}")


def _good_message(msg: str) -> None:
    assert msg and "\n" not in msg, repr(msg)
    assert not any(u in msg for u in UNSAFE), msg
    assert "Traceback" not in msg


def _api(c: Case, files: dict):
    try:
        p = gaplab.load_pairs(**files)
        r = gaplab.measure(p.image, p.text, image_index=p.image_index, include_pairwise=c.pairwise)
    except GaplabError as e:
        _good_message(str(e))
        return "error"
    _finite(r)
    return "ok"


def _cli(c: Case, files: dict):
    if "path" in files:
        args = [str(files["path"])]
    else:
        args = ["--image", str(files["image"]), "--text", str(files["text"])]
    res = CliRunner().invoke(main, ["measure", *args, "--json", *([] if c.pairwise else ["--fast"])])
    if res.exit_code == 0:
        _finite(json.loads(res.stdout))
        return "ok"
    tb = "".join(traceback.format_exception(*res.exc_info)) if res.exc_info and res.exception else ""
    assert res.exit_code == 2, f"exit {res.exit_code}: {res.output}\n{tb}"
    assert res.stderr.startswith("gaplab: error: ") and res.stderr.count("\n") == 1, res.stderr
    _good_message(res.stderr.strip())
    return "error"


@FUZZ
@given(cases())
def test_any_file_gives_numbers_or_one_input_error(c):
    with tempfile.TemporaryDirectory() as tmp:
        files = _build(c, Path(tmp))
        _check_load(c, files)
        api = _api(c, files)
        cli = _cli(c, files)
        assert api == cli, (api, cli)


@settings(FUZZ, max_examples=max(3, EXAMPLES // 40))
@given(cases(readable=True))
def test_pairwise_metrics_on_fuzzed_files(c):
    c.pairwise = True  # the O(N²) and fitted metrics too (slower: a few examples)
    with tempfile.TemporaryDirectory() as tmp:
        files = _build(c, Path(tmp))
        assert _api(c, files) == _cli(c, files)


def test_battery_reaches_both_outcomes():
    """The generator makes readable files as well as broken ones (else the battery is vacuous)."""
    good = Case("npz", "float32", 6, 3, 6, 3, 0, 1.0, "none", "none", 0.5, 1, 1, 0)
    bad = Case("parquet" if pa is not None else "npz", "float32", 6, 3, 6, 3, 0, 1.0, "none",
               "ragged" if pa is not None else "truncate", 0.5, 3, 1, 0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "g").mkdir()
        (root / "b").mkdir()
        assert _api(good, _build(good, root / "g")) == "ok"
        files = _build(bad, root / "b")
        assert _api(bad, files) == "error"
        with pytest.raises(InputError):
            gaplab.load_pairs(**files)


# ---- symmetries of the metrics ---------------------------------------------------------


def _orthogonal(rng, d):
    q, r = np.linalg.qr(rng.normal(size=(d, d)))
    return q * np.sign(np.diag(r))


def _scalars(r: dict) -> dict:
    return {k: v for k, v in r.items() if isinstance(v, float)}


#: scalar keys measured in coordinates: a rotation changes them by design
COORDINATE_KEYS = {"top_dims_share", "best_pair_accuracy"}


def _close(a: dict, b: dict, skip=()):
    assert set(a) == set(b)
    for k in a:
        if k in skip:
            continue
        assert a[k] == pytest.approx(b[k], rel=1e-9, abs=1e-12), k


@st.composite
def embeddings(draw):
    n = draw(st.integers(4, 40))
    d = draw(st.integers(2, 8))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    shift = rng.normal(size=d) * draw(st.sampled_from([0.0, 0.5, 2.0]))
    x = rng.normal(size=(n, d)) + shift
    y = 0.5 * x + rng.normal(size=(n, d)) - shift
    return x, y, rng


@settings(FUZZ, max_examples=max(10, EXAMPLES // 4))
@given(embeddings())
def test_measure_is_invariant_to_a_common_rotation(data):
    x, y, rng = data
    q = _orthogonal(rng, x.shape[1])
    a = gaplab.measure(x, y, include_pairwise=False)
    b = gaplab.measure(x @ q, y @ q, include_pairwise=False)
    _close(_scalars(a), _scalars(b), skip=COORDINATE_KEYS)


@settings(FUZZ, max_examples=max(10, EXAMPLES // 4))
@given(embeddings())
def test_measure_is_invariant_to_a_common_row_order(data):
    x, y, rng = data
    perm = rng.permutation(x.shape[0])
    a = gaplab.measure(x, y, include_pairwise=False)
    b = gaplab.measure(x[perm], y[perm], include_pairwise=False)
    _close(_scalars(a), _scalars(b))
    assert [t["dim"] for t in a["top_dims"]] == [t["dim"] for t in b["top_dims"]]
    np.testing.assert_allclose([t["diff"] for t in a["top_dims"]], [t["diff"] for t in b["top_dims"]],
                               rtol=1e-9, atol=1e-12)


@settings(FUZZ, max_examples=max(10, EXAMPLES // 4))
@given(embeddings())
def test_pairwise_metrics_are_invariant_to_rotation_and_row_order(data):
    from gaplab.metrics import alignment, logit_entropy, retrieval_recall, uniformity

    x, y, rng = data
    q = _orthogonal(rng, x.shape[1])
    perm = rng.permutation(x.shape[0])

    def metrics(a, b):
        out = {"uniformity_x": uniformity(a), "uniformity_y": uniformity(b), "alignment": alignment(a, b)}
        ent = logit_entropy(a, b, temperature=0.1)
        out.update({f"entropy_{k}": float(v) for k, v in ent.items()})
        rec = retrieval_recall(a, b, ks=(1, 5))
        out.update({f"recall_{k}": float(v) for k, v in _flat(rec).items()})
        return out

    ref = metrics(x, y)
    _close(ref, metrics(x @ q, y @ q))
    _close(ref, metrics(x[perm], y[perm]))


def _flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}_"))
        else:
            out[f"{prefix}{k}"] = v
    return out


# ---- found by this battery in gaplab.metrics (not io): pinned until fixed there ---------


def _numbers_or_input_error(x, y, **kw):
    try:
        r = gaplab.measure(x, y, **kw)
    except InputError:
        return
    _finite(r)


def test_rows_too_small_to_normalise():
    x = np.random.default_rng(0).normal(size=(4, 2))
    x[1] = [5e-324, 0.0]  # what one flipped bit makes of a float64 zero row
    with pytest.raises(InputError, match=r"squared norm of row 1 under- or overflows float64"):
        gaplab.measure(x, x + 1, include_pairwise=False)


def test_one_dimension_gives_numbers_or_an_error():
    rng = np.random.default_rng(0)
    r = gaplab.measure(rng.normal(size=(6, 1)) + 1, rng.normal(size=(6, 1)))
    _finite(r)
    assert "best_pair_accuracy" not in r and "cka" in r["undefined_metrics"]
