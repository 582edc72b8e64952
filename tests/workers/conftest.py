from tests.e2e.harness import rally, rally_settings

__all__ = ["rally", "rally_settings"]
