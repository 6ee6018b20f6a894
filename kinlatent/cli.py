"""The ``kinlatent`` command line."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Sequence

from kinlatent.exceptions import KinlatentError


def _inspect(args: argparse.Namespace) -> int:
    from kinlatent.pipelines.inspect_model import format_summary, inspect_model

    row: str | int | None = args.row
    if row is not None and row.isdigit():
        row = int(row)
    summary = inspect_model(args.model_file, args.state, row=row)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


HYDRA_COMMANDS = {
    "pipeline": ("pipeline", "kinlatent.pipelines.pipeline:run_pipeline",
                 "the main job: sample → train a generator → explore its latent space → validated ensemble "
                 "(embedded default model unless model=…)"),
    "sample": ("sample", "kinlatent.pipelines.sample:run_sample",
               "ORACLE training set: sample + validate as Ray tasks (Hydra overrides, e.g. sampler.n_samples=1000)"),
    "train": ("train", "kinlatent.pipelines.train:run_train",
              "train a generator: generator=gan data=DATASET_DIR, or generator=nes (Hydra overrides)"),
    "generate": ("generate", "kinlatent.pipelines.generate:run_generate",
                 "validated ensemble from a generator: kinlatent generate PATH_OR_MLFLOW_URI n=10000 seed=0"),
    "explore": ("explore", "kinlatent.pipelines.explore:run_explore",
                "latent search for models with chosen properties: kinlatent explore generator=PATH target=lambda_mid "
                "search=gradient"),
    "tune": ("tune", "kinlatent.pipelines.tune:run_tune",
             "Ray Tune sweep: kinlatent tune hparams_search=nes_varma | gan_varma data=DATASET_DIR | latent_targets "
             "source=GENERATOR_DIR (resume=true continues an interrupted sweep)"),
    "transfer-study": ("transfer_study", "kinlatent.pipelines.transfer_study:run_transfer_study",
                       "transfer generators across physiologies: kinlatent transfer-study study=varma_four_conditions "
                       "(conditions × methods × budgets as Ray tasks; rerunning reuses finished rows)"),
}


def _hydra_command(command: str, overrides: list[str]) -> int:
    """Hand the rest of the command line to Hydra untouched (overrides, ``-m``, ``--help``, ``--cfg job``)."""
    import importlib

    from kinlatent.hydra_app import run_hydra_command

    config_name, target, _ = HYDRA_COMMANDS[command]
    if command in ("generate", "explore") and overrides and "=" not in overrides[0] \
            and not overrides[0].startswith("-"):
        overrides = [f"source={overrides[0]}"] + overrides[1:]  # kinlatent generate SOURCE n=… seed=…
    if command == "explore":  # generator=PATH names the trained generator (conf/generator/ is a config group)
        overrides = [f"source={o.split('=', 1)[1]}" if o.startswith("generator=") else o for o in overrides]
    module, function = target.split(":")
    return run_hydra_command(config_name, getattr(importlib.import_module(module), function), overrides)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kinlatent", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="summarise a SKiMpy YAML model: structure, steady state, spectrum")
    inspect.add_argument("model_file", help="SKiMpy YAML model file, or a published model's name "
                                            "(varma_strain_1) looked up in $KINLATENT_MODELS_DIR")
    inspect.add_argument("--state", help="state CSV (pyTFA solution or species,concentration in µM); "
                                         "default: tfa_reference_strains.csv beside the model")
    inspect.add_argument("--row", help="row of a pyTFA state file (label or index; default: the model's name)")
    inspect.add_argument("--json", action="store_true", help="print a JSON object")
    inspect.set_defaults(handler=_inspect)
    for name, (_, _, help_text) in HYDRA_COMMANDS.items():
        commands.add_parser(name, help=help_text + "; see: kinlatent " + name + " --help", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:  # the main job on the embedded default model
        print("kinlatent: running `kinlatent pipeline` on the embedded default model (kinlatent --help lists the "
              "commands)", file=sys.stderr)
        return _hydra_command("pipeline", [])
    if argv and argv[0] in HYDRA_COMMANDS:
        return _hydra_command(argv[0], argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except KinlatentError as error:
        print(f"kinlatent: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
