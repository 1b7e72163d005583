"""tinygrad_nv.distributions: log_prob, entropy, moments and KL against hand-derived formulas
(NumPy), gradients with gradcheck in float64 (rsample, log_prob, entropy, KL), sampling
statistics and reproducibility, PyTorch's argument validation, and torch where installed."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as hst

import tinygrad_nv as tg
from tinygrad_nv import Tensor
from tinygrad_nv.distributions import (
    Bernoulli,
    Categorical,
    MultivariateNormal,
    Normal,
    Uniform,
    kl_divergence,
)
from tinygrad_nv.testing import gradcheck, strategies


def _t(a, device, grad=True):
    return Tensor(np.asarray(a, dtype=np.float64), device=device, requires_grad=grad)


@given(data=hst.data())
def test_normal_against_formulas_and_gradients(data, device):
    shape = data.draw(strategies.shapes(max_dims=2, max_side=3))
    rng = np.random.default_rng(data.draw(hst.integers(0, 99)))
    mu, sigma, x = rng.normal(size=shape), rng.uniform(0.5, 2, shape), rng.normal(size=shape)
    loc, scale, value = _t(mu, device), _t(sigma, device), _t(x, device)
    d = Normal(loc, scale)
    expected = -(x - mu) ** 2 / (2 * sigma ** 2) - np.log(sigma) - 0.5 * np.log(2 * np.pi)
    np.testing.assert_allclose(d.log_prob(value).numpy(), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), 0.5 + 0.5 * np.log(2 * np.pi) + np.log(sigma))
    erf = np.vectorize(math.erf)
    np.testing.assert_allclose(d.cdf(value).numpy(),
                               0.5 * (1 + erf((x - mu) / sigma / math.sqrt(2))), rtol=1e-10)
    assert d.batch_shape == shape and d.event_shape == ()
    np.testing.assert_allclose(d.variance.numpy(), sigma ** 2)
    gradcheck(lambda m, s, v: Normal(m, s).log_prob(v), [loc, scale, value])
    gradcheck(lambda s: Normal(0.0, s).entropy(), [scale])

    def draw(m, s):
        tg.manual_seed(5)
        return Normal(m, s).rsample((2,))
    gradcheck(draw, [loc, scale])


def test_normal_sampling_statistics_and_seed(device):
    d = Normal(_t([1.0, -2.0], device, False), _t([0.5, 3.0], device, False))
    tg.manual_seed(0)
    s = d.sample((20000,))
    assert s.shape == (20000, 2) and not s.requires_grad
    np.testing.assert_allclose(s.numpy().mean(0), [1.0, -2.0], atol=0.06)
    np.testing.assert_allclose(s.numpy().std(0), [0.5, 3.0], rtol=0.03)
    tg.manual_seed(0)
    np.testing.assert_array_equal(d.sample((20000,)).numpy(), s.numpy())
    assert Normal(0.0, 1.0).sample().shape == () and Normal(0.0, 1.0).sample(3).shape == (3,)


def test_categorical_formulas_gradients_and_policy_gradient(device):
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 4))
    logits = _t(z, device)
    d = Categorical(logits=logits)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    actions = np.array([0, 3, 2])
    np.testing.assert_allclose(d.log_prob(Tensor(actions, device=device)).numpy(),
                               log_p[np.arange(3), actions], rtol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), -(np.exp(log_p) * log_p).sum(-1))
    np.testing.assert_allclose(d.probs.numpy(), np.exp(log_p), rtol=1e-12)
    assert d.batch_shape == (3,) and d.mode.tolist() == list(z.argmax(-1))
    assert np.isnan(d.mean.numpy()).all() and d.mean.shape == (3,)
    act = Tensor(actions, device=device)
    gradcheck(lambda lg: Categorical(logits=lg).log_prob(act), [logits])
    gradcheck(lambda lg: Categorical(logits=lg).entropy(), [logits])
    probs = _t(np.exp(z), device)  # unnormalized: normalized by Categorical
    gradcheck(lambda p: Categorical(probs=p).log_prob(act), [probs])
    advantage = Tensor([1.0, -2.0, 0.5], dtype=tg.float64, device=device)
    (-(Categorical(logits=logits).log_prob(act) * advantage).sum()).backward()
    onehot = np.eye(4)[actions]
    np.testing.assert_allclose(logits.grad.numpy(),
                               -(onehot - np.exp(log_p)) * advantage.numpy()[:, None])


def test_categorical_sampling(device):
    tg.manual_seed(1)
    d = Categorical(probs=Tensor([[0.2, 0.8, 0.0], [1.0, 0.0, 0.0]], device=device))
    s = d.sample((5000,))
    assert s.shape == (5000, 2) and s.dtype == tg.int64
    assert abs((s.numpy()[:, 0] == 1).mean() - 0.8) < 0.03 and (s.numpy()[:, 1] == 0).all()
    assert d.enumerate_support().shape == (3, 2)
    assert Categorical(logits=Tensor([0.0, 0.0])).sample((0,)).shape == (0,)


def test_bernoulli_formulas_and_gradients(device):
    z = np.array([-30.0, -1.0, 0.0, 2.0, 30.0])
    x = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    logits, value = _t(z, device), _t(x, device, False)
    d = Bernoulli(logits=logits)
    p = 1 / (1 + np.exp(-z))
    softplus = np.logaddexp(0, z)
    np.testing.assert_allclose(d.log_prob(value).numpy(), x * z - softplus, rtol=1e-12)
    np.testing.assert_allclose(d.entropy().numpy(), softplus - z * p, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(d.probs.numpy(), p)
    np.testing.assert_allclose(Bernoulli(probs=Tensor([0.25])).logits.numpy(), [math.log(1 / 3)],
                               rtol=1e-6)
    gradcheck(lambda lg: Bernoulli(logits=lg).log_prob(value), [logits])
    probs = _t([0.1, 0.5, 0.9], device)
    gradcheck(lambda q: Bernoulli(probs=q).log_prob(Tensor([1.0, 0.0, 1.0], dtype=tg.float64,
                                                           device=device)), [probs])
    tg.manual_seed(2)
    s = Bernoulli(probs=Tensor([0.3], device=device)).sample((10000,))
    assert s.shape == (10000, 1) and set(np.unique(s.numpy())) <= {0.0, 1.0}
    assert abs(s.numpy().mean() - 0.3) < 0.02


def test_uniform_formulas_and_gradients(device):
    low, high = _t([0.0, -1.0], device), _t([2.0, 3.0], device)
    d = Uniform(low, high)
    np.testing.assert_allclose(d.log_prob(Tensor([1.0, 2.9], dtype=tg.float64,
                                                 device=device)).numpy(), -np.log([2.0, 4.0]))
    outside = Uniform(low, high, validate_args=False).log_prob(
        Tensor([1.0, 3.0], dtype=tg.float64, device=device))
    assert outside.numpy()[1] == -np.inf
    np.testing.assert_allclose(d.entropy().numpy(), np.log([2.0, 4.0]))
    np.testing.assert_allclose(d.mean.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(d.variance.numpy(), [4 / 12, 16 / 12])
    gradcheck(lambda a, b: Uniform(a, b).entropy(), [low, high])

    def draw(a, b):
        tg.manual_seed(4)
        return Uniform(a, b).rsample((3,))
    gradcheck(draw, [low, high])
    s = d.sample((1000,)).numpy()
    assert (s >= [0.0, -1.0]).all() and (s < [2.0, 3.0]).all()


def test_multivariate_normal_formulas_and_gradients(device):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(3, 3))
    cov = a @ a.T + np.eye(3)
    mu, x = rng.normal(size=3), rng.normal(size=(2, 3))
    loc, c = _t(mu, device), _t(cov, device)
    d = MultivariateNormal(loc, covariance_matrix=c)
    diff = x - mu
    maha = np.einsum("bi,ij,bj->b", diff, np.linalg.inv(cov), diff)
    expected = -0.5 * (3 * np.log(2 * np.pi) + np.log(np.linalg.det(cov)) + maha)
    np.testing.assert_allclose(d.log_prob(_t(x, device, False)).numpy(), expected, rtol=1e-10)
    np.testing.assert_allclose(d.entropy().numpy(),
                               0.5 * (3 * (1 + np.log(2 * np.pi)) + np.log(np.linalg.det(cov))))
    np.testing.assert_allclose(d.covariance_matrix.numpy(), cov, rtol=1e-10)
    np.testing.assert_allclose(d.variance.numpy(), np.diag(cov), rtol=1e-10)
    assert d.batch_shape == () and d.event_shape == (3,)
    prec = MultivariateNormal(loc, precision_matrix=_t(np.linalg.inv(cov), device, False))
    np.testing.assert_allclose(prec.log_prob(_t(x, device, False)).numpy(), expected,
                               rtol=1e-8)

    def sym(m):
        return (m + m.mT) / 2
    value = _t(x, device, False)
    gradcheck(lambda m, s: MultivariateNormal(m, covariance_matrix=sym(s)).log_prob(value),
              [loc, c])
    tril = _t(np.linalg.cholesky(cov), device)
    gradcheck(lambda t: MultivariateNormal(loc, scale_tril=t.tril()).entropy(), [tril])
    tg.manual_seed(0)
    s = MultivariateNormal(loc, scale_tril=tril).sample((20000,)).numpy()
    np.testing.assert_allclose(np.cov(s.T), cov, atol=0.15 * np.abs(cov).max())


def test_kl_divergences_against_formulas(device):
    p, q = Normal(_t([0.0, 1.0], device), _t([1.0, 2.0], device)), Normal(1.0, 0.5)
    mp, sp, mq, sq = np.array([0.0, 1.0]), np.array([1.0, 2.0]), 1.0, 0.5
    np.testing.assert_allclose(kl_divergence(p, q).numpy(),
                               np.log(sq / sp) + (sp ** 2 + (mp - mq) ** 2) / (2 * sq ** 2) - 0.5)
    gradcheck(lambda m, s: kl_divergence(Normal(m, s), Normal(0.3, 1.5)), [p.loc, p.scale])
    a, b = np.array([0.2, 0.3, 0.5]), np.array([0.5, 0.25, 0.25])
    kl = kl_divergence(Categorical(probs=Tensor(a)), Categorical(probs=Tensor(b)))
    np.testing.assert_allclose(kl.item(), (a * np.log(a / b)).sum(), rtol=1e-6)
    assert kl_divergence(Categorical(probs=Tensor([0.5, 0.5])),
                         Categorical(probs=Tensor([1.0, 0.0]))).item() == math.inf
    assert kl_divergence(Categorical(probs=Tensor([1.0, 0.0])),
                         Categorical(probs=Tensor([0.5, 0.5]))).item() == pytest.approx(math.log(2))
    lg = _t([0.3, -1.0, 2.0], device)
    q_logits = Tensor([1.0, 0.0, -0.5], dtype=tg.float64, device=device)
    gradcheck(lambda z: kl_divergence(Categorical(logits=z), Categorical(logits=q_logits)), [lg])
    kb = kl_divergence(Bernoulli(probs=Tensor([0.3])), Bernoulli(probs=Tensor([0.6]))).item()
    assert kb == pytest.approx(0.3 * math.log(0.5) + 0.7 * math.log(0.7 / 0.4), rel=1e-5)
    assert kl_divergence(Uniform(0.0, 1.0), Uniform(-1.0, 3.0)).item() == pytest.approx(
        math.log(4))
    with pytest.raises(NotImplementedError, match="Normal and q of type Uniform"):
        kl_divergence(Normal(0.0, 1.0), Uniform(0.0, 1.0))


@pytest.mark.parametrize("make,match", [
    (lambda: Normal(0.0, -1.0), r"parameter scale .* GreaterThan\(lower_bound=0.0\)"),
    (lambda: Normal(0.0, Tensor([1.0, 0.0])), r"(?s)parameter scale .*\[1.0, 0.0\]"),
    (lambda: Normal(float("nan"), 1.0), "parameter loc"),
    (lambda: Uniform(1.0, 0.0), "high - low"),
    (lambda: Bernoulli(probs=1.5), "parameter probs"),
    (lambda: Bernoulli(), "either `probs` or `logits`"),
    (lambda: Bernoulli(probs=0.5, logits=0.0), "either `probs` or `logits`"),
    (lambda: Categorical(probs=Tensor([-1.0, 2.0])), r"parameter probs .* Simplex"),
    (lambda: Categorical(logits=Tensor(0.0)), "at least one-dimensional"),
    (lambda: MultivariateNormal(Tensor.zeros(2), covariance_matrix=-Tensor.eye(2)),
     "PositiveDefinite"),
    (lambda: MultivariateNormal(Tensor.zeros(2)), "exactly one of"),
    (lambda: MultivariateNormal(Tensor.zeros(2), scale_tril=Tensor.ones(2, 2)),
     "LowerCholesky"),
    (lambda: MultivariateNormal(Tensor.zeros(3), scale_tril=Tensor.eye(2)), r"\(\.\.\., k, k\)"),
    (lambda: Normal(0.0, 1.0).log_prob(Tensor(float("nan"))), r"within the support \(Real"),
    (lambda: Normal(Tensor([0.0, 1.0]), 1.0).log_prob(Tensor([1.0, 2.0, 3.0])),
     "does not broadcast"),
    (lambda: Normal(0.0, 1.0).log_prob(0.5), "must be a Tensor"),
    (lambda: Categorical(logits=Tensor([0.0, 0.0])).log_prob(Tensor(2)), "IntegerInterval"),
    (lambda: Bernoulli(probs=0.5).log_prob(Tensor(0.5)), "Boolean"),
    (lambda: Normal(0.0, 1.0).sample((-1,)), "non-negative ints"),
    (lambda: Normal(0.0, "a"), "expected a Tensor or a number"),
])
def test_invalid_arguments_raise_value_error(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_validation_can_be_turned_off():
    assert Normal(0.0, -1.0, validate_args=False).scale.item() == -1.0
    assert Bernoulli(probs=0.5, validate_args=False).log_prob(Tensor(0.5)).shape == ()
    Normal.set_default_validate_args(False)
    try:
        Normal(0.0, -1.0)
    finally:
        Normal.set_default_validate_args(True)
    with pytest.raises(ValueError):
        Normal(0.0, -1.0)


def test_distributions_against_torch():
    torch = pytest.importorskip("torch")
    td = torch.distributions
    rng = np.random.default_rng(7)
    z, x = rng.normal(size=(2, 5)), rng.integers(0, 5, (3, 2))
    pairs = [
        (Categorical(logits=Tensor(z)), td.Categorical(logits=torch.tensor(z)), x),
        (Categorical(probs=Tensor(np.exp(z))), td.Categorical(probs=torch.tensor(np.exp(z))), x),
        (Normal(Tensor(z), Tensor(np.exp(z))), td.Normal(torch.tensor(z), torch.tensor(np.exp(z))),
         z[::-1].copy()),
        (Bernoulli(logits=Tensor(z)), td.Bernoulli(logits=torch.tensor(z)), (z > 0) * 1.0),
        (Uniform(Tensor(z), Tensor(z + 2)), td.Uniform(torch.tensor(z), torch.tensor(z + 2)),
         z + 1),
    ]
    for ours, theirs, v in pairs:
        np.testing.assert_allclose(ours.log_prob(Tensor(v)).numpy(),
                                   theirs.log_prob(torch.tensor(v)).numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.entropy().numpy(), theirs.entropy().numpy(), rtol=1e-10)
        assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
        assert ours.sample((4,)).shape == tuple(theirs.sample((4,)).shape)
    a = rng.normal(size=(2, 3, 3))
    cov = a @ a.transpose(0, 2, 1) + np.eye(3)
    ours = MultivariateNormal(Tensor(z[:, :3]), covariance_matrix=Tensor(cov))
    theirs = td.MultivariateNormal(torch.tensor(z[:, :3]), covariance_matrix=torch.tensor(cov))
    v = rng.normal(size=(4, 2, 3))
    np.testing.assert_allclose(ours.log_prob(Tensor(v)).numpy(),
                               theirs.log_prob(torch.tensor(v)).numpy(), rtol=1e-10)
    other = MultivariateNormal(Tensor(z[:, 2:]), scale_tril=Tensor(np.linalg.cholesky(cov[::-1])))
    theirs_other = td.MultivariateNormal(torch.tensor(z[:, 2:]),
                                         scale_tril=torch.tensor(np.linalg.cholesky(cov[::-1])))
    np.testing.assert_allclose(kl_divergence(ours, other).numpy(),
                               td.kl_divergence(theirs, theirs_other).numpy(), rtol=1e-10)
    for ours, theirs in ((Normal(Tensor(z), 1.0), td.Normal(torch.tensor(z), 1.0)),
                         (Categorical(logits=Tensor(z)), td.Categorical(logits=torch.tensor(z)))):
        ours_q = type(ours)(*(Tensor(z[::-1].copy()), 2.0)) if isinstance(ours, Normal) else \
            Categorical(logits=Tensor(z[::-1].copy()))
        theirs_q = td.Normal(torch.tensor(z[::-1].copy()), 2.0) if isinstance(ours, Normal) else \
            td.Categorical(logits=torch.tensor(z[::-1].copy()))
        np.testing.assert_allclose(kl_divergence(ours, ours_q).numpy(),
                                   td.kl_divergence(theirs, theirs_q).numpy(), rtol=1e-10)


def test_reachable_as_torch_distributions():
    assert tg.distributions.Normal is Normal
    from tinygrad_nv.distributions import constraints
    assert repr(constraints.positive) == "GreaterThan(lower_bound=0.0)"
