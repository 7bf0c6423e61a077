"""Run records and claims: what every run folder holds, and how a verdict is decided.

Every run (``gaplab train``, every recipe, the demo) writes one :class:`RunRecord` as
``run.json`` next to its figures: config, seed, engine, history, final metrics, claims,
figures, pairs files, wall time and package versions. ``gaplab report`` reads nothing else.

A :class:`Claim` is data: the verdict is a pure function (:func:`decide`) of the effect's
95 % interval, the null, the margin and the claimed side, so anyone can re-derive it from
the record. Checks true by construction are ``kind="sanity"`` and never count as reproduced.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._errors import InputError
from ._json import to_jsonable, write_json

__all__ = [
    "RUN_FILE", "SCHEMA_VERSION", "Claim", "RunRecord", "decide", "t_interval", "bootstrap_interval",
    "package_versions", "VERDICTS", "Verdict", "Side",
]

#: the one file of a run folder
RUN_FILE = "run.json"
SCHEMA_VERSION = 1
VERDICTS = ("held", "not held", "inconclusive")

Verdict = Literal["held", "not held", "inconclusive"]
Side = Literal[">", "<"]


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and math.isfinite(float(v))


def decide(
    ci95: Sequence[float] | None, *, null: float = 0.0, margin: float = 0.0, side: Side = ">", bound: str = ""
) -> Verdict:
    """The verdict of a claim "effect {side} null ± margin" from the effect's 95 % interval.

    ``held`` when the whole interval lies beyond ``null + margin`` (``side=">"``; below
    ``null − margin`` for ``side="<"``); ``not held`` when it lies wholly on the other side
    of that threshold; ``inconclusive`` when it straddles it, or when the interval is
    missing, NaN or infinite (a missing effect is never held). ``bound="lower"`` says some
    per-seed values are only lower bounds (a run that did not get there within its budget):
    they can show that an effect is large, never that it is small, so the verdict that would
    rest on them being small becomes ``inconclusive``.

    Examples
    --------
    >>> decide([0.2, 0.4], null=0.0, margin=0.1)
    'held'
    >>> decide([0.02, 0.3], null=0.0, margin=0.1)
    'inconclusive'
    >>> decide([-0.3, -0.2], null=0.0, margin=0.1, side="<")
    'held'
    >>> decide(None)
    'inconclusive'
    >>> decide([0.1, 0.4], null=1.0, bound="lower")  # small, but only as a lower bound
    'inconclusive'
    """
    if ci95 is None or len(ci95) != 2 or not all(_finite(v) for v in ci95):
        return "inconclusive"
    if bound not in ("", "lower"):
        raise InputError(f"decide: bound must be '' or 'lower', got {bound!r}")
    lo, hi = sorted(float(v) for v in ci95)
    if side == ">":
        threshold = null + margin
        verdict: Verdict = "held" if lo > threshold else "not held" if hi < threshold else "inconclusive"
        return "inconclusive" if bound and verdict == "not held" else verdict
    if side == "<":
        threshold = null - margin
        verdict = "held" if hi < threshold else "not held" if lo > threshold else "inconclusive"
        return "inconclusive" if bound and verdict == "held" else verdict
    raise InputError(f"decide: side must be '>' or '<', got {side!r}")


def t_interval(values: Sequence[float]) -> tuple[float, tuple[float, float] | None]:
    """Mean and two-sided 95 % Student-t interval over seeds; ``None`` with fewer than 2 finite values.

    A value that is NaN or infinite makes the interval ``None`` (never a silent drop).

    Examples
    --------
    >>> m, ci = t_interval([1.0, 2.0, 3.0])
    >>> m, [round(v, 3) for v in ci]
    (2.0, [-0.484, 4.484])
    """
    from scipy.stats import t

    v = np.asarray(values, dtype=np.float64)
    if v.size == 0 or not np.isfinite(v).all():
        return float("nan"), None
    mean = float(v.mean())
    if v.size < 2:
        return mean, None
    half = float(t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return mean, (mean - half, mean + half)


def bootstrap_interval(
    samples: Sequence[float] | np.ndarray, *, seed: int = 0, n_boot: int = 2000, statistic: Any = np.mean
) -> tuple[float, tuple[float, float] | None]:
    """Statistic and seeded percentile-bootstrap 95 % interval over ``samples`` (e.g. per-item scores)."""
    v = np.asarray(samples, dtype=np.float64)
    if v.size < 2 or not np.isfinite(v).all():
        return (float(statistic(v)) if v.size else float("nan")), None
    rng = np.random.default_rng(seed)
    boots = np.array([statistic(v[rng.integers(0, v.size, v.size)]) for _ in range(n_boot)])
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return float(statistic(v)), (float(lo), float(hi))


@dataclass
class Claim:
    """One claim of a paper: the paper's value, ours, and a verdict re-derivable from the numbers.

    ``effect`` is the number the verdict is about (a difference, ratio, correlation, …),
    ``ci95`` its 95 % interval (``interval`` says how it was formed), ``per_seed`` the
    values it came from. ``verdict`` must equal ``decide(ci95, null=null, margin=margin,
    side=side)``; :meth:`rederive` recomputes it, so a reader can check that it does.
    """

    claim: str
    paper_value: Any
    measured: Any
    verdict: Verdict
    kind: Literal["evidence", "sanity"] = "evidence"
    criterion: str = ""
    effect: float | None = None
    ci95: list[float] | None = None
    null: float = 0.0
    margin: float = 0.0
    side: Side = ">"
    bound: str = ""  #: "lower" when some per-seed values are lower bounds (see :func:`decide`)
    #: the claim (its text) that must hold for this one to be judged; else this one is inconclusive
    depends_on: str = ""
    n_seeds: int = 1
    per_seed: list[Any] = field(default_factory=list)
    interval: str = ""
    note: str = ""

    @property
    def held(self) -> bool:
        """Whether the claim held (sanity checks included; they never count as reproduced)."""
        return self.verdict == "held"

    def rederive(self, prerequisite: Claim | None = None) -> Verdict:
        """The verdict :func:`decide` gives this claim's numbers (``ci95``, ``null``, ``margin``, ``side``).

        ``inconclusive`` instead when the claim it ``depends_on``, passed as ``prerequisite``,
        did not hold.
        """
        if self.depends_on and (prerequisite is None or prerequisite.verdict != "held"):
            return "inconclusive"
        return decide(self.ci95, null=self.null, margin=self.margin, side=self.side, bound=self.bound)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Claim:
        """A claim from its ``to_dict`` form; unknown keys are ignored.

        Records written before verdicts had three values (only ``held``) get
        ``verdict`` ``"held"`` or ``"not held"``.
        """
        names = {f.name for f in fields(cls)}
        if "verdict" not in d and "held" in d:  # records written before verdicts had three values
            d = {**d, "verdict": "held" if d["held"] else "not held"}
        return cls(**{k: v for k, v in d.items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON types, plus the derived ``held``."""
        return {**to_jsonable(asdict(self)), "held": self.held}


def package_versions() -> dict[str, str]:
    """Versions of gaplab, Python and the numeric stack that shaped this run's numbers."""
    out = {"python": platform.python_version()}
    for pkg in ("gaplab", "numpy", "scipy", "scikit-learn", "torch", "numba"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


@dataclass
class RunRecord:
    """Everything a run folder holds, written once as ``run.json``.

    ``kind`` is ``"train"``, ``"recipe"`` or ``"demo"``; ``name`` the recipe (or ``"train"``).
    ``figures`` and ``pairs`` are file names inside the run folder.
    """

    kind: str
    name: str
    config: dict[str, Any]
    seed: int
    paper: str = ""
    engine: str | None = None
    history: dict[str, Any] | None = None
    final_metrics: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    pairs: list[str] = field(default_factory=list)
    wall_time_s: float = 0.0
    versions: dict[str, str] = field(default_factory=package_versions)
    schema: int = SCHEMA_VERSION
    #: the run folder (not written: a record is read from its folder)
    out: Path | None = field(default=None, repr=False, compare=False, metadata={"transient": True})

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON types, as written to ``run.json`` (without the transient ``out``)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)
             if f.name != "claims" and not f.metadata.get("transient")}
        return to_jsonable({**d, "claims": [c.to_dict() for c in self.claims]})

    def write(self, folder: str | Path) -> Path:
        """Write ``folder/run.json`` atomically; returns its path."""
        return write_json(Path(folder) / RUN_FILE, self.to_dict())

    @classmethod
    def from_dict(cls, d: Any, *, source: str = RUN_FILE) -> RunRecord:
        """A record from its ``to_dict`` form; unknown keys are ignored.

        Raises :class:`InputError`, naming ``source``, when ``d`` is not an object, lacks
        ``kind``/``name``/``config``/``seed`` or holds malformed claims.
        """
        if not isinstance(d, dict):
            raise InputError(f"{source}: a run record must be a JSON object, got {type(d).__name__}")
        missing = [k for k in ("kind", "name", "config", "seed") if k not in d]
        if missing:
            raise InputError(f"{source}: not a gaplab run record (missing {', '.join(missing)})")
        names = {f.name for f in fields(cls) if not f.metadata.get("transient")}
        kw = {k: v for k, v in d.items() if k in names}
        claims = kw.pop("claims", None) or []
        if not isinstance(claims, list) or not all(isinstance(c, dict) for c in claims):
            raise InputError(f"{source}: 'claims' must be a list of objects")
        try:
            return cls(**kw, claims=[Claim.from_dict(c) for c in claims])
        except TypeError as e:
            raise InputError(f"{source}: malformed run record ({e})") from None

    @classmethod
    def read(cls, folder: str | Path) -> RunRecord:
        """Read ``folder/run.json`` (or the file itself); one-line :class:`InputError` if unreadable."""
        p = Path(folder)
        path = p / RUN_FILE if p.is_dir() else p
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{path}: no such run record (a run folder holds {RUN_FILE})") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise InputError(f"{path}: cannot read the run record ({e})") from None
        record = cls.from_dict(data, source=str(path))
        record.out = path.parent
        return record
