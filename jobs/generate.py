"""Hydra entry point: python jobs/generate.py source=PATH_OR_URI n=10000 seed=0."""
from kinlatent.hydra_app import hydra_entry
from kinlatent.pipelines.generate import run_generate

main = hydra_entry("generate", run_generate)

if __name__ == "__main__":
    main()
