"""The DSA-110 simulator: observations written exactly as the correlator writes them, with their truth."""
