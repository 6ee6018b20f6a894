"""Ray Tune sweeps of generator hyperparameters and latent-search targets (``kinlatent tune``).

- :mod:`kinlatent.tune.space`: search spaces written in config (choice, grid, uniform, loguniform, randint);
- :mod:`kinlatent.tune.spec`: the whole sweep checked before any trial starts;
- :mod:`kinlatent.tune.jobs`: the jobs a sweep tunes and the metrics their trainables report;
- :mod:`kinlatent.tune.trainables`: the Ray Tune trainables (training, latent exploration);
- :mod:`kinlatent.tune.tracking`: MLflow parent run, nested trial runs, best generator registration;
- :mod:`kinlatent.tune.results`: result table, best trial, ``best_overrides.yaml``.

The job itself is :func:`kinlatent.pipelines.tune.run_tune`.
"""
