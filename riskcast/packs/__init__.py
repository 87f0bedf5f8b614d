"""riskcast.packs"""
