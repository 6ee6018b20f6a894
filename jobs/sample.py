"""Hydra entry point: python jobs/sample.py model=varma_strain_1 sampler.n_samples=100000 [-m ...]."""
from kinlatent.hydra_app import hydra_entry
from kinlatent.pipelines.sample import run_sample

main = hydra_entry("sample", run_sample)

if __name__ == "__main__":
    main()
