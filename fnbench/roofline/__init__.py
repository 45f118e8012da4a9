"""Rooflines: a device's measured ceilings (peak MAC/s, copy bandwidth per cache level), their
cache, and where each record sits under them.

Nothing is imported here, so that reading a run (``bounds``) never pulls in torch.
"""
