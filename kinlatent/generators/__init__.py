"""Generators: neural networks mapping a latent z ~ N(0, I) to ORACLE parameter sets (ln Km)."""
from kinlatent.generators.card import GeneratorCard, load_generator, save_generator
from kinlatent.generators.mlp import GeneratorSpec, MLPGenerator
from kinlatent.generators.sampling import generate_ln_km

__all__ = ["GeneratorCard", "GeneratorSpec", "MLPGenerator", "generate_ln_km", "load_generator", "save_generator"]
