"""The embedded default model: E. coli core (cobra's bundled "textbook" network) with a synthetic state.

``build_default_model(seed)`` builds it in memory, ``default_physiology(seed)`` gives its reference steady
state, ``write_default_model(directory)`` writes the SKiMpy YAML file and the state CSV. See
:mod:`kinlatent.default_model.builder` for what is real (network, fluxes) and what is sampled (concentrations,
equilibrium constants, kinetic parameters).
"""
from kinlatent.default_model.builder import MODEL_NAME, DefaultModel, build_default_model, default_physiology
from kinlatent.default_model.files import BUILTIN_MODELS, builtin_model_files, write_default_model

__all__ = [
    "BUILTIN_MODELS", "MODEL_NAME", "DefaultModel", "build_default_model", "builtin_model_files",
    "default_physiology", "write_default_model",
]
