"""Score-level hubness fixes (csls, qb-norm, db-norm), the score-matrix kernels, mixed search
and the new evaluation keys (hubness, mixed search, flip rate), each against a slow,
obviously-correct loop and a tiny case computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gaplab import ConfigError, InputError
from gaplab.metrics import retrieval_recall
from gaplab.metrics.functional.knn import hubness
from gaplab.metrics.functional.retrieval import retrieval_ranks
from gaplab.metrics.functional.tasks import mixed_modality_retrieval, mixed_retrieval_from_scores
from gaplab.mitigate import CSLS, ROW_KEYS, Center, DBNorm, QBNorm, compare, evaluate
from gaplab.mitigate._scoring import (
    hubness_from_scores,
    ranks_from_scores,
    recall_at,
    zero_shot_from_scores,
)
from tests.helpers import labelled

pytestmark = pytest.mark.usefixtures("one_thread")


def _unit(a):
    a = np.asarray(a, float)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _data(n=40, k=None, d=6, seed=0, gap=0.8):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d))
    c = np.zeros(d)
    c[0] = gap
    x = z + c + 0.3 * rng.normal(size=(n, d))
    idx = np.arange(n) if k is None else rng.integers(0, n, size=k)
    y = z[idx] - c + 0.3 * rng.normal(size=(idx.size, d))
    return x, y, idx


# -- slow references: one query, one gallery row at a time -------------------------------------
def naive_csls(q, g, q_bank, g_bank, k):
    q, g, qb, gb = map(_unit, (q, g, q_bank, g_bank))
    out = np.empty((len(q), len(g)))
    for a in range(len(q)):
        r_q = np.mean(sorted((float(q[a] @ b) for b in gb), reverse=True)[:k])
        for j in range(len(g)):
            r_g = np.mean(sorted((float(g[j] @ b) for b in qb), reverse=True)[:k])
            out[a, j] = 2 * float(q[a] @ g[j]) - r_q - r_g
    return out


def naive_is(q, g, q_bank, beta, g_bank=None, beta_g=None, lam=0.0, dynamic=False):
    """log of exp(beta cos)/sum_bank exp(beta cos) [times the gallery-bank factor ** lam]."""
    q, g, qb = map(_unit, (q, g, q_bank))
    gb = None if g_bank is None else _unit(g_bank)
    active = {int(np.argmax([float(b @ gj) for gj in g])) for b in qb}
    out = np.empty((len(q), len(g)))
    for a in range(len(q)):
        top = int(np.argmax([float(q[a] @ gj) for gj in g]))
        for j in range(len(g)):
            c = float(q[a] @ g[j])
            isq = math.exp(beta * c) / sum(math.exp(beta * float(b @ g[j])) for b in qb)
            val = math.log(isq)
            if gb is not None and lam:
                isg = math.exp(beta_g * c) / sum(math.exp(beta_g * float(b @ g[j])) for b in gb)
                val += lam * math.log(isg)
            raw = (beta + (lam * beta_g if gb is not None else 0.0)) * c
            out[a, j] = val if (not dynamic or top in active) else raw
    return out


def test_csls_matches_naive():
    x, y, _ = _data()
    xt, yt, _ = _data(seed=1)
    m = CSLS(k=3).fit(x, y)
    # text queries, image gallery: query bank = train texts, gallery bank = train images
    np.testing.assert_allclose(m.similarity(yt[:9], xt), naive_csls(yt[:9], xt, y, x, 3), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(m.similarity(xt[:9], yt, query_modality="image", gallery_modality="text"),
                               naive_csls(xt[:9], yt, x, y, 3), rtol=1e-12, atol=1e-12)


def test_csls_mixed_gallery_matches_naive():
    x, y, _ = _data()
    xt, yt, _ = _data(seed=1)
    m = CSLS(k=2).fit(x, y)
    g = np.vstack([xt[:5], yt[:4]])
    got = m.similarity(yt[5:8], g, gallery_modality=["image"] * 5 + ["text"] * 4)
    # gallery rows are judged against the query (text) bank; the query against both gallery banks
    want = naive_csls(yt[5:8], g, y, np.vstack([x, y]), 2)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dynamic", [False, True])
def test_qb_norm_matches_naive(dynamic):
    x, y, _ = _data()
    xt, yt, _ = _data(seed=2)
    m = QBNorm(beta=7.0, dynamic=dynamic).fit(x, y)
    np.testing.assert_allclose(m.similarity(yt, xt), naive_is(yt, xt, y, 7.0, dynamic=dynamic),
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(m.similarity(xt, yt, query_modality="image", gallery_modality="text"),
                               naive_is(xt, yt, x, 7.0, dynamic=dynamic), rtol=1e-10, atol=1e-10)


def test_dynamic_changes_something_here():
    """The DIS test above is not vacuous: some query falls outside the activation set."""
    x, y, _ = _data()
    xt, yt, _ = _data(seed=2)
    a = QBNorm(beta=7.0).fit(x, y).similarity(yt, xt)
    b = QBNorm(beta=7.0, dynamic=True).fit(x, y).similarity(yt, xt)
    assert not np.allclose(a, b)
    assert np.isclose(a, b).all(axis=1).any()  # ... and some inside it


@pytest.mark.parametrize(("beta_g", "lam", "dynamic"), [(None, 1.0, False), (3.0, 0.5, False), (3.0, 0.5, True)])
def test_db_norm_matches_naive(beta_g, lam, dynamic):
    x, y, _ = _data()
    xt, yt, _ = _data(seed=3)
    m = DBNorm(beta=6.0, beta_gallery=beta_g, gallery_weight=lam, dynamic=dynamic).fit(x, y)
    bg = 6.0 if beta_g is None else beta_g
    np.testing.assert_allclose(m.similarity(yt, xt), naive_is(yt, xt, y, 6.0, x, bg, lam, dynamic),
                               rtol=1e-10, atol=1e-10)


def test_db_norm_weight_zero_is_qb_norm():
    x, y, _ = _data()
    xt, yt, _ = _data(seed=3)
    np.testing.assert_allclose(DBNorm(beta=5.0, gallery_weight=0.0).fit(x, y).similarity(yt, xt),
                               QBNorm(beta=5.0).fit(x, y).similarity(yt, xt), rtol=1e-12)


def test_tiny_cases_by_hand():
    # image bank e1, e2; text bank e1, (0.6, 0.8); text query (0.6, 0.8) against images e1, e2
    m = CSLS(k=1).fit([[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.6, 0.8]])
    # r_G(q) = max(0.6, 0.8) = 0.8; r_Q(e1) = max(1, 0.6) = 1, r_Q(e2) = max(0, 0.8) = 0.8
    np.testing.assert_allclose(m.similarity([[0.6, 0.8]], np.eye(2)), [[1.2 - 0.8 - 1.0, 1.6 - 0.8 - 0.8]], atol=1e-15)
    q = QBNorm(beta=2.0).fit(np.eye(2), [[1.0, 0.0], [0.0, 1.0]])
    # bank texts e1, e2: Z(e1) = e^2 + 1 = Z(e2); score = 2 cos - log(e^2 + 1)
    np.testing.assert_allclose(q.similarity([[0.6, 0.8]], np.eye(2)),
                               [[1.2 - math.log(math.e**2 + 1), 1.6 - math.log(math.e**2 + 1)]], rtol=1e-14)
    dbn = DBNorm(beta=1.0, beta_gallery=1.0, gallery_weight=1.0).fit([[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]])
    # query (1, 0) vs gallery image e1: 2 cos = 2; Zq(e1) = 2 e^0 = 2, Zg(e1) = 2 e^1
    np.testing.assert_allclose(dbn.similarity([[1.0, 0.0]], [[1.0, 0.0]]), [[2.0 - math.log(2) - math.log(2 * math.e)]],
                               rtol=1e-14)


def test_hub_is_demoted():
    """A gallery row near every bank query is most queries' top hit under cosine; far fewer after."""
    rng = np.random.default_rng(0)
    d = 16
    yb = _unit(rng.normal(size=(200, d)) + 4.0 * np.eye(d)[0])  # queries share direction 0
    xb = _unit(rng.normal(size=(200, d)))
    gallery = _unit(np.vstack([np.eye(d)[0] + 0.05 * rng.normal(size=d), rng.normal(size=(60, d))]))  # row 0 = hub
    queries = _unit(rng.normal(size=(100, d)) + 4.0 * np.eye(d)[0])
    share_cos = np.mean(np.argmax(queries @ gallery.T, axis=1) == 0)
    assert share_cos > 0.8
    h_cos = hubness_from_scores(queries @ gallery.T, gallery @ queries.T, 5)["hubness_image"]
    for m in (CSLS(k=10), QBNorm(beta=20.0), DBNorm(beta=20.0)):
        s = m.fit(xb, yb).similarity(queries, gallery)
        assert np.mean(np.argmax(s, axis=1) == 0) < share_cos - 0.15, m  # (0.90 -> 0.61, 0.10, 0.64)
    s = QBNorm(beta=20.0).fit(xb, yb).similarity(queries, gallery)
    assert hubness_from_scores(s, gallery @ queries.T, 5)["hubness_image"] < 0.6 * h_cos  # 3.75 -> 1.92


@pytest.mark.parametrize(("m", "msg"), [
    (CSLS(k=0), r"csls.fit: k must be >= 1, got 0"),
    (CSLS(k=50), r"csls.fit: k = 50 exceeds the banks \(40 images, 40 texts\)"),
    (QBNorm(beta=0.0), r"qb-norm.fit: beta must be > 0.0"),
    (QBNorm(dynamic="yes"), r"dynamic must be True or False"),
    (DBNorm(beta_gallery=-1.0), r"db-norm.fit: beta_gallery must be > 0.0"),
    (DBNorm(gallery_weight=-0.5), r"gallery_weight must be >= 0.0"),
])
def test_bad_params(m, msg):
    x, y, _ = _data()
    with pytest.raises((ConfigError, InputError), match=msg):
        m.fit(x, y)


# -- score-matrix kernels agree with the embedding kernels on cosine scores -----------------------
@pytest.mark.parametrize("k", [None, 70])
def test_scoring_kernels_match_metric_kernels(k):
    x, y, idx = _data(k=k)
    xn, yn = _unit(x), _unit(y)
    ii = None if k is None else idx
    got = ranks_from_scores(xn @ yn.T, yn @ xn.T, idx)
    want = retrieval_ranks(x, y, image_index=ii)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assert hubness_from_scores(yn @ xn.T, xn @ yn.T, 5) == pytest.approx(hubness(x, y, k=5, image_index=ii), abs=1e-12)
    assert recall_at(got, (1, 5)) == retrieval_recall(x, y, image_index=ii, ks=(1, 5))


def test_ranks_from_scores_by_hand():
    s_i2t = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8]])  # image 0 has captions 0, 1; image 1 caption 2
    s_t2i = s_i2t.T.copy()
    i2t, t2i = ranks_from_scores(s_i2t, s_t2i, np.array([0, 0, 1]))
    assert i2t.tolist() == [0, 0]
    assert t2i.tolist() == [0, 1, 0]  # caption 1: image 1 (0.3) beats image 0 (0.1)
    assert zero_shot_from_scores(np.array([[0.2, 0.2], [0.1, 0.3]]), np.array([1, 0])) == 0.5  # tie to the class


# -- mixed-modality search ----------------------------------------------------------------------
def naive_search(s_text_rows, n, idx, top, tol=1e-9):
    """Text query c (row c of (K, N + K) scores) over images + other images' captions."""
    nd, sh = [], []
    for c, row in enumerate(s_text_rows):
        corpus = [j for j in range(len(row)) if j < n or idx[j - n] != idx[c]]
        rel = row[idx[c]]
        rank = sum(1 for j in corpus if row[j] - rel > tol * max(1.0, abs(rel)))
        nd.append(1 / math.log2(rank + 2) if rank < top else 0.0)
        # top `top` by score, exact ties (here: duplicates) broken towards images
        order = sorted(corpus, key=lambda j: (-round(row[j], 9), j >= n))
        picked = order[: min(top, len(corpus))]
        sh.append(sum(j >= n for j in picked) / len(picked))
    return float(np.mean(nd)), float(np.mean(sh))


@pytest.mark.parametrize("top", [1, 3, 10])
def test_mixed_search_matches_naive(top):
    x, y, idx = _data(n=12, k=20, seed=4)
    y[3] = y[2] if idx[3] != idx[2] else y[3]  # a duplicate text
    got = mixed_modality_retrieval(x, y, image_index=idx, search_k=top, block_rows=5)
    z = np.vstack([_unit(x), _unit(y)])
    want = naive_search(z[12:] @ z.T, 12, idx, top)
    assert (got[f"mixed_ndcg{top}"], got[f"mixed_own_share{top}"]) == pytest.approx(want, abs=1e-12)
    assert set(mixed_modality_retrieval(x, y, image_index=idx)) == {  # unchanged without search_k
        "mixed_same_modality", "mixed_same_modality_img", "mixed_same_modality_txt", "mixed_pair_r1"}


def test_mixed_search_gap_and_no_gap():
    x, y, _, _ = labelled(gap=10.0)
    r = mixed_modality_retrieval(x, y, search_k=10)
    assert r["mixed_own_share10"] == 1.0 and r["mixed_ndcg10"] == 0.0
    r = mixed_modality_retrieval(x, x, search_k=10)  # each caption is its image: found first
    assert r["mixed_ndcg10"] == 1.0


def test_mixed_search_ties_enter_images_first():
    # text query (1, 0); corpus: its image (0, 1), image 1 (1, 0) and text 1 (1, 0): a tie at the top
    x = np.array([[0.0, 1.0], [1.0, 0.0]])
    y = np.array([[1.0, 0.0], [1.0, 0.0]])
    r = mixed_modality_retrieval(x, y, search_k=1)
    # query 0: image 1 and text 1 tie at 1.0 -> the image takes the single slot; own image is rank 2
    # query 1 (own image 1 = (1, 0)) finds it first
    assert r["mixed_own_share1"] == 0.0 and r["mixed_ndcg1"] == 0.5


def test_mixed_search_bad_k():
    with pytest.raises(InputError, match="search_k must be a positive integer or None, got 0"):
        mixed_modality_retrieval(np.eye(3), np.eye(3), search_k=0)


def test_mixed_from_method_scores_matches_naive():
    x, y, _ = _data(n=30, seed=5)
    xt, yt, _ = _data(n=10, seed=6)
    m = QBNorm(beta=5.0).fit(x, y)
    z = np.vstack([xt, yt])
    mods = ["image"] * 10 + ["text"] * 10
    blocks = [(0, 10, m.similarity(xt, z, query_modality="image", gallery_modality=mods)),
              (10, 20, m.similarity(yt, z, query_modality="text", gallery_modality=mods))]
    want = naive_search(blocks[1][2].copy(), 10, np.arange(10), 10)
    got = mixed_retrieval_from_scores(10, np.arange(10), blocks, search_k=10)
    assert (got["mixed_ndcg10"], got["mixed_own_share10"]) == pytest.approx(want, abs=1e-12)


# -- the evaluation bundle ------------------------------------------------------------------------
NEW_KEYS = ("residual_gap", "hubness_image", "antihub_image", "hubness_text", "antihub_text",
            "mixed_ndcg10", "mixed_own_share10", "flip_rate", "flip_rate_zs")


def test_bundle_has_the_new_keys():
    assert set(NEW_KEYS) <= set(ROW_KEYS)
    x, y, labels, ct = labelled()
    r = compare(x, y, ["csls", "qb-norm", "db-norm", "center"], labels=labels, class_text=ct, seed=0)
    for row in r["rows"]:
        for k in NEW_KEYS:
            assert isinstance(row[k], float), (row["method"], k)


def test_score_level_rows_rank_with_their_scores_and_keep_the_gap():
    x, y, labels, ct = labelled()
    r = compare(x, y, ["qb-norm"], labels=labels, class_text=ct, seed=0, test_fraction=0.5)
    none, qb = r["rows"]
    for k in ("l2m", "rmg", "residual_gap", "l2i", "sw"):
        assert qb[k] == none[k], k  # the embeddings are untouched
    # R@1 and hubness recomputed by hand from the fitted method's scores on the test split
    from gaplab.mitigate import split_pairs
    s = split_pairs(len(x), test_fraction=0.5, seed=0)
    m = QBNorm().fit(x[s.train_images], y[s.train_texts])
    xt, yt = x[s.test_images], y[s.test_texts]
    s_ti = m.similarity(yt, xt)
    s_it = m.similarity(xt, yt, query_modality="image", gallery_modality="text")
    assert qb["t2i_r1"] == np.mean(np.argmax(s_ti, axis=1) == np.arange(len(yt)))
    assert qb["i2t_r1"] == np.mean(np.argmax(s_it, axis=1) == np.arange(len(xt)))
    assert qb["hubness_image"] == pytest.approx(hubness_from_scores(s_ti, s_it, 10)["hubness_image"], abs=0)
    zs = m.similarity(xt, ct, query_modality="image", gallery_modality="text")
    assert qb["zero_shot"] == np.mean(np.argmax(zs, axis=1) == labels[s.test_images])


def test_embedding_rows_unchanged_by_the_score_path():
    """For an embedding method the bundle's R@K and hubness are the cosine metrics of its transforms."""
    x, y, _, _ = labelled()
    from gaplab.mitigate import split_pairs
    r = compare(x, y, ["center"], seed=1)
    s = split_pairs(len(x), seed=1)
    m = Center().fit(x[s.train_images], y[s.train_texts])
    xt, yt = m.transform(x[s.test_images], y[s.test_texts])
    row = r["rows"][1]
    assert row["t2i_r1"] == retrieval_recall(xt, yt, ks=(1,))["t2i_r1"]
    assert row["hubness_text"] == hubness(xt, yt, k=10)["hubness_text"]
    assert row["mixed_own_share10"] == mixed_modality_retrieval(xt, yt, search_k=10)["mixed_own_share10"]


def naive_flip_rate(x, y, sigma, seed):
    """The 'none' row's flip rate, query by query."""
    rng = np.random.default_rng(seed)
    xn, yn = _unit(x), _unit(y)
    nx = xn + rng.standard_normal(xn.shape) * sigma / np.sqrt(x.shape[1])
    ny = yn + rng.standard_normal(yn.shape) * sigma / np.sqrt(y.shape[1])
    flips = []
    for q, g, nq, ng in ((xn, yn, nx, ny), (yn, xn, ny, nx)):
        for i in range(len(q)):
            clean = int(np.argmax([q[i] @ gj for gj in g]))
            noisy = int(np.argmax([_unit(nq[i:i + 1])[0] @ gj for gj in _unit(ng)]))
            flips.append(clean != noisy)
    return float(np.mean(flips))


def test_flip_rate_matches_naive_and_grows_with_sigma():
    x, y, _, _ = labelled()
    from gaplab.mitigate import split_pairs
    s = split_pairs(len(x), seed=0)
    rates = []
    for sigma in (0.0, 0.5, 3.0):
        row = evaluate(x, y, None, seed=0, flip_sigma=sigma)["before"]
        assert row["flip_rate"] == pytest.approx(naive_flip_rate(x[s.test_images], y[s.test_texts], sigma, 0), abs=0)
        rates.append(row["flip_rate"])
    assert rates[0] == 0.0 and 0 < rates[1] < rates[2]
    again = evaluate(x, y, None, seed=0, flip_sigma=0.5)["before"]["flip_rate"]
    assert again == rates[1]  # seeded
    with pytest.raises(ConfigError, match="flip_sigma must be >= 0.0"):
        evaluate(x, y, None, flip_sigma=-1.0)


def test_flip_rate_zs_needs_prompts():
    x, y, labels, ct = labelled()
    assert evaluate(x, y, "center", labels=labels)["after"]["flip_rate_zs"] is None
    r = evaluate(x, y, "center", labels=labels, class_text=ct, flip_sigma=2.0)
    assert 0 < r["after"]["flip_rate_zs"] <= 1


def test_banks_are_the_train_split_only():
    x, y, labels, _ = labelled()
    test = np.arange(0, 120, 3)
    r = compare(x, y, ["csls"], test=test)
    from gaplab.mitigate.evaluate import _compare
    _, fitted, split = _compare(x, y, ["csls"], labels=None, class_text=None, query_text=None, image_index=None,
                                test_fraction=0.5, seed=0, train=None, test=test, ks=(1,), n_projections=8,
                                include_before=False)
    bank = fitted["csls"].text_bank_
    np.testing.assert_allclose(bank, _unit(y[split.train_images]), rtol=1e-12)
    assert not np.isin(split.test_images, split.train_images).any()
    assert r["rows"][1]["method"] == "csls"


def test_small_test_split_notes_the_hubness_k():
    x, y, _, _ = labelled(n=24)
    r = compare(x, y, ["csls"], test=np.arange(6), train=np.arange(6, 24))
    assert any("hubness: k = 6" in n for n in r["notes"])
