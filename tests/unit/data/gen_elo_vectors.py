#!/usr/bin/env python3
"""Generates elo_vectors.inc, the reference values that tests/unit/elo_test.cpp checks
actors/elo/match_stats.cpp against (within 1e-9, absolute plus relative).

Provenance: the formulas are those of fishtest, the Stockfish testing framework
(github.com/official-stockfish/fishtest, directory server/fishtest/stats/), re-implemented
here line by line from these versions:

  stat_util.py   commit 1054c5aa1a415e29dec3cb0937b7927809a64edb
                 elo, L, stats, get_elo, bayeselo_to_proba, proba_to_bayeselo,
                 draw_elo_calc, bayeselo_to_elo, elo_to_bayeselo, SPRT (the bounds) and
                 update_SPRT (the stop condition, without the dynamic overshoot correction)
  LLRcalc.py     commit 0753fcc6222e70a11a7e9a90a4fd549654338a45
                 secular, uniform, MLE_expected, MLE_t_value, stats, stats_ex, LLRjumps, LLR,
                 LLR_alt2, L_, regularize, results_to_pdf, LLR_logistic, LLR_normalized
  templates/tests_stats.mak   commit 01037e2bdeca6ead35964c1b6c4342b2ff9d1c5f
                 t_conf and the normalized Elo (nElo) with its 95 % interval, trinomial and
                 pentanomial

One deliberate difference from running fishtest itself, for reproducibility:
  * fishtest calls scipy (norm.cdf, norm.ppf, optimize.brentq). Debian 12's python3-scipy
    cannot be installed next to the project's Boost 1.81 (its python3-pythran dependency pulls
    libboost1.74-dev, which conflicts), so this script uses only Python's standard library:
    Phi(x) = erfc(-x / sqrt 2) / 2, Phi_inv = statistics.NormalDist().inv_cdf (Wichura's
    AS241, accurate to double precision), and the secular equation is solved by bisection
    down to adjacent doubles instead of brentq's default tolerance (2e-12). f is strictly
    decreasing on the bracket, so both find the same root; this one to full precision.
Everything else follows fishtest's order of operations, including MLE_t_value's ten
fixed-point iterations with its 1e-9 stop, and its asserts: a case they refuse gets a NaN LLR.

From the repository root:
  python3 tests/unit/data/gen_elo_vectors.py > tests/unit/data/elo_vectors.inc
The output is deterministic (fixed cases plus a seeded random.Random); the tests need neither
this script nor Python.
"""

import copy
import math
import random
import statistics

# ---- stat_util.py ---------------------------------------------------------------------------


def Phi(q):
    return 0.5 * math.erfc(-q / math.sqrt(2))


def Phi_inv(p):
    return statistics.NormalDist().inv_cdf(p)


def elo(x):
    epsilon = 1e-3
    x = max(x, epsilon)
    x = min(x, 1 - epsilon)
    return -400 * math.log10(1 / x - 1)


def L(x):
    return 1 / (1 + 10 ** (-x / 400.0))


def stat_util_stats(results):
    l = len(results)
    N = sum(results)
    games = N * (l - 1) / 2.0
    mu = sum([results[i] * (i / 2.0) for i in range(0, l)]) / games
    mu_ = (l - 1) / 2.0 * mu
    var = sum([results[i] * (i / 2.0 - mu_) ** 2.0 for i in range(0, l)]) / games
    return games, mu, var


def get_elo(results):
    results = regularize(results)
    games, mu, var = stat_util_stats(results)
    stdev = math.sqrt(var)
    mu_min = mu + Phi_inv(0.025) * stdev / math.sqrt(games)
    mu_max = mu + Phi_inv(0.975) * stdev / math.sqrt(games)
    el = elo(mu)
    elo95 = (elo(mu_max) - elo(mu_min)) / 2.0
    los = Phi((mu - 0.5) / (stdev / math.sqrt(games)))
    return el, elo95, los


def bayeselo_to_proba(elo_, drawelo):
    P = 3 * [0]
    P[2] = 1.0 / (1.0 + pow(10.0, (-elo_ + drawelo) / 400.0))
    P[0] = 1.0 / (1.0 + pow(10.0, (elo_ + drawelo) / 400.0))
    P[1] = 1.0 - P[2] - P[0]
    return P


def proba_to_bayeselo(P):
    assert 0 < P[2] and P[2] < 1 and 0 < P[0] and P[0] < 1
    elo_ = 200 * math.log10(P[2] / P[0] * (1 - P[0]) / (1 - P[2]))
    drawelo = 200 * math.log10((1 - P[0]) / P[0] * (1 - P[2]) / P[2])
    return elo_, drawelo


def draw_elo_calc(R):
    N = sum(R)
    P = [p / N for p in R]
    _, drawelo = proba_to_bayeselo(P)
    return drawelo


def bayeselo_to_elo(belo, drawelo):
    P = bayeselo_to_proba(belo, drawelo)
    return elo(P[2] + 0.5 * P[1])


def elo_to_bayeselo(elo_, draw_ratio):
    assert draw_ratio >= 0
    s = L(elo_)
    P = 3 * [0]
    P[2] = s - draw_ratio / 2.0
    P[1] = draw_ratio
    P[0] = 1 - P[1] - P[2]
    if P[0] <= 0 or P[2] <= 0:
        return float("NaN"), float("NaN")
    return proba_to_bayeselo(P)


def sprt_bounds(alpha, beta):
    return math.log(beta / (1 - alpha)), math.log((1 - beta) / alpha)


# ---- LLRcalc.py ------------------------------------------------------------------------------

nelo_divided_by_nt = 800 / math.log(10)


def secular(pdf):
    """Root of sum_i pi*ai/(1+x*ai) on fishtest's bracket, by bisection to adjacent doubles."""
    epsilon = 1e-9
    values = [ai for ai, pi in pdf]
    v = min(values)
    w = max(values)
    assert v * w < 0
    lo = -1 / w + epsilon
    hi = -1 / v - epsilon

    def f(x):
        return sum([pi * ai / (1 + x * ai) for ai, pi in pdf])

    # f decreases from positive to negative on the bracket.
    assert f(lo) > 0 and f(hi) < 0
    for _ in range(2000):
        mid = lo + (hi - lo) / 2
        if mid <= lo or mid >= hi:
            break
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return lo + (hi - lo) / 2


def uniform(pdf):
    n = len(pdf)
    return [(ai, 1 / n) for ai, pi in pdf]


def MLE_expected(pdfhat, s):
    pdf1 = [(ai - s, pi) for ai, pi in pdfhat]
    x = secular(pdf1)
    pdf_MLE = [(ai, pi / (1 + x * (ai - s))) for ai, pi in pdfhat]
    s_, _ = stats(pdf_MLE)
    assert abs(s - s_) < 1e-6
    return pdf_MLE


def MLE_t_value(pdfhat, ref, s):
    N = len(pdfhat)
    pdf_MLE = uniform(pdfhat)
    for i in range(10):
        pdf_ = pdf_MLE
        mu, var = stats(pdf_MLE)
        sigma = var ** (1 / 2)
        pdf1 = [
            (ai - ref - s * sigma * (1 + ((mu - ai) / sigma) ** 2) / 2, pi)
            for ai, pi in pdfhat
        ]
        x = secular(pdf1)
        pdf_MLE = [
            (pdfhat[i][0], pdfhat[i][1] / (1 + x * pdf1[i][0])) for i in range(N)
        ]
        if max([abs(pdf_[i][1] - pdf_MLE[i][1]) for i in range(N)]) < 1e-9:
            break
    mu, var = stats(pdf_MLE)
    assert abs(s - (mu - ref) / var**0.5) < 1e-5
    return pdf_MLE


def stats(pdf):
    epsilon = 1e-6
    for i in range(0, len(pdf)):
        assert -epsilon <= pdf[i][1] <= 1 + epsilon
    n = sum([prob for value, prob in pdf])
    assert abs(n - 1) < epsilon
    s = sum([prob * value for value, prob in pdf])
    var = sum([prob * (value - s) ** 2 for value, prob in pdf])
    return s, var


def stats_ex(pdf):
    s, var = stats(pdf)
    m3 = sum([prob * (value - s) ** 3 for value, prob in pdf])
    m4 = sum([prob * (value - s) ** 4 for value, prob in pdf])
    skewness = m3 / var**1.5
    exkurt = m4 / var**2 - 3
    return s, var, skewness, exkurt


def LLRjumps(pdf, s0, s1, ref=None, statistic="expectation"):
    if statistic == "expectation":
        pdf0, pdf1 = [MLE_expected(pdf, s) for s in (s0, s1)]
    elif statistic == "t_value":
        pdf0, pdf1 = [MLE_t_value(pdf, ref, s) for s in (s0, s1)]
    else:
        assert False
    return [
        (math.log(pdf1[i][1]) - math.log(pdf0[i][1]), pdf[i][1])
        for i in range(0, len(pdf))
    ]


def LLR(pdf, s0, s1, ref=None, statistic="expectation"):
    return stats(LLRjumps(pdf, s0, s1, ref=ref, statistic=statistic))[0]


def LLR_alt2(pdf, s0, s1):
    s, var = stats(pdf)
    return (s1 - s0) * (2 * s - s0 - s1) / var / 2.0


def L_(x):
    return 1 / (1 + 10 ** (-x / 400))


def regularize(results):
    epsilon = 1e-3
    results = copy.copy(results)
    for i in range(0, len(results)):
        if results[i] == 0:
            results[i] = epsilon
    return results


def results_to_pdf(results):
    results = regularize(results)
    N = sum(results)
    count = len(results)
    return N, [(i / (count - 1), results[i] / N) for i in range(0, count)]


def LLR_logistic(elo0, elo1, results):
    s0, s1 = [L_(elo_) for elo_ in (elo0, elo1)]
    N, pdf = results_to_pdf(results)
    return N * LLR(pdf, s0, s1, statistic="expectation")


def LLR_normalized(nelo0, nelo1, results):
    nt0, nt1 = [nelo / nelo_divided_by_nt for nelo in (nelo0, nelo1)]
    sqrt2 = 2**0.5
    t0, t1 = (nt0, nt1) if len(results) == 3 else (nt0 * sqrt2, nt1 * sqrt2)
    N, pdf = results_to_pdf(results)
    return N * LLR(pdf, t0, t1, ref=1 / 2, statistic="t_value")


# ---- templates/tests_stats.mak: normalized Elo with its interval ----------------------------


def t_conf(avg, var, skewness, exkurt):
    t = (avg - 0.5) / var**0.5
    var_t = max(1 - t * skewness + 0.25 * t**2 * (exkurt + 2), 0)
    return t, var_t


def normalized_elo(results):
    z975 = Phi_inv(0.975)
    N, pdf = results_to_pdf(results)
    avg, var, skewness, exkurt = stats_ex(pdf)
    t, var_t = t_conf(avg, var, skewness, exkurt)
    t_l = t - z975 * (var_t / N) ** 0.5
    t_u = t + z975 * (var_t / N) ** 0.5
    # A game pair's t-value is sqrt(2) times a game's.
    scale = 1 if len(results) == 3 else 2**0.5
    return [nelo_divided_by_nt * v / scale for v in (t, t_l, t_u)]


# ---- the vectors -----------------------------------------------------------------------------


def fmt(x):
    return repr(float(x))


def counts(results):
    return "{" + ", ".join(str(r) for r in results) + "}"


def score_cases(rng):
    cases = [
        # From stat_util.py's own examples.
        [65804, 56553, 65388],
        [10789, 19328, 33806, 19402, 10543],
        [13624, 34333, 13543],
        [1187, 7410, 13475, 7378, 1164],
        [39, 2226, 31451, 2412, 40],
        [591, 2163, 716],
        [1500, 4000, 1450],
        [5026, 15699, 5019],
        [0, 20, 10],
        [1, 20, 10],
        [0, 0, 10],
        [10, 0, 0],
        [3, 4, 5],
        [0, 1, 0],
        [1, 0, 1],
        [0, 0, 0, 0, 7],
        [1, 0, 0, 0, 0],
        [0, 5, 10, 5, 0],
        [2, 0, 3, 0, 1],
        [1, 1, 1, 1, 1],
    ]
    for _ in range(20):
        n = rng.choice([20, 200, 2000, 20000, 200000])
        p_win = rng.uniform(0.05, 0.6)
        p_draw = rng.uniform(0.0, 0.9 - p_win)
        r = [0, 0, 0]
        for _ in range(n if n <= 2000 else 0):
            u = rng.random()
            r[2 if u < p_win else 1 if u < p_win + p_draw else 0] += 1
        if n > 2000:  # large samples: expected counts with a little jitter
            w = int(n * p_win) + rng.randint(-50, 50)
            d = int(n * p_draw) + rng.randint(-50, 50)
            r = [max(n - w - d, 0), max(d, 0), max(w, 0)]
        cases.append(r)
    for _ in range(20):
        pairs = rng.choice([10, 100, 1000, 30000])
        weights = [rng.uniform(0.01, 1) for _ in range(5)]
        total = sum(weights)
        r = [int(pairs * w / total) for w in weights]
        if rng.random() < 0.2:
            r[rng.randrange(5)] = 0
        cases.append(r)
    return cases


def main():
    rng = random.Random(20240607)
    out = []
    out.append("// Generated by gen_elo_vectors.py from fishtest's formulas (see its header);")
    out.append("// do not edit.")
    out.append("")
    out.append("// counts (L, D, W or the pentanomial 0 .. 2), stat_util.get_elo: elo, elo95, los;")
    out.append("// tests_stats.mak: nelo, nelo_low, nelo_high; draw_elo_calc of the regularized")
    out.append("// trinomial (NaN for a pentanomial).")
    out.append("const score_vector score_vectors[] = {")
    cases = score_cases(rng)
    for r in cases:
        el, elo95, los = get_elo(r)
        nelo, nelo_l, nelo_u = normalized_elo(r)
        drawelo = draw_elo_calc(regularize(r)) if len(r) == 3 else float("nan")
        drawelo_s = fmt(drawelo) if len(r) == 3 else "nan_value"
        out.append(
            f"    {{{counts(r)}, {fmt(el)}, {fmt(elo95)}, {fmt(los)}, {fmt(nelo)}, "
            f"{fmt(nelo_l)}, {fmt(nelo_u)}, {drawelo_s}}},"
        )
    out.append("};")
    out.append("")
    out.append("// counts, model (logistic or normalized), elo0, elo1, alpha, beta;")
    out.append("// LLRcalc.LLR_logistic or LLR_normalized (NaN where fishtest's asserts refuse),")
    out.append("// the bounds of stat_util.SPRT, the state of update_SPRT without overshoot")
    out.append("// (-1 rejected, 0 continue, 1 accepted), and LLR_alt2 times N (logistic only,")
    out.append("// else NaN).")
    out.append("const sprt_vector sprt_vectors[] = {")
    hypotheses = [
        ("logistic", 0.0, 2.0, 0.05, 0.05),
        ("logistic", -3.0, 1.0, 0.05, 0.05),
        ("logistic", 0.5, 2.5, 0.05, 0.05),
        ("logistic", 0.0, 5.0, 0.01, 0.1),
        ("normalized", 0.0, 2.0, 0.05, 0.05),
        ("normalized", -1.75, 0.25, 0.05, 0.05),
        ("normalized", 0.764, 3.439, 0.05, 0.05),
        ("normalized", 0.0, 5.0, 0.01, 0.1),
        # A t-value of 0.86 per game: fishtest's checks refuse about half the samples (LLR NaN).
        ("normalized", 0.0, 300.0, 0.05, 0.05),
    ]
    refused = 0
    for r in cases:
        for model, e0, e1, alpha, beta in hypotheses:
            try:
                if model == "logistic":
                    llr = LLR_logistic(e0, e1, r)
                    N, pdf = results_to_pdf(r)
                    alt2 = N * LLR_alt2(pdf, L_(e0), L_(e1))
                else:
                    llr = LLR_normalized(e0, e1, r)
                    alt2 = float("nan")
            except AssertionError:
                # fishtest's own checks refuse this case (no sign change, or no convergence).
                refused += 1
                llr = alt2 = float("nan")
            lower, upper = sprt_bounds(alpha, beta)
            state = -1 if llr < lower else 1 if llr > upper else 0
            llr_s = fmt(llr) if llr == llr else "nan_value"
            alt2_s = fmt(alt2) if model == "logistic" and alt2 == alt2 else "nan_value"
            out.append(
                f"    {{{counts(r)}, sprt_model::{model}, {fmt(e0)}, {fmt(e1)}, {fmt(alpha)}, "
                f"{fmt(beta)}, {llr_s}, {fmt(lower)}, {fmt(upper)}, {state}, {alt2_s}}},"
            )
    out.append("};")
    out.append("")
    out.append("// BayesElo conversions of stat_util: belo, drawelo -> bayeselo_to_elo; lelo,")
    out.append("// draw_ratio -> elo_to_bayeselo (elo, drawelo).")
    out.append("const bayeselo_vector bayeselo_vectors[] = {")
    for belo, drawelo, lelo, draw_ratio in [
        (0.0, 200.0, 0.0, 0.5),
        (5.0, 240.0, 2.0, 0.6),
        (-30.0, 100.0, -15.0, 0.3),
        (120.0, 320.0, 60.0, 0.75),
        (1.0, 50.0, 400.0, 0.05),
    ]:
        b_elo, b_draw = elo_to_bayeselo(lelo, draw_ratio)
        out.append(
            f"    {{{fmt(belo)}, {fmt(drawelo)}, {fmt(bayeselo_to_elo(belo, drawelo))}, "
            f"{fmt(lelo)}, {fmt(draw_ratio)}, {fmt(b_elo)}, {fmt(b_draw)}}},"
        )
    out.append("};")
    out.append(
        f"// {len(cases)} score cases; {refused} SPRT cases refused by fishtest's checks."
    )
    print("\n".join(out))


if __name__ == "__main__":
    main()
