"""hetrec's Hydra configs, installed as the package ``hetrec.conf`` (pyproject's package-dir maps this folder).

The folder stays at the top of the repository; the app locates it with ``importlib.resources`` so a wheel install
finds the same configs as a checkout.
"""
