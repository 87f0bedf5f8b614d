"""riskcast.pipeline"""
