"""Domain services: plain functions over a SQLAlchemy session. Nothing here imports Tornado."""
