# nbgrader reads this file from the course root; the settings live in autograder/config.py.
from autograder.config import configure

configure(get_config())  # noqa: F821 (traitlets provides get_config in config files)
