"""Shared fixtures live in tests/fixtures/, one module per piece of the world we stand up."""

pytest_plugins = [
    "tests.fixtures.redis",
    "tests.fixtures.sandbox",
    "tests.fixtures.slack",
]
