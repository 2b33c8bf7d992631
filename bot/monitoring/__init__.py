"""Monitoring: scorecard, segments and trends from recorded data; alerts, digest, simulator."""
