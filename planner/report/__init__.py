"""Rendering only: terminal tables, the JSON contract, CSV, Markdown, charts and the deployment export
(engine launch and benchmark scripts, Kubernetes manifests, router file). Reads plans, computes
nothing new."""
