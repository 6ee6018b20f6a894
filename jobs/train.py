"""Hydra entry point: python jobs/train.py generator=gan data=PATH | generator=nes [overrides] [-m ...]."""
from kinlatent.hydra_app import hydra_entry
from kinlatent.pipelines.train import run_train

main = hydra_entry("train", run_train)

if __name__ == "__main__":
    main()
