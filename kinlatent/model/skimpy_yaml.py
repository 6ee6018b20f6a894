"""Read SKiMpy's YAML model format into a :class:`KineticModel` (one dict layer, validated key by key)."""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from kinlatent.exceptions import ModelFormatError, NonFiniteValueError, UnsupportedMechanismError
from kinlatent.model.kinetic_model import KineticModel
from kinlatent.model.reaction import Modifier, ReactantSlot, Reaction

_ROLE = re.compile(r"^(substrate|product)(\d*)$")
SUPPORTED_BOUNDARY_CONDITIONS = ("ConstantConcentration",)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""

    def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def load_skimpy_yaml(path: str | Path) -> KineticModel:
    """Load a SKiMpy YAML model file; every problem raises a :class:`ModelFormatError` naming file and key."""
    if not isinstance(path, (str, Path)):
        raise ModelFormatError(f"expected a file path, got {type(path).__name__}", source=repr(path))
    path = Path(path)
    if path.is_dir():
        raise ModelFormatError("is a directory, not a model file", source=path)
    if not path.is_file():
        raise ModelFormatError("model file not found", source=path)
    try:
        with path.open() as handle:
            data = yaml.load(handle, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ModelFormatError(f"not valid YAML: {error}", source=path) from error
    except (OSError, UnicodeDecodeError) as error:
        raise ModelFormatError(f"cannot read the file: {error}", source=path) from error
    return model_from_dict(data, source=str(path))


def _mapping(value: Any, source: str | None, key: str, required: bool = True) -> Mapping[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise ModelFormatError(f"expected a mapping, got {type(value).__name__}", source=source, key=key)
    return value


def _number(value: Any, source: str | None, key: str) -> float:
    if isinstance(value, str):  # YAML 1.1 reads '1e308' (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelFormatError(f"expected a number, got {value!r}", source=source, key=key)
    if not math.isfinite(value):
        raise NonFiniteValueError(f"value is not finite ({value})", source=source, key=key)
    return float(value)


def _role_order(role: str) -> tuple[int, int]:
    match = _ROLE.match(role)
    assert match is not None
    return (0 if match.group(1) == "substrate" else 1, int(match.group(2) or 0))


def _parse_mechanism(
    name: str, mechanism: Mapping[str, Any], species: set[str], source: str | None
) -> tuple[str, tuple[ReactantSlot, ...], tuple[ReactantSlot, ...]]:
    from kinlatent.ratelaws import RATE_LAWS, SUPPORTED_MECHANISMS

    key = f"reactions.{name}.mechanism"
    law = mechanism.get("class")
    if not isinstance(law, str) or law not in RATE_LAWS:
        raise UnsupportedMechanismError(
            f"unsupported mechanism class {law!r}; supported: {', '.join(SUPPORTED_MECHANISMS)}",
            source=source, key=f"{key}.class",
        )
    stoichiometry = _mapping(mechanism.get("mechanism_stoichiometry"), source, f"{key}.mechanism_stoichiometry",
                             required=False)
    roles = sorted((r for r in mechanism if _ROLE.match(str(r))), key=_role_order)
    unknown_roles = [r for r in stoichiometry if r not in roles]
    if unknown_roles:
        raise ModelFormatError(
            f"stoichiometry given for reactant role(s) {unknown_roles} that the mechanism does not list",
            source=source, key=f"{key}.mechanism_stoichiometry",
        )
    missing_roles = [r for r in roles if stoichiometry and r not in stoichiometry]
    if missing_roles:
        raise ModelFormatError(
            f"reactant role(s) {missing_roles} have no entry in mechanism_stoichiometry",
            source=source, key=f"{key}.mechanism_stoichiometry",
        )
    substrates, products = [], []
    for role in roles:
        target = mechanism[role]
        if not isinstance(target, str) or target not in species:
            raise ModelFormatError(
                f"reactant {target!r} is not declared under 'reactants'", source=source, key=f"{key}.{role}"
            )
        default = -1.0 if role.startswith("substrate") else 1.0
        coefficient = _number(stoichiometry.get(role, default), source, f"{key}.mechanism_stoichiometry.{role}")
        if coefficient == 0 or (coefficient < 0) != role.startswith("substrate"):
            raise ModelFormatError(
                f"stoichiometry {coefficient} has the wrong sign for a {role}", source=source,
                key=f"{key}.mechanism_stoichiometry.{role}",
            )
        slot = ReactantSlot(role=role, species=target, stoichiometry=coefficient)
        (substrates if role.startswith("substrate") else products).append(slot)
    return law, tuple(substrates), tuple(products)


def _parse_modifiers(
    name: str, modifiers: Mapping[str, Any], species: set[str], source: str | None
) -> tuple[Modifier, ...]:
    from kinlatent.ratelaws import MODIFIERS, SUPPORTED_MODIFIERS

    parsed = []
    for modifier_name, spec in modifiers.items():
        key = f"reactions.{name}.modifiers.{modifier_name}"
        spec = _mapping(spec, source, key)
        kind = spec.get("class")
        if not isinstance(kind, str) or kind not in MODIFIERS:
            raise UnsupportedMechanismError(
                f"unsupported modifier class {kind!r}; supported: {', '.join(SUPPORTED_MODIFIERS)}",
                source=source, key=f"{key}.class",
            )
        molecule = spec.get("small_molecule")
        if not isinstance(molecule, str) or molecule not in species:
            raise ModelFormatError(
                f"small molecule {molecule!r} is not declared under 'reactants'", source=source,
                key=f"{key}.small_molecule",
            )
        raw = spec.get("mechanism_stoichiometry", 1.0)
        if isinstance(raw, Mapping):
            raw = raw.get("small_molecule")
        coefficient = _number(raw, source, f"{key}.mechanism_stoichiometry")
        parsed.append(Modifier(name=str(modifier_name), kind=kind, species=molecule, stoichiometry=coefficient))
    return tuple(parsed)


def model_from_dict(data: Any, source: str | None = None) -> KineticModel:
    """Build a :class:`KineticModel` from the dict layer of a SKiMpy YAML file."""
    from kinlatent.ratelaws import RATE_LAWS

    data = _mapping(data, source, "<top level>")
    for section in ("reactants", "reactions"):
        if section not in data:
            raise ModelFormatError(f"missing section '{section}'", source=source, key=section)
    reactants = _mapping(data["reactants"], source, "reactants")
    species = [str(s) for s in reactants]
    known = set(species)
    if not species:
        raise ModelFormatError("no reactants declared", source=source, key="reactants")

    boundary: list[str] = []
    for bc_name, spec in _mapping(data.get("boundary_conditions"), source, "boundary_conditions",
                                  required=False).items():
        key = f"boundary_conditions.{bc_name}"
        spec = _mapping(spec, source, key)
        if not isinstance(spec.get("class"), str) or spec.get("class") not in SUPPORTED_BOUNDARY_CONDITIONS:
            raise UnsupportedMechanismError(
                f"unsupported boundary condition {spec.get('class')!r}; supported: "
                f"{', '.join(SUPPORTED_BOUNDARY_CONDITIONS)}", source=source, key=f"{key}.class",
            )
        target = spec.get("reactant")
        if not isinstance(target, str) or target not in known:
            raise ModelFormatError(f"reactant {target!r} is not declared under 'reactants'",
                                   source=source, key=f"{key}.reactant")
        boundary.append(target)

    parameters: dict[str, float | None] = {}
    for p_name, value in _mapping(data.get("parameters"), source, "parameters", required=False).items():
        parameters[str(p_name)] = None if value is None else _number(value, source, f"parameters.{p_name}")

    reactions = []
    for r_name, spec in _mapping(data["reactions"], source, "reactions").items():
        r_name = str(r_name)
        spec = _mapping(spec, source, f"reactions.{r_name}")
        mechanism = _mapping(spec.get("mechanism"), source, f"reactions.{r_name}.mechanism")
        law, substrates, products = _parse_mechanism(r_name, mechanism, known, source)
        modifiers = _parse_modifiers(
            r_name, _mapping(spec.get("modifiers"), source, f"reactions.{r_name}.modifiers", required=False),
            known, source,
        )
        reaction = Reaction(r_name, law, substrates, products, modifiers)
        RATE_LAWS[law].validate(reaction, source)
        reactions.append(reaction)
    if not reactions:
        raise ModelFormatError("no reactions declared", source=source, key="reactions")

    dependent = tuple(str(s) for s in _mapping(data.get("dependent_reactants"), source, "dependent_reactants",
                                               required=False))
    unknown = [s for s in dependent if s not in known]
    if unknown:
        raise ModelFormatError(f"dependent reactant(s) {unknown} not declared under 'reactants'", source=source,
                               key="dependent_reactants")
    compartments = {str(k): str(v) for k, v in _mapping(data.get("compartments"), source, "compartments",
                                                        required=False).items()}
    return KineticModel(
        name=str(data.get("name") or (Path(source).stem if source else "model")),
        species=tuple(species),
        boundary_species=tuple(boundary),
        reactions=tuple(reactions),
        parameters=parameters,
        source=source,
        dependent_hint=dependent,
        compartments=compartments,
    )
