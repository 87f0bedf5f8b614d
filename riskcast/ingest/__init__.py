"""riskcast.ingest"""
