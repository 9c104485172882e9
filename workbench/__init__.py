"""Model Serving Workbench: inspect, convert, run, probe and benchmark trained models."""

__version__ = "0.1.0"
