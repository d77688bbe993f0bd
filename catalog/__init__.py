"""An Atlas-typed lineage and governance catalog for machine-learning models."""

__version__ = "0.1.0"
