"""Retrieval evaluation: ranking metrics and the BEIR-layout benchmark runner."""
