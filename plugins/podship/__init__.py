"""podship: ship Proofpoint on Demand email logs into the pipelines security teams run."""

__version__ = "0.1.0"
