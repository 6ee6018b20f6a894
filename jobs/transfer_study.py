"""Hydra entry point: python jobs/transfer_study.py study=varma_four_conditions [overrides] [-m ...]."""
from kinlatent.hydra_app import hydra_entry
from kinlatent.pipelines.transfer_study import run_transfer_study

main = hydra_entry("transfer_study", run_transfer_study)

if __name__ == "__main__":
    main()
