"""Automated quality assessment of image products ("Otto"): statistics, detectors, decisions."""
