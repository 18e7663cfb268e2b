"""Runnable experiments: each is an importable `run(config, workdir)` plus a thin `main`."""
