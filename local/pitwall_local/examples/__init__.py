"""Built-in example models (custom files) for `pitwall demo` and the tests."""

from __future__ import annotations

from importlib import resources

from pitwall import layout


def example_files(name: str = "centerline") -> dict[str, bytes]:
    """The three custom files of a built-in example, by their DRFC names."""
    folder = resources.files(__package__).joinpath(name)
    stored = {
        layout.REWARD_FUNCTION_FILE: "reward_function.py.txt",  # .txt: not a module of this package
        layout.MODEL_METADATA_FILE: layout.MODEL_METADATA_FILE,
        layout.HYPERPARAMETERS_FILE: layout.HYPERPARAMETERS_FILE,
    }
    return {name: folder.joinpath(file).read_bytes() for name, file in stored.items()}
