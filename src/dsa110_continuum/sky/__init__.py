"""Positions, primary beam and source catalogues: the sky as the instrument sees it."""
