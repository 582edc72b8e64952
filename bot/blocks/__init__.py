"""Block Kit builders: functions from data to views and messages."""
