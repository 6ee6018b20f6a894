"""Hydra entry point: python jobs/pipeline.py [model=varma_strain_1] [generator=gan] … (the main job)."""
from kinlatent.hydra_app import hydra_entry
from kinlatent.pipelines.pipeline import run_pipeline

main = hydra_entry("pipeline", run_pipeline)

if __name__ == "__main__":
    main()
