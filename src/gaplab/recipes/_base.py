"""The recipe system: every experiment of the five papers as a named, runnable recipe.

A recipe is a function ``fn(ctx: RecipeContext) -> dict`` registered with
:func:`register_recipe`. It reads its scale from ``ctx.quick`` / ``ctx.params``, seeds from
``ctx.seed``, saves figures with ``ctx.savefig`` and states each of the paper's claims with
``ctx.claim(...)``: either from per-seed values and a criterion (``per_seed``, ``null``,
``margin``, ``side``: the verdict is :func:`gaplab.runs.decide` of their 95 % interval) or,
for older recipes, a ``held`` computed from the measurement — never asserted.
:func:`reproduce` runs it and writes the run record ``run.json``
(:class:`gaplab.runs.RunRecord`: config, seed, measured values, claims, figures, wall time,
versions) next to the figures, and prints the claim table.

Recipe modules live in :mod:`gaplab.recipes` (one file per paper experiment, any module not
starting with ``_``) and are discovered on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import ConfigError, GaplabError, InputError
from .._fs import atomic_write, run_folder
from .._json import to_jsonable
from .._registry import Registry
from .._threads import limit_threads
from ..runs import RUN_FILE, VERDICTS, Claim, RunRecord, Side, decide, t_interval

__all__ = [
    "Claim", "Recipe", "RecipeContext", "RunRecord", "register_recipe", "list_recipes",
    "get_recipe", "reproduce", "format_claims", "summary_verdict",
]


@dataclass
class Recipe:
    """A registered recipe: its function and metadata."""

    name: str
    fn: Callable[[RecipeContext], dict[str, Any]]
    paper: str
    summary: str
    accepts_pairs: bool = False
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecipeContext:
    """What a recipe gets: scale, seed, output folder, optional user pairs, parameters."""

    name: str
    out: Path
    seed: int = 0
    quick: bool = False
    pairs: Path | None = None
    params: dict[str, Any] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    pairs_files: list[str] = field(default_factory=list)
    progress: bool = True

    @property
    def rng(self) -> np.random.Generator:
        """A fresh ``numpy.random.default_rng(seed)``: the same stream on every access."""
        return np.random.default_rng(self.seed)

    def param(self, key: str, default: Any = None) -> Any:
        """A parameter: the user's value (``--param key=value``), else ``default``."""
        return self.params.get(key, default)

    def claim(
        self,
        claim: str,
        paper_value: Any,
        measured: Any,
        held: bool | None = None,
        note: str = "",
        *,
        criterion: str = "",
        per_seed: Any = None,
        effect: float | None = None,
        ci95: Any = None,
        null: float = 0.0,
        margin: float = 0.0,
        side: Side = ">",
        kind: str = "evidence",
        interval: str = "",
        verdict: str | None = None,
        bound: str = "",
        depends_on: Claim | None = None,
    ) -> Claim:
        """State a claim of the paper and our verdict on it.

        With ``per_seed`` (the effect measured on each seed) and no ``ci95``, the interval is
        Student-t over seeds (:func:`gaplab.runs.t_interval`); the verdict is
        :func:`gaplab.runs.decide` of the interval against ``null`` ± ``margin`` on ``side``.
        ``held`` (a bool computed from the measurement) is the older form: its verdict is
        ``held`` / ``not held`` with no interval. ``verdict`` states a summary claim's verdict
        computed from other claims (see :func:`summary_verdict`). ``depends_on``: a claim that
        must hold for this one to be judged (else this one is ``inconclusive``, and says why).
        """
        values = None if per_seed is None else [float(v) for v in per_seed]
        if values is not None and ci95 is None:
            mean, ci = t_interval(values)
            effect = mean if effect is None else effect
            ci95 = None if ci is None else list(ci)
            interval = interval or "Student-t over seeds"
        if verdict is not None:
            if verdict not in VERDICTS:
                raise ConfigError(f"claim verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
        elif held is None:
            verdict = decide(ci95, null=null, margin=margin, side=side, bound=bound)
        else:
            verdict = "held" if held else "not held"
        c = Claim(
            claim, to_jsonable(paper_value), to_jsonable(measured), verdict, kind=kind,  # type: ignore[arg-type]
            criterion=criterion, effect=effect, ci95=None if ci95 is None else [float(v) for v in ci95],
            null=null, margin=margin, side=side, bound=bound, n_seeds=len(values) if values else 1,
            per_seed=values or [], interval=interval, note=note,
            depends_on=depends_on.claim if depends_on is not None else "",
        )
        if depends_on is not None and depends_on.verdict != "held":
            c.verdict = "inconclusive"
            c.note = (c.note + "; " if c.note else "") + f"not judged: its premise is {depends_on.verdict}"
        self.claims.append(c)
        return c

    def savefig(self, fig: Any, filename: str, **kwargs: Any) -> Path:
        """Save a matplotlib figure as ``out/filename`` (PNG unless the name says otherwise) and close it."""
        import matplotlib.pyplot as plt

        path = self.out / (filename if Path(filename).suffix else f"{filename}.png")
        dpi = kwargs.pop("dpi", 120)
        try:
            atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, bbox_inches="tight", **kwargs))
        finally:
            plt.close(fig)
        self.figures.append(path.name)
        return path

    def add_file(self, filename: str) -> Path:
        """Record an extra output file (e.g. an animated GIF) written into ``out``."""
        self.figures.append(filename)
        return self.out / filename


RECIPES: Registry[Recipe] = Registry("recipe")
_loaded = False


def register_recipe(
    name: str, *, paper: str, summary: str, accepts_pairs: bool = False, **defaults: Any
) -> Callable[[Callable[[RecipeContext], dict[str, Any]]], Callable[[RecipeContext], dict[str, Any]]]:
    """Register ``fn(ctx) -> measured`` as recipe ``name`` (``defaults`` document its parameters)."""

    def deco(fn: Callable[[RecipeContext], dict[str, Any]]) -> Callable[[RecipeContext], dict[str, Any]]:
        RECIPES.add(name, Recipe(name, fn, paper, summary, accepts_pairs, dict(defaults)))
        return fn

    return deco


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    import gaplab.recipes as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"gaplab.recipes.{mod.name}")
    _loaded = True


def list_recipes(filter: str | None = None) -> list[str]:
    """Names of every recipe (wildcards allowed)."""
    _load_all()
    return RECIPES.list(filter)


def get_recipe(name: str) -> Recipe:
    """The registered :class:`Recipe` called ``name`` (an unknown name raises, listing the valid ones)."""
    _load_all()
    return RECIPES.get(name)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    import sys

    if "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


def summary_verdict(claims: list[Claim]) -> str:
    """``held`` if every claim held, ``not held`` if any did not, else ``inconclusive``."""
    if any(c.verdict == "not held" for c in claims):
        return "not held"
    return "held" if claims and all(c.verdict == "held" for c in claims) else "inconclusive"


def format_claims(claims: list[Claim]) -> str:
    """The claim table as text: verdict, claim, criterion, effect ± interval, seeds; nothing cut."""

    def value(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = []
    for c in claims:
        tag = c.verdict.upper() if c.verdict != "held" else "held"
        if c.kind == "sanity":
            tag += " (sanity)"
        lines.append(f"[{tag}] {c.claim}")
        if c.criterion:
            lines.append(f"    criterion: {c.criterion}")
        if c.effect is not None:
            ci = f" [{c.ci95[0]:.4g}, {c.ci95[1]:.4g}]" if c.ci95 else ""
            lines.append(f"    effect: {c.effect:.4g}{ci}, {c.n_seeds} seed(s)"
                         + (f" ({c.interval})" if c.interval else ""))
        lines.append(f"    paper: {value(c.paper_value)}")
        lines.append(f"    ours:  {value(c.measured)}")
        if c.note:
            lines.append(f"    note:  {c.note}")
    counts = {v: sum(c.verdict == v and c.kind == "evidence" for c in claims) for v in VERDICTS}
    sanity = sum(c.kind == "sanity" for c in claims)
    lines.append(", ".join(f"{n} {v}" for v, n in counts.items()) + (f"; {sanity} sanity check(s)" if sanity else ""))
    return "\n".join(lines)


#: recipe parameters that count something: positive integers (or None, "use the default")
_COUNT_PARAMS = {"steps", "epochs", "seeds", "batch_size", "repeats", "width", "depth", "embed_dim", "hidden",
                 "caption_draws", "n_points", "n_train", "n_test", "n_inits", "n_images", "n_inputs", "n_perm",
                 "n_splits", "n_draws", "n_show", "n_curve", "early_steps", "pretrain_steps", "finetune_steps"}


def _check_params(name: str, params: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Types and ranges of user parameters that can be checked without the recipe."""

    def bad(k: str, want: str) -> ConfigError:
        return ConfigError(f"recipe {name!r}: parameter {k} must be {want}, got {params[k]!r}")

    def count(v: Any) -> bool:
        return not isinstance(v, bool) and isinstance(v, (int, float)) and v >= 1 and float(v).is_integer()

    for k, v in list(params.items()):
        d = defaults.get(k)
        if v is None and d is None:
            continue
        if isinstance(v, (list, tuple)) and (k == "seeds" or k.endswith("_steps")):  # seeds, snapshot steps
            if not v or not all(not isinstance(u, bool) and isinstance(u, int) and u >= 0 for u in v):
                raise bad(k, "a positive integer or a list of integers >= 0")
        elif k in _COUNT_PARAMS or k.endswith("_steps"):
            if not count(v):
                raise bad(k, "a positive integer")
            params[k] = int(v)
        elif isinstance(d, bool):
            if not isinstance(v, bool):
                raise bad(k, "true or false")
        elif isinstance(d, int) and not isinstance(v, bool) and not isinstance(v, int):
            raise bad(k, "an integer")
        elif isinstance(d, float) and (isinstance(v, bool) or not isinstance(v, (int, float)) or v != v):
            raise bad(k, "a number")


def _previous_outputs(folder: Path) -> list[str]:
    """The files in ``folder`` that ``overwrite`` removes first, as names relative to it.

    These are run.json, the figures and pairs files it lists, the run.json of its sub-runs
    (sub-folders holding one) and the report written beside it.
    """
    try:
        old = RunRecord.read(folder)
        listed = [f for f in [*old.figures, *old.pairs] if isinstance(f, str)]
    except GaplabError:
        listed = []
    subs = [f"{p.name}/{RUN_FILE}" for p in folder.iterdir() if p.is_dir() and (p / RUN_FILE).is_file()]
    return [RUN_FILE, "report.html", *listed, *subs]


def reproduce(
    name: str,
    *,
    quick: bool = False,
    out: str | Path | None = None,
    seed: int = 0,
    pairs: str | Path | None = None,
    params: dict[str, Any] | None = None,
    verbose: bool = True,
    progress: bool = True,
    threads: int = 1,
    overwrite: bool = True,
) -> RunRecord:
    """Run recipe ``name``; write figures and ``run.json`` into ``out`` (default ``runs/<name>``).

    The recipe runs with ``threads`` torch/BLAS threads (default 1: the models are small,
    and extra threads only contend; the sphere's numba runs keep their own parallelism).

    ``out`` is claimed for the run (:func:`gaplab._fs.run_folder`): another run writing to it
    now is an error; a folder holding another run is replaced when ``overwrite`` (the
    Python default: its run.json and listed figures are removed first) and refused
    otherwise (``gaplab reproduce`` refuses unless ``--overwrite``).

    Examples
    --------
    >>> "cone-effect" in list_recipes()  # doctest: +SKIP
    True
    """
    recipe = get_recipe(name)
    if isinstance(seed, bool) or not (isinstance(seed, (int, np.integer)) and seed >= 0):
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(threads, bool) or not (isinstance(threads, (int, np.integer)) and threads >= 1):
        raise ConfigError(f"threads must be an integer >= 1, got {threads!r}")
    if pairs is not None:
        if not recipe.accepts_pairs:
            raise ConfigError(f"recipe {name!r} does not take --pairs (it trains its own model)")
        if not Path(pairs).exists():
            raise InputError(f"{pairs}: no such file")
    params = dict(params or {})
    unknown = sorted(set(params) - set(recipe.defaults))
    if unknown:
        raise ConfigError(
            f"recipe {name!r}: unknown parameter(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(recipe.defaults)) or '(none)'}"
        )
    _check_params(name, params, recipe.defaults)
    out_dir = Path(out) if out is not None else Path("runs") / name
    with run_folder(out_dir, overwrite=overwrite, stale=_previous_outputs):
        result = _run(recipe, out_dir, quick=quick, seed=seed, pairs=pairs, params=params, progress=progress,
                      threads=threads)
    if verbose:
        print(f"\n{name} ({recipe.paper}) — {result.wall_time_s:.1f} s, results in {out_dir}")
        print(format_claims(result.claims))
    return result


def _run(recipe: Recipe, out_dir: Path, *, quick: bool, seed: int, pairs: str | Path | None,
         params: dict[str, Any], progress: bool, threads: int) -> RunRecord:
    import matplotlib

    matplotlib.use("Agg")
    _seed_everything(seed)
    ctx = RecipeContext(
        name=recipe.name, out=out_dir, seed=seed, quick=quick,
        pairs=Path(pairs) if pairs is not None else None,
        params={**recipe.defaults, **params}, progress=progress,
    )
    t0 = time.perf_counter()
    with limit_threads(threads):
        measured = recipe.fn(ctx)
    wall = time.perf_counter() - t0
    result = RunRecord(
        kind="recipe",
        name=recipe.name,
        paper=recipe.paper,
        config={"quick": quick, "pairs": str(pairs) if pairs else None, "params": ctx.params},
        seed=seed,
        measured=to_jsonable(measured),
        claims=ctx.claims,
        figures=ctx.figures,
        pairs=ctx.pairs_files,
        wall_time_s=wall,
        out=out_dir,
    )
    result.write(out_dir)
    return result
