"""The roof: ``rally-slack``, one parser with a subcommand per process (SPEC §3)."""
