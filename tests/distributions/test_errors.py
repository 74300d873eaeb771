"""Argument errors, named as PyTorch's (with the distribution's name in brackets), and the
validate_args switch."""

from __future__ import annotations

import numpy as np
import pytest

import pyfastdl as fd
import pyfastdl.distributions as D


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: D.Normal(0.0, -1.0), r"\[Normal\] Expected parameter scale .*GreaterThan"),
        (lambda: D.Normal(fd.tensor([float("nan")]), 1.0), r"\[Normal\] Expected parameter loc"),
        (lambda: D.Exponential(0.0), r"\[Exponential\] Expected parameter rate"),
        (lambda: D.Gamma(1.0, -2.0), r"\[Gamma\] Expected parameter rate"),
        (lambda: D.Beta(-1.0, 1.0), r"\[Beta\] Expected parameter concentration1"),
        (
            lambda: D.Dirichlet(fd.tensor([1.0, 0.0])),
            r"\[Dirichlet\] Expected parameter concentration",
        ),
        (lambda: D.Dirichlet(fd.tensor(1.0)), r"\[Dirichlet\] .*at least one-dimensional"),
        (lambda: D.Uniform(1.0, 1.0), r"\[Uniform\] Uniform is not defined when low >= high"),
        (lambda: D.Bernoulli(probs=fd.tensor([1.5])), r"\[Bernoulli\] Expected parameter probs"),
        (lambda: D.Bernoulli(), r"\[Bernoulli\] Either `probs` or `logits` must be specified"),
        (lambda: D.Bernoulli(0.5, 0.0), r"\[Bernoulli\] Either `probs` or `logits`"),
        (
            lambda: D.Categorical(probs=fd.tensor([0.5, -0.5])),
            r"\[Categorical\] Expected parameter probs",
        ),
        (
            lambda: D.Categorical(logits=fd.tensor(1.0)),
            r"\[Categorical\] `logits` parameter must be at least one-dimensional",
        ),
        (lambda: D.OneHotCategorical(), r"\[OneHotCategorical\] Either `probs` or `logits`"),
        (
            lambda: D.MultivariateNormal(fd.zeros(2)),
            r"\[MultivariateNormal\] Exactly one of covariance_matrix",
        ),
        (
            lambda: D.MultivariateNormal(fd.zeros(2), fd.eye(2), scale_tril=fd.eye(2)),
            r"\[MultivariateNormal\] Exactly one",
        ),
        (
            lambda: D.MultivariateNormal(fd.tensor(0.0), fd.eye(2)),
            r"\[MultivariateNormal\] loc must be at least one-dimensional",
        ),
        (
            lambda: D.MultivariateNormal(fd.zeros(2), fd.ones(2)),
            r"\[MultivariateNormal\] covariance_matrix matrix must be at least two-dimensional",
        ),
        (
            lambda: D.MultivariateNormal(fd.zeros(3), fd.eye(2)),
            r"\[MultivariateNormal\] covariance_matrix must be \(3, 3\)",
        ),
        (
            lambda: D.MultivariateNormal(fd.zeros(2), -fd.eye(2)),
            r"\[MultivariateNormal\] Expected parameter covariance_matrix",
        ),
        (
            lambda: D.MultivariateNormal(fd.zeros(2), scale_tril=fd.ones(2, 2)),
            r"\[MultivariateNormal\] Expected parameter scale_tril",
        ),
        (
            lambda: D.Independent(D.Normal(fd.zeros(3), 1.0), 2),
            r"\[Independent\] Expected reinterpreted_batch_ndims <= len",
        ),
        (lambda: D.Normal(fd.zeros(2), fd.ones(3)), r"\[Normal\] the parameters do not broadcast"),
    ],
)
def test_bad_parameters_raise_value_errors(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_bad_types_raise_type_errors():
    with pytest.raises(TypeError, match=r"\[Normal\] loc must be a Tensor or a number, got str"):
        D.Normal("0", 1.0)
    with pytest.raises(
        TypeError, match=r"\[Independent\] base_distribution must be a Distribution"
    ):
        D.Independent(3, 1)
    with pytest.raises(TypeError, match=r"\[Normal\] sample_shape must be a tuple of ints"):
        D.Normal(0.0, 1.0).sample(2.5)


@pytest.mark.parametrize(
    "d, value, pattern",
    [
        (
            D.Exponential(fd.tensor([1.0])),
            fd.tensor([-1.0]),
            r"\[Exponential\] Expected value argument .*support",
        ),
        (
            D.Bernoulli(probs=fd.tensor([0.3])),
            fd.tensor([0.5]),
            r"\[Bernoulli\] Expected value argument",
        ),
        (
            D.Categorical(probs=fd.tensor([0.3, 0.7])),
            fd.tensor(2),
            r"\[Categorical\] Expected value argument",
        ),
        (
            D.Dirichlet(fd.tensor([1.0, 1.0])),
            fd.tensor([0.3, 0.3]),
            r"\[Dirichlet\] Expected value argument",
        ),
        (
            D.Normal(fd.zeros(3), 1.0),
            fd.zeros(2),
            r"\[Normal\] Value of shape \(2,\) is not broadcastable",
        ),
        (
            D.MultivariateNormal(fd.zeros(3), fd.eye(3)),
            fd.zeros(2),
            r"\[MultivariateNormal\] The right-most size of value must match event_shape",
        ),
        (D.Normal(0.0, 1.0), 0.5, r"\[Normal\] The value argument to log_prob must be a Tensor"),
    ],
)
def test_log_prob_checks_its_value(d, value, pattern):
    with pytest.raises(ValueError, match=pattern):
        d.log_prob(value)


def test_validate_args_false_skips_the_checks():
    d = D.Normal(0.0, -1.0, validate_args=False)
    assert np.isnan(d.log_prob(fd.tensor(0.0)).item())
    assert (
        D.Exponential(fd.tensor([1.0]), validate_args=False).log_prob(fd.tensor([-1.0])).item()
        == 1.0  # log(rate) - rate * value, outside the support
    )
    D.Distribution.set_default_validate_args(False)
    try:
        D.Normal(0.0, -1.0)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError, match=r"\[Normal\]"):
        D.Normal(0.0, -1.0)
    with pytest.raises(
        ValueError, match=r"\[Distribution\] set_default_validate_args expects a bool"
    ):
        D.Distribution.set_default_validate_args("yes")


def test_methods_without_a_closed_form_are_named():
    with pytest.raises(NotImplementedError, match=r"\[Gamma\] icdf is not implemented"):
        D.Gamma(1.0, 1.0).icdf(fd.tensor(0.5))
    with pytest.raises(
        NotImplementedError, match=r"\[Independent\] Enumeration over cartesian product"
    ):
        D.Independent(D.Bernoulli(probs=fd.tensor([0.5])), 1).enumerate_support()
