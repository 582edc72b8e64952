"""Operator commands: ``rally-slack db``, ``connect`` and ``audit`` (SPEC §3)."""
