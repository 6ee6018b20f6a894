"""Latent search methods; each returns a :class:`SearchResult` of sets that satisfy the target."""
from kinlatent.latent.search.cma import cmaes_search
from kinlatent.latent.search.directions import direction_search, fit_direction, walk_direction
from kinlatent.latent.search.gradient import gradient_search
from kinlatent.latent.search.interpolation import interpolate, slerp
from kinlatent.latent.search.problem import LatentProblem
from kinlatent.latent.search.rejection import rejection_search
from kinlatent.latent.search.result import SearchResult, distinct_rows, merge_results

__all__ = ["LatentProblem", "SearchResult", "cmaes_search", "direction_search", "distinct_rows", "fit_direction",
           "gradient_search", "interpolate", "merge_results", "rejection_search", "slerp", "walk_direction"]
