"""Slow, obviously-correct reference implementations (explicit loops over pairs).

Used only by the tests; each follows the paper's formula literally.
"""

from __future__ import annotations

import math

import numpy as np


def unit(a):
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def cos(u, v):
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))


def l2m(x, y, normalize=True):
    x, y = (unit(x), unit(y)) if normalize else (np.asarray(x, float), np.asarray(y, float))
    return float(np.linalg.norm(x.mean(0) - y.mean(0)))


def l2i(x, y, idx, normalize=True):
    x, y = (unit(x), unit(y)) if normalize else (np.asarray(x, float), np.asarray(y, float))
    return float(np.mean([np.linalg.norm(x[idx[k]] - y[k]) for k in range(len(y))]))


def rmg(x, y, idx):
    def d(u, v):
        return (1.0 - cos(u, v)) / 2.0

    n, k = len(x), len(y)
    match = sum(d(x[idx[j]], y[j]) for j in range(k)) / k
    intra_x = sum(d(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    intra_y = sum(d(y[i], y[j]) for i in range(k) for j in range(k) if i != j) / (k * (k - 1))
    return match / ((intra_x + intra_y) / 2.0 + match)


def mean_cosine(x):
    n = len(x)
    return sum(cos(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))


def mean_cosine_paired(x, y, idx):
    return float(np.mean([cos(x[idx[k]], y[k]) for k in range(len(y))]))


def mean_cosine_cross(x, y, idx):
    vals = [cos(x[i], y[k]) for i in range(len(x)) for k in range(len(y)) if idx[k] != i]
    return float(np.mean(vals))


def alignment(x, y, idx, alpha=2.0, normalize=True):
    x, y = (unit(x), unit(y)) if normalize else (np.asarray(x, float), np.asarray(y, float))
    return float(np.mean([np.linalg.norm(x[idx[k]] - y[k]) ** alpha for k in range(len(y))]))


def uniformity(x, t=2.0, normalize=True):
    x = unit(x) if normalize else np.asarray(x, float)
    n = len(x)
    vals = [math.exp(-t * np.sum((x[i] - x[j]) ** 2)) for i in range(n) for j in range(i + 1, n)]
    return math.log(sum(vals) / len(vals))


def recall(x, y, idx, k):
    """i2t: an image hits if any own caption is among the k most similar captions; t2i likewise."""
    x, y = unit(x), unit(y)
    s = x @ y.T
    i2t = []
    for i in range(len(x)):
        own = [j for j in range(len(y)) if idx[j] == i]
        if not own:
            continue
        best = max(s[i, j] for j in own)
        rank = sum(1 for j in range(len(y)) if idx[j] != i and s[i, j] > best)
        i2t.append(rank < k)
    t2i = []
    for j in range(len(y)):
        rank = sum(1 for i in range(len(x)) if i != idx[j] and s[i, j] > s[idx[j], j])
        t2i.append(rank < k)
    return float(np.mean(i2t)), float(np.mean(t2i))


def logit_entropy(x, y, temperature):
    x, y = unit(x), unit(y)
    s = x @ y.T / temperature

    def h(row):
        p = np.exp(row - row.max())
        p /= p.sum()
        return -sum(pi * math.log(pi) for pi in p if pi > 0)

    return float(np.mean([h(r) for r in s])), float(np.mean([h(c) for c in s.T]))


def moad(x, yo, ya):
    x, yo, ya = unit(x), unit(yo), unit(ya)
    n = len(x)

    def score(y):
        tot = 0.0
        for i in range(n):
            tot += x[i] @ y[i] - sum(x[i] @ y[j] for j in range(n) if j != i) / (n - 1)
        return tot / (4 * n)

    return score(yo) - score(ya)


def moad_iclr(e, objects, attributes):
    """MOAD_img of the ICLR 2025 version, by explicit loops over concepts and pairs."""
    e = unit(e)
    n = len(e)

    def contrasts(labels):
        labels = np.asarray(labels)
        labels = labels[:, None] if labels.ndim == 1 else labels
        out = []
        for f in range(labels.shape[1]):
            col = labels[:, f]
            if len(set(col.tolist())) < 2:
                continue
            for c in sorted(set(col.tolist())):
                members = [i for i in range(n) if col[i] == c]
                others = [j for j in range(n) if col[j] != c]
                if len(members) < 2:
                    continue
                within = [e[i] @ e[j] for i in members for j in members if i != j]
                cross = [e[i] @ e[j] for i in members for j in others]
                out.append(sum(within) / len(within) - sum(cross) / len(cross))
        return out

    o, a = contrasts(objects), contrasts(attributes)
    return sum(o) / (2 * len(o)) - sum(a) / (2 * len(a))


def kendall_tau_distance(mx, my):
    """Share of discordant pairs (no ties) in the ordering of other classes, averaged."""
    mx, my = unit(mx), unit(my)
    c = len(mx)
    out = []
    for k in range(c):
        others = [j for j in range(c) if j != k]
        sx = [mx[k] @ mx[j] for j in others]
        sy = [my[k] @ my[j] for j in others]
        disc = total = 0
        for a in range(len(others)):
            for b in range(a + 1, len(others)):
                total += 1
                disc += (sx[a] - sx[b]) * (sy[a] - sy[b]) < 0
        out.append(disc / total)
    return float(np.mean(out))


# ---- structure and neighbourhood metrics (issue: "measure what the field measures now") ----


def _centre(a):
    return a - a.mean(0)


def cka(x, y):
    # via N×N kernels: HSIC(K, L) ∝ tr(K H L H); linear kernels of centred rows
    x, y = unit(x), unit(y)
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, lk = x @ x.T, y @ y.T

    def hs(a, b):
        return np.trace(a @ h @ b @ h)

    return float(hs(k, lk) / math.sqrt(hs(k, k) * hs(lk, lk)))


def cka_debiased(x, y):
    x, y = unit(x), unit(y)
    n = len(x)

    def kern(a):
        k = a @ a.T
        np.fill_diagonal(k, 0.0)
        return k

    def hsic(k, lk):
        one = np.ones(n)
        return (np.trace(k @ lk) + (one @ k @ one) * (one @ lk @ one) / ((n - 1) * (n - 2))
                - 2.0 / (n - 2) * (one @ k @ lk @ one)) / (n * (n - 3))

    k, lk = kern(x), kern(y)
    return float(hsic(k, lk) / math.sqrt(hsic(k, k) * hsic(lk, lk)))


def procrustes_distance(x, y):
    xc, yc = _centre(unit(x)), _centre(unit(y))
    xc, yc = xc / np.linalg.norm(xc), yc / np.linalg.norm(yc)
    return float(math.sqrt(max(0.0, 2 - 2 * np.linalg.svd(xc.T @ yc, compute_uv=False).sum())))


def frechet(x, y, centered=False):
    from scipy.linalg import sqrtm

    x, y = unit(x), unit(y)
    cx, cy = np.cov(x.T, bias=True), np.cov(y.T, bias=True)
    root = sqrtm(cx)
    tr = np.trace(cx + cy - 2 * np.real(sqrtm(root @ cy @ root)))
    return float(tr if centered else np.sum((x.mean(0) - y.mean(0)) ** 2) + tr)


def erank(x):
    s = np.linalg.svd(unit(x), compute_uv=False)
    p = s / s.sum()
    p = p[p > 0]
    return float(math.exp(-(p * np.log(p)).sum()))


def knn(a, i, k, corpus=None):
    """The k rows of ``corpus`` (or of ``a`` without row i) most cosine-similar to a[i]; ties to the lower index."""
    c = a if corpus is None else corpus
    cands = [j for j in range(len(c)) if corpus is not None or j != i]
    return sorted(cands, key=lambda j: (-round(cos(a[i], c[j]), 12), j))[:k]


def mutual_knn(x, y, k):
    return float(np.mean([len(set(knn(x, i, k)) & set(knn(y, i, k))) / k for i in range(len(x))]))


def hubness(x, y, k):
    out = {}
    for side, queries, corpus in (("image", y, x), ("text", x, y)):
        counts = np.zeros(len(corpus))
        for q in range(len(queries)):
            for j in knn(queries, q, k, corpus=corpus):
                counts[j] += 1
        m, sd = counts.mean(), counts.std()
        out[f"hubness_{side}"] = float(np.mean((counts - m) ** 3) / sd**3)
        out[f"antihub_{side}"] = float(np.mean(counts == 0))
    return out


def residual_gap(x, y, idx):
    x, y = unit(x), unit(y)
    diffs = np.array([x[idx[k]] - y[k] for k in range(len(y))])
    return float(np.mean([d @ d for d in diffs]) - np.sum(diffs.mean(0) ** 2))
