import math

import numpy as np
import pytest
import torch

import priormatch as pm
from priormatch.errors import PriormatchError
from priormatch.priors import load_prior_file, make_prior


def test_uniform_and_power_law_values():
    torch.testing.assert_close(pm.uniform_prior(4), torch.full((4,), 0.25))
    p = pm.power_law_prior(3, 1.0)
    z = 1 + 1 / 2 + 1 / 3
    torch.testing.assert_close(p, torch.tensor([1 / z, 0.5 / z, (1 / 3) / z]))
    assert p.dtype == torch.float32 and p.ndim == 1
    torch.testing.assert_close(pm.power_law_prior(5, 0.0), pm.uniform_prior(5))
    big = pm.power_law_prior(1024, 0.25)
    assert (big[0] / big[-1]).item() == pytest.approx(1024**0.25, rel=1e-4)
    assert big.sum().item() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    "values,match",
    [
        ([1.0, 2.0], "2 entries but there are 3"),
        ([1.0, float("nan"), 1.0], "NaN or Inf"),
        ([1.0, -1.0, 1.0], "negative"),
        ([0.0, 0.0, 0.0], "all zeros"),
        ([[1.0, 2.0, 3.0]], "1-D"),
    ],
)
def test_bad_user_priors(values, match):
    with pytest.raises(PriormatchError, match=match):
        pm.prior_from_values(values, 3)


def test_bad_tau_and_k():
    with pytest.raises(PriormatchError, match="tau"):
        pm.power_law_prior(4, -0.5)
    with pytest.raises(PriormatchError, match="prototypes"):
        pm.uniform_prior(0)


def test_user_prior_normalised_and_files(tmp_path):
    torch.testing.assert_close(pm.prior_from_values(np.array([2.0, 0.0, 2.0]), 3), torch.tensor([0.5, 0.0, 0.5]))
    path = tmp_path / "prior.npy"
    np.save(path, np.array([3.0, 1.0]))
    torch.testing.assert_close(load_prior_file(path, 2), torch.tensor([0.75, 0.25]))
    torch.testing.assert_close(make_prior(str(path), 2), torch.tensor([0.75, 0.25]))
    with pytest.raises(PriormatchError, match="3 prototypes"):
        make_prior(str(path), 3)
    with pytest.raises(PriormatchError, match="does not exist"):
        make_prior(str(tmp_path / "missing.npy"), 2)
    with pytest.raises(PriormatchError, match="unknown prior"):
        make_prior("zipf", 2)


def test_class_counts_prior_is_sorted_profile_stretched_to_k():
    torch.testing.assert_close(pm.prior_from_class_counts([10, 30, 60], 3), torch.tensor([0.6, 0.3, 0.1]))
    stretched = pm.prior_from_class_counts([10, 30, 60], 6)
    torch.testing.assert_close(stretched, torch.tensor([60, 60, 30, 30, 10, 10.0]) / 200)
    assert math.isclose(stretched.sum().item(), 1.0, abs_tol=1e-6)


def test_class_counts_prior_is_exact_when_k_is_not_a_multiple_of_c():
    # frequencies 0.5 / 0.3 / 0.2 tile [0, 1) in thirds; four prototypes cover quarters of it
    prior = pm.prior_from_class_counts([2, 5, 3], 4).double()
    torch.testing.assert_close(prior, torch.tensor([0.375, 0.275, 0.2, 0.15], dtype=torch.float64))
    # the prior's cumulative mass at every prototype boundary j / k is the classes' mass below j / k
    frequencies = [0.5, 0.3, 0.2]

    def class_mass_below(x: float) -> float:
        whole = int(x * 3)
        return sum(frequencies[:whole]) + (frequencies[whole] * (3 * x - whole) if whole < 3 else 0.0)

    for k in (5, 7, 11, 999, 1024):
        cumulative = np.cumsum(pm.prior_from_class_counts([2, 5, 3], k).double().numpy())
        expected = [class_mass_below(j / k) for j in range(1, k + 1)]
        np.testing.assert_allclose(cumulative, expected, atol=1e-6)
        if k % 3 == 0:  # whole prototypes per class: each class keeps exactly its frequency
            np.testing.assert_allclose(cumulative[[k // 3 - 1, 2 * k // 3 - 1]], [0.5, 0.8], atol=1e-6)


def test_class_counts_prior_with_fewer_prototypes_than_classes_merges_classes():
    torch.testing.assert_close(pm.prior_from_class_counts([4, 3, 2, 1], 2), torch.tensor([0.7, 0.3]))
