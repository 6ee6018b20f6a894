"""Hydra entry point: python jobs/explore.py source=PATH_OR_URI target=lambda_mid search=gradient."""
from kinlatent.hydra_app import hydra_entry
from kinlatent.pipelines.explore import run_explore

main = hydra_entry("explore", run_explore)

if __name__ == "__main__":
    main()
