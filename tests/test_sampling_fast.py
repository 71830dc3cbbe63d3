"""The fast paths of `process_logits` and `sample` against their slow references.

process_logits has three ways to a row (see refimpl/sampling_fast.py): a small
candidate set certified by bounds on S (float32 bound, or exact S for float64; first for the
whole batch at once, then row by row with more thresholds), a window around the crossing for
flat rows, and the exact reference arithmetic when a bound leaves doubt. Each is exercised here
on vocabularies large enough to reach it, and each must agree exactly (the kept set) with
`process_logits_reference`. The batch-wide steps (row maxima, candidate sets) are also checked
against brute force.
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import refimpl.sampling_fast as sampling
import refimpl.sampling_nucleus as nucleus
import refimpl.seeded as seeded
from refimpl.sampling import process_logits, process_logits_reference
from refimpl.sampling_fast import _group_ids
from refimpl.seeded import sample, sample_reference


def assert_same(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b))
    tol = 1e-5 if a.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)], rtol=tol, atol=tol)


def zipf_rows(rng, B, V, s=1.5):
    ranks = -s * np.log(np.arange(1, V + 1))
    return np.stack([ranks[rng.permutation(V)] + rng.normal(0, 0.1, V) for _ in range(B)])


@pytest.fixture
def paths(monkeypatch):
    """Counts which way each row went: "sparse" (a certified candidate set, batched or row by
    row), "retry" (the row-by-row thresholds after the batched one fell short), "dense" and
    "exact"."""
    seen = {"sparse": 0, "retry": 0, "dense": 0, "exact": 0}

    def count(module, name, key, tally=lambda result: 1):
        original = getattr(module, name)

        def wrapped(*args, **kw):
            result = original(*args, **kw)
            seen[key] += int(tally(result))
            return result
        monkeypatch.setattr(module, name, wrapped)

    count(sampling, "_crossings", "sparse", lambda status: (status == 1).sum())
    count(nucleus, "_write_sparse", "sparse")
    count(sampling, "_sparse_row", "retry", lambda ids: ids is not None)
    count(sampling, "_dense_row", "dense")
    count(nucleus, "_write_exact", "exact")
    return seen


PROFILES = ["peaked", "flat", "ties", "holes"]


def make(profile, rng, B=3, V=6000, dtype=np.float32):
    if profile == "peaked":
        x = zipf_rows(rng, B, V)
    elif profile == "flat":
        x = rng.normal(0, 0.1, (B, V))
    elif profile == "ties":
        x = np.round(rng.normal(0, 2, (B, V)) * 2) / 2
    else:
        x = rng.normal(0, 3, (B, V))
        x[:, rng.integers(0, V, V // 5)] = -np.inf
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("profile", PROFILES)
def test_fast_equals_reference_on_large_vocabularies(profile, dtype, paths):
    rng = np.random.default_rng(PROFILES.index(profile) + 10 * (dtype == np.float64))
    for trial in range(4):
        x = make(profile, rng, dtype=dtype)
        B, V = x.shape
        hist = [list(rng.integers(0, V, 40)) + [int(np.argmax(x[b]))] * 3 for b in range(B)]
        bias = {int(t): float(v) for t, v in zip(rng.integers(0, V, 8), rng.uniform(-5, 5, 8))}
        bias[int(np.argmax(x[1]))] = -100.0  # ban a row's top token
        for kw in [dict(temperature=0.8, top_p=0.9), dict(temperature=0.0, top_p=0.9),
                   dict(temperature=1.7, top_p=0.5), dict(temperature=0.3, top_p=0.0),
                   dict(temperature=1.0, top_p=1.0), dict(temperature=0.8, top_p=0.999)]:
            kw.update(frequency_penalty=rng.uniform(-2, 2), presence_penalty=rng.uniform(-2, 2))
            before = x.copy()
            assert_same(process_logits(x, hist, logit_bias=bias, **kw),
                        process_logits_reference(x, hist, logit_bias=bias, **kw))
            np.testing.assert_array_equal(x, before)
    if profile == "peaked":
        assert paths["sparse"] > 0
    if profile == "flat":
        assert paths["dense"] > 0


def test_exact_ties_at_the_threshold_take_the_exact_path(paths):
    # p = 1/4096 each: the running sum hits 0.5 exactly at token 2047, so no bound can tell the
    # crossing token apart; the exact arithmetic decides, and ties go to the lowest ids.
    x = np.zeros((1, 4096), dtype=np.float32)
    out = process_logits(x, top_p=0.5)
    assert_same(out, process_logits_reference(x, top_p=0.5))
    assert np.isfinite(out[0, :2048]).all() and not np.isfinite(out[0, 2048:]).any()
    assert paths["exact"] >= 1


def test_near_ties_at_the_boundary_are_resolved_exactly():
    # Two float64 scores one ulp apart straddle the crossing: their p may round equal, and then
    # the reference orders them by id. The fast path must not guess.
    rng = np.random.default_rng(7)
    V = 3000
    x = np.full((1, V), -30.0)
    x[0, :3] = [5.0, np.nextafter(4.0, 5.0), 4.0]
    x[0, 3:] += rng.normal(0, 0.01, V - 3)
    for top_p in np.linspace(0.6, 0.99, 14):
        for ids in [(1, 2), (2, 1)]:
            y = x.copy()
            y[0, list(ids)] = y[0, [1, 2]]
            assert_same(process_logits(y, top_p=top_p), process_logits_reference(y, top_p=top_p))


@settings(deadline=None, max_examples=40)
@given(st.integers(0, 2**32 - 1), st.floats(0.05, 2.0), st.sampled_from(PROFILES),
       st.sampled_from([0.0, 30.0, -40.0, 200.0, -200.0]), st.sampled_from([5000, 4999, 40]))
def test_float32_mass_bound_holds(seed, temperature, profile, offset, V):
    # offset moves m log2(e) / T in and out of the shift-free range [-60, 100] (both ways to b)
    rng = np.random.default_rng(seed)
    x = (make(profile, rng, B=1, V=V)[0] + np.float32(offset)).astype(np.float32)
    M = np.array(sorted(set(rng.integers(0, V, 5).tolist())))
    yM = x[M].astype(np.float64) + rng.uniform(-3, 3, M.size)
    m = max(float(x[np.setdiff1d(np.arange(V), M)].max()), float(yM.max()))
    bounds = nucleus._mass_bounds_f32(x, M, yM, m, temperature, np.empty_like(x))
    _, _, S = nucleus._exact_z(x, M, yM, m, temperature, nucleus._Scratch(x.size))
    assert bounds is not None and bounds[0] <= S <= bounds[1]
    # tight enough to certify; looser when float32(m) is far from a float64 m (eta)
    assert bounds[1] / bounds[0] - 1 < (1e-4 if abs(offset) < 100 else 3e-3)


@pytest.mark.parametrize("offset, shift_free", [(0.0, True), (200.0, False), (-200.0, False)])
def test_float32_mass_bound_both_ways(offset, shift_free, monkeypatch):
    rng = np.random.default_rng(12)
    x = (make("peaked", rng, B=1, V=5000)[0] + np.float32(offset)).astype(np.float32)
    m = float(x.max())
    none = np.zeros(0, np.int64), np.zeros(0)
    calls = []
    subtract = np.subtract
    monkeypatch.setattr(nucleus.np, "subtract", lambda *a, **k: calls.append(1) or subtract(*a, **k))
    for temperature in [0.7, 1.0, 1.9]:
        bounds = nucleus._mass_bounds_f32(x, *none, m, temperature, np.empty_like(x))
        _, _, S = nucleus._exact_z(x, *none, m, temperature, nucleus._Scratch(x.size))
        assert bounds[0] <= S <= bounds[1] and bounds[1] / bounds[0] - 1 < 1e-4
    monkeypatch.undo()
    assert len(calls) == (3 if shift_free else 6)    # _exact_z subtracts once per temperature too


@pytest.mark.parametrize("V", [1, 5, 63, 64, 65, 200, 4097])
def test_groups_cover_every_id_once(V):
    n = V // 64
    ids = _group_ids(np.arange(n + V % 64), V)
    assert sorted(ids.tolist()) == list(range(V))
    x = np.random.default_rng(V).normal(size=(2, V))
    g = sampling_groups(x)
    for c in range(g.shape[1]):
        members = _group_ids(np.array([c]), V)
        np.testing.assert_array_equal(g[:, c], x[:, members].max(axis=1))


def sampling_groups(x):
    return seeded._row_groups(x)


def test_errors_keep_the_reference_precedence():
    bad = np.zeros((2, 300), dtype=np.float32)
    bad[1, 7] = np.nan
    message = "`logits` must not contain NaN, got NaN at index (1, 7)"
    for fn in (process_logits, process_logits_reference):
        with pytest.raises(ValueError, match=re.escape(message)):
            fn(bad, top_p=5)  # the logits are checked before the parameters
        with pytest.raises(ValueError, match=re.escape(message)):
            fn(bad, [[999], [0]])
    dead = np.zeros((2, 300))
    dead[0] = -np.inf
    with pytest.raises(ValueError, match="got every token -inf in row 0"):
        process_logits(dead)
    inf = np.zeros(300)
    inf[5] = np.inf
    with pytest.raises(ValueError, match=re.escape("got +inf at index 5")):
        process_logits(inf)


@pytest.mark.parametrize("temperature", [1e-300, 1e-30, 0.01, 2.0])
def test_extreme_temperatures_on_float32(temperature):
    rng = np.random.default_rng(11)
    x = zipf_rows(rng, 2, 3000).astype(np.float32)
    x[1, :5] = x[1].max()                          # ties at the top
    for top_p in [0.0, 0.5, 0.9]:
        kw = dict(temperature=temperature, top_p=top_p)
        assert_same(process_logits(x, **kw), process_logits_reference(x, **kw))


def test_history_as_an_array():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 500)).astype(np.float32)
    hist = rng.integers(0, 500, (4, 30))
    kw = dict(frequency_penalty=0.7, presence_penalty=-0.4, top_p=0.8)
    assert_same(process_logits(x, hist, **kw), process_logits(x, hist.tolist(), **kw))
    assert_same(process_logits(x, hist, **kw), process_logits_reference(x, hist.tolist(), **kw))


# -- sample ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("profile", PROFILES)
def test_sample_fast_equals_reference(profile):
    rng = np.random.default_rng(3)
    x = make(profile, rng, B=4, V=20_000)
    for top_p in [0.3, 0.9, 1.0]:
        lp = process_logits(x, temperature=0.8, top_p=top_p)
        for position in range(6):
            seeds = rng.integers(-(2**63), 2**63 - 1, size=4, dtype=np.int64)
            np.testing.assert_array_equal(sample(lp, seed=seeds, position=position),
                                          sample_reference(lp, seed=seeds, position=position))


def test_sample_draw_row_on_every_u():
    # u = 0, u near 1 and u on a CDF step reach the exact fallback; all must agree.
    rng = np.random.default_rng(5)
    for dense in [False, True]:
        V = 5000
        lp = rng.normal(0, 0.5, V)
        if not dense:
            lp[rng.permutation(V)[:4900]] = -np.inf
        else:
            lp[rng.permutation(V)[:500]] = -np.inf
        g = seeded._row_groups(lp[None, :])[0]
        p = np.exp(lp - lp.max())
        cdf = np.cumsum(p)
        steps = list(cdf[rng.integers(0, V, 10)] / cdf[-1])
        for u in [0.0, 1 - 2**-53, 0.5, *np.linspace(0, 1, 200, endpoint=False), *steps]:
            assert seeded._draw_row_fast(lp, g, u) == seeded._draw_row(lp, u)
            assert seeded._draw_row_fast(lp.astype(np.float32), g.astype(np.float32), u) == \
                seeded._draw_row(lp.astype(np.float32).astype(np.float64), u)


def test_sample_errors_unchanged():
    with pytest.raises(ValueError, match=re.escape("`logprobs` must not contain NaN, got NaN at index (1, 2)")):
        sample(np.array([[0.0, 1.0, 2.0], [0.0, 1.0, np.nan]]), seed=0)
    with pytest.raises(ValueError, match="must leave at least one token with a finite value"):
        sample(np.full((1, 300), -np.inf, dtype=np.float32), seed=0)
    assert sample([0.0, 0.0, 50.0], seed=1) == 2  # lists and ints still work


# -- the batch-wide steps against brute force -------------------------------------------------------

def test_sorted_unique_is_np_unique():
    rng = np.random.default_rng(2)
    for a in [np.zeros(0, np.int64), np.array([5]), rng.integers(0, 50, 300), rng.integers(0, 10**9, 5000)]:
        values, counts = sampling._sorted_unique(a)
        want_values, want_counts = np.unique(a, return_counts=True)
        np.testing.assert_array_equal(values, want_values)
        np.testing.assert_array_equal(counts, want_counts)


def y_brute(x, hist, bias, fp, pp):
    """The biased, penalised scores, term by term as the reference writes them (float64)."""
    y = x.astype(np.float64)
    for b in range(x.shape[0]):
        for t, v in bias.items():
            y[b, t] = y[b, t] + v
        ids, counts = np.unique(np.asarray(hist[b], dtype=np.int64), return_counts=True)
        for j, c in zip(ids, counts):
            y[b, j] = y[b, j] - c * fp - float(c > 0) * pp
    return y


@pytest.mark.parametrize("V", [40, 64, 1000, 6001])
def test_row_maxima_are_exact(V):
    # Penalise or ban each row's top tokens, so the group of the top token is spoiled while
    # holding the row's true maximum (an unmodified id): the search inside spoiled groups finds it.
    rng = np.random.default_rng(V)
    for trial in range(5):
        x = make("peaked" if trial % 2 else "ties", rng, B=4, V=V)
        order = np.argsort(-x, axis=1)
        hist = [list(order[b, :3]) * (b + 1) + list(rng.integers(0, V, 20)) for b in range(4)]
        bias = {int(order[0, 0]): -100.0, int(rng.integers(0, V)): 3.0}
        fp, pp = 1.5, 0.5
        keys, y, bounds = sampling._modified(x, [np.array(h) for h in hist], fp, pp, bias)
        m, Gc, PM = sampling._row_maxima(x, sampling._group_maxima(x), keys, y, bounds)
        yb = y_brute(x, hist, bias, fp, pp)
        np.testing.assert_array_equal(m, yb.max(axis=1))
        for b in range(4):
            M, yM = sampling._row_modified(keys, y, bounds, b, V)
            np.testing.assert_array_equal(yM, yb[b, M])
            assert set(np.flatnonzero(yb[b] != x[b]).tolist()) <= set(M.tolist())   # changed => listed


@pytest.mark.parametrize("V", [40, 64, 129, 6001])
def test_at_least_finds_every_id_above_a_threshold(V):
    rng = np.random.default_rng(V)
    x = make("holes", rng, B=2, V=V)
    n = V // 64
    g = sampling._group_maxima(x)
    for b in range(2):
        for t in [np.inf, *np.quantile(x[b][np.isfinite(x[b])], [1.0, 0.99, 0.5, 0.0]), -np.inf]:
            ids, xv = sampling._at_least(x[b], g[b, :n], np.float64(t), n * np.arange(64),
                                         np.arange(64 * n, V))
            assert sorted(ids.tolist()) == np.flatnonzero(x[b] >= t).tolist()
            np.testing.assert_array_equal(xv, x[b, ids])


def test_batched_crossings_agree_with_crossing_row_by_row():
    # Rows built to hit every verdict: clear crossings, exact ties and near ties at the
    # boundary, sums that never reach top_p ("more"), and loose bounds ("doubt").
    rng = np.random.default_rng(4)
    rows, S_lo, S_hi = [], [], []
    for b in range(300):
        kind = b % 5
        e = np.exp(-rng.exponential(2, rng.integers(1, 40)))
        if kind == 1:
            e = np.round(e * 4) / 4 + 0.25                        # exact ties
        elif kind == 2:
            e[: e.size // 2] = e[0] * (1 + rng.integers(0, 3, e.size // 2) * 2.0 ** -52)  # near ties
        S = float(np.sum(e)) * (rng.uniform(1, 1.5) if kind == 3 else 1.0)    # "more"
        spread = 1e-3 if kind == 4 else 1e-9                                  # loose bounds
        rows.append(e)
        S_lo.append(S * (1 - spread))
        S_hi.append(S * (1 + spread))
    B = len(rows)
    ids = [rng.permutation(1000)[:e.size] for e in rows]
    R = np.concatenate([np.full(e.size, b) for b, e in enumerate(rows)])
    I = np.concatenate(ids)
    E = np.concatenate(rows)
    Z = np.log(E)
    shuffle = rng.permutation(R.size)
    for top_p in [0.3, 0.75, 0.9]:
        out = np.full((B, 1000), -np.inf)
        status = sampling._crossings(R[shuffle], I[shuffle], Z[shuffle], E[shuffle],
                                     np.array(S_lo), np.array(S_hi), top_p, out)
        verdicts = set()
        for b, e in enumerate(rows):
            v = np.sort(e)[::-1]
            k, cum = nucleus._crossing(v, 0.0, 0, S_lo[b], S_hi[b], top_p)
            want = np.full(1000, -np.inf)
            if isinstance(k, str):
                assert status[b] == {"more": 0, "doubt": -1}[k]
                verdicts.add(k)
            else:
                assert status[b] == 1
                verdicts.add("written")
                nucleus._write_sparse(ids[b], np.log(e), e, v, k, cum, want)
            np.testing.assert_array_equal(out[b], want)
        assert verdicts == {"more", "doubt", "written"}


@pytest.mark.parametrize("profile", ["peaked", "flat"])
def test_rows_give_the_same_bits_in_any_batch(profile):
    # Rows with different numbers of modified ids pad the batch tables differently; no row may
    # notice (its path and thresholds depend on the row alone).
    rng = np.random.default_rng(8)
    x = make(profile, rng, B=4, V=6000)
    hist = [list(rng.integers(0, 6000, 5 + 60 * b)) + [int(np.argmax(x[b]))] * b for b in range(4)]
    kw = dict(temperature=0.7, top_p=0.9, frequency_penalty=0.4, presence_penalty=0.2,
              logit_bias={int(np.argmax(x[0])): -100.0})
    whole = process_logits(x, hist, **kw)
    for b in range(4):
        np.testing.assert_array_equal(whole[b], process_logits(x[b], hist[b], **kw))
