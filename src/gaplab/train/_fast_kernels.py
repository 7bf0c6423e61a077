"""numba kernels of :mod:`gaplab.train.fast` (module level so that ``cache=True`` works; imported lazily)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["clip_grad", "ntxent_grad", "run_one", "run_many"]

@njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
def clip_grad(xh, yh, inv_tau, gx, gy, S, R, C, w, dinv, dfac):
    b, d = xh.shape
    for i in range(b):
        for j in range(b):
            s = 0.0
            for k in range(d):
                s += xh[i, k] * yh[j, k]
            S[i, j] = s * inv_tau
    loss = 0.0
    if inv_tau < 300.0:
        # unit rows: S <= 1/tau, so one shared shift 1/tau is safe and E serves both softmaxes
        for i in range(b):
            rsum = 0.0
            for j in range(b):
                e = math.exp(S[i, j] - inv_tau)
                R[i, j] = e
                rsum += e
            loss += 0.5 * (inv_tau + math.log(rsum)) - S[i, i]
            C[i, 0] = rsum  # stash the row sum temporarily
        for i in range(b):
            rs = C[i, 0]
            for j in range(b):
                C[i, j] = R[i, j]
            for j in range(b):
                R[i, j] /= rs
        for j in range(b):
            csum = 0.0
            for i in range(b):
                csum += C[i, j]
            loss += 0.5 * (inv_tau + math.log(csum))
            for i in range(b):
                C[i, j] /= csum
    else:
        for i in range(b):  # row softmax (image i over texts)
            m = S[i, 0]
            for j in range(1, b):
                if S[i, j] > m:
                    m = S[i, j]
            z = 0.0
            for j in range(b):
                e = math.exp(S[i, j] - m)
                R[i, j] = e
                z += e
            for j in range(b):
                R[i, j] /= z
            loss += 0.5 * (m + math.log(z)) - S[i, i]
        for j in range(b):  # column softmax (text j over images)
            m = S[0, j]
            for i in range(1, b):
                if S[i, j] > m:
                    m = S[i, j]
            z = 0.0
            for i in range(b):
                e = math.exp(S[i, j] - m)
                C[i, j] = e
                z += e
            for i in range(b):
                C[i, j] /= z
            loss += 0.5 * (m + math.log(z))
    scale = 0.5 / b * w
    acc = 0.0
    for i in range(b):
        for j in range(b):
            g = R[i, j] + C[i, j]
            if i == j:
                g -= 2.0
            if dfac != 0.0:
                acc += g * S[i, j]
            g *= scale * inv_tau
            for k in range(d):
                gx[i, k] += g * yh[j, k]
                gy[j, k] += g * xh[i, k]
    if dfac != 0.0:  # dL/d(1/tau) = sum_ij dL/dS_ij * x_i.y_j
        dinv[0] += dfac * scale * acc / inv_tau
    return w * loss / b

@njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
def ntxent_grad(a, bb, inv_tau, ga, gb, Z, K, Dm, dZ, w, dinv, dfac):
    b, d = a.shape
    m2 = 2 * b
    for i in range(b):
        for k in range(d):
            Z[i, k] = a[i, k]
            Z[b + i, k] = bb[i, k]
    for p in range(m2):
        K[p, p] = 0.0
        for q in range(p + 1, m2):
            s = 0.0
            for k in range(d):
                s += Z[p, k] * Z[q, k]
            K[p, q] = s * inv_tau
            K[q, p] = s * inv_tau
    loss = 0.0
    inv_m = 1.0 / m2
    if inv_tau < 300.0:
        # unit rows: K <= 1/tau; with the shared shift 1/tau, E is symmetric: half the exps
        for p in range(m2):
            Dm[p, p] = 0.0
            for q in range(p + 1, m2):
                e = math.exp(K[p, q] - inv_tau)
                Dm[p, q] = e
                Dm[q, p] = e
        for p in range(m2):
            pos = p + b if p < b else p - b
            z = 0.0
            for q in range(m2):
                z += Dm[p, q]
            loss += inv_tau + math.log(z) - K[p, pos]
            f = inv_m / z
            for q in range(m2):
                Dm[p, q] *= f
            Dm[p, pos] -= inv_m
    else:
        for p in range(m2):
            pos = p + b if p < b else p - b
            mx = -1e300
            for q in range(m2):
                if q != p and K[p, q] > mx:
                    mx = K[p, q]
            z = 0.0
            for q in range(m2):
                if q != p:
                    e = math.exp(K[p, q] - mx)
                    Dm[p, q] = e
                    z += e
                else:
                    Dm[p, q] = 0.0
            loss += mx + math.log(z) - K[p, pos]
            for q in range(m2):
                Dm[p, q] = Dm[p, q] / z * inv_m
            Dm[p, pos] -= inv_m
    for p in range(m2):
        for k in range(d):
            dZ[p, k] = 0.0
    acc = 0.0
    for p in range(m2):
        for q in range(m2):
            if dfac != 0.0:
                acc += Dm[p, q] * K[p, q]
            g = (Dm[p, q] + Dm[q, p]) * inv_tau * w
            if g != 0.0:
                for k in range(d):
                    dZ[p, k] += g * Z[q, k]
    if dfac != 0.0:
        dinv[0] += dfac * w * acc / inv_tau
    for i in range(b):
        for k in range(d):
            ga[i, k] += dZ[i, k]
            gb[i, k] += dZ[b + i, k]
    return w * loss * inv_m

@njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
def run_one(P, Q, idx, tidx, taus, lr, loss_id, w_sim, tau2_ratio, losses, loss_every, step0, bsz,
            learn, nu, beta_kind, beta_scale, max_scale, nu_max, lr_nu, tau_rec):
    n_steps = taus.shape[0]
    dinv = np.zeros(1)
    dfac = 1.0 if learn else 0.0
    d = P.shape[1]
    xh = np.empty((bsz, d))
    yh = np.empty((bsz, d))
    gx = np.empty((bsz, d))
    gy = np.empty((bsz, d))
    nx = np.empty(bsz)
    ny = np.empty(bsz)
    S = np.empty((bsz, bsz))
    R = np.empty((bsz, bsz))
    C = np.empty((bsz, bsz))
    Z = np.empty((2 * bsz, d))
    K = np.empty((2 * bsz, 2 * bsz))
    Dm = np.empty((2 * bsz, 2 * bsz))
    dZ = np.empty((2 * bsz, d))
    for s in range(n_steps):
        beta = 0.0
        dbeta = 0.0
        if learn:  # tau = 1 / min(beta(nu), max_scale), as LearnableTemperature
            v = nu[0]
            if beta_kind == 0:
                beta = math.exp(v)
                dbeta = beta
            elif beta_kind == 1:
                if v > 20.0:  # torch's softplus threshold: linear above it
                    beta = v
                    dbeta = 1.0
                else:
                    beta = math.log1p(math.exp(v))
                    dbeta = 1.0 / (1.0 + math.exp(-v))
            else:
                beta = math.exp(beta_scale * v)
                dbeta = beta_scale * beta
            if beta > max_scale:
                beta = max_scale
                dbeta = 0.0
            tau = 1.0 / beta
            inv_tau = 1.0 / tau
            dinv[0] = 0.0
        else:
            tau = taus[s]
            inv_tau = 1.0 / tau
        if loss_every > 0:
            tau_rec[(step0 + s) // loss_every] = tau
        for i in range(bsz):
            ii = idx[s * bsz + i]
            jj = tidx[ii]
            a = 0.0
            c = 0.0
            for k in range(d):
                a += P[ii, k] * P[ii, k]
                c += Q[jj, k] * Q[jj, k]
            a = math.sqrt(a)
            c = math.sqrt(c)
            nx[i] = a
            ny[i] = c
            for k in range(d):
                xh[i, k] = P[ii, k] / a
                yh[i, k] = Q[jj, k] / c
                gx[i, k] = 0.0
                gy[i, k] = 0.0
        if loss_id == 1:
            lv = ntxent_grad(xh, yh, inv_tau, gx, gy, Z, K, Dm, dZ, 1.0, dinv, dfac)
        else:
            lv = clip_grad(xh, yh, inv_tau, gx, gy, S, R, C, 1.0, dinv, dfac)
            if loss_id == 2:
                lv += ntxent_grad(xh, xh, inv_tau / tau2_ratio, gx, gx, Z, K, Dm, dZ, w_sim, dinv,
                                  dfac / tau2_ratio)
            elif loss_id == 3:
                lv += ntxent_grad(xh, yh, inv_tau / tau2_ratio, gx, gy, Z, K, Dm, dZ, w_sim, dinv,
                                  dfac / tau2_ratio)
        if loss_every > 0:
            losses[(step0 + s) // loss_every] += lv / loss_every
        for i in range(bsz):
            ii = idx[s * bsz + i]
            jj = tidx[ii]
            dx = 0.0
            dy = 0.0
            for k in range(d):
                dx += xh[i, k] * gx[i, k]
                dy += yh[i, k] * gy[i, k]
            for k in range(d):
                P[ii, k] = P[ii, k] - lr * ((gx[i, k] - xh[i, k] * dx) / nx[i])
                Q[jj, k] = Q[jj, k] - lr * ((gy[i, k] - yh[i, k] * dy) / ny[i])
        if learn:  # SGD on nu, then CLIP's clamp of the logit scale
            v = nu[0] - lr_nu * (dinv[0] * dbeta)
            if v > nu_max:
                v = nu_max
            nu[0] = v
    return 0

@njit(cache=True, parallel=True, error_model="numpy")
def run_many(Ps, Qs, idx, tidx, taus, lrs, loss_ids, w_sims, tau2s, losses, loss_every, step0, bsz,
             learn, nus, beta_kinds, beta_scales, max_scales, nu_maxs, lr_nus, tau_recs):
    for r in prange(Ps.shape[0]):
        run_one(Ps[r], Qs[r], idx[r], tidx[r], taus[r], lrs[r], loss_ids[r], w_sims[r], tau2s[r],
                losses[r], loss_every, step0, bsz, learn[r], nus[r], beta_kinds[r], beta_scales[r],
                max_scales[r], nu_maxs[r], lr_nus[r], tau_recs[r])
    return 0
