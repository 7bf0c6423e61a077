from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

from lightning.pytorch.loggers import Logger  # noqa: E402

from gaplab import InputError, measure  # noqa: E402
from gaplab._errors import ConfigError  # noqa: E402
from gaplab.integrations.lightning import GapCallback, default_embed  # noqa: E402
from gaplab.metrics import retrieval_recall  # noqa: E402


class Clip(L.LightningModule):
    """A two-tower linear CLIP with a learnable temperature: the protocol's encode_image/encode_text."""

    def __init__(self, d_img=6, d_txt=5, d=4):
        super().__init__()
        torch.manual_seed(0)
        self.img = torch.nn.Linear(d_img, d)
        self.txt = torch.nn.Linear(d_txt, d)
        self.logit_scale = torch.nn.Parameter(torch.tensor(2.0))
        self.seen_modes = []

    def encode_image(self, a):
        self.seen_modes.append(self.training)
        return self.img(a)

    def encode_text(self, b):
        return self.txt(b)

    def training_step(self, batch, batch_idx):
        x = torch.nn.functional.normalize(self.encode_image(batch[0]), dim=-1)
        y = torch.nn.functional.normalize(self.encode_text(batch[1]), dim=-1)
        logits = self.logit_scale.exp() * x @ y.T
        target = torch.arange(len(x))
        return (torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.T, target)) / 2

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.5)


class Memory(Logger):
    """A logger that keeps what it is sent."""

    def __init__(self):
        super().__init__()
        self.rows = []

    name, version = "memory", 0

    @property
    def experiment(self):
        return None

    def log_metrics(self, metrics, step=None):
        self.rows.append((step, dict(metrics)))

    def log_hyperparams(self, params, *args, **kwargs):
        pass


def _loader(n, seed, batch_size=8):
    g = torch.Generator().manual_seed(seed)
    data = torch.utils.data.TensorDataset(torch.randn(n, 6, generator=g), torch.randn(n, 5, generator=g))
    return torch.utils.data.DataLoader(data, batch_size=batch_size)


def _trainer(callbacks, logger, max_steps=4, log_every=1):
    return L.Trainer(max_steps=max_steps, accelerator="cpu", logger=logger, callbacks=callbacks,
                     log_every_n_steps=log_every, enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False)


def _embed_all(module, loader):
    with torch.no_grad():
        xs, ys = zip(*[(module.encode_image(a), module.encode_text(b)) for a, b in loader], strict=True)
    return torch.cat(xs).double().numpy(), torch.cat(ys).double().numpy()


def test_lightning_fit_logs_gap_metrics():
    held_out = _loader(20, seed=1, batch_size=7)
    logger = Memory()
    module = Clip()
    trainer = _trainer([GapCallback(held_out, every_n_steps=2, retrieval=True)], logger, log_every=2)
    trainer.fit(module, _loader(64, seed=2))
    gap_rows = [(step, m) for step, m in logger.rows if "gap/l2m" in m]
    assert len(gap_rows) == 2
    last = gap_rows[-1][1]
    for key in ("gap/rmg", "gap/mean_cos_paired", "gap/t2i_r1", "gap/logit_scale"):
        assert key in last
    assert "gap/l2m" in trainer.callback_metrics
    assert module.training and False in module.seen_modes  # embedded in eval mode, restored after
    x, y = _embed_all(module, held_out)
    ref = {**measure(x, y, include_pairwise=False), **retrieval_recall(x, y)}
    assert last["gap/l2m"] == pytest.approx(ref["l2m"], rel=1e-5)
    assert last["gap/i2t_r1"] == ref["i2t_r1"]
    assert last["gap/logit_scale"] == pytest.approx(float(module.logit_scale.detach().exp()), rel=1e-6)
    assert gap_rows[0][1]["gap/l2m"] != last["gap/l2m"]


def test_every_n_steps_must_be_a_multiple_of_log_every_n_steps():
    trainer = _trainer([GapCallback(_loader(8, seed=1), every_n_steps=3)], Memory(), log_every=2)
    with pytest.raises(ConfigError, match=r"GapCallback: every_n_steps=3 must be a multiple of the Trainer's log_every_n_steps=2"):
        trainer.fit(Clip(), _loader(16, seed=2))


def test_custom_embed_and_protocol_errors():
    module = Clip()
    loader = [{"a": torch.randn(4, 6), "b": torch.randn(4, 5)} for _ in range(2)]
    out = GapCallback(loader, embed=lambda m, b: (m.img(b["a"]), m.txt(b["b"]))).evaluate(module)
    assert set(out) >= {"gap/l2m", "gap/rmg", "gap/logit_scale"}
    with pytest.raises(InputError, match=r"GapCallback: the default embed expects batches \(images, texts, \.\.\.\), got dict"):
        GapCallback(loader).evaluate(module)
    with pytest.raises(ConfigError, match=r"GapCallback: Linear has no encode_image/encode_text methods"):
        default_embed(torch.nn.Linear(2, 2), (1, 2))
