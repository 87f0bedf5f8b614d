"""riskcast.testing"""
