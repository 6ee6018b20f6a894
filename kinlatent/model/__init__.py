"""Kinetic models: domain objects, SKiMpy YAML reading, conserved moieties and physiological states."""
from kinlatent.model.conservation import ConservationAnalysis, analyse_conservation
from kinlatent.model.kinetic_model import KineticModel
from kinlatent.model.reaction import Modifier, ReactantSlot, Reaction
from kinlatent.model.skimpy_yaml import load_skimpy_yaml, model_from_dict

load_model = load_skimpy_yaml

__all__ = [
    "ConservationAnalysis", "KineticModel", "Modifier", "ReactantSlot", "Reaction",
    "analyse_conservation", "load_model", "load_skimpy_yaml", "model_from_dict",
]
