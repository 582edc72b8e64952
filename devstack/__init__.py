"""Development tools: ``rally-slack dev``, the browser console, the fake Slack, the seed.

Installed with the ``dev`` extra only. No product module imports this package; tests,
benchmarks and ``rally-slack dev`` do.
"""
