"""The gradcheck language: grammar, parser (text → AST with spans)."""
