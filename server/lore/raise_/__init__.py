"""RAISE: Reason, Act, Iterate, Synthesize, Evaluate. Answers that show their sources."""

from lore.raise_.pipeline import Answer, Pipeline

__all__ = ["Answer", "Pipeline"]
