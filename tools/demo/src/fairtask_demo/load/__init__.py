"""Simulated platforms and workers that drive the services through their public gRPC APIs."""
