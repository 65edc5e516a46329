"""Operations: what the workflow produced, what waits and what failed."""
