"""Stability analysis: steady states, Jacobians, eigenvalues and the ORACLE ln Km → λmax map."""
from kinlatent.stability.eigen import eigenvalues, lambda_max, leading_eigenvalues
from kinlatent.stability.jacobian import JacobianAssembler
from kinlatent.stability.oracle import OracleEvaluation, OracleStability
from kinlatent.stability.steady_state import SteadyState, find_steady_state, relative_residual

__all__ = [
    "JacobianAssembler", "OracleEvaluation", "OracleStability", "SteadyState", "eigenvalues",
    "find_steady_state", "lambda_max", "leading_eigenvalues", "relative_residual",
]
