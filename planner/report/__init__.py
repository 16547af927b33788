"""Rendering only: terminal tables, the JSON contract, CSV, Markdown and charts. Reads plans,
computes nothing new."""
