"""Hydra entry point: python jobs/tune.py hparams_search=nes_varma|gan_varma|latent_targets [overrides] [-m ...]."""
from kinlatent.hydra_app import hydra_entry
from kinlatent.pipelines.tune import run_tune

main = hydra_entry("tune", run_tune)

if __name__ == "__main__":
    main()
