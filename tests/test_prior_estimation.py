"""Label-free prior estimation: the power-law MLE against hand values and known exponents, the
clustering on synthetic blobs of known sizes, and the ``estimate-prior`` command."""

import numpy as np
import pytest
import torch

from priormatch import PriormatchError, estimate_prior, fit_power_law_exponent, power_law_prior
from priormatch.cli import main
from priormatch.prior_estimation import PriorEstimate, cluster_sizes, power_law_log_likelihood, prototype_exponent


def test_log_likelihood_matches_a_hand_computation():
    counts = np.array([3.0, 1.0])  # pi = (1, 2^-1) / 1.5 at tau = 1
    expected = 3 * np.log(1 / 1.5) + 1 * np.log(0.5 / 1.5)
    assert power_law_log_likelihood(counts, 1.0) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("tau", [0.0, 0.25, 1.0, 2.0])
def test_mle_recovers_the_exponent_of_exact_power_law_counts(tau):
    counts = 1e6 * power_law_prior(20, tau).double().numpy()
    assert fit_power_law_exponent(counts) == pytest.approx(tau, abs=1e-4)


def test_mle_of_equal_counts_is_zero_and_of_a_single_cluster_is_large():
    assert fit_power_law_exponent(np.full(8, 5.0)) == pytest.approx(0.0, abs=1e-4)
    assert fit_power_law_exponent(np.array([100.0, 0.0, 0.0])) > 5


@pytest.mark.parametrize("counts", [[1.0], [2.0, 3.0], [-1.0, 0.0], [0.0, 0.0]])
def test_mle_rejects_bad_counts(counts):
    with pytest.raises(PriormatchError, match="fit_power_law_exponent"):
        fit_power_law_exponent(np.array(counts))


def _blobs(sizes: list[int], dims: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = 4.0 * rng.standard_normal((len(sizes), dims))
    return np.concatenate([c + 0.3 * rng.standard_normal((n, dims)) for c, n in zip(centres, sizes)])


@pytest.mark.parametrize("clustering", ["gmm", "kmeans"])
def test_well_separated_blobs_give_their_sizes(clustering):
    sizes = [400, 200, 100, 50, 25]
    assert cluster_sizes(_blobs(sizes), 5, clustering=clustering).tolist() == sizes


def test_estimate_recovers_a_power_law_profile():
    sizes = np.round(3000 * power_law_prior(6, 1.0).numpy()).astype(int).tolist()  # 1224, 612, 408, 306, 245, 204
    estimate = estimate_prior(_blobs(sizes, seed=1), 6)
    assert estimate.tau == pytest.approx(1.0, abs=0.05)
    assert estimate.power_law(64).shape == (64,) and estimate.profile(64).sum().item() == pytest.approx(1.0)


def test_prototype_exponent_keeps_the_cluster_level_law_over_k_prototypes():
    assert prototype_exponent(1.0, 10, 10) == pytest.approx(1.0, abs=1e-4)  # k = C: the same law
    assert prototype_exponent(0.0, 10, 1024) == pytest.approx(0.0, abs=1e-4)
    tau_k = prototype_exponent(1.0, 10, 1024)
    assert tau_k == pytest.approx(0.50, abs=0.01)  # the C-level tau itself would put 69% on the head tenth
    head = power_law_prior(1024, tau_k)[:102].sum().item()
    assert abs(head - power_law_prior(10, 1.0)[0].item()) < 0.05
    assert power_law_prior(1024, 1.0)[:102].sum().item() > 0.65
    estimate = PriorEstimate(np.array([500, 250, 167, 125]), 1.0)
    torch.testing.assert_close(estimate.power_law(64), power_law_prior(64, estimate.prototype_tau(64)))


@pytest.mark.parametrize(
    ("features", "clusters", "message"),
    [(np.zeros((10, 3, 2)), 2, "finite"), (np.full((10, 3), np.nan), 2, "finite"), (np.ones((10, 3)), 6, "num_clusters")],
)
def test_bad_input_is_one_line(features, clusters, message):
    with pytest.raises(PriormatchError, match=message):
        estimate_prior(features, clusters)


def test_estimate_prior_command_writes_a_usable_prior(tmp_path, capsys, tiny_config):
    run = tmp_path / "run"
    assert main(["train", "--config", str(tiny_config("msn")), "train.steps=2", "data.imbalance_ratio=10", "--out", str(run)]) == 0
    prior = tmp_path / "prior.npy"
    assert main(["estimate-prior", str(run), "--clusters", "5", "--samples", "300", "--out", str(prior)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("estimated tau = ") for line in lines) and any("reference, from the labels" in line for line in lines)
    values = np.load(prior)
    assert values.ndim == 1 and np.isclose(values.sum(), 1.0) and (np.diff(values) <= 1e-7).all()  # decreasing profile
    pmsn = tmp_path / "pmsn"
    assert main(["train", "--config", str(tiny_config("pmsn")), "train.steps=1", f"method.prior={prior}", "--out", str(pmsn)]) == 0


def test_estimate_prior_command_rejects_a_non_npy_output(tmp_path, capsys):
    assert main(["estimate-prior", str(tmp_path), "--out", str(tmp_path / "prior.txt")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("priormatch: error: --out") and ".npy" in err and "\n" not in err


def test_estimate_prior_command_works_on_a_series_run(tmp_path, capsys):
    """The same command on a series run (tiny conv net on the regime series); the labels' tau is printed for reference."""
    run = tmp_path / "series-msn"
    data = "data.name=regimes:n_train=300,n_test_per_regime=5,length=32,rare_count=3"
    tiny = [
        "encoder.name=conv1d",
        "encoder.hidden=8",
        "encoder.depth=2",
        "encoder.embed_dim=16",
        "method.num_prototypes=8",
        "method.projection_hidden=16",
        "method.projection_dim=8",
        "method.focal_views=1",
        "method.ema_momentum=0.0",
    ]
    assert (
        main(["train", data, "method.name=msn", *tiny, "train.steps=2", "train.batch_size=32", "train.progress=false", "--out", str(run)])
        == 0
    )
    capsys.readouterr()
    assert main(["estimate-prior", str(run), "--clusters", "4"]) == 0
    out = capsys.readouterr().out
    assert "cluster sizes (gmm, 300 samples)" in out and "estimated tau = " in out and "class counts" in out
