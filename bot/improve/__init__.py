"""The improvement loop: decision traces, the review queue, knowledge gaps, regression cases."""
