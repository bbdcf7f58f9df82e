"""Answer providers: extractive (the default, no model) and OpenAI-compatible HTTP."""
