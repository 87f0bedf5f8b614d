"""riskcast.storage"""
