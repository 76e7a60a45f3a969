"""A simulated copy of the platforms hookrelay talks to, for local runs and tests.

Run it with ``python -m sandbox --port 8100``; see :mod:`sandbox.app` for the routes.
"""
