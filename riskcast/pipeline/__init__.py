"""The pipeline wiring ingest → store → derive → decide → publish."""

from riskcast.pipeline.pipeline import IngestResult, Pipeline

__all__ = ["IngestResult", "Pipeline"]
