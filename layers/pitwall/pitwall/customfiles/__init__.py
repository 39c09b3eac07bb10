"""The custom files of a DeepRacer model and the run settings DRFC reads, checked before any
instance is launched.

- `envfile`: DRFC `KEY=value` files (run.env, system.env), byte-exact round trip; stdlib only.
- `settings`: typed run/host settings over an EnvFile, one registry of every known name.
- `metadata`, `hyperparameters`: model_metadata.json and hyperparameters.json.
- `reward_static`, `reward_dynamic`: the reward-function validator (rules, then a real run in a
  separate process under each available Python).
- `validate`: `validate_custom_files` / `validate_folder`, the one entry point.

This package's __init__ imports nothing: the host agent imports `envfile` where pydantic is absent.
"""
