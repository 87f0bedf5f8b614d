"""Wildfire pack: the Canadian Forest Fire Weather Index System and fire danger classes."""
