"""Helpers shared by tests: request builders, targets, parsers of what servers answer."""
