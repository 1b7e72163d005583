"""Testing tools for users and for the project itself: finite-difference gradient checks
(`gradcheck`, `gradgradcheck`) and hypothesis strategies (`tinygrad_nv.testing.strategies`)."""

from tinygrad_nv.testing.gradients import GradcheckError, gradcheck, gradgradcheck

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]
