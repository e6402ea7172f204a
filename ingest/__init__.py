"""Ingest: MQTT -> validate -> batch -> store, with dead letters for what fails validation."""

from ingest.service import Counters, IngestService

__all__ = ["Counters", "IngestService"]
