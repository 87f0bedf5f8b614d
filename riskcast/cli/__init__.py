"""riskcast.cli"""
