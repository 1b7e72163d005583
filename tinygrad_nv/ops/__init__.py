"""One `Function` subclass per differentiable op, grouped by kind."""
