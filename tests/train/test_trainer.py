"""Trainer: determinism, resume equality, learning on a two-cluster task, errors, swaps, mismatch."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from gaplab import ConfigError, UnknownNameError  # noqa: E402
from gaplab.models import FreeEmbeddings, MLPEncoder, SmallCNN, TwoTower  # noqa: E402
from gaplab.train import (  # noqa: E402
    CheckpointCallback,
    LambdaCallback,
    NonFiniteLossError,
    SnapshotCallback,
    Trainer,
    list_losses,
    mismatch_index,
)


def two_clusters(n=256, seed=0):
    """Two classes; images and texts are different noisy linear views of the same latent."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    latent = torch.randn(n, 4, generator=g) * 0.5 + (labels[:, None] * 2.0 - 1.0) * 2.0
    img = latent @ torch.randn(4, 8, generator=g) + 0.1 * torch.randn(n, 8, generator=g)
    txt = latent @ torch.randn(4, 6, generator=g) + 0.1 * torch.randn(n, 6, generator=g)
    return img, txt


def tower(seed=0, embed_dim=8):
    torch.manual_seed(seed)
    return TwoTower(MLPEncoder(8, 16, hidden=16), MLPEncoder(6, 16, hidden=16), image_dim=16,
                    text_dim=16, embed_dim=embed_dim)


def test_clip_two_cluster_lowers_loss_and_leaves_positive_gap():
    img, txt = two_clusters()
    tr = Trainer(tower(), loss="clip", temperature="learnable", optimizer="adamw", lr=3e-3,
                 batch_size=32, steps=120, eval_every=40, seed=0)
    hist = tr.fit((img, txt))
    losses = [r["loss"] for r in hist.records[1:]]
    assert losses[-1] < losses[0]
    assert hist["l2m"][-1] > 0.05
    assert hist["i2t_r5"][-1] > hist["i2t_r5"][0]
    assert hist["temperature"][-1] != pytest.approx(0.07)  # learnable temperature moved


def test_seed_gives_identical_numbers():
    img, txt = two_clusters()
    out = []
    for _ in range(2):
        tr = Trainer(tower(3), loss="siglip", temperature=0.1, lr=0.05, batch_size=16, steps=30,
                     swap="hard", swap_p=0.3, mismatch=0.1, seed=5, eval_every=15)
        out.append(tr.fit((img, txt)).records)
    assert out[0] == out[1]


@pytest.mark.parametrize("steps, options", [
    (1000, dict(loss="clip", temperature=0.07, engine="torch")),
    (200, dict(loss="siglip", temperature="learnable", swap="soft", swap_p=0.2, optimizer="adamw")),
    (200, dict(loss="slip", temperature="ts", mismatch=0.2, momentum=0.9)),
    (1000, dict(loss="clip", temperature=0.07, engine="numba")),
    (1000, dict(loss="slip", temperature="learnable", mismatch=0.2, engine="numba")),
    (600, dict(loss="simclr", temperature="ts", engine="auto")),
])
def test_resume_is_bit_identical(tmp_path, steps, options):
    engine = options.get("engine", "torch")
    if engine != "torch":
        pytest.importorskip("numba")

    def make():
        m = FreeEmbeddings(200, 3, init="polar", seed=0, dtype=torch.float64)
        return Trainer(m, lr=0.01, batch_size=10, steps=steps, eval_every=steps // 4, seed=1,
                       callbacks=[SnapshotCallback([0, steps // 4, steps])], **options)

    full = make()
    full.fit()
    assert full.engine.name == ("numba" if engine == "auto" else engine)
    half = make()
    half.total_steps = steps // 2
    half.fit()
    half.save_checkpoint(tmp_path / "ck.pt")
    resumed = make()
    resumed.fit(resume_from=tmp_path / "ck.pt")
    assert torch.equal(full.model.x, resumed.model.x) and torch.equal(full.model.y, resumed.model.y)
    assert full.history.records == resumed.history.records
    assert full.temperature.value(steps) == resumed.temperature.value(steps)
    a, b = full.callbacks[1].snapshots, resumed.callbacks[1].snapshots  # restored from the checkpoint
    assert sorted(a) == sorted(b) == [0, steps // 4, steps]
    assert all(np.array_equal(a[k][0], b[k][0]) and np.array_equal(a[k][1], b[k][1]) for k in a)


def test_every_loss_trains_a_two_tower_and_a_cnn():
    img, txt = two_clusters(64)
    for name in list_losses():
        tr = Trainer(tower(1), loss=name, temperature=0.2, lr=0.01, batch_size=16, steps=3)
        tr.fit((img, txt))
        assert tr.step == 3
    imgs = torch.randn(32, 1, 8, 8)
    m = TwoTower(SmallCNN(1, 16, channels=(4, 8)), MLPEncoder(6, 16), image_dim=16, text_dim=16,
                 embed_dim=4, projection="mlp")
    tr = Trainer(m, epochs=2, batch_size=8, eval_every=4, metrics=["l2m"], temperature="ts")
    h = tr.fit((imgs, torch.randn(32, 6)))
    assert tr.step == 8 and h["step"] == [0, 4, 8]
    assert h["temperature"][-1] == pytest.approx(1.0)  # ts reached its end over the 8 epoch steps


def test_dataloader_and_list_of_strings():
    class BagOfChars(torch.nn.Module):
        def forward(self, texts):
            out = torch.zeros(len(texts), 26)
            for i, t in enumerate(texts):
                for c in t:
                    out[i, (ord(c) - 97) % 26] += 1.0
            return out

    texts = ["cat", "dog", "bird", "fish", "cow", "ant", "bee", "owl"] * 4
    imgs = torch.randn(32, 5)
    m = TwoTower(MLPEncoder(5, 8), BagOfChars(), image_dim=8, text_dim=26, embed_dim=4)
    tr = Trainer(m, steps=6, batch_size=8, eval_every=3, metrics=["l2m", "retrieval"])
    tr.fit((imgs, texts))
    assert len(tr.history) == 3
    ds = torch.utils.data.TensorDataset(torch.randn(40, 5), torch.randn(40, 6))
    loader = torch.utils.data.DataLoader(ds, batch_size=10)
    m2 = TwoTower(MLPEncoder(5, 8), MLPEncoder(6, 8), image_dim=8, text_dim=8, embed_dim=4)
    tr2 = Trainer(m2, epochs=2, batch_size=10, mismatch=0.3, mismatch_mode="batch",
                  eval_every=4, eval_data=(torch.randn(20, 5), torch.randn(20, 6)))
    tr2.fit(loader)
    assert tr2.step == 8 and len(tr2.history) == 3


def test_nan_loss_names_step_and_temperature():
    m = FreeEmbeddings(20, 3, init="polar")
    with torch.no_grad():
        m.x[3] = float("nan")
    tr = Trainer(m, steps=50, batch_size=20, temperature=0.05)
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at step 1 \(temperature 0.05"):
        tr.fit()


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(loss="clipp"), UnknownNameError, "unknown loss 'clipp'; valid: clip, cua"),
    (dict(loss="slip", loss_kwargs={"view": "self"}), ConfigError, "loss 'slip' has no parameter 'view'; valid: views"),
    (dict(temperature="cooling"), UnknownNameError, "unknown temperature 'cooling'; valid: fixed"),
    (dict(optimizer="adam"), ConfigError, "unknown optimizer 'adam'; valid: sgd, adamw"),
    (dict(swap="partial"), ConfigError, "unknown swap 'partial'; valid: none, hard, soft"),
    (dict(swap="hard", swap_p=2.0), ConfigError, r"swap_p must be a number in \[0, 1\], got 2.0"),
    (dict(mismatch=-0.1), ConfigError, r"mismatch must be a number in \[0, 1\], got -0.1"),
    (dict(mismatch_mode="epoch"), ConfigError, "unknown mismatch_mode 'epoch'; valid: fixed, batch"),
    (dict(batch_size=1), ConfigError, r"batch_size must be an integer >= 2, got 1 \(contrastive losses need negatives\)"),
    (dict(steps=None), ConfigError, "give exactly one of steps and epochs, got neither"),
    (dict(epochs=3), ConfigError, r"give exactly one of steps and epochs, got both \(steps=10, epochs=3\)"),
    (dict(metrics=["l2m", "gap"]), ConfigError, r"unknown metric\(s\) \['gap'\]; valid: l2m"),
    (dict(device="tpu"), ConfigError, "unknown device 'tpu'; valid: auto, cpu, cuda"),
    (dict(lr=-1.0), ConfigError, "lr must be a number > 0 or a schedule dict, got -1.0"),
    (dict(stepz=10), ConfigError, r"unknown Trainer option\(s\) 'stepz' \(did you mean 'steps'\?\)"),
    (dict(engine="numba", loss="siglip"), ConfigError,
     r"engine 'numba' cannot run this config: loss 'siglip' has no numba kernel"),
    (dict(engine="numba"), ConfigError, r"numba engine computes in float64"),
])
def test_bad_config_rejected(kwargs, err, match):
    base = dict(steps=10)
    base.update(kwargs)
    with pytest.raises(err, match=match):
        Trainer(FreeEmbeddings(20, 3), **base)


def test_data_errors():
    with pytest.raises(ConfigError, match="data=None works only for FreeEmbeddings"):
        Trainer(tower(), steps=2).fit()
    with pytest.raises(ConfigError, match="same number of rows, got 10 and 9"):
        Trainer(tower(), steps=2).fit((torch.randn(10, 8), torch.randn(9, 6)))
    with pytest.raises(ConfigError, match="does not exist"):
        Trainer(FreeEmbeddings(20, 3), steps=2).fit(resume_from="/nonexistent/ck.pt")


def test_mismatch_index_and_fixed_mismatch_pairs():
    idx = mismatch_index(100, 0.25, 3)
    assert int((idx != np.arange(100)).sum()) == 25
    assert sorted(idx) == list(range(100))
    assert (mismatch_index(100, 0.0, 3) == np.arange(100)).all()
    seen = []
    m = FreeEmbeddings(20, 3)

    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = m

        def forward(self, a, b):
            seen.append((a.clone(), b.clone()))
            return self.inner(a, b)

    tr = Trainer(Spy(), steps=4, batch_size=10, mismatch=0.5, seed=2)
    tr.fit((torch.arange(20), torch.arange(20)))
    wrong = sum(int((a != b).sum()) for a, b in seen)
    # 4 steps x 10 = two epochs of the 20 pairs, so each of the 10 mismatched pairs is seen twice
    assert wrong == 2 * 10


def test_snapshot_checkpoint_and_history_files(tmp_path):
    snap = SnapshotCallback([0, 5, 10])
    calls = []
    tr = Trainer(FreeEmbeddings(30, 3, init="nearby"), steps=10, eval_every=5, progress=True,
                 callbacks=[snap, CheckpointCallback(tmp_path / "c.pt", 5),
                            LambdaCallback(on_step_end=lambda t, s, logs: calls.append(s))])
    h = tr.fit()
    assert sorted(snap.snapshots) == [0, 5, 10] and snap.snapshots[0][0].shape == (30, 3)
    assert calls == list(range(1, 11))
    assert (tmp_path / "c.pt").is_file()
    h.to_json(tmp_path / "h.json")
    h.to_csv(tmp_path / "h.csv")
    rec = json.loads((tmp_path / "h.json").read_text())["records"]
    assert [r["step"] for r in rec] == [0, 5, 10]
    assert (tmp_path / "h.csv").read_text().splitlines()[0].startswith("step,")
    ev = tr.evaluate()
    assert set(ev) >= {"l2m", "temperature", "i2t_r1"}
