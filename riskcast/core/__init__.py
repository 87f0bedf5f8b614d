"""The nouns: sites, variables, readings, events, and the clock."""
