"""The calibrated universality test (gantheory._universality, re-exported by gantheory.rmt) and
its measured size and power (tools/universality_power.py, artifacts/universality_power.json)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as st
from threadpoolctl import threadpool_limits

from gantheory._universality import STATISTICS, UniversalityTest, universality_test

ROOT = Path(__file__).resolve().parents[1]
ARTIFACT = ROOT / "artifacts" / "universality_power.json"


def _tool():
    path = ROOT / "tools" / "universality_power.py"
    spec = importlib.util.spec_from_file_location("universality_power", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL = _tool()


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Matrices of a few hundred: one BLAS thread is faster, and much faster when other work
    shares the cores."""
    with threadpool_limits(1, user_api="blas"):
        yield


def _data(n=60, p=20, k=2, law="gaussian", seed=0):
    return TOOL.mixture(n, p, k, law, seed)


# --------------------------------------------------------------------------- the result


def test_shapes_fields_and_table():
    x, y = _data()
    res = universality_test(x, y, seed=3, n_boot=19)
    assert isinstance(res, UniversalityTest)
    assert res.statistics == STATISTICS
    assert set(res.observed) == set(res.null) == set(res.p_values) == set(STATISTICS)
    assert all(res.null[s].shape == (19,) for s in STATISTICS)
    assert all(0 < res.p_values[s] <= 1 for s in STATISTICS)
    assert all(math.isclose(res.p_values[s] * 20, round(res.p_values[s] * 20))
               for s in STATISTICS)
    assert 1 / 20 <= res.p_combined <= 1 and res.reject == (res.p_combined <= 0.05)
    assert res.level == 0.05 and res.n_boot == 19 and (res.n, res.p) == (60, 20)
    # n = 60 > p = 20: an atom of n - p zeros; halves of 30 samples: 30 - 20 zeros
    assert res.atom == pytest.approx(1 - 20 / 60) and res.atom_surrogate == pytest.approx(2 / 3)
    assert res.atom_test == pytest.approx(1 - 20 / 30)
    assert res.atom_reference == pytest.approx(1 - 20 / 30)
    np.testing.assert_array_equal(res.class_sizes, [30, 30])
    np.testing.assert_array_equal(res.fit_sizes, [15, 15])
    rows = res.table()
    assert [r["statistic"] for r in rows] == [*STATISTICS, "combined (min-p)"]
    assert rows[-1]["p_value"] == res.p_combined and rows[-1]["reject"] == res.reject
    assert all(r["null_sd"] >= 0 for r in rows[:-1])
    with pytest.raises(AttributeError):
        res.reject = True  # frozen


def test_p_above_n_has_no_atom_and_works_in_the_span():
    x, y = _data(n=40, p=90)
    res = universality_test(x, y, seed=0, n_boot=19)
    assert res.atom == 0 and res.atom_test == 0 and res.atom_surrogate == 0
    assert all(0 < v <= 1 for v in res.p_values.values())


def test_deterministic_and_seeded():
    x, y = _data()
    a = universality_test(x, y, seed=5, n_boot=19)
    b = universality_test(x, y, seed=5, n_boot=19)
    c = universality_test(x, y, seed=6, n_boot=19)
    for s in STATISTICS:
        np.testing.assert_array_equal(a.null[s], b.null[s])
        assert a.observed[s] == b.observed[s]
    assert a.p_values == b.p_values and a.p_combined == b.p_combined
    assert not np.array_equal(a.null["bulk_ks"], c.null["bulk_ks"])


@pytest.mark.parametrize("p", [20, 90])
def test_invariant_under_rotations_of_the_features_and_relabelling(p):
    x, y = _data(n=40, p=p, seed=2)
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((p, p)))
    base = universality_test(x, y, seed=1, n_boot=19)
    turned = universality_test(x @ q, y + 7, seed=1, n_boot=19)
    assert turned.p_values == base.p_values and turned.p_combined == base.p_combined
    for s in STATISTICS:
        np.testing.assert_allclose(turned.null[s], base.null[s], rtol=1e-6, atol=1e-9)


def test_one_statistic_combined_is_its_p_value():
    x, y = _data(law="student-t nu=3")
    res = universality_test(x, y, seed=0, n_boot=19, statistics=("norm_spread",))
    assert res.statistics == ("norm_spread",) and set(res.p_values) == {"norm_spread"}
    assert res.p_combined == res.p_values["norm_spread"]


def test_restricted_equals_a_call_with_fewer_statistics():
    x, y = _data(law="student-t nu=5")
    spectral = STATISTICS[:4]
    full = universality_test(x, y, seed=3, n_boot=19)
    part = universality_test(x, y, seed=3, n_boot=19, statistics=spectral)
    sub = full.restricted(spectral)
    assert sub.statistics == part.statistics == spectral
    assert sub.p_values == part.p_values and sub.observed == part.observed
    assert sub.p_combined == part.p_combined and sub.reject == part.reject
    for s in spectral:
        np.testing.assert_array_equal(sub.null[s], part.null[s])
    assert full.restricted(("norm_spread",)).p_combined == full.p_values["norm_spread"]
    with pytest.raises(ValueError, match="not among"):
        part.restricted(("norm_spread",))


def test_input_validation_names_the_parameter():
    x, y = _data()
    with pytest.raises(ValueError, match="features"):
        universality_test(x[0], y, seed=0)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="features"):
        universality_test(bad, y, seed=0)
    with pytest.raises(ValueError, match="labels"):
        universality_test(x, y[:-1], seed=0)
    with pytest.raises(ValueError, match="labels"):
        universality_test(x, y.astype(float), seed=0)
    few = y.copy()
    few[:3] = 2  # a class of 3 samples
    with pytest.raises(ValueError, match="labels: every class needs at least 4"):
        universality_test(x, few, seed=0)
    with pytest.raises(ValueError, match="n_boot"):
        universality_test(x, y, seed=0, n_boot=10)
    with pytest.raises(TypeError, match="n_boot"):
        universality_test(x, y, seed=0, n_boot=50.0)
    with pytest.raises(ValueError, match="n_reference"):
        universality_test(x, y, seed=0, n_reference=0)
    for level in (0, 1, 1.5, -0.1, math.nan, "0.05"):
        with pytest.raises(ValueError, match="level"):
            universality_test(x, y, seed=0, level=level)
    for seed in (1.5, None, True, "0"):
        with pytest.raises(TypeError, match="seed"):
            universality_test(x, y, seed=seed)
    with pytest.raises(ValueError, match="seed"):
        universality_test(x, y, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        universality_test(x, y)  # seed is required
    for stats in (("bulk_ks", "nope"), (), ("bulk_ks", "bulk_ks")):
        with pytest.raises(ValueError, match="statistics"):
            universality_test(x, y, seed=0, statistics=stats)
    with pytest.raises(ValueError, match="calibration"):
        universality_test(x, y, seed=0, calibration="permutation")


# --------------------------------------------------------------------------- size and power


@pytest.mark.parametrize("n,p", [(60, 30), (40, 80)])
def test_size_on_gaussian_mixtures_is_the_level(n, p):
    """Under H0 the rejections over independent seeds are Binomial(S, 1/20) (n_boot = 19, the
    conditional calibration is exact): the count must be below the binomial quantile exceeded
    with probability 0.001, for the decision and for each statistic (Bonferroni over them)."""
    seeds = 100
    counts = dict.fromkeys((*STATISTICS, "combined"), 0)
    for s in range(seeds):
        x, y = _data(n=n, p=p, seed=10_000 + s)
        res = universality_test(x, y, seed=s, n_boot=19)
        counts["combined"] += res.reject
        for stat in STATISTICS:
            counts[stat] += res.p_values[stat] <= 0.05
    bound = st.binom.isf(0.001 / len(counts), seeds, 0.05)
    assert max(counts.values()) <= bound, (counts, bound)


def test_power_against_a_student_t_radius():
    """Same means and covariances, Student-t radius (nu = 3): rejected for nearly every seed."""
    seeds = 8
    rejected = 0
    for s in range(seeds):
        x, y = _data(n=400, p=200, law="student-t nu=3", seed=20_000 + s)
        rejected += universality_test(x, y, seed=s, n_boot=19).reject
    assert rejected >= seeds - 1


def test_power_against_a_mild_scale_mixture():
    x, y = _data(n=200, p=100, law="scale 0.8|1.4", seed=7)
    res = universality_test(x, y, seed=0, n_boot=19)
    assert res.reject and res.p_values["norm_spread"] == 1 / 20


def test_the_parametric_bootstrap_is_not_calibrated_here():
    """With moments fitted on p/n_l of order one, the Gaussian resample has a wider spectrum
    than the data: the bootstrap rejects Gaussian data far above the level on bulk_ks (why the
    default calibration conditions on the moments instead)."""
    seeds = 12
    rejected = 0
    for s in range(seeds):
        x, y = _data(n=200, p=100, seed=30_000 + s)
        res = universality_test(x, y, seed=s, n_boot=19, calibration="bootstrap",
                                statistics=("bulk_ks",))
        rejected += res.reject
    assert rejected >= 4  # Binomial(12, 0.05) reaches 4 with probability 0.002


# --------------------------------------------------------------------------- the artifact


def _artifact():
    if not ARTIFACT.exists():
        pytest.skip("artifacts/universality_power.json not written yet")
    return json.loads(ARTIFACT.read_text())


def test_artifact_schema_and_counts():
    art = _artifact()
    assert art["tool"] == "tools/universality_power.py" and art["mode"] == "full"
    settings = art["settings"]
    assert settings["statistics"] == list(STATISTICS) and 0 < settings["level"] < 1
    assert {"numpy", "scipy", "gantheory", "python"} <= set(art["versions"])
    assert art["wall_seconds"] > 0
    laws = {c["law"] for c in art["cells"]}
    assert "gaussian" in laws and len(laws) >= 6
    scale = settings["n_boot"] + 1
    for cell in art["cells"]:
        assert len(cell["data_seeds"]) == len(cell["test_seeds"]) == cell["seeds"]
        assert len(cell["combined_ranks"]) == cell["seeds"]
        assert all(1 <= r <= scale for r in cell["combined_ranks"])
        combined = sum(r <= settings["level"] * scale + 1e-9 for r in cell["combined_ranks"])
        assert cell["rejections"]["combined"] == combined
        assert all(0 <= v <= cell["seeds"] for v in cell["rejections"].values())
        lo, hi = cell["ci95"]
        assert lo <= cell["rate"] <= hi
    # the recorded size: in every Gaussian cell of the exact calibration, the rejections are
    # within the binomial quantiles at level 0.001 (Bonferroni over those cells)
    size_cells = [c for c in art["cells"]
                  if c["law"] == "gaussian" and c["calibration"] == "conditional"]
    alpha = 0.001 / (2 * len(size_cells))
    for cell in size_cells:
        count, seeds = cell["rejections"]["combined"], cell["seeds"]
        assert (st.binom.ppf(alpha, seeds, settings["level"]) <= count
                <= st.binom.isf(alpha, seeds, settings["level"])), cell["size"]


def _rerun(art, cell, seeds):
    scale = art["settings"]["n_boot"] + 1
    ranks = []
    for i in seeds:
        x, y = TOOL.mixture(cell["n"], cell["p"], cell["k"], cell["law"], cell["data_seeds"][i])
        res = universality_test(x, y, seed=cell["test_seeds"][i], n_boot=scale - 1,
                                level=art["settings"]["level"], calibration=cell["calibration"])
        ranks.append(round(res.p_combined * scale))
    return ranks


def test_artifact_reproduces_a_whole_cell():
    """Re-run the cheapest informative cell (the mildest scale mixture at the smallest size:
    neither always nor never rejected) with the artifact's settings and seeds: the same
    combined p-values (ranks out of n_boot + 1, integers) and the same rejection count."""
    art = _artifact()
    cell = next(c for c in art["cells"] if c["size"] == "n200-p100-k2"
                and c["law"] == "scale 0.95|1.1" and c["calibration"] == "conditional")
    assert 0 < cell["rejections"]["combined"] < cell["seeds"]
    ranks = _rerun(art, cell, range(cell["seeds"]))
    assert ranks == cell["combined_ranks"]
    scale = art["settings"]["n_boot"] + 1
    assert sum(r <= art["settings"]["level"] * scale + 1e-9 for r in ranks) == \
        cell["rejections"]["combined"]


@pytest.mark.parametrize("law,calibration", [("gaussian", "conditional"),
                                             ("gaussian", "bootstrap")])
def test_artifact_reproduces_the_first_seeds_of_a_cell(law, calibration):
    art = _artifact()
    cell = next(c for c in art["cells"] if c["size"] == "n200-p100-k2" and c["law"] == law
                and c["calibration"] == calibration)
    assert _rerun(art, cell, range(5)) == cell["combined_ranks"][:5]


def test_power_table_reads_the_saved_study():
    from pathlib import Path

    from gantheory import rmt

    path = Path(__file__).resolve().parents[1] / "artifacts" / "universality_power.json"
    table = rmt.universality_power_table(path)
    assert table.index[0] == "gaussian" and "norm_spread" in table.columns
    assert 0 <= table.attrs["size"] <= 1 and 0 <= table.attrs["spectral_max"] <= 1
    assert table.attrs["norm_spread_min"] == table.drop(index="gaussian")["norm_spread"].min()
    with pytest.raises(ValueError, match="no conditional cells"):
        rmt.universality_power_table(path, n=7, p=7, k=7)


def test_multisplit_p_value_is_twice_the_median_and_valid():
    from gantheory.rmt import multisplit_p_value

    assert multisplit_p_value([0.05, 0.71, 0.70, 0.31, 0.61]) == pytest.approx(1.0)
    assert multisplit_p_value([0.01, 0.02, 0.2, 0.3, 0.04]) == pytest.approx(0.08)
    assert multisplit_p_value([0.3]) == pytest.approx(0.6)
    # valid under dependence: for identical uniform p-values it is 2U, of size at most alpha
    u = np.random.default_rng(0).uniform(size=20_000)
    agg = np.array([multisplit_p_value([q] * 5) for q in u])
    assert np.mean(agg <= 0.05) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / u.size)
    with pytest.raises(ValueError, match="p_values"):
        multisplit_p_value([])
    with pytest.raises(ValueError, match="p_values"):
        multisplit_p_value([0.5, 1.5])
    with pytest.raises(ValueError, match="gamma"):
        multisplit_p_value([0.5], gamma=0)
